// `airlock test`: runs `test` blocks, reports failures, and enforces rule coverage.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_runner.h"

namespace airlock::cli_test {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

constexpr const char* kUploads = R"(policy "uploads" {
  applies to upload

  rule no_executables {
    deny
    when file.type == "application/x-dosexec"
    because "no executables"
  }

  rule tables {
    approve
    when file.type == "text/csv"
  }

  rule big {
    escalate to "data-engineer"
    when file.size > 1 GiB
    because "the file is " + string(file.size) + " bytes"
  }
}
)";

TEST(TestCommand, PassingTestsEndWithTheCount) {
  RunResult result = run_airlock({"test", data_path("policies")});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.out, "6 passed, 0 failed\n");
}

TEST(TestCommand, VerbosePrintsEachPassingTest) {
  RunResult result = run_airlock({"test", "--verbose", data_path("policies/ingress.policy")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 5u) << result.out;
  EXPECT_TRUE(lines[0].starts_with("PASS ")) << lines[0];
  EXPECT_TRUE(contains(result.out, "ingress.policy:29:1: test \"a small CSV is approved\"")) << result.out;
  EXPECT_TRUE(contains(result.out, "test \"an unknown type falls to the default\"")) << result.out;
  EXPECT_EQ(lines.back(), "4 passed, 0 failed");
}

TEST(TestCommand, FailureShowsExpectedAndActualWithTheMatchedRules) {
  TempDir dir;
  std::string path = dir.write("uploads.policy", std::string(kUploads) + R"(
test "a huge CSV is approved" {
  given {
    transfer: {channel: "upload"},
    file: {type: "text/csv", size: 2 GiB},
  }
  expect approve
}

test "a CSV is approved" {
  given {
    transfer: {channel: "upload"},
    file: {type: "text/csv"},
  }
  expect approve
}
)");
  RunResult result = run_airlock({"test", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.out, "FAIL " + path + ":22:1: test \"a huge CSV is approved\"")) << result.out;
  EXPECT_TRUE(contains(result.out, "expected outcome: approve")) << result.out;
  EXPECT_TRUE(contains(result.out, "actual outcome:   escalate to [\"data-engineer\"], 1 approval")) << result.out;
  EXPECT_TRUE(contains(result.out, "uploads.big (escalate) at " + path + ":15:")) << result.out;
  EXPECT_TRUE(contains(result.out, "the file is 2147483648 bytes")) << result.out;
  EXPECT_TRUE(contains(result.out, "uploads.tables (approve) at " + path + ":10:")) << result.out;
  EXPECT_FALSE(contains(result.out, "a CSV is approved")) << "passing tests are quiet without --verbose";
  EXPECT_EQ(last_line(result.out), "1 passed, 1 failed");
}

TEST(TestCommand, RuleReviewerAndApprovalExpectationsAreChecked) {
  TempDir dir;
  std::string path = dir.write("uploads.policy", std::string(kUploads) + R"(
test "wrong rules" {
  given { transfer: {channel: "upload"}, file: {type: "text/csv"} }
  expect approve
  expect rules ["uploads.big"]
}

test "wrong reviewers and approvals" {
  given { transfer: {channel: "upload"}, file: {size: 2 GiB} }
  expect escalate
  expect reviewers ["data-approver"]
  expect approvals 2
}
)");
  RunResult result = run_airlock({"test", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.out, "expected rules [\"uploads.big\"], matched [\"uploads.tables\"]")) << result.out;
  EXPECT_TRUE(contains(result.out, "expected reviewers [\"data-approver\"], got [\"data-engineer\"]")) << result.out;
  EXPECT_TRUE(contains(result.out, "expected 2 approvals, got 1")) << result.out;
  EXPECT_EQ(last_line(result.out), "0 passed, 2 failed");
}

TEST(TestCommand, ExpectErrorPassesOnlyWhenEvaluationMetAnError) {
  TempDir dir;
  std::string path = dir.write("ratio.policy", R"(policy "ratio" {
  rule dense {
    deny
    when 100 / file.size > 1
  }
}

test "a zero size divides by zero" {
  given { file: {size: 0} }
  expect escalate
  expect error
}

test "an error nobody expected fails" {
  given { file: {size: 0} }
  expect escalate
}

test "an expected error that does not happen fails" {
  given { file: {size: 1000} }
  expect error
}
)");
  RunResult result = run_airlock({"test", "--verbose", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.out, "PASS " + path + ":8:1: test \"a zero size divides by zero\"")) << result.out;
  EXPECT_TRUE(contains(result.out, "FAIL " + path + ":14:1: test \"an error nobody expected fails\"")) << result.out;
  EXPECT_TRUE(contains(result.out, "  errors:\n    ratio.dense at " + path)) << result.out;
  EXPECT_TRUE(contains(result.out, "expected an evaluation error, got none")) << result.out;
  EXPECT_EQ(last_line(result.out), "1 passed, 2 failed");
}

