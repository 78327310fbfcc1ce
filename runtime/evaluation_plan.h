// The evaluator's compiled form of a Program (private to the runtime): fast forms of common nodes,
// the rule index, and strings the Decision needs, all computed once by finalize_program().
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "airlock/runtime/builtins.h"
#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/program.h"
#include "glob.h"
#include "internal/operand_cost.h"
#include "regex_dfa.h"

namespace airlock::runtime {

// How the fast evaluator runs one node. kGeneric runs Program::nodes[id] as the reference does; the
// others fuse a node with its children. Each charges exactly the cost units the reference would
// (one per node visited plus the operand sizes a builtin walks), so budgets run out identically.
enum class FastOp : std::uint8_t {
  kGeneric,
  kFactEqualConst,       // fact == constant (either side), CEL equality; `negate` for !=
  kFactOrderConst,       // fact <, <=, >, >= constant (either side) on same-kind int, uint or string
  kFactInConstList,      // fact in [constants]: a hash set for string and int facts
  kInKnownList,          // any other x in a constant list or plan constant: the same hash set for string and int x
  kMatchesConstPattern,  // text.matches(constant pattern): the regex compiled once
  kPlanConstant,         // depends on neither facts nor variables: EvaluationPlan::constants[aux]
  kFusedComprehension,   // all/exists/exists_one/filter whose body is a string predicate: fused[aux]
  kFusedCount,           // size(list.filter(x, p)) with a fused filter: its kept elements counted, no list built
  kFusedMapExists,       // list.map(x, size(x)).exists(y, y OP int) (or .all): map_tests[aux], no list built
};

struct FastNode {
  FastOp op = FastOp::kGeneric;
  bool fact_left = true;  // the fact is the left operand
  bool negate = false;    // != rather than ==
  Builtin builtin = Builtin::kNone;
  FactSlot slot = 0;
  std::uint32_t constant = 0;  // index into Program::constants
  std::uint32_t aux = 0;       // index into EvaluationPlan::sets, ::regexes, ::constants or ::fused
  // Index of the node's memo slot (EvaluationPlan::memo_count of them), or kNoMemo. A memoised node is
  // evaluated at most once per decision: it depends on the facts only (no comprehension variable from
  // outside it) and is evaluated more than once per decision (a `let` used in several places, or a
  // sub-expression inside a comprehension's body that does not depend on the variable). A repeated
  // visit charges the cost units of the first again, so budgets run out exactly as in the reference.
  std::uint32_t memo = 0xffffffffu;
};
inline constexpr std::uint32_t kNoMemo = 0xffffffffu;

// A sub-expression without facts or comprehension variables, evaluated once when the plan is built.
// Every use charges `cost`, the units its evaluation charged, as the reference charges on every use.
struct PlanConstant {
  Value value;
  std::uint64_t cost = 0;
};

// A comprehension body over string elements, compiled to a small tree run on the element's characters:
// no Values, no variable binding. The receiver is the element or element.lowerAscii(). Each node charges
// exactly what the general evaluator charges for the nodes it replaces: `units`, plus the receiver's
// cost and operand size where the general evaluator walks them.
struct PredicateNode {
  enum class Kind : std::uint8_t {
    kTest,     // receiver.contains/startsWith/endsWith(constants[index])
    kRegex,    // receiver.matches(regex): plan regexes[index]
    kGlob,     // receiver.glob(constant): globs[index]
    kGlobAny,  // range.exists(p, receiver.glob(p)) over a constant list of patterns: glob_sets[index]
    kAnd,
    kOr,
    kNot,
  };
  Kind kind = Kind::kTest;
  Builtin builtin = Builtin::kNone;  // kTest
  bool lower = false;                // the receiver is element.lowerAscii()
  std::uint32_t left = 0;   // kNot: its operand in FusedComprehension::nodes; kAnd, kOr: the first of its items
  std::uint32_t right = 0;  // kAnd, kOr: the number of its items
  std::uint32_t index = 0;
  std::uint64_t units = 0;
  // kTest, kRegex, kGlob: what one visit charges is fixed_units + size_factor * (the element's operand
  // size): `units`, the receiver (the variable, 1, or lowerAscii(variable): call, variable and its operand
  // size) and the element's operand size as the builtin's argument.
  std::uint64_t fixed_units = 0;
  std::uint64_t size_factor = 0;
  ExprId range = kNoExpr;         // kGlobAny: the pattern list's expression (a constant or a plan constant)
  std::uint64_t range_units = 0;  // kGlobAny: the units evaluating `range` charges
  std::string literal;            // kTest: the constant operand's text
  // kTest startsWith/endsWith with a literal of at most 8 bytes: the text's first (last) 8 bytes as a
  // little-endian word w match when ((w | fold) & mask) == word; `fold` sets the lower-case bit where the
  // literal has a lower-case letter and the receiver is lowerAscii(). `never`: the receiver is lower case
  // and the literal has an upper-case letter.
  bool packed = false;
  bool never = false;
  std::uint64_t word = 0;
  std::uint64_t mask = 0;
  std::uint64_t fold = 0;
  const CompiledRegex* regex = nullptr;  // kRegex: regexes[index]
  const RegexDfa* dfa = nullptr;         // kRegex: its automaton, asked first (EvaluationPlan::dfas), if any
};

// An operand of an `&&` or `||` chain, and the units charged before it is evaluated: a chain of the same
// operator is flattened (`a || b || c` is one node with three items), and each item carries the units of
// the operator nodes the general evaluator visits between the previous operand and this one.
struct PredicateItem {
  std::uint32_t node = 0;
  std::uint64_t units = 0;
};

struct FusedComprehension {
  std::vector<PredicateNode> nodes;
  std::vector<PredicateItem> items;  // kAnd, kOr: items[left, left + right)
  std::uint32_t root = 0;
};

// `range.map(x, size(x)).exists(y, y OP constant)` (or `all`, or `constant OP y`): one pass over the range
// computing each element's size as size() does, charging what the map and the exists would charge.
struct FusedMapTest {
  ExprId range = kNoExpr;       // the map's range
  Builtin op = Builtin::kNone;  // <, <=, >, >=, ==, !=
  bool variable_left = true;    // `y OP constant` rather than `constant OP y`
  std::int64_t constant = 0;
};

struct GlobSet {
  std::vector<GlobPattern> globs;
  std::vector<std::uint64_t> units;          // per pattern: the units one iteration charges besides the receiver
  std::vector<std::uint64_t> units_through;  // units[0] + ... + units[i]
  // When every pattern is `**/*.EXT` with EXT at most 7 bytes (the usual list of file extensions): each
  // extension packed into an integer with the index of the first pattern that has it, sorted by key, so
  // an ASCII text is matched against the whole set with one lookup of its own extension.
  bool extensions_only = false;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_extension;

