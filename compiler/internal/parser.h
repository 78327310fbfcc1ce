// Source text -> ast::File. The implementation (parser.cpp) is the only file that includes ANTLR.
#pragma once

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

struct ParsedExpression {
  ast::ExprPtr expr;  // null on syntax errors
  std::vector<Diagnostic> diagnostics;
};

ParsedExpression parse_expression(std::string_view path, std::string_view text, const CompileLimits& limits);

// Builds a diagnostic at `span` of `text` (fills line, column, length and the source line).
Diagnostic make_diagnostic(Severity severity, std::string_view path, std::string_view text, const ast::Span& span,
                           std::string message, std::string help = {});

}  // namespace airlock::compiler