TEST(TestCommand, NoTestBlocksIsNotAFailure) {
  TempDir dir;
  dir.write("uploads.policy", kUploads);
  RunResult result = run_airlock({"test", dir.path().string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "0 passed, 0 failed\n");
  EXPECT_TRUE(contains(result.err, "note: no test blocks found")) << result.err;
}

TEST(TestCommand, CompileErrorsRunNoTest) {
  TempDir dir;
  std::string path = dir.write("bad.policy", "policy \"bad\" {\n  rule r { aprove }\n}\n");
  RunResult result = run_airlock({"test", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(contains(result.err, path + ":2:")) << result.err;
  EXPECT_TRUE(contains(result.err, "no test was run")) << result.err;
}

TEST(TestCommand, CoverageListsUncoveredRulesAndFails) {
  TempDir dir;
  std::string path = dir.write("uploads.policy", std::string(kUploads) + R"(
test "executables are denied" {
  given { transfer: {channel: "upload"}, file: {type: "application/x-dosexec"} }
  expect deny
}

test "tables are approved" {
  given { transfer: {channel: "upload"}, file: {type: "text/csv"} }
  expect approve
}
)");
  RunResult result = run_airlock({"test", "--coverage", path});
  EXPECT_EQ(result.exit_code, 1) << "an uncovered rule fails the run";
  EXPECT_TRUE(contains(result.out, "not covered: uploads.big (" + path + ":15:")) << result.out;
  EXPECT_FALSE(contains(result.out, "not covered: uploads.tables")) << result.out;
  EXPECT_FALSE(contains(result.out, "uploads.otherwise")) << "an implicit otherwise is not a rule to cover";
  EXPECT_TRUE(contains(result.out, "coverage: 2 of 3 rules matched by a test\n")) << result.out;
  EXPECT_EQ(last_line(result.out), "2 passed, 0 failed");

  RunResult without = run_airlock({"test", path});
  EXPECT_EQ(without.exit_code, 0) << "coverage is enforced only when asked for";
}

TEST(TestCommand, CoverageCountsADeclaredOtherwise) {
  TempDir dir;
  std::string path = dir.write("small.policy", R"(policy "small" {
  rule tables {
    approve
    when file.type == "text/csv"
  }

  otherwise deny because "only tables"
}

test "tables are approved" {
  given { file: {type: "text/csv"} }
  expect approve
}
)");
  RunResult partial = run_airlock({"test", "--coverage", path});
  EXPECT_EQ(partial.exit_code, 1);
  EXPECT_TRUE(contains(partial.out, "not covered: small.otherwise (" + path + ":7:")) << partial.out;
  EXPECT_TRUE(contains(partial.out, "coverage: 1 of 2 rules matched by a test")) << partial.out;

  dir.write("more.policy", R"(test "anything else is denied" {
  given { file: {type: "image/png"} }
  expect deny
  expect rules ["small.otherwise"]
}
)");
  RunResult full = run_airlock({"test", "--coverage", dir.path().string()});
  EXPECT_EQ(full.exit_code, 0) << full.out << full.err;
  EXPECT_TRUE(contains(full.out, "coverage: 2 of 2 rules matched by a test")) << full.out;
  EXPECT_FALSE(contains(full.out, "not covered")) << full.out;
  EXPECT_EQ(last_line(full.out), "2 passed, 0 failed");
}

TEST(TestCommand, DataPoliciesAreFullyCovered) {
  RunResult result = run_airlock({"test", "--coverage", data_path("policies")});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "coverage: 6 of 6 rules matched by a test")) << result.out;
}

}  // namespace
}  // namespace airlock::cli_test
