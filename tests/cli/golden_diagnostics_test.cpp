// Golden diagnostics: `airlock check tests/data/diagnostics/NAME.policy` (or the directory NAME, for cases that
// need several files), run from the repository root, must print exactly NAME.stderr on standard error and exit 1.
// AIRLOCK_UPDATE_GOLDEN=1 rewrites the .stderr files from the binary's output instead; read the diff before
// committing it: a golden file enshrines the message, so a poor one should be fixed in the compiler instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace airlock::cli_test {
namespace {

namespace fs = std::filesystem;

const char* const kGoldenDir = "tests/data/diagnostics";

// Every case: NAME for NAME.policy or for a directory NAME of policy files.
std::vector<std::string> golden_cases() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(source_dir()) / kGoldenDir, error)) {
    const fs::path& path = entry.path();
    if (entry.is_directory() || path.extension() == ".policy") names.push_back(path.stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string case_argument(const std::string& name) {
  std::string file = std::string(kGoldenDir) + "/" + name + ".policy";
  if (fs::exists(fs::path(source_dir()) / file)) return file;
  return std::string(kGoldenDir) + "/" + name;
}

bool updating() {
  const char* update = std::getenv("AIRLOCK_UPDATE_GOLDEN");
  return update != nullptr && std::string(update) == "1";
}

class GoldenDiagnostics : public testing::TestWithParam<std::string> {};

TEST_P(GoldenDiagnostics, CheckPrintsExactlyTheGoldenStderr) {
  const std::string& name = GetParam();
  RunResult result = run_airlock({"check", case_argument(name)}, {.working_directory = source_dir()});
  std::string golden_path = source_dir() + "/" + kGoldenDir + "/" + name + ".stderr";
  if (updating()) {
    std::ofstream(golden_path, std::ios::binary) << result.err;
    std::cout << "[golden] wrote " << golden_path << "\n";
  }
  ASSERT_TRUE(fs::exists(golden_path)) << golden_path << " is missing; run with AIRLOCK_UPDATE_GOLDEN=1 to create it";
  EXPECT_EQ(result.err, read_text(golden_path)) << "airlock check " << case_argument(name);
  EXPECT_EQ(result.exit_code, 1) << "every golden case is an error";
  EXPECT_EQ(result.out, "");
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenDiagnostics, testing::ValuesIn(golden_cases()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(GoldenDiagnosticsCases, CoverEveryKindOfMistakeWeMustExplain) {
  std::vector<std::string> cases = golden_cases();
  for (const char* required :
       {"syntax_error", "unterminated_string", "unterminated_block_comment", "unknown_effect",
        "duplicate_policy_across_files", "duplicate_rule", "approvals_fewer_than_roles", "type_error", "unknown_fact",
        "unknown_function", "invalid_utf8", "bad_regex", "unknown_channel", "huge_nesting"}) {
    EXPECT_NE(std::find(cases.begin(), cases.end(), required), cases.end()) << required;
  }
}

TEST(GoldenDiagnosticsCases, EveryGoldenFileHasItsCase) {
  std::vector<std::string> cases = golden_cases();
  for (const auto& entry : fs::directory_iterator(fs::path(source_dir()) / kGoldenDir)) {
    if (entry.path().extension() != ".stderr") continue;
    EXPECT_NE(std::find(cases.begin(), cases.end(), entry.path().stem().string()), cases.end())
        << entry.path() << " has no .policy file or directory";
  }
}

// What each message must say whatever its exact wording, so that regenerating a golden file cannot
// enshrine a message that lost its point (the location, the name at fault, the suggestion).
TEST(GoldenDiagnosticsCases, MessagesNameTheMistakeAndWhereItIs) {
  const std::map<std::string, std::vector<std::string>> essentials{
      {"syntax_error", {"syntax_error.policy:", ": error: "}},
      {"unterminated_string", {"unterminated_string.policy:6:13: error: "}},
      {"unterminated_block_comment", {"unterminated_block_comment.policy:7:3: error: "}},
      {"unknown_effect", {"unknown_effect.policy:4:5: error: ", "aprove", "did you mean `approve`?"}},
      {"duplicate_policy_across_files", {"b.policy:2:", "a.policy", "ingress"}},
      {"duplicate_rule", {"duplicate_rule.policy:8:", "tables"}},
      {"approvals_fewer_than_roles", {"approvals_fewer_than_roles.policy:4:", "2"}},
      {"type_error", {"type_error.policy:5:", "string"}},
      {"unknown_fact", {"unknown_fact.policy:5:", "file.sise", "did you mean `file.size`?"}},
      {"unknown_function", {"unknown_function.policy:5:", "lowercase"}},
      {"invalid_utf8", {"invalid_utf8.policy:2:", "UTF-8"}},
      {"bad_regex", {"bad_regex.policy:5:", "("}},
      {"unknown_channel", {"unknown_channel.policy:2:14: error: ", "uplod", "did you mean `upload`?"}},
      {"huge_nesting", {"huge_nesting.policy:5:", "nest"}},
  };
  for (const auto& [name, parts] : essentials) {
    RunResult result = run_airlock({"check", case_argument(name)}, {.working_directory = source_dir()});
    for (const std::string& part : parts) {
      EXPECT_NE(result.err.find(part), std::string::npos) << name << " should mention `" << part << "`:\n"
                                                          << result.err;
    }
  }
}

}  // namespace
}  // namespace airlock::cli_test
