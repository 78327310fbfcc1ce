// Glob patterns (`string.glob(pattern)`), private to the runtime: compiled once, matched many times.
// `*` any run without '/', `**` any run, `**/` at a segment start: nothing or a run ending in '/',
// `?` one code point other than '/', `[abc]`, `[a-z]`, `[!x]` (never '/' when negated), `\x` literal.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/runtime/result.h"

namespace airlock::runtime {

class GlobPattern {
 public:
  // Reusable working memory for match(): with warm buffers, matching allocates nothing.
  struct Buffers {
    std::vector<char32_t> text;
    std::vector<char> next;
    std::vector<char> current;
  };

  static Result<GlobPattern> compile(std::string_view pattern);

  // Whether the whole of `subject` matches. O(tokens * length) time, so no pattern is exponential.
  // ASCII subjects are matched byte by byte, without decoding.
  bool match(std::string_view subject, Buffers& buffers) const;

  // "exe" for `**/*.exe` or `**.exe`: a pattern that matches exactly the ASCII texts ending in "." and
  // this extension, which holds neither '.' nor '/'. Empty for every other pattern.
  std::string_view ascii_extension() const;

 private:
  struct Token {
    enum class Kind : std::uint8_t {
      kLiteral,          // one code point
      kAnyOne,           // ?
      kClass,            // [...]
      kStar,             // *
      kDoubleStar,       // **
      kDoubleStarSlash,  // **/ at the start of a segment
    };
    Kind kind = Kind::kLiteral;
    bool negated = false;
    char32_t code_point = 0;
    std::uint32_t first_range = 0;  // into ranges_
    std::uint32_t range_count = 0;
  };

  // Common shapes, decided once by compile() and answered without the general matcher on ASCII text.
  enum class Shape : std::uint8_t {
    kGeneral,       // the dynamic programme, after the literal prefix and suffix checks
    kExact,         // only literals: the text equals literal_
    kEndsWith,      // `**/*L`, `**L`: the text ends with literal_ (L has no '/')
    kSegmentEnd,    // `*L`: the text ends with literal_ and has no '/' before it
    kStartsWith,    // `L**`: the text starts with literal_
    kSegmentStart,  // `L*`: the text starts with literal_ and has no '/' after it
  };
  void classify();

  bool token_matches(const Token& token, char32_t c) const;
  template <typename Text>
  bool run(const Text& text, std::size_t n, Buffers& buffers) const;

  std::vector<Token> tokens_;
  std::vector<std::pair<char32_t, char32_t>> ranges_;
  Shape shape_ = Shape::kGeneral;
  std::string literal_;  // kExact ... kSegmentStart (ASCII)
  std::string prefix_;   // kGeneral: the leading and trailing literal tokens (ASCII), a quick test
  std::string suffix_;
};

// compile() then match(), for a pattern used once.
Result<bool> glob_match(std::string_view pattern, std::string_view subject);

}  // namespace airlock::runtime
