// Source text -> ast::File. The implementation (parser.cpp) is the only file that includes ANTLR.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/compiler/diagnostic.h"
#include "ast.h"

namespace airlock::compiler {

struct ParsedFile {
  std::unique_ptr<ast::File> file;  // as much as could be parsed; null only when nothing could be
  std::vector<Diagnostic> diagnostics;
};

ParsedFile parse_policy_file(std::string_view path, std::string_view text, const CompileLimits& limits);

// How parse_policy_file reads a file. kAuto (the default) parses one top-level declaration at a time
// (a policy's header, each of its members, each test), so a large file never has all its ANTLR tokens
// and parse tree in memory at once; at the first diagnostic of any kind it parses the whole file at
// once instead (and for a file that starts with a UTF-8 byte order mark), so diagnostics and error
// recovery are always those of kWholeFile. kByDeclaration is kAuto without that fallback: a null file
// and no diagnostics where kAuto would parse the whole file (for tests).
enum class ParseMode : std::uint8_t { kAuto, kWholeFile, kByDeclaration };

ParsedFile parse_policy_file(std::string_view path, std::string_view text, const CompileLimits& limits, ParseMode mode);

struct ParsedExpression {
  ast::ExprPtr expr;  // null on syntax errors
  std::vector<Diagnostic> diagnostics;
};

ParsedExpression parse_expression(std::string_view path, std::string_view text, const CompileLimits& limits);

// Builds a diagnostic at `span` of `text` (fills line, column, length and the source line).
Diagnostic make_diagnostic(Severity severity, std::string_view path, std::string_view text, const ast::Span& span,
                           std::string message, std::string help = {});

}  // namespace airlock::compiler
