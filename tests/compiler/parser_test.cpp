// The parser: source text -> AST with spans, and readable syntax errors.
#include "parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace airlock::compiler {
namespace {

using ast::ExprKind;
using ast::Operator;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string language_example() {
  return read_file(std::string(AIRLOCK_SOURCE_DIR) + "/tests/data/format/language_example.input.policy");
}

ParsedFile parse(std::string_view text, const CompileLimits& limits = {}) {
  return parse_policy_file("test.policy", text, limits);
}

ast::ExprPtr expr(std::string_view text) {
  ParsedExpression parsed = parse_expression("<expr>", text, {});
  EXPECT_TRUE(parsed.diagnostics.empty()) << (parsed.diagnostics.empty() ? "" : parsed.diagnostics[0].render());
  return std::move(parsed.expr);
}

// The first diagnostic's headline, or "" when there is none.
std::string first_error(std::string_view text, const CompileLimits& limits = {}) {
  ParsedFile parsed = parse(text, limits);
  return parsed.diagnostics.empty() ? "" : parsed.diagnostics[0].headline();
}

std::string first_expression_error(std::string_view text) {
  ParsedExpression parsed = parse_expression("<expr>", text, {});
  return parsed.diagnostics.empty() ? "" : parsed.diagnostics[0].headline();
}

std::string wrap(std::string_view expression) {
  return "policy \"p\" {\n  let x = " + std::string(expression) + "\n}\n";
}

TEST(Parser, ParsesThePolicyOfTheLanguageExample) {
  ParsedFile parsed = parse(language_example());
  ASSERT_TRUE(parsed.diagnostics.empty()) << parsed.diagnostics[0].render();
  ASSERT_NE(parsed.file, nullptr);
  ASSERT_EQ(parsed.file->policies.size(), 1u);
  const ast::PolicyDecl& policy = parsed.file->policies[0];
  EXPECT_EQ(policy.name.text, "sde-ingress");
  EXPECT_EQ(policy.span.line, 2u);
  EXPECT_EQ(policy.name.span.column, 8u);
  ASSERT_TRUE(policy.description);
  EXPECT_EQ(policy.description->text, "Standard gate for data entering a workspace");
  ASSERT_EQ(policy.channels.size(), 2u);
  EXPECT_EQ(policy.channels[0].text, "upload");
  EXPECT_EQ(policy.channels[1].text, "import");
  EXPECT_EQ(policy.channels[1].span.line, 4u);
  EXPECT_EQ(policy.channels[1].span.column, 22u);
  ASSERT_NE(policy.when, nullptr);
  EXPECT_EQ(policy.when->kind, ExprKind::kBinary);
  EXPECT_EQ(policy.when->op, Operator::kNotEqual);
  EXPECT_EQ(policy.when->children[0]->kind, ExprKind::kSelect);
  EXPECT_EQ(policy.when->children[0]->name, "workspace");
  EXPECT_EQ(policy.when->children[1]->value.as_string(), "sandbox");

  ASSERT_EQ(policy.lets.size(), 2u);
  EXPECT_EQ(policy.lets[0].name.text, "max_auto_size");
  EXPECT_EQ(policy.lets[0].value->value.as_int(), 500LL * 1024 * 1024);
  EXPECT_EQ(policy.lets[0].value->spelling, "500 MiB");
  EXPECT_EQ(policy.lets[1].value->kind, ExprKind::kList);
  EXPECT_EQ(policy.lets[1].value->children.size(), 2u);

  ASSERT_EQ(policy.rules.size(), 3u);
  EXPECT_EQ(policy.rules[0].name.text, "no_executables");
  EXPECT_EQ(policy.rules[0].effect.effect.text, "deny");
  EXPECT_EQ(policy.rules[0].when->op, Operator::kIn);
  EXPECT_EQ(policy.rules[0].unless, nullptr);
  const ast::RuleDecl& identifiers = policy.rules[1];
  EXPECT_EQ(identifiers.span.line, 16u);
  EXPECT_EQ(identifiers.span.column, 3u);
  EXPECT_EQ(identifiers.effect.effect.text, "escalate");
  ASSERT_EQ(identifiers.effect.roles.size(), 2u);
  EXPECT_EQ(identifiers.effect.roles[0].text, "information-governance");
  EXPECT_EQ(identifiers.effect.roles[1].text, "data-engineer");
  EXPECT_EQ(identifiers.effect.approvals, 2);
  // "the file holds " + string(...) + " NHS numbers" is left-associative.
  const ast::Expr& because = *identifiers.because;
  EXPECT_EQ(because.op, Operator::kAdd);
  EXPECT_EQ(because.children[0]->op, Operator::kAdd);
  EXPECT_EQ(because.children[0]->children[1]->kind, ExprKind::kCall);
  EXPECT_EQ(because.children[0]->children[1]->name, "string");
  EXPECT_FALSE(because.children[0]->children[1]->has_target);
  const ast::RuleDecl& small = policy.rules[2];
  EXPECT_EQ(small.when->op, Operator::kAnd);
  EXPECT_EQ(small.unless->op, Operator::kOr);
  ASSERT_TRUE(policy.otherwise);
  EXPECT_EQ(policy.otherwise->effect.effect.text, "escalate");
  EXPECT_EQ(policy.otherwise->effect.roles[0].text, "data-approver");
  EXPECT_EQ(policy.otherwise->because->value.as_string(), "no rule approved this file");
}

TEST(Parser, ParsesTheTestOfTheLanguageExample) {
  ParsedFile parsed = parse(language_example());
  ASSERT_NE(parsed.file, nullptr);
  ASSERT_EQ(parsed.file->tests.size(), 1u);
  const ast::TestDecl& test = parsed.file->tests[0];
  EXPECT_EQ(test.name.text, "a small CSV is approved");
  ASSERT_NE(test.given, nullptr);
  ASSERT_EQ(test.given->kind, ExprKind::kMap);
  ASSERT_EQ(test.given->children.size(), 4u);  // two entries; the trailing comma is fine
  EXPECT_EQ(test.given->children[0]->name, "transfer");
  EXPECT_EQ(test.given->children[1]->kind, ExprKind::kMap);
  EXPECT_EQ(test.given->children[3]->children[5]->value.as_int(), 10 * 1024);
  ASSERT_EQ(test.expectations.size(), 2u);
  EXPECT_EQ(test.expectations[0].kind, ast::Expectation::Kind::kOutcome);
  EXPECT_EQ(test.expectations[0].outcome.text, "approve");
  EXPECT_EQ(test.expectations[1].kind, ast::Expectation::Kind::kRules);
  ASSERT_EQ(test.expectations[1].names.size(), 1u);
  EXPECT_EQ(test.expectations[1].names[0].text, "sde-ingress.small_tables");
}

TEST(Parser, CollectsEveryCommentInSourceOrder) {
  ParsedFile parsed = parse(language_example());
  ASSERT_NE(parsed.file, nullptr);
  const auto& comments = parsed.file->comments;
  ASSERT_EQ(comments.size(), 5u);
  EXPECT_EQ(comments[0].text, "// Line comments with //, block comments with /* */.");
  EXPECT_EQ(comments[0].span.line, 1u);
  EXPECT_EQ(comments[4].text, "// optional: exactly these rules matched");
  ParsedFile block = parse("/* a\n b */ policy \"p\" { /* c */ }");
  ASSERT_EQ(block.file->comments.size(), 2u);
  EXPECT_EQ(block.file->comments[0].text, "/* a\n b */");
  EXPECT_EQ(block.file->comments[1].span.column, 20u);
}

TEST(Parser, ReadsAllExpectationKinds) {
  ParsedFile parsed = parse(R"(test "t" {
  expect escalate
  expect reviewers ["a", "b",]
  expect approvals 3
  expect error
})");
  ASSERT_TRUE(parsed.diagnostics.empty()) << parsed.diagnostics[0].render();
  const auto& e = parsed.file->tests[0].expectations;
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[1].kind, ast::Expectation::Kind::kReviewers);
  EXPECT_EQ(e[1].names.size(), 2u);
  EXPECT_EQ(e[2].kind, ast::Expectation::Kind::kApprovals);
  EXPECT_EQ(e[2].approvals, 3);
  EXPECT_EQ(e[3].kind, ast::Expectation::Kind::kError);
  EXPECT_EQ(parsed.file->tests[0].given, nullptr);
}

