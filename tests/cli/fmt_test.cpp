// `airlock fmt`: in-place, atomic rewrites in the canonical layout; `--check` for CI.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "cli_runner.h"

namespace airlock::cli_test {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Valid, but laid out the way nobody would write it.
constexpr const char* kMessy =
    "policy   \"messy\"{applies to upload\n"
    "rule   tables{approve when file.type==\"text/csv\"    // tables are fine\n"
    "}}\n";

std::string canonical(const std::string& path, const std::string& text) {
  compiler::FormatResult formatted = compiler::format_policy_file(compiler::SourceFile{path, text});
  EXPECT_TRUE(formatted.ok());
  return formatted.text;
}

std::vector<std::string> entries(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Fmt, RewritesAFileInPlaceInTheCanonicalLayout) {
  TempDir dir;
  std::string path = dir.write("messy.policy", kMessy);
  std::string expected = canonical(path, kMessy);
  ASSERT_NE(expected, kMessy) << "the fixture must need formatting";

  RunResult result = run_airlock({"fmt", path});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(read_text(path), expected);
  EXPECT_TRUE(contains(result.err, "reformatted " + path)) << result.err;
  EXPECT_TRUE(contains(read_text(path), "// tables are fine")) << "comments are kept";
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"messy.policy"}) << "no temporary file is left behind";
}

TEST(Fmt, FormattingIsIdempotent) {
  TempDir dir;
  std::string path = dir.write("messy.policy", kMessy);
  ASSERT_EQ(run_airlock({"fmt", path}).exit_code, 0);
  std::string once = read_text(path);
  RunResult again = run_airlock({"fmt", path});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_text(path), once);
  EXPECT_EQ(again.err, "") << "nothing to say about a file already formatted";
}

TEST(Fmt, KeepsPermissionBits) {
  TempDir dir;
  std::string path = dir.write("messy.policy", kMessy);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_EQ(run_airlock({"fmt", path}).exit_code, 0);
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 07777, 0640u);
}

TEST(Fmt, CheckListsFilesThatWouldChangeAndWritesNothing) {
  TempDir dir;
  std::string messy = dir.write("a/messy.policy", kMessy);
  std::string tidy = dir.write("b/tidy.policy", canonical(dir.file("b/tidy.policy"), kMessy));

  RunResult result = run_airlock({"fmt", "--check", dir.path().string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(contains(result.err, "would reformat " + messy + "\n")) << result.err;
  EXPECT_FALSE(contains(result.err, tidy)) << result.err;
  EXPECT_EQ(read_text(messy), kMessy) << "--check writes nothing";
}

TEST(Fmt, CheckPassesWhenEverythingIsFormatted) {
  TempDir dir;
  dir.write("tidy.policy", canonical(dir.file("tidy.policy"), kMessy));
  RunResult result = run_airlock({"fmt", "--check", dir.path().string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

TEST(Fmt, FileWithSyntaxErrorsIsNeverRewritten) {
  TempDir dir;
  const std::string broken = "policy   \"broken\" {\n  rule r { approve when file.size > }\n}\n";
  std::string path = dir.write("broken.policy", broken);
  std::string messy = dir.write("messy.policy", kMessy);

  RunResult result = run_airlock({"fmt", dir.path().string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, path + ":2:")) << result.err;
  EXPECT_TRUE(contains(result.err, "error: " + path + ": not formatted because it has errors")) << result.err;
  EXPECT_EQ(read_text(path), broken);
  EXPECT_NE(read_text(messy), kMessy) << "the other files are still formatted";

  RunResult check = run_airlock({"fmt", "--check", path});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_EQ(read_text(path), broken);
}

TEST(Fmt, MissingPathIsAnError) {
  RunResult result = run_airlock({"fmt", "/nonexistent/airlock.policy"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "/nonexistent/airlock.policy")) << result.err;
}

}  // namespace
}  // namespace airlock::cli_test
