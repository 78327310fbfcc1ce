// Runs the data-driven expression cases in tests/data/expressions/*.cases through the real compiler
// and evaluator. Each line is one of:
//   EXPRESSION => EXPECTED_EXPRESSION      both evaluated; equal and of the same kind (NaN matches NaN)
//   EXPRESSION => error: SUBSTRING          evaluation yields an error containing SUBSTRING
//   EXPRESSION => compile error: SUBSTRING  the checker rejects it with a message containing SUBSTRING
//   (`error` and `compile error` without a substring accept any message)
//   facts: {JSON}                           facts for the following cases of the file
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"

namespace airlock::compiler {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> case_files() {
  std::vector<std::string> files;
  const fs::path dir = fs::path(AIRLOCK_SOURCE_DIR) / "tests/data/expressions";
  if (fs::exists(dir)) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".cases") files.push_back(entry.path().stem().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string diagnostics_text(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.render() + "\n";
  return out;
}

bool same_value(const runtime::Value& a, const runtime::Value& b) {
  if (a.kind() != b.kind()) return false;
  if (a.kind() == runtime::Kind::kDouble && std::isnan(a.as_double())) return std::isnan(b.as_double());
  return a == b;
}

std::string trim(std::string s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return {};
  const auto end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

class ExpressionCases : public ::testing::TestWithParam<std::string> {};

TEST_P(ExpressionCases, EveryCaseHolds) {
  const fs::path path = fs::path(AIRLOCK_SOURCE_DIR) / "tests/data/expressions" / (GetParam() + ".cases");
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  runtime::Facts facts;
  std::string line;
  int line_number = 0;
  int cases = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string where = path.filename().string() + ":" + std::to_string(line_number) + ": " + line;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("facts:", 0) == 0) {
      auto parsed = runtime::Facts::from_json(line.substr(6));
      ASSERT_TRUE(parsed) << where << "\n" << parsed.message();
      facts = std::move(parsed.value());
      continue;
    }
    const auto arrow = line.rfind(" => ");
    ASSERT_NE(arrow, std::string::npos) << where << "\nmissing ` => `";
    const std::string expression = trim(line.substr(0, arrow));
    const std::string expected = trim(line.substr(arrow + 4));
    ++cases;
    CompiledExpression compiled = compile_expression(expression);
    if (expected.rfind("compile error", 0) == 0) {
      const std::string needle = trim(expected.substr(std::min<std::size_t>(expected.size(), 14)));
      EXPECT_FALSE(compiled.ok()) << where << "\ncompiled, but a compile error was expected";
      if (!compiled.ok()) {
        const std::string text = diagnostics_text(compiled.diagnostics);
        EXPECT_NE(text.find(needle), std::string::npos) << where << "\ngot:\n" << text;
      }
      continue;
    }
    if (!compiled.ok()) {
      ADD_FAILURE() << where << "\ndoes not compile:\n" << diagnostics_text(compiled.diagnostics);
      continue;
    }
    const runtime::Value actual = runtime::evaluate_expression(*compiled.program, facts);
    if (expected.rfind("error", 0) == 0) {
      const std::string needle = trim(expected.substr(std::min<std::size_t>(expected.size(), 6)));
      EXPECT_TRUE(actual.is_error()) << where << "\ngot " << actual.debug_string();
      if (actual.is_error()) {
        EXPECT_NE(actual.as_string().find(needle), std::string::npos) << where << "\ngot error: " << actual.as_string();
      }
      continue;
    }
    CompiledExpression want = compile_expression(expected);
    if (!want.ok()) {
      ADD_FAILURE() << where << "\nthe expected side does not compile:\n" << diagnostics_text(want.diagnostics);
      continue;
    }
    const runtime::Value wanted = runtime::evaluate_expression(*want.program, facts);
    EXPECT_TRUE(same_value(actual, wanted))
        << where << "\n  got:      " << actual.debug_string() << "\n  expected: " << wanted.debug_string();
  }
  EXPECT_GT(cases, 0) << path << " holds no cases";
}

INSTANTIATE_TEST_SUITE_P(Files, ExpressionCases, ::testing::ValuesIn(case_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ExpressionCases);

}  // namespace
}  // namespace airlock::compiler
