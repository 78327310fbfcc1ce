// The common glob shapes (`**/*.csv`, `*.csv`, `data/**`, literals) take a shortcut on ASCII text; the
// general matcher decides everything else. Appending the same non-ASCII character to the text and the
// pattern keeps the answer and forces the general matcher, so the two paths can be compared.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

#include "airlock/runtime/builtins.h"

namespace airlock::runtime {
namespace {

bool glob(const std::string& text, const std::string& pattern) {
  const std::array<Value, 2> arguments = {Value::string(text), Value::string(pattern)};
  const Value result = call_builtin(Builtin::kGlob, arguments);
  EXPECT_EQ(result.kind(), Kind::kBool) << result.debug_string();
  return result.kind() == Kind::kBool && result.as_bool();
}

TEST(Glob, CommonShapesAnswerAsTheGeneralMatcher) {
  EXPECT_TRUE(glob("a/b/c.csv", "**/*.csv"));
  EXPECT_TRUE(glob(".csv", "**/*.csv"));
  EXPECT_FALSE(glob("a/b/c.csvx", "**/*.csv"));
  EXPECT_TRUE(glob("c.csv", "*.csv"));
  EXPECT_FALSE(glob("a/c.csv", "*.csv"));
  EXPECT_TRUE(glob("data/x/y", "data/**"));
  EXPECT_TRUE(glob("data/x", "data/*"));
  EXPECT_FALSE(glob("data/x/y", "data/*"));
  EXPECT_TRUE(glob("exact", "exact"));
  EXPECT_FALSE(glob("exact.", "exact"));
  EXPECT_TRUE(glob("x/y.tar.gz", "**.gz"));
  EXPECT_TRUE(glob("", ""));
}

TEST(Glob, ShortcutsAgreeWithTheGeneralMatcherOnRandomPatterns) {
  const std::string pattern_alphabet = "ab/*.?c";
  const std::string text_alphabet = "ab/.c";
  std::uint64_t state = 7;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  auto random = [&](const std::string& alphabet, std::size_t max_length) {
    std::string text;
    const std::size_t length = next() % (max_length + 1);
    for (std::size_t i = 0; i < length; ++i) text += alphabet[next() % alphabet.size()];
    return text;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string pattern = random(pattern_alphabet, 7);
    const std::string text = random(text_alphabet, 9);
    ASSERT_EQ(glob(text, pattern), glob(text + "\u00e9", pattern + "\u00e9"))
        << "\"" << text << "\".glob(\"" << pattern << "\")";
  }
}

}  // namespace
}  // namespace airlock::runtime