TEST(Parser, UnknownExpectationSuggestsTheClosest) {
  ParsedFile parsed = parse("test \"t\" {\n  expect rulez [\"p.r\"]\n}");
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].headline(), "test.policy:2:10: error: unknown expectation `rulez`");
  EXPECT_EQ(parsed.diagnostics[0].help, "did you mean `rules`?");
}

TEST(Parser, MembersMayComeInAnyOrder) {
  ParsedFile parsed = parse(R"(policy "p" {
  otherwise deny
  rule r { approve }
  let a = 1
  applies to any
})");
  ASSERT_TRUE(parsed.diagnostics.empty()) << parsed.diagnostics[0].render();
  const ast::PolicyDecl& policy = parsed.file->policies[0];
  EXPECT_TRUE(policy.otherwise);
  EXPECT_EQ(policy.rules.size(), 1u);
  EXPECT_EQ(policy.lets.size(), 1u);
  EXPECT_EQ(policy.channels[0].text, "any");
}

TEST(Parser, RejectsASecondWhenInAPolicy) {
  EXPECT_EQ(first_error("policy \"p\" {\n  when a\n  when b\n}"),
            "test.policy:3:3: error: policy \"p\" has more than one `when`");
}

TEST(Parser, SizeLiteralsAreIntByteCounts) {
  EXPECT_EQ(expr("10 KiB")->value.as_int(), 10240);
  EXPECT_EQ(expr("5 MB")->value.as_int(), 5'000'000);
  EXPECT_EQ(expr("2 GiB")->value.as_int(), 2LL << 30);
  EXPECT_EQ(expr("1 TB")->value.as_int(), 1'000'000'000'000LL);
  ast::ExprPtr negative = expr("-5 MiB");
  EXPECT_EQ(negative->kind, ExprKind::kLiteral);
  EXPECT_EQ(negative->value.as_int(), -5LL * 1024 * 1024);
  EXPECT_EQ(negative->spelling, "-5 MiB");
  EXPECT_EQ(expr("0x10 KiB")->value.as_int(), 16 * 1024);
}

