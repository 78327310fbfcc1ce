// `airlock check`: diagnostics on stderr, a summary line, exit 0 only without errors.
#include <gtest/gtest.h>

#include <string>

#include "cli_runner.h"

namespace airlock::cli_test {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Check, CleanPoliciesExitZeroWithASummary) {
  RunResult result = run_airlock({"check", data_path("policies")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "checked 2 files: 0 errors, 0 warnings\n");
}

TEST(Check, SingularNounsForOne) {
  RunResult result = run_airlock({"check", data_path("policies/egress.policy")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "checked 1 file: 0 errors, 0 warnings\n");
}

TEST(Check, DirectoriesAreSearchedRecursivelyForPolicyFiles) {
  TempDir dir;
  dir.write("top.policy", "policy \"top\" {\n  applies to any\n  rule r { approve }\n}\n");
  dir.write("site/nested/deep.policy", "policy \"deep\" {\n  applies to any\n  rule r { deny }\n}\n");
  dir.write("site/README.md", "not a policy {");
  dir.write("site/notes.policy.bak", "not a policy {");
  RunResult result = run_airlock({"check", dir.path().string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "checked 2 files: 0 errors, 0 warnings\n");
}

TEST(Check, ErrorsAreRenderedAndFailTheRun) {
  TempDir dir;
  std::string good = dir.write("good.policy", "policy \"good\" {\n  applies to any\n  rule r { approve }\n}\n");
  std::string bad = dir.write(
      "bad.policy", "policy \"bad\" {\n  applies to any\n  rule r {\n    approve\n    when file.sise > 1\n  }\n}\n");
  RunResult result = run_airlock({"check", good, bad});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(contains(result.err, bad + ":5:")) << result.err;
  EXPECT_TRUE(contains(result.err, "    when file.sise > 1\n")) << "the source line\n" << result.err;
  EXPECT_TRUE(contains(result.err, "file.size")) << "the suggestion\n" << result.err;
  EXPECT_TRUE(result.err.ends_with("checked 2 files: 1 error, 0 warnings\n")) << result.err;
}

TEST(Check, CountsEveryError) {
  TempDir dir;
  std::string path = dir.write("two.policy",
                               "policy \"two\" {\n"
                               "  applies to any\n"
                               "  rule a { approve when file.sise > 1 }\n"
                               "  rule b { approve when file.tipe == \"x\" }\n"
                               "}\n");
  RunResult result = run_airlock({"check", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, path + ":3:")) << result.err;
  EXPECT_TRUE(contains(result.err, path + ":4:")) << result.err;
  EXPECT_TRUE(result.err.ends_with("checked 1 file: 2 errors, 0 warnings\n")) << result.err;
}

TEST(Check, WarningsAreShownButDoNotFailTheRun) {
  TempDir dir;
  // A policy without `applies to` applies to every channel, which the compiler points out.
  std::string path = dir.write("open.policy", "policy \"open\" {\n  rule r { approve }\n}\n");
  RunResult result = run_airlock({"check", path});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, path + ":1:8: warning: ")) << result.err;
  EXPECT_TRUE(result.err.ends_with("checked 1 file: 0 errors, 1 warning\n")) << result.err;
}

TEST(Check, MissingPathIsNamed) {
  RunResult result = run_airlock({"check", "/nonexistent/policies"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "/nonexistent/policies")) << result.err;
}

TEST(Check, DirectoryWithoutPoliciesSaysSo) {
  TempDir dir;
  dir.write("README.md", "nothing here");
  RunResult result = run_airlock({"check", dir.path().string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "note: no *.policy files found")) << result.err;
  EXPECT_TRUE(result.err.ends_with("checked 0 files: 0 errors, 0 warnings\n")) << result.err;
}

}  // namespace
}  // namespace airlock::cli_test
