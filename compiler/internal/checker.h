// Name resolution, type checking and lowering of expressions in one pass:
// ast::Expr -> typed runtime nodes appended to a Program.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "airlock/compiler/diagnostic.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/program.h"
#include "airlock/runtime/type.h"
#include "ast.h"

namespace airlock::compiler {

struct Checked {
  runtime::Type type;
  runtime::ExprId id = runtime::kNoExpr;  // kNoExpr when the expression had errors
  bool ok() const { return id != runtime::kNoExpr; }
};

class ExpressionChecker {
 public:
  ExpressionChecker(runtime::Program& program, const runtime::FactSchema& schema, std::string_view path,
                    std::string_view text, std::vector<Diagnostic>& diagnostics);

  // Checks and lowers `expr`. Diagnostics go to the sink; the result is !ok() on errors.
  Checked check(const ast::Expr& expr);
  // Checks `expr` and requires its type to be `expected` (or dyn); `what` names the place ("a rule's `when`").
  Checked check_as(const ast::Expr& expr, const runtime::Type& expected, std::string_view what);

  // Makes a `let` visible to later expressions. Returns false (with a diagnostic) for a name that clashes.
  bool define_let(const ast::Name& name, Checked value);
  // Names of lets never referenced, for warnings.
  std::vector<const ast::Name*> unused_lets() const;
  void clear_lets();

  // In `given` blocks, identifier keys of map literals are field names, not variables.
  void set_identifier_keys_are_strings(bool enabled) { identifier_keys_are_strings_ = enabled; }

  std::string_view path() const { return path_; }
  std::string_view text() const { return text_; }

 private:
  struct Let {
    const ast::Name* name;
    Checked value;
    bool used = false;
  };
  struct Variable {
    std::string name;
    runtime::Type type;
    std::uint32_t slot;
  };

  Checked check_ident(const ast::Expr& expr);
  Checked check_select(const ast::Expr& expr);
  Checked check_call(const ast::Expr& expr);
  Checked check_has(const ast::Expr& expr);
  Checked check_macro(const ast::Expr& expr, runtime::Macro macro);
  Checked check_matches(const ast::Expr& expr, const std::vector<const ast::Expr*>& arguments);
  Checked check_index(const ast::Expr& expr);
  Checked check_list(const ast::Expr& expr);
  Checked check_map(const ast::Expr& expr);
  Checked check_unary(const ast::Expr& expr);
  Checked check_binary(const ast::Expr& expr);
  Checked check_conditional(const ast::Expr& expr);
  Checked resolve_overload(const ast::Expr& expr, std::string_view function, bool member, runtime::Builtin builtin,
                           const std::vector<Checked>& arguments);

  // If `expr` names a fact (`file.size`, `now`) returns its dotted path, else empty.
  std::string fact_path(const ast::Expr& expr) const;
  bool names_variable(std::string_view name) const;

  runtime::ExprId emit(runtime::Op op, runtime::Builtin builtin, std::uint32_t a,
                       const std::vector<runtime::ExprId>& children, runtime::Macro macro = runtime::Macro::kAll);
  runtime::ExprId emit_constant(runtime::Value value);
  // Replaces a node whose children are all constants by its value, when that value is not an error.
  runtime::ExprId fold(runtime::ExprId id, const ast::Expr& expr);

  void error(const ast::Span& span, std::string message, std::string help = {});
  void warning(const ast::Span& span, std::string message, std::string help = {});

  runtime::Program& program_;
  const runtime::FactSchema& schema_;
  std::string path_;
  std::string_view text_;
  std::vector<Diagnostic>& diagnostics_;
  std::vector<Let> lets_;
  std::vector<Variable> variables_;  // comprehension variables in scope, innermost last
  bool identifier_keys_are_strings_ = false;
};

// The closest candidate to `name` by edit distance, or empty when none is close enough to suggest.
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace airlock::compiler
