// `airlock expr`: one expression, evaluated against facts, printed as JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"

namespace airlock::cli_test {
namespace {

using nlohmann::json;

RunResult expr(const std::string& expression) { return run_airlock({"expr", expression}); }

TEST(Expr, PrintsAnInt) {
  RunResult result = expr("1 + 2 * 3");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "7\n");
  EXPECT_EQ(result.err, "");
}

TEST(Expr, SizeLiteralsAreByteCounts) {
  EXPECT_EQ(expr("10 KiB").out, "10240\n");
  EXPECT_EQ(expr("5 MB").out, "5000000\n");
}

TEST(Expr, NegativeNumberIsAnExpressionNotAFlag) {
  RunResult result = expr("-1 - 1");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "-2\n");
}

TEST(Expr, ExpressionAfterDoubleDashMayLookLikeAFlag) {
  RunResult result = run_airlock({"expr", "--", "-size(\"abc\")"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "-3\n");
}

TEST(Expr, DoublesAlwaysHaveADecimalPoint) {
  RunResult whole = expr("1.0 + 2.0");
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(whole.out, "3.0\n");
  RunResult fraction = expr("double(3) / 2.0");
  EXPECT_EQ(fraction.out, "1.5\n");
}

TEST(Expr, PrintsStringsBoolsAndNull) {
  EXPECT_EQ(expr("\"data\" + \"base\"").out, "\"database\"\n");
  EXPECT_EQ(expr("\"a.csv\".endsWith(\".csv\")").out, "true\n");
  EXPECT_EQ(expr("null").out, "null\n");
}

TEST(Expr, PrintsListsAndMapsAsJson) {
  RunResult list = expr("[1, 2, 3].map(x, x * 2)");
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(json::parse(list.out), json({2, 4, 6}));

  RunResult map = expr("{\"rows\": 3, \"name\": \"counts\"}");
  EXPECT_EQ(map.exit_code, 0) << map.err;
  json object = json::parse(map.out, nullptr, false);
  ASSERT_TRUE(object.is_object()) << map.out;
  EXPECT_EQ(object["rows"], 3);
  EXPECT_EQ(object["name"], "counts");
}

TEST(Expr, PrintsTimestampsAsRfc3339) {
  RunResult result = expr("timestamp(\"2026-11-29T10:00:00Z\")");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "\"2026-11-29T10:00:00Z\"\n");
}

TEST(Expr, PrintsDurationsInSeconds) {
  EXPECT_EQ(expr("duration(\"1500ms\")").out, "\"1.5s\"\n");
  EXPECT_EQ(expr("duration(\"36h\")").out, "\"129600s\"\n");
}

TEST(Expr, PrintsBytesAsBase64) {
  RunResult result = expr("bytes(\"hi\")");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "\"aGk=\"\n");
}

TEST(Expr, FactsTakeTheirDefaultsWithoutFacts) {
  EXPECT_EQ(expr("file.size").out, "0\n");
  EXPECT_EQ(expr("file.type").out, "\"\"\n");
  EXPECT_EQ(expr("now").out, "\"1970-01-01T00:00:00Z\"\n");
}

TEST(Expr, EvaluatesAgainstAFactsFile) {
  RunResult result = run_airlock(
      {"expr", "file.type == \"text/csv\" && file.size < 10 KiB", "--facts", data_path("facts/small-csv.json")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "true\n");

  RunResult stdin_facts =
      run_airlock({"expr", "file.size * 2", "--facts", "-"}, {.input = R"({"file": {"size": 21}})"});
  EXPECT_EQ(stdin_facts.exit_code, 0) << stdin_facts.err;
  EXPECT_EQ(stdin_facts.out, "42\n");
}

TEST(Expr, BadFactsNameTheJsonPath) {
  RunResult result = run_airlock({"expr", "file.size", "--facts", "-"}, {.input = R"({"file": {"size": 1.5}})"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("$.file.size"), std::string::npos) << result.err;
}

TEST(Expr, CompileErrorPrintsDiagnosticsAndExitsOne) {
  RunResult result = expr("file.sise > 1");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("<expr>:1:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("file.size"), std::string::npos) << "the suggestion\n" << result.err;

  RunResult type_error = expr("file.size > \"big\"");
  EXPECT_EQ(type_error.exit_code, 1);
  EXPECT_NE(type_error.err.find("error:"), std::string::npos) << type_error.err;
}

TEST(Expr, EvaluationErrorPrintsItsMessageAndExitsOne) {
  // Over facts, so no compiler can fold the error away: file.size defaults to 0.
  RunResult division = expr("1 / file.size");
  EXPECT_EQ(division.exit_code, 1);
  EXPECT_EQ(division.out, "");
  EXPECT_TRUE(division.err.starts_with("error: ")) << division.err;
  EXPECT_EQ(lines_of(division.err).size(), 1u) << division.err;

  RunResult overflow = expr("file.size + 9223372036854775807 + 1");
  EXPECT_EQ(overflow.exit_code, 1);
  EXPECT_TRUE(overflow.err.starts_with("error: ")) << overflow.err;
}

}  // namespace
}  // namespace airlock::cli_test
