// Rendering of compiler messages, in the style of clang and rustc.
#include "airlock/compiler/diagnostic.h"

#include <algorithm>

namespace airlock::compiler {

std::string Diagnostic::headline() const {
  std::string out = path;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += severity == Severity::kError ? ": error: " : ": warning: ";
  out += message;
  return out;
}

std::string Diagnostic::render() const {
  std::string out = headline();
  out += '\n';
  if (line > 0 && column > 0) {
    out += source_line;
    out += '\n';
    // Walk the source line by code points: copy tabs so the caret lines up, pad the rest with spaces.
    std::uint32_t code_point = 0;
    std::string caret;
    std::uint32_t underlined = 0;
    const std::uint32_t length = std::max<std::uint32_t>(1, this->length);
    for (std::size_t i = 0; i < source_line.size() && underlined < length; ++i) {
      const auto byte = static_cast<unsigned char>(source_line[i]);
      if ((byte & 0xC0) == 0x80) continue;  // a continuation byte belongs to the previous code point
      ++code_point;
      if (code_point < column) {
        caret += source_line[i] == '\t' ? '\t' : ' ';
      } else {
        caret += underlined == 0 ? '^' : '~';
        ++underlined;
      }
    }
    // A span at the end of the line (or of the file) still gets its caret.
    if (underlined == 0) {
      while (++code_point < column) caret += ' ';
      caret += '^';
    }
    out += caret;
    out += '\n';
  }
  if (!help.empty()) {
    out += "  help: ";
    out += help;
    out += '\n';
  }
  return out;
}

bool has_errors(const std::vector<Diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

}  // namespace airlock::compiler