  // Fills units_through and the extension table; call once the patterns are in.
  void prepare();
  // The index of the first pattern that matches `text`, or globs.size() when none does.
  std::size_t first_match(std::string_view text, GlobPattern::Buffers& buffers) const;
};

// A handful of strings is searched one by one, lengths first, instead of hashed: most index slots and constant
// lists hold a few, and hashing the fact's text and taking a bucket modulo cost more than those compares.
inline constexpr std::size_t kFewStrings = 8;

inline bool same_text(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// The members of a constant list a string or int fact can equal: strings as they are, numbers
// canonicalised to int64 (1 == 1u == 1.0 in CEL; 1.5 and 2^64 can equal no int and are left out).
struct ConstantSet {
  std::unordered_set<std::string> strings;
  std::unordered_set<std::int64_t> ints;
  std::vector<std::string> few_strings;  // `strings` once more when it has at most kFewStrings members

  bool contains(const std::string& text) const {
    if (strings.size() > kFewStrings) return strings.contains(text);
    for (const std::string& member : few_strings) {
      if (same_text(member, text)) return true;
    }
    return false;
  }
};

// Index keys of one fact slot: (slot, value) -> ids (of rules or of policies, depending on the index), and
// ranges of int values.
struct SlotIndex {
  // The ids filed under `text`; nullptr when none.
  const std::vector<std::uint32_t>* find(const std::string& text) const {
    if (strings.size() > kFewStrings) {
      auto it = strings.find(text);
      return it == strings.end() ? nullptr : &it->second;
    }
    for (const auto& [key, ids] : few_strings) {
      if (same_text(key, text)) return &ids;
    }
    return nullptr;
  }

  FactSlot slot = 0;
  bool is_string = true;  // else int
  std::unordered_map<std::string, std::vector<std::uint32_t>> strings;
  std::unordered_map<std::int64_t, std::vector<std::uint32_t>> ints;
  // `strings` once more, when it has at most kFewStrings keys (set once the plan is built).
  std::vector<std::pair<std::string, std::vector<std::uint32_t>>> few_strings;
  // Ids keyed on an order comparison with an int constant, as (bound, id): those in at_least can match only
  // when the fact is at least the bound (sorted by bound, ascending), those in at_most only when it is at
  // most the bound (descending). So `content.emails > 20` is not even looked at for a file with no emails.
  std::vector<std::pair<std::int64_t, std::uint32_t>> at_least;
  std::vector<std::pair<std::int64_t, std::uint32_t>> at_most;
  std::vector<std::uint32_t> all;  // every id keyed on this slot, for facts of an unexpected kind
};

struct KeyIndex {
  std::vector<SlotIndex> slots;
};

// One test of a fact against a constant (FastOp kFactEqualConst, kFactOrderConst or kFactInConstList) in
// a conjunction, with what it needs inline: a rule the index picks out of thousands is judged from one
// short run of memory, not from its nodes, their fast forms and constants spread over the program.
struct ConjunctTest {
  FastOp op = FastOp::kGeneric;
  bool negate = false;               // kFactEqualConst: !=
  bool fact_left = true;             // kFactOrderConst: the fact is the left operand
  Builtin builtin = Builtin::kNone;  // kFactOrderConst: <, <=, >, >=
  Kind constant_kind = Kind::kNull;  // kFactEqualConst, kFactOrderConst
  std::uint8_t text_length = 0;      // kString constants of up to kInlineText bytes: text[0, text_length)
  bool text_inline = false;
  FactSlot slot = 0;
  std::uint32_t units_before = 0;  // units of the `&&` nodes the general evaluator charges before this test
  std::uint32_t units = 0;         // the test's own units besides its fact's operand cost
  std::uint32_t constant = 0;      // index into Program::constants (the general comparison)
  std::uint32_t aux = 0;           // kFactInConstList: index into EvaluationPlan::sets
  static constexpr std::size_t kInlineText = 16;
  union {
    std::int64_t number;  // kInt constant
    char text[kInlineText];
  } inline_value = {0};
};

// A rule's `when` that is a chain of `&&` over ConjunctTests: EvaluationPlan::conjuncts[first, first + count).
struct Conjunction {
  std::uint32_t first = 0;
  std::uint32_t count = 0;  // 0: none; the general evaluator runs the `when`
};

// A rule (or an `otherwise`) in one flat table, numbered in the Decision's order. One cache line each: a
// large rule set is mostly out of cache, and the index picks rules from all over it.
struct alignas(64) PlannedRule {
  std::uint32_t policy = 0;
  std::uint32_t rule = kOtherwiseRule;
  std::uint32_t group = 0;  // equal for equal (policy name, rule name, effect): only hand-built programs repeat
  // The rule's own fields that judging it reads, copied so a rule that does not match is judged without
  // reading its Rule.
  ExprId when = kNoExpr;
  ExprId unless = kNoExpr;
  Conjunction when_tests;
  std::string location;  // location_of(rule, policy), formatted once
};
static_assert(sizeof(PlannedRule) == 64, "a PlannedRule is meant to fill exactly one cache line");

struct PlannedPolicy {
  std::vector<std::uint32_t> unkeyed_rules;  // flat ids of rules evaluated whenever the policy applies
  std::uint32_t otherwise = 0;               // flat id of the `otherwise`
  std::string location;                      // policy.location.to_string()
};

class EvaluationPlan {
 public:
  // What the plan was built from, to notice a program changed afterwards.
  std::size_t node_count = 0;
  std::size_t child_count = 0;
  std::size_t constant_count = 0;
  std::size_t policy_count = 0;
  std::size_t rule_count = 0;
  const FactSchema* schema = nullptr;

  std::vector<FastNode> code;    // parallel to Program::nodes
  std::uint32_t memo_count = 0;  // memo slots (FastNode::memo)
  std::vector<ConstantSet> sets;
  std::vector<std::shared_ptr<const CompiledRegex>> regexes;
  std::vector<PlanConstant> constants;
  std::vector<FusedComprehension> fused;
  std::vector<FusedMapTest> map_tests;
  std::vector<std::unique_ptr<const RegexDfa>> dfas;
  std::vector<GlobPattern> globs;
  std::vector<GlobSet> glob_sets;

  std::optional<FactSlot> channel_slot;  // transfer.channel

  std::vector<PlannedRule> rules;       // by flat id
  std::vector<ConjunctTest> conjuncts;  // PlannedRule::when_tests, rule after rule
  std::vector<PlannedPolicy> policies;

  // Policies without an index key, by channel code (0 none or unknown, 1 upload, 2 import, 3 egress).
  std::array<std::vector<std::uint32_t>, 4> unkeyed_policies;
  KeyIndex policy_index;  // keys of policies' `when`
  KeyIndex rule_index;    // keys of rules' `when`

  // Skipping by key is exact only if evaluating the conjuncts up to the key cannot exhaust the cost
  // budget (see evaluation_plan.cpp). Their cost is at most
  //   guard_static + guard_fact_count * max(operand cost of the facts in guard_slots).
  std::uint64_t guard_static = 0;
  std::uint64_t guard_fact_count = 0;
  std::vector<FactSlot> guard_slots;

  bool fits(const Program& program) const;
};

// Evaluates a sub-expression that reads no facts and no variables, without a plan; `cost` receives the
// units it charged. For PlanConstant.
Value evaluate_constant_expression(const Program& program, ExprId id, std::uint64_t& cost);

// Builds a plan for `program` (what finalize_program() stores).
std::shared_ptr<const EvaluationPlan> build_evaluation_plan(const Program& program);

}  // namespace airlock::runtime
