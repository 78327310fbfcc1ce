// Parsing one top-level declaration at a time (ParseMode::kAuto, the default) gives the same AST and
// the same diagnostics as parsing the whole file at once (ParseMode::kWholeFile).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "parser.h"
#include "workloads.h"

namespace airlock::compiler {
namespace {

// ---- A full dump of an AST, so that two parses can be compared field by field ----

void dump_span(std::ostringstream& out, const ast::Span& span) {
  out << '@' << span.begin << '-' << span.end << ':' << span.line << ':' << span.column;
}

void dump_name(std::ostringstream& out, const ast::Name& name) {
  out << '"' << name.text << '"';
  dump_span(out, name.span);
}

void dump_expr(std::ostringstream& out, const ast::Expr* expr) {
  if (expr == nullptr) {
    out << "null";
    return;
  }
  out << '(' << static_cast<int>(expr->kind) << ' ' << static_cast<int>(expr->op) << " name=" << expr->name
      << " target=" << expr->has_target << " paren=" << expr->parenthesized << " value=" << expr->value.debug_string()
      << " spelling=" << expr->spelling;
  dump_span(out, expr->span);
  for (const auto& child : expr->children) {
    out << ' ';
    dump_expr(out, child.get());
  }
  out << ')';
}

void dump_effect(std::ostringstream& out, const ast::EffectClause& effect) {
  out << "effect";
  dump_span(out, effect.span);
  dump_name(out, effect.effect);
  for (const auto& role : effect.roles) dump_name(out, role);
  out << " approvals=" << (effect.approvals ? std::to_string(*effect.approvals) : "none");
  dump_span(out, effect.approvals_span);
}

std::string dump(const ast::File& file) {
  std::ostringstream out;
  out << "file " << file.path << '\n';
  for (const auto& policy : file.policies) {
    out << "policy";
    dump_span(out, policy.span);
    dump_name(out, policy.name);
    if (policy.description) dump_name(out, *policy.description);
    dump_span(out, policy.applies_span);
    for (const auto& channel : policy.channels) dump_name(out, channel);
    dump_span(out, policy.open_brace);
    out << "\n when ";
    dump_expr(out, policy.when.get());
    for (const auto& let : policy.lets) {
      out << "\n let";
      dump_span(out, let.span);
      dump_name(out, let.name);
      dump_expr(out, let.value.get());
    }
    for (const auto& rule : policy.rules) {
      out << "\n rule";
      dump_span(out, rule.span);
      dump_name(out, rule.name);
      dump_span(out, rule.open_brace);
      dump_effect(out, rule.effect);
      dump_expr(out, rule.when.get());
      dump_expr(out, rule.unless.get());
      dump_expr(out, rule.because.get());
    }
    if (policy.otherwise) {
      out << "\n otherwise";
      dump_span(out, policy.otherwise->span);
      dump_effect(out, policy.otherwise->effect);
      dump_expr(out, policy.otherwise->because.get());
    }
    out << '\n';
  }
  for (const auto& test : file.tests) {
    out << "test";
    dump_span(out, test.span);
    dump_name(out, test.name);
    dump_span(out, test.open_brace);
    dump_expr(out, test.given.get());
    for (const auto& expectation : test.expectations) {
      out << " expect" << static_cast<int>(expectation.kind) << ' ' << expectation.approvals;
      dump_span(out, expectation.span);
      dump_name(out, expectation.outcome);
      for (const auto& name : expectation.names) dump_name(out, name);
    }
    out << '\n';
  }
  for (const auto& comment : file.comments) {
    out << "comment";
    dump_span(out, comment.span);
    out << ' ' << comment.text << '\n';
  }
  return out.str();
}

std::string dump(const ParsedFile& parsed) {
  std::string out = parsed.file ? dump(*parsed.file) : "no file\n";
  for (const Diagnostic& d : parsed.diagnostics) out += d.render() + "\n";
  return out;
}

// Both ways of parsing `text` agree exactly; returns whether it parsed without diagnostics.
bool expect_same_parse(const std::string& path, const std::string& text, const CompileLimits& limits = {}) {
  const ParsedFile whole = parse_policy_file(path, text, limits, ParseMode::kWholeFile);
  const ParsedFile automatic = parse_policy_file(path, text, limits, ParseMode::kAuto);
  const ParsedFile by_declaration = parse_policy_file(path, text, limits, ParseMode::kByDeclaration);
  const std::string expected = dump(whole);
  EXPECT_EQ(dump(automatic), expected) << path;
  if (whole.diagnostics.empty()) {
    // A clean file is parsed declaration by declaration, never whole.
    EXPECT_NE(by_declaration.file, nullptr) << path;
    EXPECT_EQ(dump(by_declaration), expected) << path;
  } else {
    EXPECT_EQ(by_declaration.file, nullptr) << path;
    EXPECT_TRUE(by_declaration.diagnostics.empty()) << path;
  }
  return whole.diagnostics.empty();
}

// ---- A large generated file that uses every kind of declaration and expression ----

std::string generated_rule(std::size_t i) {
  const std::string n = std::to_string(i);
  switch (i % 6) {
    case 0:
      return "  rule ws_" + n + " {\n    approve\n    when transfer.workspace == \"ws-" + n +
             "\" && file.type in [\"text/csv\", \"application/json\"] && file.size <= " + std::to_string(i % 90 + 1) +
             " MiB\n  }\n";
    case 1:
      return "  // rule " + n + ", about «unicode» names\n  rule r_" + n +
             " { deny when file.name.lowerAscii().glob(\"*.exe\") || file.extension in ['exe', 'dll'] because "
             "\"executable «" +
             n + "»\" }\n";
    case 2:
      return "  rule e_" + n + " {\r\n    escalate to \"data-approver\", \"output-checker\" requiring 3 approvals\r\n" +
             "    when (file.size > 0x" + std::to_string(i % 9 + 1) +
             "F ? !content.text : -file.size < -1) && [1, 2, 3][0] == 1\r\n    unless transfer.rule.when == null\r\n"
             "  }\r\n";
    case 3:
      return "  /* block comment\n     over two lines */ rule m_" + n +
             " { approve when {\"a\": [1.5, 2e3, 3u], 'b': {\"c\": true}}.size() == 2 && large" +
             " && archive.entry_names.exists(e, e.matches(r\"^\\\\d+$\")) }\n";
    case 4:
      return "  let v_" + n + " = file.size * 2 + 1 - 3 / 4 % 5 >= 10 KiB || transfer.rule.description\n  rule l_" + n +
             " { approve when v_" + n + " && transfer.test == b\"x\\x01\" unless file.otherwise.when }\n";
    default:
      return "  rule t_" + n + " {\n    approve\n    when '''triple\n\"quoted\" " + n +
             "''' != \"\"\"x\"\"\" && -9223372036854775808 < 0\n    because \"tab\\there\"\n  }\n";
  }
}

std::string generated_file(std::size_t rules) {
  std::string text = "// A generated policy set\n";
  text += "policy \"first\" {\n  description \"the first «policy»\"\n  applies to upload, import\n";
  text += "  when transfer.channel != \"egress\"\n  let large = file.size > 1 GiB\n";
  for (std::size_t i = 0; i < rules / 2; ++i) text += generated_rule(i);
  text += "  otherwise escalate to \"data-approver\" because \"no rule matched\"\n}\n\n";
  text += "test \"a test\" {\n  given { file: { size: 10, type: \"text/csv\" }, transfer: { workspace: \"ws-0\" } }\n";
  text += "  expect approve\n  expect rules [\"first.ws_0\"]\n}\n";
  text += "policy 'second' {\n  applies to any\n  let large = false\n";
  for (std::size_t i = rules / 2; i < rules; ++i) text += generated_rule(i);
  text += "  otherwise deny\n}\n";
  text +=
      "test \"another\" { expect escalate expect reviewers [\"data-approver\"] expect approvals 2 }\n/* the end */\n";
  return text;
}

TEST(DeclarationParse, ALargeGeneratedFileParsesAsTheWholeFileDoes) {
  const std::string text = generated_file(1200);
  ASSERT_TRUE(expect_same_parse("generated.policy", text));
  const ParsedFile parsed = parse_policy_file("generated.policy", text, {});
  ASSERT_NE(parsed.file, nullptr);
  ASSERT_EQ(parsed.file->policies.size(), 2u);
  EXPECT_EQ(parsed.file->policies[0].rules.size(), 600u);
  EXPECT_EQ(parsed.file->policies[1].rules.size(), 600u);
  EXPECT_EQ(parsed.file->policies[0].lets.size(), 1u + 100u);
  EXPECT_TRUE(parsed.file->policies[0].otherwise.has_value());
  EXPECT_EQ(parsed.file->tests.size(), 2u);
  EXPECT_EQ(parsed.file->comments.size(), 1u + 200u + 200u + 1u);
}

TEST(DeclarationParse, TheBenchmarkWorkloadsParseAsTheWholeFileDoes) {
  for (const bench::Workload& workload : {bench::make_w2(600, 1, 5), bench::make_w3(1, 5)}) {
    for (const SourceFile& file : workload.policies) EXPECT_TRUE(expect_same_parse(file.path, file.text));
  }
}

TEST(DeclarationParse, EveryPolicyFileOfTheRepositoryParsesAsTheWholeFileDoes) {
  std::size_t files = 0;
  std::size_t clean = 0;
  for (const char* dir : {"policies", "examples", "tests/data"}) {
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(std::string(AIRLOCK_SOURCE_DIR) + "/" + dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".policy") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      ++files;
      if (expect_same_parse(entry.path().string(), text.str())) ++clean;
    }
  }
  EXPECT_GE(files, 20u);
  EXPECT_GE(clean, 10u);    // the standard policies and the formatter's files at least
  EXPECT_LT(clean, files);  // and the golden diagnostics' files are not clean
}

// Replaces the first `from` after `after` in `text` by `to`.
std::string with(std::string text, std::string_view after, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from, text.find(after));
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(DeclarationParse, ErrorsLateInALargeFileGiveTheWholeFileDiagnostics) {
  const std::string text = generated_file(120);
  ASSERT_TRUE(expect_same_parse("ok.policy", text));
  const std::vector<std::string> broken = {
      with(text, "rule ws_96 ", "\n  }\n", "\n\n"),                                 // a rule's `}` missing
      with(text, "rule ws_96 ", "approve", "approve approve"),                      // a stray word
      with(text, "rule r_97 ", "\"*.exe\"", "\"*.exe"),                             // an unterminated string
      with(text, "/* the end", "*/", ""),                                           // an unterminated comment
      with(text, "rule ws_60 ", "MiB", "MiBB"),                                     // an unknown size unit
      with(text, "rule t_65 ", "because", "when true because"),                     // a second `when`
      with(text, "rule t_119 ", "\\there", "\\qhere"),                              // an invalid escape
      with(text, "rule ws_0 ", "ws_0", "when"),                                     // a keyword as a rule name
      with(text, "policy 'second'", "applies to any", "applies to any }"),          // a policy closed early
      with(text, "policy 'second'", "applies to any", "applies to any {"),          // a stray `{`
      with(text, "rule l_112 ", "transfer.test", "transfer test"),                  // a keyword in an expression
      with(text, "let v_4 ", "file.size", "file rule"),                             // a member keyword in a `let`
      with(text, "let v_10 ", "transfer.rule", "transfer.rule("),                   // an unclosed call
      with(text, "rule l_4 ", "v_4 &&", "v_4 && && "),                              // a missing operand
      with(text, "test \"another\"", "expect escalate", "expect escalate }"),       // a test closed early
      text + "}\n",                                                                 // a stray `}` at the end
      text + "policy \"third\" {\n",                                                // an unclosed policy
      text + "let x = 1\n",                                                         // a member outside a policy
      with(text, "rule ws_6 ", "rule ws_6", "rule ws_6 " + std::string(200, '(')),  // brackets too deep
  };
  for (std::size_t i = 0; i < broken.size(); ++i) {
    SCOPED_TRACE("broken file " + std::to_string(i));
    EXPECT_FALSE(expect_same_parse("broken.policy", broken[i]));
  }
}

TEST(DeclarationParse, TooManyErrorsStopAsInTheWholeFile) {
  std::string text = "policy \"p\" {\n";
  for (int i = 0; i < 40; ++i) text += "  rule r" + std::to_string(i) + " { approve when 1 KiBB }\n";
  text += "}\n";
  CompileLimits limits;
  limits.max_errors_per_file = 5;
  EXPECT_FALSE(expect_same_parse("many.policy", text, limits));
  const ParsedFile parsed = parse_policy_file("many.policy", text, limits);
  EXPECT_EQ(parsed.file, nullptr);
  ASSERT_EQ(parsed.diagnostics.size(), 6u);
  EXPECT_EQ(parsed.diagnostics.back().message, "too many errors; stopping");
}

TEST(DeclarationParse, EmptyAndCommentOnlyFilesParseToEmptyFiles) {
  for (const std::string text : {"", "\n\n", "// only a comment\n/* and another */"}) {
    ASSERT_TRUE(expect_same_parse("empty.policy", text));
    const ParsedFile parsed = parse_policy_file("empty.policy", text, {}, ParseMode::kByDeclaration);
    ASSERT_NE(parsed.file, nullptr);
    EXPECT_TRUE(parsed.file->policies.empty());
    EXPECT_TRUE(parsed.file->tests.empty());
  }
}

TEST(DeclarationParse, WindowsLineEndingsParseAsTheWholeFileDoes) {
  EXPECT_TRUE(expect_same_parse("crlf.policy", "policy \"p\" {\r\n  applies to any\r\n  rule r { deny }\r\n}\r\n"));
}

TEST(DeclarationParse, AFileWithAByteOrderMarkIsParsedWhole) {
  // ANTLR drops the mark and counts offsets without it; such a file keeps the whole-file parse.
  const std::string text = "\xEF\xBB\xBFpolicy \"p\" {\n  applies to any\n  rule r { deny }\n}\n";
  EXPECT_EQ(dump(parse_policy_file("bom.policy", text, {})),
            dump(parse_policy_file("bom.policy", text, {}, ParseMode::kWholeFile)));
  EXPECT_EQ(parse_policy_file("bom.policy", text, {}, ParseMode::kByDeclaration).file, nullptr);
}

TEST(DeclarationParse, LimitsOnSizeAndEncodingReportAsTheWholeFileDoes) {
  CompileLimits small;
  small.max_file_bytes = 100;
  EXPECT_FALSE(expect_same_parse("big.policy", generated_file(10), small));
  EXPECT_FALSE(expect_same_parse("bad.policy", "policy \"p\" {\n  let x = \"\xff\"\n}\n"));
}

}  // namespace
}  // namespace airlock::compiler