TEST(Parser, UnknownSizeUnitSuggestsTheClosest) {
  ParsedExpression parsed = parse_expression("<expr>", "file.size > 5 MiBs", {});
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].headline(), "<expr>:1:15: error: unknown size unit `MiBs`");
  EXPECT_EQ(parsed.diagnostics[0].help, "did you mean `MiB`?");
  EXPECT_EQ(parsed.expr, nullptr);
}

TEST(Parser, SizeLiteralOverflowIsAnError) {
  EXPECT_EQ(first_expression_error("9000000 TiB"),
            "<expr>:1:1: error: size literal `9000000 TiB` overflows a 64-bit int");
}

TEST(Parser, ReadsNumbersAsCelDoes) {
  EXPECT_EQ(expr("0x1F")->value.as_int(), 31);
  EXPECT_EQ(expr("0x1F")->spelling, "0x1F");
  EXPECT_EQ(expr("42u")->value.as_uint(), 42u);
  EXPECT_EQ(expr("18446744073709551615u")->value.as_uint(), 18446744073709551615ull);
  EXPECT_DOUBLE_EQ(expr("1.5")->value.as_double(), 1.5);
  EXPECT_DOUBLE_EQ(expr("1e3")->value.as_double(), 1000.0);
  EXPECT_DOUBLE_EQ(expr(".5")->value.as_double(), 0.5);
  EXPECT_DOUBLE_EQ(expr("-2.5e-1")->value.as_double(), -0.25);
  ast::ExprPtr min = expr("-9223372036854775808");
  EXPECT_EQ(min->kind, ExprKind::kLiteral);
  EXPECT_EQ(min->value.as_int(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(expr("true")->value.as_bool(), true);
  EXPECT_EQ(expr("null")->value.kind(), runtime::Kind::kNull);
}

TEST(Parser, IntegerOutOfRangeIsAnError) {
  EXPECT_EQ(first_expression_error("1 + 9223372036854775808"),
            "<expr>:1:5: error: integer literal `9223372036854775808` is out of range for int");
  EXPECT_EQ(first_expression_error("18446744073709551616u"),
            "<expr>:1:1: error: unsigned integer literal `18446744073709551616u` is out of range");
}

TEST(Parser, DecodesStringEscapes) {
  EXPECT_EQ(expr(R"("a\nb\t\"\\")")->value.as_string(), "a\nb\t\"\\");
  EXPECT_EQ(expr(R"('it\'s "x"')")->value.as_string(), "it's \"x\"");
  EXPECT_EQ(expr(R"("\u00e9\U0001F600")")->value.as_string(), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(expr(R"("\x41\101\?\`")")->value.as_string(), "AA?`");
  EXPECT_EQ(expr(R"("\xff")")->value.as_string(), "\xC3\xBF");  // a code point in a string
  EXPECT_EQ(expr(R"(r"\d+\.csv")")->value.as_string(), "\\d+\\.csv");
  EXPECT_EQ(expr("\"\"\"two\nlines \"quoted\" \"\"\"")->value.as_string(), "two\nlines \"quoted\" ");
  EXPECT_EQ(expr("'''a'b'''")->value.as_string(), "a'b");
  ast::ExprPtr bytes = expr(R"(b"\xff\000a")");
  EXPECT_EQ(bytes->value.kind(), runtime::Kind::kBytes);
  EXPECT_EQ(bytes->value.as_string(), std::string("\xff\0a", 3));
  EXPECT_EQ(bytes->spelling, R"(b"\xff\000a")");
  EXPECT_EQ(expr("\"caf\xC3\xA9\"")->value.as_string(), "caf\xC3\xA9");
}

TEST(Parser, InvalidEscapeIsReportedWhereItStands) {
  ParsedExpression parsed = parse_expression("<expr>", R"(x == "ab\qc")", {});
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].headline(), "<expr>:1:9: error: invalid escape `\\q`");
  EXPECT_EQ(parsed.diagnostics[0].length, 2u);
  EXPECT_EQ(first_expression_error(R"("\u12")"), "<expr>:1:2: error: invalid escape `\\u12`");
  EXPECT_EQ(first_expression_error(R"("\uD800")"), "<expr>:1:2: error: invalid Unicode code point in escape `\\uD800`");
}

TEST(Parser, AppliesCelPrecedence) {
  ast::ExprPtr e = expr("a || b && c == d + e * f");
  ASSERT_EQ(e->op, Operator::kOr);
  const ast::Expr& conj = *e->children[1];
  ASSERT_EQ(conj.op, Operator::kAnd);
  const ast::Expr& eq = *conj.children[1];
  ASSERT_EQ(eq.op, Operator::kEqual);
  ASSERT_EQ(eq.children[1]->op, Operator::kAdd);
  EXPECT_EQ(eq.children[1]->children[1]->op, Operator::kMultiply);
  EXPECT_EQ(eq.children[1]->span.column, 16u);
  EXPECT_EQ(eq.children[1]->span.end, 24u);

  ast::ExprPtr sub = expr("a - b - c");
  EXPECT_EQ(sub->children[0]->op, Operator::kSubtract);  // left-associative
  ast::ExprPtr grouped = expr("a - (b - c)");
  EXPECT_EQ(grouped->children[1]->op, Operator::kSubtract);
  EXPECT_TRUE(grouped->children[1]->parenthesized);
}

TEST(Parser, ConditionalIsRightAssociative) {
  ast::ExprPtr e = expr("a ? b : c ? d : e");
  ASSERT_EQ(e->kind, ExprKind::kConditional);
  EXPECT_EQ(e->children[0]->name, "a");
  ASSERT_EQ(e->children[2]->kind, ExprKind::kConditional);
  EXPECT_EQ(e->children[2]->children[0]->name, "c");
  EXPECT_EQ(e->children[2]->children[2]->name, "e");
  EXPECT_EQ(first_expression_error("a ? b ? 1 : 2 : 3"), "<expr>:1:7: error: unexpected `?`, expected `:`");
}

TEST(Parser, UnaryAndMemberExpressions) {
  ast::ExprPtr e = expr("!!x");
  ASSERT_EQ(e->kind, ExprKind::kUnary);
  EXPECT_EQ(e->op, Operator::kNot);
  EXPECT_EQ(e->children[0]->op, Operator::kNot);
  ast::ExprPtr neg = expr("-x.y");
  ASSERT_EQ(neg->op, Operator::kNegate);
  EXPECT_EQ(neg->children[0]->kind, ExprKind::kSelect);

  ast::ExprPtr call = expr("l.filter(x, x > 1).size()");
  ASSERT_EQ(call->kind, ExprKind::kCall);
  EXPECT_TRUE(call->has_target);
  EXPECT_EQ(call->name, "size");
  EXPECT_EQ(call->children.size(), 1u);
  const ast::Expr& filter = *call->children[0];
  EXPECT_EQ(filter.name, "filter");
  ASSERT_EQ(filter.children.size(), 3u);
  EXPECT_EQ(filter.children[0]->name, "l");

  ast::ExprPtr has = expr("has(a.b)");
  EXPECT_EQ(has->kind, ExprKind::kCall);
  EXPECT_FALSE(has->has_target);
  EXPECT_EQ(has->children[0]->kind, ExprKind::kSelect);

  ast::ExprPtr index = expr("m[\"k\"][0]");
  ASSERT_EQ(index->kind, ExprKind::kIndex);
  EXPECT_EQ(index->children[0]->kind, ExprKind::kIndex);

  EXPECT_EQ(expr("x.test")->name, "test");  // block words are fine as field names
}

TEST(Parser, ListsAndMapsTakeATrailingComma) {
  EXPECT_EQ(expr("[1, 2, 3,]")->children.size(), 3u);
  EXPECT_EQ(expr("[]")->children.size(), 0u);
  ast::ExprPtr map = expr("{'a': 1, 2: [3],}");
  ASSERT_EQ(map->kind, ExprKind::kMap);
  EXPECT_EQ(map->children.size(), 4u);
  EXPECT_EQ(map->children[2]->value.as_int(), 2);
}

TEST(Parser, ReservedWordsAreNotNames) {
  EXPECT_EQ(first_expression_error("if + 1"),
            "<expr>:1:1: error: `if` is a reserved word and cannot be used as a name");
}

TEST(Parser, ReportsAMissingExpression) {
  EXPECT_EQ(first_error("policy \"p\" {\n  let x = = 1\n}\n"),
            "test.policy:2:11: error: unexpected `=`, expected an expression");
}

TEST(Parser, ReportsAMissingClosingBraceOfAPolicy) {
  ParsedFile parsed = parse("policy \"sde\" {\n  applies to upload\n");
  ASSERT_FALSE(parsed.diagnostics.empty());
  EXPECT_EQ(parsed.diagnostics[0].headline(),
            "test.policy:3:1: error: unexpected end of file, expected a policy member (`rule`, `let`, `when`, "
            "`applies to`, `description` or `otherwise`) or `}` to close policy \"sde\"");
}

TEST(Parser, ReportsAMissingClosingBraceOfARule) {
  const std::string error = first_error("policy \"p\" {\n  rule r {\n    deny\n    when a b\n  }\n}\n");
  EXPECT_EQ(error,
            "test.policy:4:12: error: unexpected `b`, expected `when`, `unless`, `because` or `}` to close rule `r`");
  EXPECT_EQ(first_error("policy \"p\" {\n  let x = (a b)\n}\n"),
            "test.policy:2:14: error: unexpected `b`, expected `)`");
}

TEST(Parser, SuggestsQuotingRoles) {
  ParsedFile parsed = parse("policy \"p\" {\n  otherwise escalate to admins\n}\n");
  ASSERT_FALSE(parsed.diagnostics.empty());
  EXPECT_EQ(parsed.diagnostics[0].headline(), "test.policy:2:25: error: unexpected `admins`, expected a string");
  EXPECT_EQ(parsed.diagnostics[0].help, "roles are strings: `to \"admins\"`");
}

TEST(Parser, ReportsSeveralErrorsInOneFile) {
  ParsedFile parsed = parse("policy \"a\" {\n  let = 1\n}\npolicy \"b\" {\n  let y 2\n}\n");
  ASSERT_EQ(parsed.diagnostics.size(), 2u);
  EXPECT_EQ(parsed.diagnostics[0].line, 2u);
  EXPECT_EQ(parsed.diagnostics[1].line, 5u);
  EXPECT_EQ(parsed.diagnostics[1].message, "unexpected `2`, expected `=`");
}

TEST(Parser, StopsAfterTooManyErrors) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "policy \"p\" { let = }\n";
  CompileLimits limits;
  limits.max_errors_per_file = 5;
  ParsedFile parsed = parse(text, limits);
  ASSERT_EQ(parsed.diagnostics.size(), 6u);
  EXPECT_EQ(parsed.diagnostics.back().headline(), "test.policy: error: too many errors; stopping");
}

TEST(Parser, UnterminatedStringIsReportedAtItsStart) {
  ParsedFile parsed = parse("policy \"p\" {\n  when file.name == \"abc\n}\n");
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].headline(), "test.policy:2:21: error: unterminated string literal");
  EXPECT_EQ(first_error("let x = '''abc\n\n"), "test.policy:1:9: error: unterminated string literal");
  EXPECT_EQ(first_error("x r'abc"), "test.policy:1:3: error: unterminated string literal");
}

