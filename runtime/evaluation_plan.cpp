// finalize_program(): the rule index and the fast forms of nodes (see evaluation_plan.h).
//
// Rule index. A rule's `when` is read as a conjunction c1 && c2 && ... (nested `&&` flattened, in the
// order the evaluator visits them). A conjunct `fact == "c"`, `"c" == fact` or `fact in [c1, c2]` on a
// string or int fact is a key: the rule is filed under (slot, each constant), and at evaluation only
// the rules filed under the facts' actual values (plus the unkeyed ones) are evaluated.
//
// Why skipping is exact. When the fact's value is not among the key's constants, the key conjunct is
// false (the fact has the slot's kind and equality between a string, or an int, and a constant it is
// not equal to is false, never an error). CEL's `&&` is commutative and absorbs errors: `false && x`
// is false whatever x is, an error included, so the whole `when` is false, the rule cannot match and
// cannot record an error; its `unless` and `because` are not evaluated at all. A policy's `when` is
// indexed the same way: false means not applicable, with no error. The one thing `&&` does not absorb
// is running out of the cost budget, which the conjuncts evaluated before the key could do. So the key
// is chosen only where those conjuncts' cost has a static bound, and the evaluator uses the index only
// when the largest such bound, given the facts' sizes, is within the budget (always, in practice);
// otherwise it evaluates every rule. A fact whose value has an unexpected kind (set by hand through
// Facts::set(slot, ...)) also turns its slot's index off for that evaluation.
#include "evaluation_plan.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <tuple>

