// Rendering of compiler messages: headline, source line, caret line, help.
#include "airlock/compiler/diagnostic.h"

#include <gtest/gtest.h>

#include "parser.h"

namespace airlock::compiler {
namespace {

ast::Span span_at(std::uint32_t begin, std::uint32_t end) {
  ast::Span span;
  span.begin = begin;
  span.end = end;
  return span;
}

TEST(Diagnostic, RendersACaretUnderTheSpanAndTheHelp) {
  const std::string text = "policy \"p\" {\n  when file.sise > 10\n}\n";
  const std::uint32_t begin = static_cast<std::uint32_t>(text.find("file.sise"));
  Diagnostic d = make_diagnostic(Severity::kError, "policies/a.policy", text, span_at(begin, begin + 9),
                                 "unknown fact `file.sise`", "did you mean `file.size`?");
  EXPECT_EQ(d.line, 2u);
  EXPECT_EQ(d.column, 8u);
  EXPECT_EQ(d.length, 9u);
  EXPECT_EQ(d.headline(), "policies/a.policy:2:8: error: unknown fact `file.sise`");
  EXPECT_EQ(d.render(),
            "policies/a.policy:2:8: error: unknown fact `file.sise`\n"
            "  when file.sise > 10\n"
            "       ^~~~~~~~~\n"
            "  help: did you mean `file.size`?\n");
}

TEST(Diagnostic, CopiesTabsAndCountsCodePoints) {
  const std::string text = "\tlet caf\xC3\xA9 = x\xC3\xA9y";
  const std::uint32_t begin = static_cast<std::uint32_t>(text.find("x\xC3\xA9y"));
  Diagnostic d = make_diagnostic(Severity::kWarning, "a.policy", text, span_at(begin, begin + 4), "odd name");
  EXPECT_EQ(d.column, 13u);
  EXPECT_EQ(d.length, 3u);
  EXPECT_EQ(d.render(),
            "a.policy:1:13: warning: odd name\n"
            "\tlet caf\xC3\xA9 = x\xC3\xA9y\n"
            "\t           ^~~\n");
}

TEST(Diagnostic, UnderlinesOnlyTheFirstLineOfASpan) {
  const std::string text = "let x = [1,\n  2]\n";
  Diagnostic d = make_diagnostic(Severity::kError, "a.policy", text, span_at(8, 15), "bad list");
  EXPECT_EQ(d.render(), "a.policy:1:9: error: bad list\nlet x = [1,\n        ^~~\n");
}

TEST(Diagnostic, PutsACaretAfterTheLastCharacterAtTheEndOfTheFile) {
  const std::string text = "policy \"p\" {";
  Diagnostic d = make_diagnostic(Severity::kError, "a.policy", text, span_at(12, 12), "unexpected end of file");
  EXPECT_EQ(d.render(), "a.policy:1:13: error: unexpected end of file\npolicy \"p\" {\n            ^\n");
}

TEST(Diagnostic, WholeFileMessagesHaveNoLocation) {
  Diagnostic d;
  d.path = "big.policy";
  d.message = "file is too large";
  EXPECT_EQ(d.headline(), "big.policy: error: file is too large");
  EXPECT_EQ(d.render(), "big.policy: error: file is too large\n");
}

TEST(Diagnostic, HasErrorsIgnoresWarnings) {
  Diagnostic warning;
  warning.severity = Severity::kWarning;
  EXPECT_FALSE(has_errors({warning}));
  EXPECT_TRUE(has_errors({warning, Diagnostic{}}));
  EXPECT_FALSE(has_errors({}));
}

}  // namespace
}  // namespace airlock::compiler
