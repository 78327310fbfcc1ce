// Compiler messages: `path:line:col: error: message`, the source line, a caret, and help.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace airlock::compiler {

enum class Severity : std::uint8_t { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string path;
  std::uint32_t line = 0;    // 1-based; 0 when the message concerns the whole file
  std::uint32_t column = 0;  // 1-based, in code points
  std::uint32_t length = 1;  // code points to underline on that line
  std::string message;
  std::string help;         // "did you mean `file.size`?"; may be empty
  std::string source_line;  // the text of the line, without its newline

  // The first line alone: "policies/a.policy:3:7: error: unknown fact `file.sise`".
  std::string headline() const;
  // The headline, the source line, a caret line under the span, and "  help: ..." when present.
  std::string render() const;
};

bool has_errors(const std::vector<Diagnostic>& diagnostics);

}  // namespace airlock::compiler