namespace airlock::runtime {

bool EvaluationPlan::fits(const Program& program) const {
  return node_count == program.nodes.size() && child_count == program.children.size() &&
         constant_count == program.constants.size() && policy_count == program.policies.size() &&
         schema == program.schema;
}

namespace {

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr int kMaxDepth = 200;
// Tests in one compiled conjunction (PlannedRule::when_tests); a longer `when` runs as a tree.
constexpr std::size_t kMaxConjuncts = 64;

// The int64 a number equals under CEL's heterogeneous equality, if any.
std::optional<std::int64_t> canonical_int(const Value& value) {
  switch (value.kind()) {
    case Kind::kInt: return value.as_int();
    case Kind::kUint:
      if (value.as_uint() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
      return static_cast<std::int64_t>(value.as_uint());
    case Kind::kDouble: {
      const double d = value.as_double();
      if (std::isnan(d) || d < -kTwoTo63 || d >= kTwoTo63 || std::trunc(d) != d) return std::nullopt;
      return static_cast<std::int64_t>(d);
    }
    default: return std::nullopt;
  }
}

// What a conjunct requires of one fact: one of some values (strings or ints), or, for an order comparison
// with an int constant, an int at least or at most a bound.
struct Key {
  enum class Range : std::uint8_t { kNone, kAtLeast, kAtMost };
  FactSlot slot = 0;
  bool is_string = true;
  std::vector<std::string> strings;
  std::vector<std::int64_t> ints;
  Range range = Range::kNone;
  std::int64_t bound = 0;
};

// An upper bound on the cost units of evaluating an expression: units + facts * (the largest operand
// cost of the facts in `slots`).
struct Bound {
  std::uint64_t units = 0;
  std::uint64_t facts = 0;
  Bound& operator+=(const Bound& other) {
    units += other.units;
    facts += other.facts;
    return *this;
  }
};

class PlanBuilder {
 public:
  explicit PlanBuilder(const Program& program) : program_(program), plan_(std::make_shared<EvaluationPlan>()) {}

  std::shared_ptr<const EvaluationPlan> build() {
    EvaluationPlan& plan = *plan_;
    plan.node_count = program_.nodes.size();
    plan.child_count = program_.children.size();
    plan.constant_count = program_.constants.size();
    plan.policy_count = program_.policies.size();
    plan.schema = program_.schema;
    plan.channel_slot = program_.schema->find("transfer.channel");
    plan.code.resize(program_.nodes.size());
    for (ExprId id = 0; id < program_.nodes.size(); ++id) plan.code[id] = fast_form(id);
    plan_constants();
    plan_memos();
    plan_known_lists();
    plan_fused();
    plan_rules();
    plan_policies();
    for (KeyIndex* index : {&plan.rule_index, &plan.policy_index}) {
      for (SlotIndex& slot : index->slots) {
        keep_few(slot.strings, slot.few_strings);
        std::sort(slot.at_least.begin(), slot.at_least.end());
        std::sort(slot.at_most.begin(), slot.at_most.end(), std::greater<>());
      }
    }
    return plan_;
  }

 private:
  // `few` = the members of `all`, sorted, when there are at most kFewStrings of them (searched one by one).
  template <typename All, typename Few>
  static void keep_few(const All& all, Few& few) {
    if (all.size() > kFewStrings) return;
    few.assign(all.begin(), all.end());
    std::sort(few.begin(), few.end());
  }

  bool valid(ExprId id) const {
    if (id >= program_.nodes.size()) return false;
    const Node& node = program_.nodes[id];
    return static_cast<std::size_t>(node.first_child) + node.child_count <= program_.children.size();
  }
  ExprId child(ExprId id, std::uint32_t i) const { return program_.child(program_.nodes[id], i); }
  bool is_fact(ExprId id) const {
    return valid(id) && program_.nodes[id].op == Op::kFact && program_.nodes[id].a < program_.schema->fields().size();
  }
  bool is_constant(ExprId id) const {
    return valid(id) && program_.nodes[id].op == Op::kConstant && program_.nodes[id].a < program_.constants.size() &&
           !program_.constants[program_.nodes[id].a].is_error();
  }
  Type::Tag slot_tag(FactSlot slot) const { return program_.schema->field(slot).type.tag(); }

  // The fact and constant operands of a binary node, whichever way round.
  bool fact_and_constant(ExprId id, FactSlot& slot, std::uint32_t& constant, bool& fact_left) const {
    const Node& node = program_.nodes[id];
    if (node.child_count != 2) return false;
    const ExprId left = child(id, 0);
    const ExprId right = child(id, 1);
    if (is_fact(left) && is_constant(right)) {
      fact_left = true;
    } else if (is_constant(left) && is_fact(right)) {
      fact_left = false;
    } else {
      return false;
    }
    slot = static_cast<FactSlot>(program_.nodes[fact_left ? left : right].a);
    constant = program_.nodes[fact_left ? right : left].a;
    return true;
  }

  // The index in plan.sets of the members of `list` a string or int can equal. Rules written alike share
  // one set, which then stays in cache.
  std::uint32_t set_for(const Value& list) {
    ConstantSet set;
    for (const Value& item : list.as_list()) {
      if (item.kind() == Kind::kString) set.strings.insert(item.as_string());
      if (auto number = canonical_int(item)) set.ints.insert(*number);
    }
    keep_few(set.strings, set.few_strings);
    auto [it, inserted] = set_ids_.emplace(set_identity(set), static_cast<std::uint32_t>(plan_->sets.size()));
    if (inserted) plan_->sets.push_back(std::move(set));
    return it->second;
  }

  FastNode fast_form(ExprId id) {
    FastNode fast;
    if (!valid(id)) return fast;
    const Node& node = program_.nodes[id];
    if (node.op != Op::kCall) return fast;
    switch (node.builtin) {
      case Builtin::kEqual:
      case Builtin::kNotEqual:
        if (fact_and_constant(id, fast.slot, fast.constant, fast.fact_left)) {
          fast.op = FastOp::kFactEqualConst;
          fast.negate = node.builtin == Builtin::kNotEqual;
        }
        return fast;
      case Builtin::kLess:
      case Builtin::kLessEqual:
      case Builtin::kGreater:
      case Builtin::kGreaterEqual:
        if (fact_and_constant(id, fast.slot, fast.constant, fast.fact_left)) {
          const Kind kind = program_.constants[fast.constant].kind();
          if (kind == Kind::kInt || kind == Kind::kUint || kind == Kind::kString) {
            fast.op = FastOp::kFactOrderConst;
            fast.builtin = node.builtin;
          }
        }
        return fast;
      case Builtin::kIn: {
        if (node.child_count != 2 || !is_fact(child(id, 0)) || !is_constant(child(id, 1))) return fast;
        const Value& list = program_.constants[program_.nodes[child(id, 1)].a];
        if (list.kind() != Kind::kList) return fast;
        fast.slot = static_cast<FactSlot>(program_.nodes[child(id, 0)].a);
        fast.constant = program_.nodes[child(id, 1)].a;
        fast.aux = set_for(list);
        fast.op = FastOp::kFactInConstList;
        return fast;
      }
      case Builtin::kMatches: {
        if (node.child_count != 2 || !valid(child(id, 0)) || !is_constant(child(id, 1))) return fast;
        const Value& pattern = program_.constants[program_.nodes[child(id, 1)].a];
        if (pattern.kind() != Kind::kString) return fast;
        auto regex = CompiledRegex::compile(pattern.as_string());
        if (!regex) return fast;  // the generic path reports the error, in the reference's words
        fast.constant = program_.nodes[child(id, 1)].a;
        fast.aux = static_cast<std::uint32_t>(plan_->regexes.size());
        plan_->regexes.push_back(std::move(regex.value()));
        fast.op = FastOp::kMatchesConstPattern;
        return fast;
      }
      default: return fast;
    }
  }

  // Memo slots (FastNode::memo). A node is worth memoising when one decision may evaluate it more than
  // once: it is reachable along two paths from the roots (a `let` used twice), or from inside a
  // comprehension's body. It may be memoised only when its value depends on the facts alone: no
  // comprehension variable it reads is bound outside it. Leaves and fused fast forms are cheaper to
  // recompute than to look up.
  void plan_memos() {
    const std::size_t n = program_.nodes.size();
    free_locals_.assign(n, 0);
    free_done_.assign(n, 0);
    reached_.assign(n, 0);
    repeated_.assign(n, 0);
    auto root = [&](ExprId id) {
      if (id != kNoExpr) reach(id, false);
    };
    for (const Policy& policy : program_.policies) {
      root(policy.when);
      for (const Rule& rule : policy.rules) root(rule.when), root(rule.unless), root(rule.because);
      root(policy.otherwise.when), root(policy.otherwise.unless), root(policy.otherwise.because);
    }
    root(program_.root);
    std::uint32_t count = 0;
    for (ExprId id = 0; id < n; ++id) {
      if (!repeated_[id] || !valid(id) || plan_->code[id].op != FastOp::kGeneric) continue;
      switch (program_.nodes[id].op) {
        case Op::kConstant:
        case Op::kFact:
        case Op::kFactHas:
        case Op::kLocal: continue;
        default: break;
      }
      if (free_locals(id) != 0) continue;
      plan_->code[id].memo = count++;
    }
    plan_->memo_count = count;
    std::vector<std::uint64_t>().swap(free_locals_);
    std::vector<std::uint8_t>().swap(free_done_);
    std::vector<std::uint8_t>().swap(reached_);
    std::vector<std::uint8_t>().swap(repeated_);
  }

  // Walks the expression graph from a root, marking nodes reached twice or inside a loop. Each node is
  // entered at most twice (once outside loops, once inside), so the walk is linear in the graph.
  void reach(ExprId id, bool in_loop) {
    if (!valid(id)) return;
    const std::uint8_t bit = in_loop ? 2 : 1;
    if (reached_[id] != 0 || in_loop) repeated_[id] = 1;
    if ((reached_[id] & bit) != 0) return;
    reached_[id] |= bit;
    const Node& node = program_.nodes[id];
    for (std::uint32_t i = 0; i < node.child_count; ++i) {
      reach(child(id, i), in_loop || (node.op == Op::kComprehension && i > 0));
    }
  }

  // The comprehension variables a node reads without binding them, as a bit set of local slots (slots
  // from 63 up share the last bit, which no comprehension clears: such nodes are never memoised).
  std::uint64_t free_locals(ExprId id) {
    if (!valid(id)) return ~std::uint64_t{0};
    if (free_done_[id]) return free_locals_[id];
    const Node& node = program_.nodes[id];
    std::uint64_t mask = 0;
    if (node.op == Op::kLocal) mask = std::uint64_t{1} << std::min<std::uint32_t>(node.a, 63);
    for (std::uint32_t i = 0; i < node.child_count; ++i) {
      std::uint64_t child_mask = free_locals(child(id, i));
      if (node.op == Op::kComprehension && i > 0 && node.a < 63) child_mask &= ~(std::uint64_t{1} << node.a);
      mask |= child_mask;
    }
    free_done_[id] = 1;
    free_locals_[id] = mask;
    return mask;
  }

  // The members of a set, spelled exactly (length-prefixed strings, then ints), in sorted order.
  static std::string set_identity(const ConstantSet& set) {
    std::vector<std::string_view> strings(set.strings.begin(), set.strings.end());
    std::vector<std::int64_t> ints(set.ints.begin(), set.ints.end());
    std::sort(strings.begin(), strings.end());
    std::sort(ints.begin(), ints.end());
    std::string identity;
    for (std::string_view text : strings) {
      identity += std::to_string(text.size()) + ":";
      identity += text;
    }
    identity += "|";
    for (std::int64_t number : ints) identity += std::to_string(number) + ",";
    return identity;
  }

  // ---- Plan constants ----

  // Whether a node reads a fact, anywhere below it.
  bool reads_facts(ExprId id) {
    if (!valid(id)) return true;
    if (facts_done_[id]) return reads_facts_[id] != 0;
    const Node& node = program_.nodes[id];
    bool reads = node.op == Op::kFact || node.op == Op::kFactHas;
    for (std::uint32_t i = 0; i < node.child_count && !reads; ++i) reads = reads_facts(child(id, i));
    facts_done_[id] = 1;
    reads_facts_[id] = reads ? 1 : 0;
    return reads;
  }

  // Sub-expressions the compiler could not fold (comprehensions over constant lists, such as
  // `["csv", "txt"].map(x, "**/*." + x)`) are evaluated once here. Only those that evaluate to a value
  // (no error) within a modest cost are kept; the rest run as usual.
  void plan_constants() {
    constexpr std::uint64_t kMaxConstantCost = 1'000'000;
    const std::size_t n = program_.nodes.size();
    free_locals_.assign(n, 0);
    free_done_.assign(n, 0);
    reads_facts_.assign(n, 0);
    facts_done_.assign(n, 0);
    for (ExprId id = 0; id < n; ++id) {
      if (!valid(id) || plan_->code[id].op != FastOp::kGeneric) continue;
      const Node& node = program_.nodes[id];
      if (node.child_count == 0 || node.op == Op::kConstant) continue;
      if (free_locals(id) != 0 || reads_facts(id)) continue;
      std::uint64_t cost = 0;
      Value value = evaluate_constant_expression(program_, id, cost);
      if (value.is_error() || cost > kMaxConstantCost) continue;
      plan_->code[id].op = FastOp::kPlanConstant;
      plan_->code[id].aux = static_cast<std::uint32_t>(plan_->constants.size());
      plan_->constants.push_back(PlanConstant{std::move(value), cost});
    }
    std::vector<std::uint8_t>().swap(reads_facts_);
    std::vector<std::uint8_t>().swap(facts_done_);
  }

  // `x in L` where L is a constant list or a plan constant (a `let` list built from constants) and x any
  // other expression (a `let`, a function of facts, a comprehension variable): a hash set for string and
  // int x. Runs after plan_constants(), which makes such lists known, and after plan_memos(), which
  // memoises only generic nodes, so a memoised `in` keeps its memo slot.
  void plan_known_lists() {
    for (ExprId id = 0; id < program_.nodes.size(); ++id) {
      if (!valid(id) || plan_->code[id].op != FastOp::kGeneric) continue;
      const Node& node = program_.nodes[id];
      if (node.op != Op::kCall || node.builtin != Builtin::kIn || node.child_count != 2) continue;
      if (!valid(child(id, 0))) continue;
      const Value* list = known_value(child(id, 1));
      if (list == nullptr || list->kind() != Kind::kList) continue;
      plan_->code[id].op = FastOp::kInKnownList;
      plan_->code[id].aux = set_for(*list);
    }
  }

  // ---- Fused comprehensions ----

  // The receiver of a string test: the element itself (false) or element.lowerAscii() (true).
  std::optional<bool> receiver(ExprId id, std::uint32_t var) const {
    if (!valid(id) || plan_->code[id].op != FastOp::kGeneric) return std::nullopt;
    const Node& node = program_.nodes[id];
    if (node.op == Op::kLocal && node.a == var) return false;
    if (node.op == Op::kCall && node.builtin == Builtin::kLowerAscii && node.child_count == 1) {
      const ExprId inner = child(id, 0);
      if (valid(inner) && program_.nodes[inner].op == Op::kLocal && program_.nodes[inner].a == var &&
          plan_->code[inner].op == FastOp::kGeneric) {
        return true;
      }
    }
    return std::nullopt;
  }

  const Value* known_value(ExprId id) const {
    if (!valid(id)) return nullptr;
    if (plan_->code[id].op == FastOp::kPlanConstant) return &plan_->constants[plan_->code[id].aux].value;
    if (is_constant(id)) return &program_.constants[program_.nodes[id].a];
    return nullptr;
  }

  // PredicateNode::packed and its words, for startsWith/endsWith of a literal of 1 to 8 bytes.
  static void pack(PredicateNode& p) {
    const std::string& literal = p.literal;
    for (char c : literal) {
      if (p.lower && c >= 'A' && c <= 'Z') p.never = true;
    }
    if (literal.empty() || literal.size() > 8) return;
    if (p.builtin != Builtin::kStartsWith && p.builtin != Builtin::kEndsWith) return;
    // The literal where a text's first 8 bytes (startsWith) or last 8 (endsWith) lie, laid out in memory as
    // the evaluator loads the text (memcpy into a word), so the words agree on any byte order.
    const std::size_t offset = p.builtin == Builtin::kStartsWith ? 0 : 8 - literal.size();
    std::array<unsigned char, 8> word{};
    std::array<unsigned char, 8> mask{};
    std::array<unsigned char, 8> fold{};
    for (std::size_t k = 0; k < literal.size(); ++k) {
      const auto c = static_cast<unsigned char>(literal[k]);
      word[offset + k] = c;
      mask[offset + k] = 0xff;
      if (p.lower && c >= 'a' && c <= 'z') fold[offset + k] = 0x20;
    }
    std::memcpy(&p.word, word.data(), 8);
    std::memcpy(&p.mask, mask.data(), 8);
    std::memcpy(&p.fold, fold.data(), 8);
    p.packed = true;
  }

  std::optional<std::uint32_t> predicate(FusedComprehension& fused, ExprId id, std::uint32_t var, int depth) {
    if (!valid(id) || depth > kMaxDepth) return std::nullopt;
    const Node& node = program_.nodes[id];
    const FastNode& fast = plan_->code[id];
    if (fast.memo != kNoMemo) return std::nullopt;
    PredicateNode p;
    switch (node.op) {
      case Op::kAnd:
      case Op::kOr: {
        if (node.child_count != 2 || fast.op != FastOp::kGeneric) return std::nullopt;
        auto left = predicate(fused, child(id, 0), var, depth + 1);
        auto right = left ? predicate(fused, child(id, 1), var, depth + 1) : std::nullopt;
        if (!right) return std::nullopt;
        p.kind = node.op == Op::kAnd ? PredicateNode::Kind::kAnd : PredicateNode::Kind::kOr;
        p.units = 1;
        // Flattened: an operand that is the same operator contributes its items; this node's own unit is
        // charged before its first operand.
        std::vector<PredicateItem> items;
        auto add = [&](std::uint32_t operand, std::uint64_t before) {
          const PredicateNode& o = fused.nodes[operand];
          if (o.kind != p.kind) {
            items.push_back(PredicateItem{operand, before});
            return;
          }
          for (std::uint32_t k = 0; k < o.right; ++k) {
            PredicateItem item = fused.items[o.left + k];
            if (k == 0) item.units += before;
            items.push_back(item);
          }
        };
        add(*left, 1);
        add(*right, 0);
        p.left = static_cast<std::uint32_t>(fused.items.size());
        p.right = static_cast<std::uint32_t>(items.size());
        fused.items.insert(fused.items.end(), items.begin(), items.end());
        break;
      }
      case Op::kNot: {
        if (node.child_count != 1 || fast.op != FastOp::kGeneric) return std::nullopt;
        auto operand = predicate(fused, child(id, 0), var, depth + 1);
        if (!operand) return std::nullopt;
        p.kind = PredicateNode::Kind::kNot, p.left = *operand, p.units = 1;
        break;
      }
      case Op::kMatchesConst: {
        if (node.child_count != 1 || fast.op != FastOp::kGeneric) return std::nullopt;
        if (node.a >= program_.regexes.size() || program_.regexes[node.a] == nullptr) return std::nullopt;
        auto lower = receiver(child(id, 0), var);
        if (!lower) return std::nullopt;
        p.kind = PredicateNode::Kind::kRegex, p.lower = *lower, p.units = 1;
        p.index = static_cast<std::uint32_t>(plan_->regexes.size());
        p.regex = program_.regexes[node.a].get();
        plan_->regexes.push_back(program_.regexes[node.a]);
        break;
      }
      case Op::kCall: {
        if (node.child_count != 2) return std::nullopt;
        auto lower = receiver(child(id, 0), var);
        if (!lower) return std::nullopt;
        p.lower = *lower;
        if (fast.op == FastOp::kMatchesConstPattern) {
          p.kind = PredicateNode::Kind::kRegex, p.index = fast.aux, p.regex = plan_->regexes[fast.aux].get();
          p.units = 2 + operand_cost(program_.constants[fast.constant]);
          break;
        }
        if (fast.op != FastOp::kGeneric || !is_constant(child(id, 1))) return std::nullopt;
        const std::uint32_t constant = program_.nodes[child(id, 1)].a;
        const Value& operand = program_.constants[constant];
        if (operand.kind() != Kind::kString) return std::nullopt;
        p.units = 2 + operand_cost(operand);
        if (node.builtin == Builtin::kContains || node.builtin == Builtin::kStartsWith ||
            node.builtin == Builtin::kEndsWith) {
          p.kind = PredicateNode::Kind::kTest, p.builtin = node.builtin, p.index = constant;
          p.literal = operand.as_string();
          pack(p);
          break;
        }
        if (node.builtin != Builtin::kGlob) return std::nullopt;
        auto glob = GlobPattern::compile(operand.as_string());
        if (!glob) return std::nullopt;
        p.kind = PredicateNode::Kind::kGlob;
        p.index = static_cast<std::uint32_t>(plan_->globs.size());
        plan_->globs.push_back(std::move(glob.value()));
        break;
      }
      case Op::kComprehension: {
        // range.exists(p, receiver.glob(p)) over a list known now.
        if (node.macro != Macro::kExists || node.child_count != 2 || fast.op != FastOp::kGeneric) return std::nullopt;
        if (node.a == var) return std::nullopt;
        const ExprId range = child(id, 0);
        const ExprId body = child(id, 1);
        const Value* patterns = known_value(range);
        if (patterns == nullptr || patterns->kind() != Kind::kList || !valid(body)) return std::nullopt;
        const Node& call = program_.nodes[body];
        if (call.op != Op::kCall || call.builtin != Builtin::kGlob || call.child_count != 2) return std::nullopt;
        if (plan_->code[body].op != FastOp::kGeneric || plan_->code[body].memo != kNoMemo) return std::nullopt;
        auto lower = receiver(child(body, 0), var);
        const ExprId pattern_node = child(body, 1);
        if (!lower || !valid(pattern_node) || program_.nodes[pattern_node].op != Op::kLocal ||
            program_.nodes[pattern_node].a != node.a || plan_->code[pattern_node].op != FastOp::kGeneric) {
          return std::nullopt;
        }
        GlobSet set;
        for (const Value& pattern : patterns->as_list()) {
          if (pattern.kind() != Kind::kString) return std::nullopt;
          auto glob = GlobPattern::compile(pattern.as_string());
          if (!glob) return std::nullopt;
          set.globs.push_back(std::move(glob.value()));
          // The iteration, the call node and the pattern variable, plus the pattern's operand size.
          set.units.push_back(3 + operand_cost(pattern));
        }
        set.prepare();
        p.kind = PredicateNode::Kind::kGlobAny, p.lower = *lower, p.range = range, p.units = 1;
        // A constant node charges its own unit; a plan constant what its evaluation charged.
        p.range_units =
            plan_->code[range].op == FastOp::kPlanConstant ? plan_->constants[plan_->code[range].aux].cost : 1;
        p.index = static_cast<std::uint32_t>(plan_->glob_sets.size());
        plan_->glob_sets.push_back(std::move(set));
        break;
      }
      default: return std::nullopt;
    }
    p.fixed_units = p.units + (p.lower ? 2 : 1);
    p.size_factor = p.lower ? 2 : 1;
    if (p.kind == PredicateNode::Kind::kRegex) {  // the automaton asked directly, RE2 when it declines
      if (auto dfa = RegexDfa::build(p.regex->pattern())) {
        plan_->dfas.push_back(std::make_unique<const RegexDfa>(std::move(*dfa)));
        p.dfa = plan_->dfas.back().get();
      }
    }
    fused.nodes.push_back(p);
    return static_cast<std::uint32_t>(fused.nodes.size() - 1);
  }

  void plan_fused() {
    for (ExprId id = 0; id < program_.nodes.size(); ++id) {
      if (!valid(id) || plan_->code[id].op != FastOp::kGeneric) continue;
      const Node& node = program_.nodes[id];
      if (node.op != Op::kComprehension || node.child_count != 2) continue;
      if (node.macro == Macro::kMap) continue;
      FusedComprehension fused;
      auto root = predicate(fused, child(id, 1), node.a, 0);
      if (!root) continue;
      fused.root = *root;
      plan_->code[id].op = FastOp::kFusedComprehension;
      plan_->code[id].aux = static_cast<std::uint32_t>(plan_->fused.size());
      plan_->fused.push_back(std::move(fused));
    }
    // size(list.filter(x, p)) over a fused filter: the kept elements are counted, no list is built.
    for (ExprId id = 0; id < program_.nodes.size(); ++id) {
      if (!valid(id) || plan_->code[id].op != FastOp::kGeneric) continue;
      const Node& node = program_.nodes[id];
      if (node.op != Op::kCall || node.builtin != Builtin::kSize || node.child_count != 1) continue;
      const ExprId filter = child(id, 0);
      if (!valid(filter) || plan_->code[filter].op != FastOp::kFusedComprehension) continue;
      if (plan_->code[filter].memo != kNoMemo || program_.nodes[filter].macro != Macro::kFilter) continue;
      plan_->code[id].op = FastOp::kFusedCount;
      plan_->code[id].aux = plan_->code[filter].aux;
    }
    plan_map_tests();
  }

  // A node the fused forms may stand for: evaluated in its general form, not memoised.
  bool plain(ExprId id) const {
    return valid(id) && plan_->code[id].op == FastOp::kGeneric && plan_->code[id].memo == kNoMemo;
  }
  bool is_local(ExprId id, std::uint32_t slot) const {
    return plain(id) && program_.nodes[id].op == Op::kLocal && program_.nodes[id].a == slot;
  }

  // range.map(x, size(x)).exists(y, y OP n) and .all(...), n an int constant (FusedMapTest).
  void plan_map_tests() {
    for (ExprId id = 0; id < program_.nodes.size(); ++id) {
      if (!valid(id) || plan_->code[id].op != FastOp::kGeneric) continue;
      const Node& outer = program_.nodes[id];
      if (outer.op != Op::kComprehension || outer.child_count != 2) continue;
      if (outer.macro != Macro::kExists && outer.macro != Macro::kAll) continue;
      if (outer.a >= program_.local_count) continue;
      const ExprId map = child(id, 0);
      if (!plain(map)) continue;
      const Node& map_node = program_.nodes[map];
      if (map_node.op != Op::kComprehension || map_node.macro != Macro::kMap || map_node.child_count != 2) continue;
      if (map_node.a >= program_.local_count || !valid(child(map, 0))) continue;
      const ExprId size = child(map, 1);
      if (!plain(size)) continue;
      const Node& size_node = program_.nodes[size];
      if (size_node.op != Op::kCall || size_node.builtin != Builtin::kSize || size_node.child_count != 1) continue;
      if (!is_local(child(size, 0), map_node.a)) continue;
      const ExprId test = child(id, 1);
      if (!plain(test)) continue;
      const Node& test_node = program_.nodes[test];
      if (test_node.op != Op::kCall || test_node.child_count != 2) continue;
      switch (test_node.builtin) {
        case Builtin::kLess:
        case Builtin::kLessEqual:
        case Builtin::kGreater:
        case Builtin::kGreaterEqual:
        case Builtin::kEqual:
        case Builtin::kNotEqual: break;
        default: continue;
      }
      FusedMapTest fused;
      fused.range = child(map, 0);
      fused.op = test_node.builtin;
      ExprId constant = kNoExpr;
      if (is_local(child(test, 0), outer.a)) {
        constant = child(test, 1);
      } else if (is_local(child(test, 1), outer.a)) {
        constant = child(test, 0);
        fused.variable_left = false;
      } else {
        continue;
      }
      if (!plain(constant) || !is_constant(constant)) continue;
      const Value& value = program_.constants[program_.nodes[constant].a];
      if (value.kind() != Kind::kInt) continue;
      fused.constant = value.as_int();
      plan_->code[id].op = FastOp::kFusedMapExists;
      plan_->code[id].aux = static_cast<std::uint32_t>(plan_->map_tests.size());
      plan_->map_tests.push_back(fused);
    }
  }

  // ---- Keys ----

  void flatten(ExprId id, std::vector<ExprId>& conjuncts, int depth) const {
    if (valid(id) && depth < kMaxDepth && program_.nodes[id].op == Op::kAnd && program_.nodes[id].child_count == 2) {
      flatten(child(id, 0), conjuncts, depth + 1);
      flatten(child(id, 1), conjuncts, depth + 1);
      return;
    }
    conjuncts.push_back(id);
  }

  std::optional<Key> key_of(ExprId id) const {
    if (!valid(id)) return std::nullopt;
    const Node& node = program_.nodes[id];
    if (node.op != Op::kCall || node.child_count != 2) return std::nullopt;
    Key key;
    std::vector<Value> members;
    if (node.builtin == Builtin::kEqual) {
      std::uint32_t constant = 0;
      bool fact_left = true;
      if (!fact_and_constant(id, key.slot, constant, fact_left)) return std::nullopt;
      members.push_back(program_.constants[constant]);
    } else if (node.builtin == Builtin::kLess || node.builtin == Builtin::kLessEqual ||
               node.builtin == Builtin::kGreater || node.builtin == Builtin::kGreaterEqual) {
      return range_key_of(id);
    } else if (node.builtin == Builtin::kIn) {
      if (!is_fact(child(id, 0)) || !is_constant(child(id, 1))) return std::nullopt;
      const Value& list = program_.constants[program_.nodes[child(id, 1)].a];
      if (list.kind() != Kind::kList) return std::nullopt;
      key.slot = static_cast<FactSlot>(program_.nodes[child(id, 0)].a);
      members = list.as_list();
    } else {
      return std::nullopt;
    }
    const Type::Tag tag = slot_tag(key.slot);
    if (tag != Type::Tag::kString && tag != Type::Tag::kInt) return std::nullopt;
    key.is_string = tag == Type::Tag::kString;
    // Members of another kind can never equal the fact (a string equals only strings; an int only the
    // numbers canonical_int maps to it), so leaving them out keeps the key exact.
    for (const Value& member : members) {
      if (key.is_string && member.kind() == Kind::kString) key.strings.push_back(member.as_string());
      if (!key.is_string) {
        if (auto number = canonical_int(member)) key.ints.push_back(*number);
      }
    }
    if (node.builtin == Builtin::kEqual && key.strings.empty() && key.ints.empty()) return std::nullopt;
    return key;
  }

  // `fact > 20`, `10 MiB <= file.size`, ...: an int fact against an int constant holds only for the fact's
  // values at least (or at most) a bound. The comparison of two ints is exact, so a fact of kind int outside
  // the range makes the conjunct, and with it the whole `&&`, false.
  std::optional<Key> range_key_of(ExprId id) const {
    Key key;
    std::uint32_t constant = 0;
    bool fact_left = true;
    if (!fact_and_constant(id, key.slot, constant, fact_left)) return std::nullopt;
    if (slot_tag(key.slot) != Type::Tag::kInt || program_.constants[constant].kind() != Kind::kInt) {
      return std::nullopt;
    }
    const std::int64_t c = program_.constants[constant].as_int();
    Builtin op = program_.nodes[id].builtin;
    if (!fact_left) {  // c < fact is fact > c, and so on
      switch (op) {
        case Builtin::kLess: op = Builtin::kGreater; break;
        case Builtin::kLessEqual: op = Builtin::kGreaterEqual; break;
        case Builtin::kGreater: op = Builtin::kLess; break;
        default: op = Builtin::kLessEqual; break;  // kGreaterEqual
      }
    }
    key.is_string = false;
    switch (op) {
      case Builtin::kGreater:
        if (c == std::numeric_limits<std::int64_t>::max()) return std::nullopt;
        key.range = Key::Range::kAtLeast, key.bound = c + 1;
        break;
      case Builtin::kGreaterEqual: key.range = Key::Range::kAtLeast, key.bound = c; break;
      case Builtin::kLess:
        if (c == std::numeric_limits<std::int64_t>::min()) return std::nullopt;
        key.range = Key::Range::kAtMost, key.bound = c - 1;
        break;
      default: key.range = Key::Range::kAtMost, key.bound = c; break;  // kLessEqual
    }
    return key;
  }

  static bool returns_scalar(Builtin builtin) {
    switch (builtin) {
      case Builtin::kEqual:
      case Builtin::kNotEqual:
      case Builtin::kLess:
      case Builtin::kLessEqual:
      case Builtin::kGreater:
      case Builtin::kGreaterEqual:
      case Builtin::kIn:
      case Builtin::kSize:
      case Builtin::kContains:
      case Builtin::kStartsWith:
      case Builtin::kEndsWith:
      case Builtin::kMatches:
      case Builtin::kGlob:
      case Builtin::kToInt:
      case Builtin::kToUint:
      case Builtin::kToDouble:
      case Builtin::kToBool:
      case Builtin::kNegate: return true;
      default: return false;
    }
  }

  // A bound on the operand cost a builtin charges for this child's value.
  std::optional<Bound> operand_bound(ExprId id, std::vector<FactSlot>& slots) const {
    const Node& node = program_.nodes[id];
    switch (node.op) {
      case Op::kConstant:
        if (node.a >= program_.constants.size()) return std::nullopt;
        return Bound{operand_cost(program_.constants[node.a]), 0};
      case Op::kFact: slots.push_back(static_cast<FactSlot>(node.a)); return Bound{0, 1};
      case Op::kFactHas:
      case Op::kAnd:
      case Op::kOr:
      case Op::kNot:
      case Op::kMatchesConst: return Bound{};  // a bool or an error: no operand cost
      case Op::kCall:
        if (returns_scalar(node.builtin)) return Bound{};
        return std::nullopt;
      default: return std::nullopt;
    }
  }

  // A bound on the cost units the evaluator charges for evaluating `id`; none when it depends on more
  // than the sizes of facts (comprehensions, intermediate strings and lists).
  std::optional<Bound> cost_bound(ExprId id, std::vector<FactSlot>& slots, int depth) const {
    if (!valid(id) || depth > kMaxDepth) return std::nullopt;
    const Node& node = program_.nodes[id];
    Bound total{1, 0};
    switch (node.op) {
      case Op::kConstant:
      case Op::kFact:
      case Op::kFactHas:
      case Op::kLocal: return total;
      case Op::kComprehension: return std::nullopt;
      default: break;
    }
    for (std::uint32_t i = 0; i < node.child_count; ++i) {
      auto part = cost_bound(child(id, i), slots, depth + 1);
      if (!part) return std::nullopt;
      total += *part;
      if (node.op == Op::kCall || node.op == Op::kMatchesConst) {
        auto operand = operand_bound(child(id, i), slots);
        if (!operand) return std::nullopt;
        total += *operand;
      }
    }
    return total;
  }

  // The key of a `when`, and a bound on the cost of evaluating it up to and including that key.
  std::optional<Key> choose_key(ExprId when) {
    if (when == kNoExpr) return std::nullopt;
    std::vector<ExprId> conjuncts;
    flatten(when, conjuncts, 0);
    std::vector<FactSlot> slots;
    // Every `&&` node of the flattened tree may be visited before the key.
    Bound prefix{conjuncts.size() - 1, 0};
    for (ExprId conjunct : conjuncts) {
      auto part = cost_bound(conjunct, slots, 0);
      if (!part) return std::nullopt;
      prefix += *part;
      if (auto key = key_of(conjunct)) {
        plan_->guard_static = std::max(plan_->guard_static, prefix.units);
        plan_->guard_fact_count = std::max(plan_->guard_fact_count, prefix.facts);
        for (FactSlot slot : slots) {
          if (std::find(plan_->guard_slots.begin(), plan_->guard_slots.end(), slot) == plan_->guard_slots.end()) {
            plan_->guard_slots.push_back(slot);
          }
        }
        return key;
      }
    }
    return std::nullopt;
  }

  static void file(KeyIndex& index, const Key& key, std::uint32_t id) {
    auto it =
        std::find_if(index.slots.begin(), index.slots.end(), [&](const SlotIndex& s) { return s.slot == key.slot; });
    if (it == index.slots.end()) {
      index.slots.push_back(SlotIndex{.slot = key.slot, .is_string = key.is_string});
      it = index.slots.end() - 1;
    }
    it->all.push_back(id);
    if (key.range == Key::Range::kAtLeast) it->at_least.emplace_back(key.bound, id);
    if (key.range == Key::Range::kAtMost) it->at_most.emplace_back(key.bound, id);
    // A constant listed twice files the id once.
    for (const std::string& value : key.strings) {
      auto& ids = it->strings[value];
      if (ids.empty() || ids.back() != id) ids.push_back(id);
    }
    for (std::int64_t value : key.ints) {
      auto& ids = it->ints[value];
      if (ids.empty() || ids.back() != id) ids.push_back(id);
    }
  }

  static std::string location_of(const Rule& rule, const Policy& policy) {
    std::string location = rule.location.to_string();
    return location.empty() ? policy.location.to_string() : location;
  }

  // The tests of a `when` that is a chain of `&&` over tests of a fact against a constant, in the order the
  // general evaluator visits them, each with the units of the `&&` nodes it charges on the way; false when
  // any part is something else (or memoised: the general evaluator then shares its value).
  bool conjunct_tests(ExprId id, std::uint32_t& pending, std::vector<ConjunctTest>& tests, int depth) const {
    if (!valid(id) || depth > kMaxDepth || tests.size() >= kMaxConjuncts) return false;
    const Node& node = program_.nodes[id];
    const FastNode& fast = plan_->code[id];
    if (fast.memo != kNoMemo) return false;
    if (node.op == Op::kAnd && fast.op == FastOp::kGeneric) {
      if (node.child_count != 2) return false;
      ++pending;  // the `&&` node's own unit, charged before its left operand
      return conjunct_tests(child(id, 0), pending, tests, depth + 1) &&
             conjunct_tests(child(id, 1), pending, tests, depth + 1);
    }
    if (fast.op != FastOp::kFactEqualConst && fast.op != FastOp::kFactOrderConst &&
        fast.op != FastOp::kFactInConstList) {
      return false;
    }
    const Value& constant = program_.constants[fast.constant];
    // The node's unit, its two operand nodes, and what the builtin charges for walking the constant.
    const std::uint64_t units =
        3 + (fast.op == FastOp::kFactInConstList ? constant.as_list().size() : operand_cost(constant));
    if (units > std::numeric_limits<std::uint32_t>::max()) return false;
    ConjunctTest test;
    test.op = fast.op;
    test.negate = fast.negate;
    test.fact_left = fast.fact_left;
    test.builtin = fast.builtin;
    test.constant_kind = constant.kind();
    test.slot = fast.slot;
    test.units_before = pending;
    test.units = static_cast<std::uint32_t>(units);
    test.constant = fast.constant;
    test.aux = fast.aux;
    if (constant.kind() == Kind::kInt) test.inline_value.number = constant.as_int();
    if (constant.kind() == Kind::kString && constant.as_string().size() <= ConjunctTest::kInlineText) {
      const std::string& text = constant.as_string();
      std::copy(text.begin(), text.end(), test.inline_value.text);
      test.text_length = static_cast<std::uint8_t>(text.size());
      test.text_inline = true;
    }
    pending = 0;
    tests.push_back(test);
    return true;
  }

  void plan_conjunction(ExprId when, Conjunction& conjunction) {
    if (when == kNoExpr) return;
    std::vector<ConjunctTest> tests;
    std::uint32_t pending = 0;
    if (!conjunct_tests(when, pending, tests, 0) || tests.empty()) return;
    conjunction.first = static_cast<std::uint32_t>(plan_->conjuncts.size());
    conjunction.count = static_cast<std::uint32_t>(tests.size());
    plan_->conjuncts.insert(plan_->conjuncts.end(), tests.begin(), tests.end());
  }

  void plan_rules() {
    EvaluationPlan& plan = *plan_;
    // Number every rule and `otherwise` in the Decision's order: by policy name, rule name, effect.
    struct Entry {
      std::uint32_t policy;
      std::uint32_t rule;
    };
    std::vector<Entry> entries;
    for (std::uint32_t p = 0; p < program_.policies.size(); ++p) {
      const Policy& policy = program_.policies[p];
      for (std::uint32_t r = 0; r < policy.rules.size(); ++r) entries.push_back({p, r});
      entries.push_back({p, kOtherwiseRule});
    }
    auto rule_of = [&](const Entry& e) -> const Rule& {
      const Policy& policy = program_.policies[e.policy];
      return e.rule == kOtherwiseRule ? policy.otherwise : policy.rules[e.rule];
    };
    auto name_of = [&](const Entry& e) -> const std::string& {
      static const std::string kOtherwise = "otherwise";
      return e.rule == kOtherwiseRule ? kOtherwise : program_.policies[e.policy].rules[e.rule].name;
    };
    auto order = [&](const Entry& a, const Entry& b) {
      return std::tie(program_.policies[a.policy].name, name_of(a), rule_of(a).effect) <
             std::tie(program_.policies[b.policy].name, name_of(b), rule_of(b).effect);
    };
    std::stable_sort(entries.begin(), entries.end(), order);

    plan.policies.resize(program_.policies.size());
    plan.rules.reserve(entries.size());
    for (std::uint32_t id = 0; id < entries.size(); ++id) {
      const Entry& e = entries[id];
      const Policy& policy = program_.policies[e.policy];
      std::uint32_t group = id;
      if (id > 0 && !order(entries[id - 1], e)) group = plan.rules.back().group;
      const Rule& rule = rule_of(e);
      PlannedRule planned_rule{.policy = e.policy,
                               .rule = e.rule,
                               .group = group,
                               .when = rule.when,
                               .unless = rule.unless,
                               .location = location_of(rule, policy)};
      plan_conjunction(rule.when, planned_rule.when_tests);
      plan.rules.push_back(std::move(planned_rule));
      PlannedPolicy& planned = plan.policies[e.policy];
      if (e.rule == kOtherwiseRule) {
        planned.otherwise = id;
        continue;
      }
      if (auto key = choose_key(policy.rules[e.rule].when)) {
        file(plan.rule_index, *key, id);
      } else {
        planned.unkeyed_rules.push_back(id);
      }
    }
    plan.rule_count = entries.size();
  }

  void plan_policies() {
    EvaluationPlan& plan = *plan_;
    static constexpr std::array<std::uint8_t, 4> kChannelBits = {0, kChannelUpload, kChannelImport, kChannelEgress};
    for (std::uint32_t p = 0; p < program_.policies.size(); ++p) {
      const Policy& policy = program_.policies[p];
      plan.policies[p].location = policy.location.to_string();
      if (auto key = choose_key(policy.when)) {
        file(plan.policy_index, *key, p);
        continue;
      }
      for (std::size_t c = 0; c < kChannelBits.size(); ++c) {
        const std::uint8_t bit = kChannelBits[c];
        const bool applies = bit == 0 ? policy.channels == kChannelAny : (policy.channels & bit) != 0;
        if (applies) plan.unkeyed_policies[c].push_back(p);
      }
    }
  }

  const Program& program_;
  std::shared_ptr<EvaluationPlan> plan_;
  std::unordered_map<std::string, std::uint32_t> set_ids_;  // set_identity() -> index in plan_->sets
  std::vector<std::uint64_t> free_locals_;                  // plan_memos() only
  std::vector<std::uint8_t> free_done_;
  std::vector<std::uint8_t> reached_;
  std::vector<std::uint8_t> repeated_;
  std::vector<std::uint8_t> reads_facts_;  // plan_constants() only
  std::vector<std::uint8_t> facts_done_;
};

}  // namespace

namespace {

// An extension of 1 to 7 bytes as one integer: the bytes, then the length in the top byte (so that "exe"
// and "exe\0" differ). Longer or empty extensions have no key.
std::optional<std::uint64_t> extension_key(std::string_view extension) {
  if (extension.empty() || extension.size() > 7) return std::nullopt;
  std::uint64_t key = static_cast<std::uint64_t>(extension.size()) << 56;
  for (std::size_t i = 0; i < extension.size(); ++i) {
    key |= static_cast<std::uint64_t>(static_cast<unsigned char>(extension[i])) << (8 * i);
  }
  return key;
}

bool all_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

void GlobSet::prepare() {
  units_through.resize(units.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < units.size(); ++i) units_through[i] = total += units[i];
  by_extension.clear();
  extensions_only = !globs.empty();
  for (std::size_t i = 0; i < globs.size() && extensions_only; ++i) {
    const std::optional<std::uint64_t> key = extension_key(globs[i].ascii_extension());
    if (!key) {
      extensions_only = false;
    } else if (std::none_of(by_extension.begin(), by_extension.end(), [&](const auto& e) { return e.first == *key; })) {
      by_extension.emplace_back(*key, static_cast<std::uint32_t>(i));  // the first pattern with this extension
    }
  }
  if (!extensions_only) by_extension.clear();
  std::sort(by_extension.begin(), by_extension.end());
}

std::size_t GlobSet::first_match(std::string_view text, GlobPattern::Buffers& buffers) const {
  if (extensions_only && all_ascii(text)) {
    // `**/*.EXT` matches an ASCII text exactly when the text ends in ".EXT"; EXT holds no '.', so that is
    // when the part after the text's last '.' is EXT.
    const std::size_t dot = text.rfind('.');
    if (dot == std::string_view::npos) return globs.size();
    const std::optional<std::uint64_t> key = extension_key(text.substr(dot + 1));
    if (!key) return globs.size();
    auto it = std::lower_bound(by_extension.begin(), by_extension.end(), std::make_pair(*key, std::uint32_t{0}));
    return it != by_extension.end() && it->first == *key ? it->second : globs.size();
  }
  for (std::size_t i = 0; i < globs.size(); ++i) {
    if (globs[i].match(text, buffers)) return i;
  }
  return globs.size();
}

std::shared_ptr<const EvaluationPlan> build_evaluation_plan(const Program& program) {
  return PlanBuilder(program).build();
}

void finalize_program(Program& program) {
  program.plan.reset();
  program.plan = build_evaluation_plan(program);
}

}  // namespace airlock::runtime
