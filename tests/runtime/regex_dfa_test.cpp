// The regex automaton (runtime/regex_dfa.h) against RE2, which defines `matches`.
#include "regex_dfa.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <cstdint>
#include <string>
#include <vector>

#include "airlock/runtime/builtins.h"

namespace airlock::runtime {
namespace {

// Patterns inside the automaton's subset, as policies write them and some that probe the edges.
const std::vector<std::string> kSubsetPatterns = {
    R"((^|/)\.\.(/|$))",
    R"((^|/)\.[^/]+$)",
    R"(\.(csv|parquet|txt|md|json)$)",
    R"(^([A-Za-z]:)?[/\\])",
    R"((^|[/\\])\.\.([/\\]|$))",
    R"(\.(exe|scr|bat)\.(zip|tar|gz)$)",
    R"(^[A-Za-z0-9._-]+\.(zip|tar|tgz|gz)$)",
    R"(^ws-[0-9]+$)",
    R"(a*b+c?)",
    R"(^$)",
    R"($)",
    R"(^)",
    R"(a$|^b)",
    R"(x.y)",
    R"([^a]b)",
    R"([]a]+)",
    R"([a-]x)",
    R"(\d\d-\w+\s?)",
    R"([\d.]+\D)",
    R"((?:ab|a)*?c)",
    R"((a|)b)",
    R"(\S+@\S+)",
    R"([^\n]x)",
    R"(.*\.csv$)",
    R"(((a|b)(c|d))+$)",
    R"(^(\\|/))",
    R"(a.b)",
    R"(ab[^/]cd|xab)",
    R"(zip\.(ab)+c)",
};

// Outside the subset: the automaton must decline them (RE2 answers instead).
const std::vector<std::string> kOtherPatterns = {
    R"((?i)abc)", R"(a{2,3})", R"(\bword)", R"(\pL)", R"([[:alpha:]])", R"((?P<x>a))", R"(é)", R"(\x41)", R"(a**)",
};

std::string random_text(std::uint64_t& state, const std::string& alphabet) {
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  const std::size_t length = next() % 12;
  std::string text;
  for (std::size_t i = 0; i < length; ++i) text += alphabet[next() % alphabet.size()];
  return text;
}

TEST(RegexDfa, AgreesWithRe2OnRandomAsciiText) {
  const std::string alphabet = "ab./\\\n-_:cdAZ09x @exe.csvzip";
  std::uint64_t state = 42;
  for (const std::string& pattern : kSubsetPatterns) {
    SCOPED_TRACE(pattern);
    const auto dfa = RegexDfa::build(pattern);
    ASSERT_TRUE(dfa.has_value());
    const RE2 re2(pattern);
    ASSERT_TRUE(re2.ok());
    for (int i = 0; i < 3000; ++i) {
      const std::string text = random_text(state, alphabet);
      const auto answer = dfa->partial_match(text);
      ASSERT_TRUE(answer.has_value());
      EXPECT_EQ(*answer, RE2::PartialMatch(text, re2)) << "text: \"" << text << "\"";
    }
  }
}

// Text with bytes >= 0x80: the automaton may answer from the ASCII part it read (a match found, a pattern
// anchored at the end decided on an ASCII suffix, no way left to match) and must then agree with RE2, which
// reads the text as UTF-8; otherwise it declines.
TEST(RegexDfa, AgreesWithRe2WheneverItAnswersOnNonAsciiText) {
  const std::vector<std::string> pieces = {"a", "b", ".", "/", "\\", "-", "x", "0", " ", "é", "ü", "\xff", "csv", "exe"};
  std::uint64_t state = 7;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  std::size_t answered = 0;
  for (const std::string& pattern : kSubsetPatterns) {
    SCOPED_TRACE(pattern);
    const auto dfa = RegexDfa::build(pattern);
    ASSERT_TRUE(dfa.has_value());
    const RE2 re2(pattern);
    for (int i = 0; i < 2000; ++i) {
      std::string text;
      const std::size_t length = next() % 8;
      for (std::size_t k = 0; k < length; ++k) text += pieces[next() % pieces.size()];
      const auto answer = dfa->partial_match(text);
      if (!answer.has_value()) continue;
      ++answered;
      EXPECT_EQ(*answer, RE2::PartialMatch(text, re2)) << "text: \"" << text << "\"";
    }
  }
  EXPECT_GT(answered, 10000u);
}

TEST(RegexDfa, AgreesWithRe2OnTheNamesPoliciesJudge) {
  const std::vector<std::string> names = {"data/cohort.csv",
                                          "../../etc/passwd",
                                          "v1..v2/changes.md",
                                          "study/cohort/.env",
                                          "/etc/cron.d/job",
                                          "C:\\Windows\\x.txt",
                                          "invoice.exe.zip",
                                          "Study Export (3).zip",
                                          "results/..summary.csv",
                                          "",
                                          "a\n",
                                          "\nb",
                                          "ws-0042",
                                          "ws-42x"};
  for (const std::string& pattern : kSubsetPatterns) {
    const auto dfa = RegexDfa::build(pattern);
    ASSERT_TRUE(dfa.has_value()) << pattern;
    const RE2 re2(pattern);
    for (const std::string& name : names) {
      EXPECT_EQ(*dfa->partial_match(name), RE2::PartialMatch(name, re2)) << pattern << " on \"" << name << "\"";
    }
  }
}

TEST(RegexDfa, DeclinesPatternsOutsideItsSubset) {
  for (const std::string& pattern : kOtherPatterns) EXPECT_FALSE(RegexDfa::build(pattern).has_value()) << pattern;
}

TEST(RegexDfa, LeavesNonAsciiTextToRe2) {
  // A pattern anchored at the end is run backwards: an ASCII suffix decides, a byte >= 0x80 read before
  // the answer is known leaves the text to RE2.
  const auto dfa = RegexDfa::build(R"(\.csv$)");
  ASSERT_TRUE(dfa.has_value());
  EXPECT_EQ(dfa->partial_match("données.csv"), std::optional<bool>(true));
  EXPECT_EQ(dfa->partial_match("données.txt"), std::optional<bool>(false));
  EXPECT_FALSE(dfa->partial_match("x.csé").has_value());
  const auto forward = RegexDfa::build(R"(a.c)");
  ASSERT_TRUE(forward.has_value());
  EXPECT_FALSE(forward->partial_match("éabc").has_value());
  EXPECT_EQ(forward->partial_match("abcé"), std::optional<bool>(true));
  // Through CompiledRegex the answer is RE2's either way.
  auto regex = CompiledRegex::compile(R"(^d.nn)");
  ASSERT_TRUE(regex.is_ok());
  EXPECT_TRUE((*regex)->partial_match("données.csv"));
  EXPECT_FALSE((*regex)->partial_match("dxxnnées.csv"));
}

}  // namespace
}  // namespace airlock::runtime
