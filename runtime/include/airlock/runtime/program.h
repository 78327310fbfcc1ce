// The compiled form of a policy set: what the compiler produces and the evaluator runs.
// Immutable once built; share it as std::shared_ptr<const Program> across threads.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "airlock/runtime/builtins.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/value.h"

namespace airlock::runtime {

using ExprId = std::uint32_t;
inline constexpr ExprId kNoExpr = std::numeric_limits<ExprId>::max();

enum class Op : std::uint8_t {
  kConstant,       // constants[a]
  kFact,           // the fact in slot a
  kFactHas,        // whether the fact in slot a was set (has(file.size))
  kLocal,          // the comprehension variable in local slot a
  kSelect,         // children[0].<constants[a]> on a map; a missing key is an error
  kHas,            // has(children[0].<constants[a]>) on a map
  kCall,           // builtin(children...); for member calls the receiver is children[0]
  kMatchesConst,   // children[0].matches(regexes[a]), the pattern known at compile time
  kAnd,            // children[0] && children[1], CEL's commutative error absorption
  kOr,             // children[0] || children[1]
  kNot,            // !children[0]
  kConditional,    // children[0] ? children[1] : children[2]
  kList,           // [children...]
  kMap,            // {children[0]: children[1], children[2]: children[3], ...}
  kComprehension,  // macro over children[0] with the variable in local slot a; see below
};

enum class Macro : std::uint8_t {
  kAll,        // range.all(x, children[1])
  kExists,     // range.exists(x, children[1])
  kExistsOne,  // range.exists_one(x, children[1])
  kMap,        // range.map(x, children[1]) or range.map(x, children[2] /*filter*/, children[1])
  kFilter,     // range.filter(x, children[1])
};

struct Node {
  Op op = Op::kConstant;
  Builtin builtin = Builtin::kNone;  // for kCall
  Macro macro = Macro::kAll;         // for kComprehension
  std::uint32_t a = 0;               // constant index, fact slot, local slot or regex index (see Op)
  std::uint32_t first_child = 0;     // index into Program::children
  std::uint32_t child_count = 0;
};

enum class Effect : std::uint8_t { kApprove, kDeny, kEscalate };
std::string_view effect_name(Effect effect);

enum Channel : std::uint8_t {
  kChannelUpload = 1,
  kChannelImport = 2,
  kChannelEgress = 4,
  kChannelIngress = kChannelUpload | kChannelImport,
  kChannelAny = kChannelUpload | kChannelImport | kChannelEgress,
};

struct SourceLocation {
  std::string file;
  std::uint32_t line = 0;    // 1-based
  std::uint32_t column = 0;  // 1-based, in code points
  std::string to_string() const;  // "policies/ingress.policy:17:3"
};

// A rule, or a policy's `otherwise` (named "otherwise").
struct Rule {
  std::string name;
  Effect effect = Effect::kEscalate;
  std::vector<std::string> roles;  // escalations only; sorted, unique; never empty for escalate
  std::uint32_t approvals = 0;     // escalations only; at least roles.size()
  ExprId when = kNoExpr;           // absent: true
  ExprId unless = kNoExpr;         // absent: false
  ExprId because = kNoExpr;        // a string expression; absent: no reason
  SourceLocation location;
  bool implicit = false;           // a policy's default `otherwise`, not written in the source
};

struct Policy {
  std::string name;
  std::string description;
  std::uint8_t channels = kChannelAny;  // Channel bits
  ExprId when = kNoExpr;
  std::vector<Rule> rules;  // sorted by name
  Rule otherwise;           // escalate to data-approver unless the source says otherwise
  SourceLocation location;
};

class CompiledRegex;  // RE2, kept out of this header
class EvaluationPlan;  // the evaluator's compiled form of a Program (runtime/evaluation_plan.h), opaque here

struct Program {
  std::vector<Node> nodes;
  std::vector<ExprId> children;
  std::vector<Value> constants;
  std::vector<std::shared_ptr<const CompiledRegex>> regexes;
  std::uint32_t local_count = 0;  // comprehension variable slots

  std::vector<Policy> policies;  // sorted by name
  std::string policy_set;        // lower-case hex SHA-256 identifying the compiled policy set

  // For a compiled single expression (`airlock expr`): its root; kNoExpr for policy sets.
  ExprId root = kNoExpr;

  const FactSchema* schema = &FactSchema::standard();

  // The evaluator's plan: the rule index, fast forms of common nodes, precomputed strings. Built by
  // finalize_program() once the program is complete; shared by copies of the program. A plan that no
  // longer fits the program (nodes or policies added afterwards) is ignored, and a program without one
  // is still evaluated correctly, only more slowly (evaluate() then builds a plan on every call).
  std::shared_ptr<const EvaluationPlan> plan;

  const Node& node(ExprId id) const { return nodes[id]; }
  ExprId child(const Node& n, std::uint32_t i) const { return children[n.first_child + i]; }
};

// Builds program.plan. The compiler calls it last, after every node, constant and policy is in place;
// call it again after changing a program by hand. Never fails: what it cannot index is evaluated plainly.
void finalize_program(Program& program);

}  // namespace airlock::runtime
