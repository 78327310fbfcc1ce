// The canonical formatter: golden files, idempotence, comments kept, meaning unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "parser.h"

namespace airlock::compiler {
namespace {

namespace fs = std::filesystem;

const fs::path kFormatData = fs::path(AIRLOCK_SOURCE_DIR) / "tests" / "data" / "format";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string format(const std::string& text) {
  FormatResult result = format_policy_file({"in.policy", text});
  EXPECT_TRUE(result.ok()) << (result.diagnostics.empty() ? "" : result.diagnostics[0].render());
  return result.text;
}

// Structural equality, ignoring spans and literal spellings.
::testing::AssertionResult same_expr(const ast::Expr* a, const ast::Expr* b, const std::string& where) {
  if ((a == nullptr) != (b == nullptr)) return ::testing::AssertionFailure() << where << ": one side is missing";
  if (a == nullptr) return ::testing::AssertionSuccess();
  if (a->kind != b->kind || a->op != b->op || a->name != b->name || a->has_target != b->has_target ||
      a->children.size() != b->children.size()) {
    return ::testing::AssertionFailure() << where << ": nodes differ (`" << a->name << "` vs `" << b->name << "`)";
  }
  if (a->kind == ast::ExprKind::kLiteral && (a->value.kind() != b->value.kind() || !(a->value == b->value))) {
    return ::testing::AssertionFailure() << where << ": literal " << a->value.debug_string() << " vs "
                                         << b->value.debug_string();
  }
  for (std::size_t i = 0; i < a->children.size(); ++i) {
    auto r = same_expr(a->children[i].get(), b->children[i].get(), where + "/" + std::to_string(i));
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> texts(const std::vector<ast::Name>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(n.text);
  return out;
}

::testing::AssertionResult same_effect(const ast::EffectClause& a, const ast::EffectClause& b) {
  if (a.effect.text != b.effect.text || texts(a.roles) != texts(b.roles) || a.approvals != b.approvals) {
    return ::testing::AssertionFailure() << "effects differ: " << a.effect.text << " vs " << b.effect.text;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_file(const ast::File& a, const ast::File& b) {
  if (a.policies.size() != b.policies.size() || a.tests.size() != b.tests.size()) {
    return ::testing::AssertionFailure() << "different numbers of policies or tests";
  }
  for (std::size_t p = 0; p < a.policies.size(); ++p) {
    const auto& x = a.policies[p];
    const auto& y = b.policies[p];
    const std::string at = "policy " + x.name.text;
    if (x.name.text != y.name.text || x.description.has_value() != y.description.has_value() ||
        (x.description && x.description->text != y.description->text) || texts(x.channels) != texts(y.channels) ||
        x.lets.size() != y.lets.size() || x.rules.size() != y.rules.size() ||
        x.otherwise.has_value() != y.otherwise.has_value()) {
      return ::testing::AssertionFailure() << at << ": members differ";
    }
    if (auto r = same_expr(x.when.get(), y.when.get(), at + " when"); !r) return r;
    for (std::size_t i = 0; i < x.lets.size(); ++i) {
      if (x.lets[i].name.text != y.lets[i].name.text) return ::testing::AssertionFailure() << at << ": let names";
      if (auto r = same_expr(x.lets[i].value.get(), y.lets[i].value.get(), at + " let " + x.lets[i].name.text); !r) {
        return r;
      }
    }
    for (std::size_t i = 0; i < x.rules.size(); ++i) {
      const auto& r1 = x.rules[i];
      const auto& r2 = y.rules[i];
      const std::string rule_at = at + " rule " + r1.name.text;
      if (r1.name.text != r2.name.text) return ::testing::AssertionFailure() << rule_at << ": names";
      if (auto r = same_effect(r1.effect, r2.effect); !r) return r;
      if (auto r = same_expr(r1.when.get(), r2.when.get(), rule_at + " when"); !r) return r;
      if (auto r = same_expr(r1.unless.get(), r2.unless.get(), rule_at + " unless"); !r) return r;
      if (auto r = same_expr(r1.because.get(), r2.because.get(), rule_at + " because"); !r) return r;
    }
    if (x.otherwise) {
      if (auto r = same_effect(x.otherwise->effect, y.otherwise->effect); !r) return r;
      if (auto r = same_expr(x.otherwise->because.get(), y.otherwise->because.get(), at + " otherwise"); !r) return r;
    }
  }
  for (std::size_t t = 0; t < a.tests.size(); ++t) {
    const auto& x = a.tests[t];
    const auto& y = b.tests[t];
    if (x.name.text != y.name.text || x.expectations.size() != y.expectations.size()) {
      return ::testing::AssertionFailure() << "test " << x.name.text << " differs";
    }
    if (auto r = same_expr(x.given.get(), y.given.get(), "test " + x.name.text + " given"); !r) return r;
    for (std::size_t i = 0; i < x.expectations.size(); ++i) {
      const auto& e1 = x.expectations[i];
      const auto& e2 = y.expectations[i];
      if (e1.kind != e2.kind || e1.outcome.text != e2.outcome.text || texts(e1.names) != texts(e2.names) ||
          e1.approvals != e2.approvals) {
        return ::testing::AssertionFailure() << "test " << x.name.text << " expectation " << i << " differs";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> comment_texts(const ast::File& file) {
  std::vector<std::string> out;
  for (const auto& c : file.comments) {
    std::string text = c.text;
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
    out.push_back(text);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Formats `input` and checks everything a formatted file must satisfy; returns the output.
std::string check_format(const std::string& input, const std::string& name) {
  const std::string once = format(input);
  EXPECT_EQ(format(once), once) << name << ": formatting is not idempotent";
  ParsedFile before = parse_policy_file("in.policy", input, {});
  ParsedFile after = parse_policy_file("in.policy", once, {});
  EXPECT_TRUE(after.diagnostics.empty()) << name << ": the output does not parse:\n" << once;
  if (before.file != nullptr && after.file != nullptr) {
    EXPECT_TRUE(same_file(*before.file, *after.file)) << name;
    EXPECT_EQ(comment_texts(*before.file), comment_texts(*after.file)) << name << ": comments were lost";
  }
  return once;
}

TEST(Formatter, MatchesEveryGoldenFile) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kFormatData)) {
    const std::string file_name = entry.path().filename().string();
    const std::string suffix = ".input.policy";
    if (file_name.size() <= suffix.size() || file_name.substr(file_name.size() - suffix.size()) != suffix) continue;
    const std::string name = file_name.substr(0, file_name.size() - suffix.size());
    const fs::path expected_path = kFormatData / (name + ".expected.policy");
    ASSERT_TRUE(fs::exists(expected_path)) << expected_path;
    const std::string output = check_format(read_file(entry.path()), name);
    EXPECT_EQ(output, read_file(expected_path)) << name;
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

TEST(Formatter, GoldenOutputsAreFixedPoints) {
  for (const auto& entry : fs::directory_iterator(kFormatData)) {
    const std::string file_name = entry.path().filename().string();
    if (file_name.find(".expected.policy") == std::string::npos) continue;
    const std::string text = read_file(entry.path());
    EXPECT_EQ(format(text), text) << file_name;
  }
}

TEST(Formatter, LeavesTheLanguageExampleEssentiallyAsWritten) {
  const std::string input = read_file(kFormatData / "language_example.input.policy");
  const std::string output = check_format(input, "language example");
  // Only the alignment of trailing comments changes.
  const auto squeeze = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c != ' ' || out.empty() || out.back() != ' ') out += c;
    }
    return out;
  };
  EXPECT_EQ(squeeze(output), squeeze(input));
}

TEST(Formatter, KeepsCommentsInsideExpressionsBeforeTheirLine) {
  const std::string output =
      check_format("policy \"p\" {\n  when a && // first\n    b /* second */ || c\n}\n", "inside");
  EXPECT_EQ(output, "policy \"p\" {\n  // first\n  /* second */\n  when a && b || c\n}\n");
}

TEST(Formatter, MovesMembersWithTheirComments) {
  const std::string output = check_format(
      "policy \"p\" {\n  // the rule\n  rule r { deny }  // trailing\n  // the let\n  let a = 1\n}\n", "moves");
  EXPECT_EQ(output,
            "policy \"p\" {\n  // the let\n  let a = 1\n\n  // the rule\n  rule r {\n    deny\n  }  // trailing\n}\n");
}

TEST(Formatter, PrintsMinimalParenthesesButKeepsLogicalGrouping) {
  const std::string output = check_format(
      "policy \"p\" {\n  let a = ((x + y)) * (z)\n  let b = x - (y - z)\n  let c = (x && y) || z\n"
      "  let d = (x || y) || z\n  let e = !(x.y) == -(1)\n  let f = (a ? b : c) ? (d) : (e ? f : g)\n}\n",
      "parentheses");
  EXPECT_EQ(output,
            "policy \"p\" {\n  let a = (x + y) * z\n  let b = x - (y - z)\n  let c = (x && y) || z\n"
            "  let d = x || y || z\n  let e = !x.y == -(1)\n  let f = (a ? b : c) ? d : e ? f : g\n}\n");
}

TEST(Formatter, PrintsStringsWithDoubleQuotesAndKeepsLiteralSpellings) {
  const std::string output = check_format(
      "policy 'p' {\n  let a = 'it\\'s \"x\"'\n  let b = 0x1F + 10KiB + 1e3 + 2u\n  let c = r'\\d'\n}\n", "literals");
  EXPECT_EQ(
      output,
      "policy \"p\" {\n  let a = \"it's \\\"x\\\"\"\n  let b = 0x1F + 10 KiB + 1e3 + 2u\n  let c = r\"\\d\"\n}\n");
}

TEST(Formatter, ReturnsDiagnosticsAndNoTextOnSyntaxErrors) {
  FormatResult result = format_policy_file({"bad.policy", "policy \"p\" {\n  let = 1\n}\n"});
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.text.empty());
  ASSERT_FALSE(result.diagnostics.empty());
  EXPECT_EQ(result.diagnostics[0].line, 2u);
}

TEST(Formatter, FormatsAFileOfOnlyComments) {
  EXPECT_EQ(check_format("// one\n\n\n/* two */\n", "comments only"), "// one\n\n/* two */\n");
}

}  // namespace
}  // namespace airlock::compiler
