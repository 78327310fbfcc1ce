// Small UTF-8 helpers shared by the builtins and the text formats.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace airlock::runtime::internal {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// Decodes the code point at `pos` and advances `pos` past it. Invalid sequences decode
// as U+FFFD and advance one byte, so every loop terminates.
char32_t decode_utf8(std::string_view text, std::size_t& pos);

// Appends the UTF-8 encoding of `code_point`.
void append_utf8(std::string& out, char32_t code_point);

// Number of code points in valid UTF-8 text.
inline std::size_t count_code_points(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

// Unicode White_Space (the set Go's unicode.IsSpace and CEL's trim use).
constexpr bool is_unicode_space(char32_t c) {
  switch (c) {
    case U'\t': case U'\n': case U'\v': case U'\f': case U'\r': case U' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

}  // namespace airlock::runtime::internal
