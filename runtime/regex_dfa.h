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
#include <string>
#include <string_view>
#include <vector>

namespace airlock::runtime {

class RegexDfa {
 public:
  // The automaton for `pattern`, or nothing when the pattern is outside the subset or too large.
  static std::optional<RegexDfa> build(std::string_view pattern);

  // Whether some substring of `text` matches (RE2::PartialMatch); nothing when the answer depends on a
  // byte >= 0x80 (the automaton decides on ASCII only; RE2 then answers).
  std::optional<bool> partial_match(std::string_view text) const;

 private:
  // [state * 256 + byte]: the next state's row (its id * 256), with kAccepting set when a match ends
  // there (whatever follows), kDead when no match can end anywhere any more; kNotAscii for bytes >= 0x80.
  // Every flagged entry is at least kDead, every row offset below it.
  static constexpr std::uint32_t kAccepting = 0x80000000u;
  static constexpr std::uint32_t kDead = 0x40000000u;
  static constexpr std::uint32_t kNotAscii = 0xffffffffu;
  std::vector<std::uint32_t> next_;
  bool accept_initial_ = false;           // the empty prefix already matches
  std::vector<std::uint8_t> accept_end_;  // a match ends here if the text ends here
  // When every match must end at the end of the text (`\.(csv|txt)$`), the automaton is built for the
  // reversed pattern and runs from the last byte backwards, anchored there: it usually stops (matched or
  // dead) after a few bytes.
  bool reverse_ = false;
  // A literal every match contains (`..` in `(^|/)\.\.(/|$)`), at least two bytes long: a text without it
  // cannot match, which a substring search tells faster than the automaton.
  std::string required_;

  std::optional<bool> run_forward(const unsigned char* begin, const unsigned char* end) const;
  std::optional<bool> run_backward(const unsigned char* begin, const unsigned char* end) const;
  std::optional<bool> finish(std::uint32_t entry) const;  // a flagged entry's answer
};

}  // namespace airlock::runtime
