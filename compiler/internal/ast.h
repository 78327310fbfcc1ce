// The syntax tree of a policy file, with source spans. Built by parser.cpp (the only file that
// sees ANTLR); read by the checker, the lowering and the formatter.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/value.h"

namespace airlock::compiler::ast {

// A range of source text: byte offsets [begin, end) and the 1-based line and column
// (column in code points) of `begin`.
struct Span {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

enum class ExprKind : std::uint8_t {
  kLiteral,      // value (+ spelling)
  kIdent,        // name
  kSelect,       // children[0].name
  kCall,         // name(args) or children[0].name(args) when has_target
  kIndex,        // children[0][children[1]]
  kList,         // [children...]
  kMap,          // {children[0]: children[1], ...}; in `given`, identifier keys are field names
  kUnary,        // op children[0]
  kBinary,       // children[0] op children[1]
  kConditional,  // children[0] ? children[1] : children[2]
};

enum class Operator : std::uint8_t {
  kNone,
  kNot,       // !x
  kNegate,    // -x
  kMultiply,  // *
  kDivide,    // /
  kModulo,    // %
  kAdd,       // +
  kSubtract,  // -
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kEqual,
  kNotEqual,
  kIn,
  kAnd,
  kOr,
};

// How an operator is written ("&&", "in", "-"); empty for kNone.
std::string_view operator_spelling(Operator op);
// The binding strength of a binary operator, CEL's levels: || 2, && 3, relations and `in` 4, + - 5,
// * / % 6 (higher binds tighter; 1 is left for ?:).
int binary_precedence(Operator op);

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Span span;
  Operator op = Operator::kNone;  // kUnary, kBinary
  std::string name;               // kIdent, kSelect (field), kCall (function)
  bool has_target = false;        // kCall: receiver-style call, receiver in children[0]
  bool parenthesized = false;     // written inside ( ) in the source
  runtime::Value value;           // kLiteral
  std::string spelling;           // kLiteral: as written ("500 MiB", "0x1F", "'a'", "r\"\\d\"")
  std::vector<std::unique_ptr<Expr>> children;
};
using ExprPtr = std::unique_ptr<Expr>;

struct Name {
  std::string text;
  Span span;
};

// approve | deny | escalate [to ROLE, ...] [requiring N approvals]
struct EffectClause {
  Span span;
  Name effect;              // as written; the checker rejects anything but approve/deny/escalate
  std::vector<Name> roles;  // the role strings' values; span of each string literal
  std::optional<std::int64_t> approvals;
  Span approvals_span;
};

struct LetDecl {
  Span span;
  Name name;
  ExprPtr value;
};

struct RuleDecl {
  Span span;
  Name name;
  EffectClause effect;
  ExprPtr when;     // may be null
  ExprPtr unless;   // may be null
  ExprPtr because;  // may be null
  Span open_brace;  // the `{` after the name
};

struct OtherwiseDecl {
  Span span;
  EffectClause effect;
  ExprPtr because;  // may be null
};

struct PolicyDecl {
  Span span;
  Name name;  // the string's value; span of the string literal
  std::optional<Name> description;
  Span applies_span;            // of the whole `applies to` clause; zero when absent
  std::vector<Name> channels;   // as written: upload, import, egress, ingress, any
  ExprPtr when;                 // may be null
  std::vector<LetDecl> lets;    // in source order
  std::vector<RuleDecl> rules;  // in source order
  std::optional<OtherwiseDecl> otherwise;
  Span open_brace;  // the `{` after the name (the formatter anchors comments to it)
};

struct Expectation {
  enum class Kind : std::uint8_t { kOutcome, kRules, kReviewers, kApprovals, kError };
  Span span;
  Kind kind = Kind::kOutcome;
  Name outcome;             // kOutcome: approve | deny | escalate, as written
  std::vector<Name> names;  // kRules ("policy.rule"), kReviewers (roles)
  std::int64_t approvals = 0;
};

struct TestDecl {
  Span span;
  Name name;
  ExprPtr given;  // a kMap expression (the braces of `given { ... }`); null when absent
  std::vector<Expectation> expectations;
  Span open_brace;  // the `{` after the name
};

struct Comment {
  Span span;
  std::string text;  // with its delimiters: "// ..." or "/* ... */"
};

struct File {
  std::string path;
  std::vector<PolicyDecl> policies;  // in source order
  std::vector<TestDecl> tests;       // in source order
  std::vector<Comment> comments;     // in source order
};

}  // namespace airlock::compiler::ast