TEST(Parser, UnterminatedCommentIsReportedAtItsStart) {
  ParsedFile parsed = parse("policy \"p\" {}\n  /* never closed *\n policy \"q\" {}\n");
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].headline(), "test.policy:2:3: error: unterminated block comment");
  EXPECT_EQ(parsed.diagnostics[0].help, "add `*/` to close it");
}

TEST(Parser, StrayCharacterIsReported) {
  EXPECT_EQ(first_error("policy \"p\" {\n  when a # b\n}"), "test.policy:2:10: error: unexpected character `#`");
}

TEST(Parser, InvalidUtf8IsReportedAtItsPosition) {
  ParsedFile parsed = parse("policy \"p\" {\n  description \"caf\xC3\xA9 \xFF\"\n}\n");
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].headline(), "test.policy:2:21: error: invalid UTF-8 in the source");
  EXPECT_EQ(parsed.file, nullptr);
  EXPECT_EQ(first_error("\xC0\x80"), "test.policy:1:1: error: invalid UTF-8 in the source");  // overlong
}

TEST(Parser, FileLargerThanTheLimitIsNotParsed) {
  CompileLimits limits;
  limits.max_file_bytes = 10;
  ParsedFile parsed = parse("policy \"long name\" {}", limits);
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].line, 0u);
  EXPECT_EQ(parsed.diagnostics[0].headline(), "test.policy: error: file is too large (21 bytes; the limit is 10)");
}

