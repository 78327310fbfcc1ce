// A deterministic automaton for the simple regular expressions policies use ("\\.(csv|txt)$",
// "(^|/)\\.\\.(/|$)"), private to the runtime. RE2 stays the definition of `matches`: this automaton is
// built only for a conservative subset of RE2's syntax whose meaning on ASCII text is unambiguous, and
// it answers only for ASCII text; anything else (other syntax, a byte >= 0x80, too many states) is left
// to RE2. tests/runtime/regex_dfa_test.cpp checks both agree.
//
// The subset: literals, `.`, `[...]` and `[^...]` of ASCII characters and ranges, escaped punctuation,
// \d \w \s \D \W \S \n \t \r \f, groups `(...)` and `(?:...)`, `|`, `*` `+` `?` (greedy or lazy), and
// the anchors `^` `$` (start and end of the text, RE2's default).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace airlock::runtime {

class RegexDfa {
 public:
  // The automaton for `pattern`, or nothing when the pattern is outside the subset or too large.
  static std::optional<RegexDfa> build(std::string_view pattern);

  // Whether some substring of `text` matches (RE2::PartialMatch); nothing when `text` is not ASCII.
  std::optional<bool> partial_match(std::string_view text) const;

 private:
  // [state * 256 + byte]: the next state, with kAccepting set when a match ends there (whatever
  // follows); kNotAscii for bytes >= 0x80.
  static constexpr std::uint16_t kAccepting = 0x8000;
  static constexpr std::uint16_t kNotAscii = 0xffff;
  std::vector<std::uint16_t> next_;
  bool accept_initial_ = false;           // the empty prefix already matches
  std::vector<std::uint8_t> accept_end_;  // a match ends here if the text ends here
};

}  // namespace airlock::runtime
