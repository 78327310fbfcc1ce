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
  const auto dfa = RegexDfa::build(R"(\.csv$)");
  ASSERT_TRUE(dfa.has_value());
  EXPECT_FALSE(dfa->partial_match("données.csv").has_value());
  // Through CompiledRegex the answer is RE2's either way.
  auto regex = CompiledRegex::compile(R"(^d.nn)");
  ASSERT_TRUE(regex.is_ok());
  EXPECT_TRUE((*regex)->partial_match("données.csv"));
  EXPECT_FALSE((*regex)->partial_match("dxxnnées.csv"));
}

}  // namespace
}  // namespace airlock::runtime