TEST(Parser, DeepBracketsAreAnErrorNotACrash) {
  const std::string text = wrap(std::string(1'000'000, '('));
  ParsedFile parsed = parse(text);
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].message, "brackets nested too deeply (more than 100 levels)");
  EXPECT_EQ(parsed.diagnostics[0].line, 2u);
  EXPECT_EQ(parsed.diagnostics[0].column, 110u);  // the 101st level, counting the policy's `{`
}

std::string repeat(std::string_view piece, std::size_t count) {
  std::string out;
  out.reserve(piece.size() * count);
  for (std::size_t i = 0; i < count; ++i) out += piece;
  return out;
}

TEST(Parser, LongOperatorChainsAreAnErrorNotACrash) {
  const std::vector<std::string> hostile = {
      "1" + repeat("+1", 500'000),  repeat("!", 1'000'000) + "x",      "a" + repeat(".b", 500'000),
      "a" + repeat("[0]", 333'333), "a" + repeat(" ? b : a", 125'000), repeat("-", 1'000'000) + "1",
  };
  for (const std::string& expression : hostile) {
    ParsedFile parsed = parse(wrap(expression));
    ASSERT_EQ(parsed.diagnostics.size(), 1u) << expression.substr(0, 20);
    EXPECT_EQ(parsed.diagnostics[0].message, "expression nested too deeply (more than 100 levels)");
  }
}

TEST(Parser, ExpressionDepthIsMeasuredExactly) {
  EXPECT_NE(expr(repeat("!", 99) + "x"), nullptr);  // depth 100
  EXPECT_EQ(first_expression_error(repeat("!", 100) + "x"),
            "<expr>:1:100: error: expression nested too deeply (more than 100 levels)");
  // Each chain is short, but together they are deeper than the limit.
  std::string mixed = repeat("!", 50) + "x";
  for (int i = 0; i < 60; ++i) mixed += " || " + repeat("!", 50) + "x";
  ParsedExpression parsed = parse_expression("<expr>", mixed, {});
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].message, "expression nested too deeply (more than 100 levels)");
  EXPECT_EQ(parsed.expr, nullptr);
}

TEST(Parser, ManyShallowExpressionsAreFine) {
  std::string list = "[" + repeat("1, ", 100'000) + "1]";
  ParsedFile parsed = parse(wrap(list));
  ASSERT_TRUE(parsed.diagnostics.empty());
  EXPECT_EQ(parsed.file->policies[0].lets[0].value->children.size(), 100'001u);
}

}  // namespace
}  // namespace airlock::compiler
