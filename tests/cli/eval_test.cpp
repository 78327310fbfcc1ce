// `airlock eval`: one facts object or JSON Lines in, decisions as JSON out.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace airlock::cli_test {
namespace {

using nlohmann::json;

std::string policies() { return data_path("policies"); }
std::string facts(const std::string& name) { return data_path("facts/" + name); }

json parse(const std::string& text) { return json::parse(text, nullptr, /*allow_exceptions=*/false); }

std::vector<std::string> rule_ids(const json& decision) {
  std::vector<std::string> ids;
  for (const json& rule : decision["rules"]) {
    ids.push_back(rule["policy"].get<std::string>() + "." + rule["rule"].get<std::string>());
  }
  return ids;
}

TEST(Eval, PrintsTheDecisionAsOneLineOfJson) {
  RunResult result = run_airlock({"eval", "--policy", policies(), "--facts", facts("small-csv.json")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(lines_of(result.out).size(), 1u) << result.out;
  json decision = parse(result.out);
  ASSERT_FALSE(decision.is_discarded()) << result.out;
  EXPECT_EQ(decision["outcome"], "approve");
  EXPECT_EQ(rule_ids(decision), std::vector<std::string>{"cli-ingress.small_tables"});
  EXPECT_EQ(decision["errors"], json::array());
  EXPECT_EQ(decision["policy_set"].get<std::string>().size(), 64u) << "a hex SHA-256";
}

TEST(Eval, ExitsZeroWhateverTheOutcome) {
  RunResult deny = run_airlock({"eval", "--policy", policies(), "--facts", facts("executable-upload.json")});
  EXPECT_EQ(deny.exit_code, 0) << deny.err;
  json denied = parse(deny.out);
  EXPECT_EQ(denied["outcome"], "deny");
  ASSERT_EQ(denied["rules"].size(), 1u);
  EXPECT_EQ(denied["rules"][0]["reason"], "executable files may not enter a workspace");
  EXPECT_NE(denied["rules"][0]["location"].get<std::string>().find("ingress.policy:8:"), std::string::npos)
      << denied["rules"][0]["location"];

  RunResult escalate = run_airlock({"eval", "--policy", policies(), "--facts", facts("nhs-numbers.json")});
  EXPECT_EQ(escalate.exit_code, 0) << escalate.err;
  json escalated = parse(escalate.out);
  EXPECT_EQ(escalated["outcome"], "escalate");
  EXPECT_EQ(escalated["reviewers"]["roles"], (json{"data-engineer", "information-governance"}));
  EXPECT_EQ(escalated["reviewers"]["approvals"], 2);
  EXPECT_EQ(escalated["rules"][0]["reason"], "the file holds 3 NHS numbers");
}

TEST(Eval, PrettyIndentsTheSameDecision) {
  RunResult compact = run_airlock({"eval", "--policy", policies(), "--facts", facts("nhs-numbers.json")});
  RunResult pretty = run_airlock({"eval", "--policy", policies(), "--facts", facts("nhs-numbers.json"), "--pretty"});
  EXPECT_EQ(pretty.exit_code, 0) << pretty.err;
  EXPECT_GT(lines_of(pretty.out).size(), 3u) << pretty.out;
  EXPECT_EQ(parse(pretty.out), parse(compact.out));
}

TEST(Eval, ReadsFactsFromStandardInput) {
  RunResult result =
      run_airlock({"eval", "--policy", policies(), "--facts", "-"}, {.input = R"({"transfer": {"channel": "upload"},
                                              "file": {"type": "application/x-executable"}})"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(parse(result.out)["outcome"], "deny") << result.out;
}

TEST(Eval, PolicyFlagTakesSeveralPathsAndRepeats) {
  std::string ingress = policies() + "/ingress.policy";
  std::string egress = policies() + "/egress.policy";
  const char* csv_egress =
      R"({"transfer": {"channel": "egress", "direction": "egress"}, "file": {"type": "text/csv"}})";

  RunResult only_ingress = run_airlock({"eval", "--policy", ingress, "--facts", "-"}, {.input = csv_egress});
  EXPECT_EQ(only_ingress.exit_code, 0) << only_ingress.err;
  EXPECT_EQ(parse(only_ingress.out)["outcome"], "escalate") << "no policy applies to egress";

  RunResult repeated =
      run_airlock({"eval", "--policy", ingress, "--policy", egress, "--facts", "-"}, {.input = csv_egress});
  EXPECT_EQ(repeated.exit_code, 0) << repeated.err;
  EXPECT_EQ(parse(repeated.out)["outcome"], "approve") << repeated.out;

  RunResult listed = run_airlock({"eval", "--policy", ingress, egress, "--facts", "-"}, {.input = csv_egress});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(parse(listed.out), parse(repeated.out));
}

TEST(Eval, ChannelSetsTheChannelAndAnUnsetDirection) {
  const char* csv = R"({"file": {"type": "text/csv"}})";
  RunResult without = run_airlock({"eval", "--policy", policies(), "--facts", "-"}, {.input = csv});
  EXPECT_EQ(without.exit_code, 0) << without.err;
  EXPECT_EQ(parse(without.out)["outcome"], "escalate") << "no channel: no policy applies";

  RunResult upload =
      run_airlock({"eval", "--policy", policies(), "--facts", "-", "--channel", "upload"}, {.input = csv});
  EXPECT_EQ(parse(upload.out)["outcome"], "approve") << upload.out;

  // cli-egress approves a CSV only when transfer.direction is "egress": --channel egress filled it in.
  RunResult egress =
      run_airlock({"eval", "--policy", policies(), "--facts", "-", "--channel", "egress"}, {.input = csv});
  EXPECT_EQ(parse(egress.out)["outcome"], "approve") << egress.out;
  EXPECT_EQ(rule_ids(parse(egress.out)), std::vector<std::string>{"cli-egress.outputs_leave"});

  // A direction the facts set is kept.
  RunResult kept = run_airlock({"eval", "--policy", policies(), "--facts", "-", "--channel=egress"},
                               {.input = R"({"transfer": {"direction": "ingress"}, "file": {"type": "text/csv"}})"});
  EXPECT_EQ(parse(kept.out)["outcome"], "deny") << kept.out;
  EXPECT_EQ(rule_ids(parse(kept.out)), std::vector<std::string>{"cli-egress.otherwise"});
}

TEST(Eval, ChannelOverridesTheFactsChannel) {
  RunResult result =
      run_airlock({"eval", "--policy", policies(), "--facts", facts("executable-upload.json"), "--channel", "egress"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  json decision = parse(result.out);
  EXPECT_EQ(rule_ids(decision), std::vector<std::string>{"cli-egress.otherwise"}) << result.out;
}

TEST(Eval, BadFactsNameTheJsonPath) {
  RunResult wrong_type =
      run_airlock({"eval", "--policy", policies(), "--facts", "-"}, {.input = R"({"file": {"size": "big"}})"});
  EXPECT_EQ(wrong_type.exit_code, 1);
  EXPECT_EQ(wrong_type.out, "");
  EXPECT_NE(wrong_type.err.find("$.file.size"), std::string::npos) << wrong_type.err;
  EXPECT_NE(wrong_type.err.find("<stdin>"), std::string::npos) << wrong_type.err;

  TempDir dir;
  std::string path = dir.write("facts.json", R"({"file": {"sise": 10}})");
  RunResult unknown = run_airlock({"eval", "--policy", policies(), "--facts", path});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("$.file.sise"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find(path), std::string::npos) << unknown.err;
}

TEST(Eval, MalformedJsonIsAnError) {
  RunResult result = run_airlock({"eval", "--policy", policies(), "--facts", "-"}, {.input = "{\"file\": "});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("error: <stdin>: "), std::string::npos) << result.err;
}

TEST(Eval, MissingFactsFileIsNamed) {
  RunResult result = run_airlock({"eval", "--policy", policies(), "--facts", "/nonexistent/facts.json"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("/nonexistent/facts.json"), std::string::npos) << result.err;
}

TEST(Eval, BadPolicyPrintsItsDiagnosticsAndEvaluatesNothing) {
  TempDir dir;
  std::string path = dir.write("broken.policy", "policy \"broken\" {\n  rule r { approve when file.sise > 1 }\n}\n");
  RunResult result = run_airlock({"eval", "--policy", path, "--facts", "-"}, {.input = "{}"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find(path + ":2:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("file.sise"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("nothing was evaluated"), std::string::npos) << result.err;
}

TEST(Eval, MissingPolicyPathIsNamed) {
  RunResult result = run_airlock({"eval", "--policy", "/nonexistent/policies", "--facts", "-"}, {.input = "{}"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("/nonexistent/policies"), std::string::npos) << result.err;
}

TEST(EvalLines, AnswersEachLineInOrderAndReportsABadLineInItsPlace) {
  std::string input =
      R"({"transfer": {"channel": "upload"}, "file": {"type": "application/x-dosexec"}})"
      "\n\n"
      R"({"file": {"size": "big"}})"
      "\n"
      R"({"transfer": {"channel": "upload"}, "file": {"type": "text/csv", "size": 10}})"
      "\n"
      "   \n"
      "not json\n"
      R"({"transfer": {"channel": "import"}, "file": {"type": "text/csv"}, "content": {"nhs_numbers": 1}})";
  RunResult result = run_airlock({"eval", "--policy", policies(), "--facts-lines", "-"}, {.input = input});
  EXPECT_EQ(result.exit_code, 1) << "a bad line makes the run fail at the end";
  std::vector<std::string> lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 5u) << result.out;
  EXPECT_EQ(parse(lines[0])["outcome"], "deny");
  json bad = parse(lines[1]);
  EXPECT_EQ(bad["line"], 3) << lines[1];
  EXPECT_NE(bad["error"].get<std::string>().find("$.file.size"), std::string::npos) << lines[1];
  EXPECT_EQ(parse(lines[2])["outcome"], "approve") << "lines after a bad one are still evaluated";
  EXPECT_EQ(parse(lines[3])["line"], 6) << lines[3];
  EXPECT_EQ(parse(lines[4])["outcome"], "escalate") << "a last line without a newline counts";
  EXPECT_NE(result.err.find("2 lines"), std::string::npos) << result.err;
}

TEST(EvalLines, AllGoodLinesExitZero) {
  TempDir dir;
  std::string path = dir.write("facts.jsonl", std::string(R"({"file": {"type": "text/csv"}})") + "\n" +
                                                  R"({"file": {"type": "application/x-dosexec"}})" + "\n");
  RunResult result = run_airlock({"eval", "--policy", policies(), "--facts-lines", path, "--channel", "upload"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 2u) << result.out;
  EXPECT_EQ(parse(lines[0])["outcome"], "approve");
  EXPECT_EQ(parse(lines[1])["outcome"], "deny");
  EXPECT_EQ(result.err, "");
}

TEST(EvalLines, EmptyInputWritesNothing) {
  RunResult result = run_airlock({"eval", "--policy", policies(), "--facts-lines", "-"}, {.input = "\n\n"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(EvalLines, StreamsEachDecisionBeforeTheInputEnds) {
  AirlockProcess process({"eval", "--policy", policies(), "--facts-lines", "-", "--channel", "upload"});
  process.write_input(R"({"file": {"type": "application/x-dosexec"}})"
                      "\n");
  std::optional<std::string> first = process.read_line();
  ASSERT_TRUE(first.has_value()) << "no decision while standard input is still open";
  EXPECT_EQ(parse(*first)["outcome"], "deny");

  process.write_input("{\"file\": 1}\n");
  std::optional<std::string> second = process.read_line();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(parse(*second)["line"], 2);

  process.write_input(R"({"file": {"type": "text/csv"}})"
                      "\n");
  std::optional<std::string> third = process.read_line();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(parse(*third)["outcome"], "approve");

  RunResult result = process.finish();
  EXPECT_EQ(result.exit_code, 1);
}

TEST(EvalLines, PrettyIsRefused) {
  RunResult result = run_airlock({"eval", "--policy", policies(), "--facts-lines", "-", "--pretty"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("`--pretty` cannot be used with `--facts-lines`"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace airlock::cli_test
