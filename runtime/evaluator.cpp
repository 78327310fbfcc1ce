// The fast evaluator. Same results as the reference (reference_evaluator.cpp), field for field:
// - only candidate rules are evaluated: the unkeyed ones and those the index files under the facts'
//   values (evaluation_plan.cpp explains why that is exact);
// - expressions evaluate to references (to a constant, a fact, a local, or the caller's temporary)
//   rather than copied Values, and common node shapes (fact == constant, fact in [constants], ...)
//   run fused, charging the same cost units as the reference;
// - all working memory lives in an EvaluationScratch, and the result is first a list of rule ids
//   (OutcomeSummary); the Decision's strings are built from it only when asked for.
#include "airlock/runtime/evaluator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "airlock/runtime/builtins.h"
#include "airlock/runtime/reference.h"
#include "evaluation_plan.h"
#include "glob.h"
#include "internal/utf8.h"

namespace airlock::runtime {

namespace {
using namespace std::string_view_literals;

constexpr std::string_view kBudgetExceeded = "evaluation cost budget exceeded";
const std::string kDefaultReviewer = "data-approver";
const std::string kWhenRule = "when";
const std::string kOtherwiseName = "otherwise";

Value no_such_overload(std::string_view function, const Value& operand) {
  return Value::error("no such overload: " + std::string(function) + " on " + std::string(kind_name(operand.kind())));
}

bool is_bool(const Value& value) { return value.kind() == Kind::kBool; }

char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether text[0, part.size()) equals `part` (short literals: a byte loop beats a call to memcmp).
bool same(const char* text, std::string_view part) {
  for (std::size_t k = 0; k < part.size(); ++k) {
    if (text[k] != part[k]) return false;
  }
  return true;
}

// Whether lowerAscii(text[0, part.size())) equals `part`.
bool same_lowered(const char* text, std::string_view part) {
  for (std::size_t k = 0; k < part.size(); ++k) {
    if (lower_ascii(text[k]) != part[k]) return false;
  }
  return true;
}

// Whether `text` contains `part`: memchr to each candidate first byte, the rest compared in place.
bool contains(std::string_view text, std::string_view part) {
  if (part.empty()) return true;
  if (text.size() < part.size()) return false;
  const char* at = text.data();
  const char* const last = text.data() + (text.size() - part.size());  // the last place `part` fits
  const std::string_view rest = part.substr(1);
  while (at <= last) {
    at = static_cast<const char*>(std::memchr(at, part[0], static_cast<std::size_t>(last - at) + 1));
    if (at == nullptr) return false;
    if (same(at + 1, rest)) return true;
    ++at;
  }
  return false;
}

template <typename T>
bool ordered(Builtin builtin, const T& a, const T& b) {
  switch (builtin) {
    case Builtin::kLess: return a < b;
    case Builtin::kLessEqual: return !(b < a);
    case Builtin::kGreater: return b < a;
    default: return !(a < b);
  }
}

}  // namespace

// An element of a range a fused comprehension walks: its text, if it is a string the predicate takes.
struct TextView {
  std::string_view text;
  bool is_text = false;
};

struct EvaluationScratch::State {
  // A matched rule; `owned_reason` holds a reason the evaluation computed, else `reason` points at a
  // constant or a fact.
  static constexpr std::uint32_t kNoText = 0xffffffffu;
  struct MatchRecord {
    std::uint32_t id = 0;  // flat id in the plan
    bool has_reason = false;
    bool owned = false;
    std::uint32_t text = kNoText;  // the reason was built by `+` into reason_texts[text]
    const Value* reason = nullptr;
    Value owned_reason;
    const std::string& reason_text(const std::vector<std::string>& texts) const {
      if (text != kNoText) return texts[text];
      return (owned ? owned_reason : *reason).as_string();
    }
  };
  struct ErrorRecord {
    std::uint32_t policy = 0;
    const std::string* rule = nullptr;
    std::string message;
    const std::string* location = nullptr;
  };

  std::vector<Value> locals;
  std::vector<std::uint32_t> policy_epoch;   // == epoch: the policy is applicable in this evaluation
  std::vector<std::uint32_t> matched_epoch;  // == epoch: some rule of the policy matched
  std::uint32_t epoch = 0;
  std::vector<std::uint32_t> applicable;
  std::vector<MatchRecord> matches;
  // Reasons built by string `+` (FastExpressions::run_text), one per match; kept with their capacity from one
  // decision to the next, so a warm scratch builds them without allocating.
  std::vector<std::string> reason_texts;
  // The right operand of `a.endsWith(b + c)` and the like, joined without a Value (FastExpressions::text_test),
  // one per nesting level.
  std::array<std::string, 4> operand_texts;
  // Elements a smaller Decision gave up, kept with their strings' capacity for the next larger one.
  std::vector<MatchedRule> spare_rules;
  std::vector<EvaluationError> spare_errors;
  std::vector<std::string> spare_roles;
  std::vector<std::uint32_t> order;  // indexes into matches, sorted
  std::vector<RuleRef> rules;
  std::vector<ErrorRecord> errors;
  std::vector<const std::string*> roles;
  std::vector<std::string> owned_roles;  // for evaluate_outcome() on facts of another schema
  std::uint32_t approvals = 0;
  bool any_applicable = false;
  bool any_deny = false;
  bool any_escalate = false;
  // Memoised sub-expressions (FastNode::memo): valid when `epoch` equals memo_epoch.
  struct Memo {
    std::uint32_t epoch = 0;
    std::uint64_t cost = 0;  // the cost units the first evaluation charged, charged again on every reuse
    Value value;
  };
  std::vector<Memo> memo;
  std::uint32_t memo_epoch = 0;
  // Glob patterns compiled once, keyed by the identity of the pattern string (kept alive here).
  struct CachedGlob {
    Value pattern;
    GlobPattern glob;
  };
  std::vector<CachedGlob> globs;
  GlobPattern::Buffers glob_buffers;
  std::string lowered;  // a fused comprehension's element in lower case
  // The texts of ranges fused comprehensions walk (FastExpressions::text_view): slot 0 for a range that
  // lives only during one comprehension, the others kept for the decision (epoch == memo_epoch).
  struct ListView {
    const void* key = nullptr;
    std::uint32_t epoch = 0;
    std::vector<TextView> texts;
  };
  std::array<ListView, 5> views;
  std::uint32_t next_view = 0;
  Value true_value = Value::boolean(true);
  Value empty_list = Value::list({});
  Value false_value = Value::boolean(false);
  Value budget_error;
};

EvaluationScratch::EvaluationScratch() : state_(std::make_unique<State>()) {}
EvaluationScratch::~EvaluationScratch() = default;
EvaluationScratch::EvaluationScratch(EvaluationScratch&&) noexcept = default;
EvaluationScratch& EvaluationScratch::operator=(EvaluationScratch&&) noexcept = default;

namespace {

using State = EvaluationScratch::State;
using MatchRecord = State::MatchRecord;
using ErrorRecord = State::ErrorRecord;

// Whether the plan's fast forms, plan constants, compiled conjunctions and index may be used under these options.
// The plan was built under the default size limit: under a smaller one the reference fails where they would not
// (a constant built through a value over the limit, a constant list longer than it), so it is judged without them.
bool plan_applies(const EvaluationOptions& options) {
  return options.max_value_size >= EvaluationOptions{}.max_value_size;
}

// Evaluates expressions. eval() returns a reference to the result: a program constant, a fact, a
// local, a value in the scratch (true, false, the budget error), or the caller's `out`, which it
// fills only when it has computed a new value. Callers never return a reference to their own
// temporaries: they move them into their `out` first.
class FastExpressions {
 public:
  FastExpressions(const Program& program, const EvaluationPlan* plan, const Facts& facts,
                  const EvaluationOptions& options, State& state)
      : program_(program),
        plan_(plan),
        facts_(facts),
        options_(options),
        state_(state),
        locals_(state.locals),
        fact_count_(facts.schema().fields().size()) {
    locals_.assign(program.local_count, Value());
    if (plan_ != nullptr) {
      if (state.memo.size() < plan_->memo_count) state.memo.resize(plan_->memo_count);
      if (++state.memo_epoch == 0) {  // wrapped: forget every old value
        for (State::Memo& memo : state.memo) memo.epoch = 0;
        for (State::ListView& view : state.views) view.epoch = 0;
        state.memo_epoch = 1;
      }
    }
  }

  // Evaluates one expression with a fresh cost budget, as the reference's run() does.
  const Value& run(ExprId root, Value& out) {
    cost_ = 0;
    exhausted_ = false;
    const Value& result = eval(root, out);
    if (exhausted_) return budget_error();
    return result;
  }

  std::uint64_t cost() const { return cost_; }

  // run() of an expression whose value is built by string `+` (a `because`): the text goes into `text`,
  // without a Value for each `+`, and the answer is nullptr. Otherwise (a non-string operand, an error, the
  // budget) the Value run() gives. Charges what run() charges, in the same order.
  const Value* run_text(ExprId root, std::string& text, Value& out) {
    if (!is_concatenation(root)) return &run(root, out);
    cost_ = 0;
    exhausted_ = false;
    text.clear();
    const Value* value = append_concatenation(root, text, out);
    if (exhausted_) return &budget_error();
    return value;
  }

  // The value run() gives a `when` compiled to ConjunctTests, charging the same units in the same order;
  // nullopt when run() must answer instead: a test meets an error fact or a fact of another kind than the
  // fast form handles, or the budget runs out (run() then gives the error in its own words).
  std::optional<bool> conjunction(const ConjunctTest* tests, std::uint32_t count) const {
    const std::uint64_t budget = options_.cost_budget;
    std::uint64_t cost = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const ConjunctTest& test = tests[i];
      const Value& fact = facts_.get(test.slot);
      cost += test.units_before + test.units + operand_cost(fact);
      if (cost > budget) return std::nullopt;
      bool holds = false;
      switch (test.op) {
        case FastOp::kFactEqualConst:
          if (fact.is_error()) return std::nullopt;
          holds = equals(test, fact) != test.negate;
          break;
        case FastOp::kFactOrderConst: {
          if (fact.kind() != test.constant_kind) return std::nullopt;
          const Value& constant = program_.constants[test.constant];
          switch (fact.kind()) {
            case Kind::kInt: {
              const std::int64_t number = test.inline_value.number;
              holds = test.fact_left ? ordered(test.builtin, fact.as_int(), number)
                                     : ordered(test.builtin, number, fact.as_int());
              break;
            }
            case Kind::kUint:
              holds = test.fact_left ? ordered(test.builtin, fact.as_uint(), constant.as_uint())
                                     : ordered(test.builtin, constant.as_uint(), fact.as_uint());
              break;
            default: {
              const std::string_view text = fact.as_string();
              const std::string_view other = test.text_inline
                                                 ? std::string_view(test.inline_value.text, test.text_length)
                                                 : std::string_view(constant.as_string());
              holds = test.fact_left ? ordered(test.builtin, text, other) : ordered(test.builtin, other, text);
              break;
            }
          }
          break;
        }
        case FastOp::kFactInConstList: {
          const ConstantSet& set = plan_->sets[test.aux];
          if (fact.kind() == Kind::kString) {
            holds = set.contains(fact.as_string());
          } else if (fact.kind() == Kind::kInt) {
            holds = set.ints.find(fact.as_int()) != set.ints.end();
          } else {
            return std::nullopt;
          }
          break;
        }
        default: return std::nullopt;
      }
      if (!holds) return false;
    }
    return true;
  }

 private:
  const Value& budget_error() {
    if (!state_.budget_error.is_error()) state_.budget_error = Value::error(std::string(kBudgetExceeded));
    return state_.budget_error;
  }
  const Value& boolean(bool b) const { return b ? state_.true_value : state_.false_value; }

  bool charge(std::uint64_t units) {
    cost_ += units;
    if (cost_ > options_.cost_budget) exhausted_ = true;
    return !exhausted_;
  }

  static const Value& set(Value& out, Value value) {
    out = std::move(value);
    return out;
  }
  // Returns `result`, moving it into `out` when it lives in the caller's temporary `temp`.
  static const Value& forward(const Value& result, Value& temp, Value& out) {
    if (&result != &temp) return result;
    out = std::move(temp);
    return out;
  }

  // CEL equality of a fact with a test's constant: inline for strings and ints, else as operator== has it.
  bool equals(const ConjunctTest& test, const Value& fact) const {
    if (test.constant_kind == Kind::kString && test.text_inline && fact.kind() == Kind::kString) {
      const std::string& text = fact.as_string();
      return text.size() == test.text_length && std::memcmp(text.data(), test.inline_value.text, text.size()) == 0;
    }
    if (test.constant_kind == Kind::kInt && fact.kind() == Kind::kInt) return fact.as_int() == test.inline_value.number;
    return fact == program_.constants[test.constant];
  }

  static Value invalid_program(std::string_view what) { return Value::error("invalid program: " + std::string(what)); }

  // A comprehension's range, evaluated into `range_temp` or referenced: true with `result` the list or map;
  // false with `result` the error to return (the range's own, or that it cannot be iterated).
  bool iterable_range(const Node& node, Value& range_temp, Value& out, const Value*& result) {
    const Value& range_ref = eval(program_.child(node, 0), range_temp);
    if (range_ref.is_error()) {
      result = &forward(range_ref, range_temp, out);
      return false;
    }
    if (range_ref.kind() != Kind::kList && range_ref.kind() != Kind::kMap) {
      result = &set(out, Value::error("type " + std::string(kind_name(range_ref.kind())) + " cannot be iterated"));
      return false;
    }
    result = &range_ref;
    return true;
  }

  // A `+` of two operands that eval() would evaluate through call(): no memo, no fast form, children in range.
  bool is_concatenation(ExprId id) const { return is_generic_call(id, Builtin::kAdd, 2); }

  // `string(x)` that eval() would evaluate through call_one().
  bool is_string_conversion(ExprId id) const { return is_generic_call(id, Builtin::kToString, 1); }

  bool is_generic_call(ExprId id, Builtin builtin, std::uint32_t child_count) const {
    if (id >= program_.nodes.size()) return false;
    const Node& node = program_.nodes[id];
    if (node.op != Op::kCall || node.builtin != builtin || node.child_count != child_count) return false;
    if (static_cast<std::size_t>(node.first_child) + node.child_count > program_.children.size()) return false;
    return plan_ == nullptr || id >= plan_->code.size() ||
           (plan_->code[id].memo == kNoMemo && plan_->code[id].op == FastOp::kGeneric);
  }

  // eval() of `id` appended to `text` as text: nullptr when its value is a string (appended), else what
  // eval() gives (an error, another kind, the budget error), with `text` as it was on entry. A `+` of
  // strings and `string()` of a number are joined in `text` without a Value for each step, charging what
  // eval_node() and call() charge, in the same order, and checking the same limits at the same steps.
  const Value* append_text(ExprId id, std::string& text, Value& out) {
    if (is_concatenation(id)) return append_concatenation(id, text, out);
    if (is_string_conversion(id)) return append_conversion(id, text, out);
    const Value& value = eval(id, out);
    if (value.kind() != Kind::kString) return &value;
    text.append(value.as_string());
    return nullptr;
  }

  // A `+` as eval_node() and call() visit it: its unit, the left operand, the right operand, both operands'
  // costs, then the builtin's limits. At the first step that is not a join of strings, the builtin's answer.
  const Value* append_concatenation(ExprId id, std::string& text, Value& out) {
    if (!charge(1)) return &budget_error();
    const Node& node = program_.nodes[id];
    const std::size_t start = text.size();
    const Value* left = append_text(program_.child(node, 0), text, out);
    if (left != nullptr) {
      if (left->is_error()) return left;
      // The left operand is not a string: the rest of this `+` as call() does it.
      const Value first = *left;
      Value second_temp;
      const Value& second = eval(program_.child(node, 1), second_temp);
      if (second.is_error()) return &forward(second, second_temp, out);
      if (!charge(operand_cost(first) + operand_cost(second))) return &budget_error();
      return &add_values(first, second, out);
    }
    const std::size_t middle = text.size();
    const Value* right = append_text(program_.child(node, 1), text, out);
    const std::size_t left_size = middle - start;
    if (right != nullptr) {
      if (!right->is_error() && charge(left_size / 64 + operand_cost(*right))) {  // operand_cost() of the left
        const Value first = Value::string(text.substr(start, left_size));
        text.resize(start);
        return &add_values(first, *right, out);
      }
      text.resize(start);
      return right->is_error() ? right : &budget_error();
    }
    const std::size_t right_size = text.size() - middle;
    if (!charge(left_size / 64 + right_size / 64)) {
      text.resize(start);
      return &budget_error();
    }
    const std::size_t joined = left_size + right_size;
    if (joined <= kMaxConcatenationBytes && joined <= options_.max_value_size) return nullptr;
    // A result over a limit: the builtin's answer and words.
    const Value first = Value::string(text.substr(start, left_size));
    const Value second = Value::string(text.substr(middle));
    text.resize(start);
    return &add_values(first, second, out);
  }

  // `string(x)` as eval_node() and call_one() visit it; an int or uint is written as digits.
  const Value* append_conversion(ExprId id, std::string& text, Value& out) {
    if (!charge(1)) return &budget_error();
    const Node& node = program_.nodes[id];
    const Value& argument = eval(program_.child(node, 0), out);
    if (argument.is_error()) return &argument;
    if (!charge(operand_cost(argument))) return &budget_error();
    if (argument.kind() == Kind::kInt || argument.kind() == Kind::kUint) {
      std::array<char, 24> digits{};
      const auto written = argument.kind() == Kind::kInt
                               ? std::to_chars(digits.data(), digits.data() + digits.size(), argument.as_int())
                               : std::to_chars(digits.data(), digits.data() + digits.size(), argument.as_uint());
      const auto size = static_cast<std::size_t>(written.ptr - digits.data());
      if (size <= options_.max_value_size) {  // else check_size() words the error
        text.append(digits.data(), size);
        return nullptr;
      }
    }
    const Value copy = &argument == &out ? std::move(out) : argument;
    const Value& value = check_size(out, call_builtin(Builtin::kToString, std::span<const Value>(&copy, 1)));
    if (value.kind() != Kind::kString) return &value;
    text.append(value.as_string());
    return nullptr;
  }

  // Whether a byte may begin or end Unicode white space: ASCII white space, or any byte of a longer code point.
  static bool may_be_space(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x80 || byte == ' ' || (byte >= '\t' && byte <= '\r');
  }

  // What call() answers for a `+` once both operands are charged: the builtin's result within the size limit.
  const Value& add_values(const Value& first, const Value& second, Value& out) {
    const std::array<Value, 2> arguments = {first, second};
    return check_size(out, call_builtin(Builtin::kAdd, arguments));
  }

  const Value& eval(ExprId id, Value& out) {
    if (plan_ != nullptr && id < plan_->code.size() && plan_->code[id].memo != kNoMemo) {
      return memoised(id, plan_->code[id].memo);
    }
    return eval_node(id, out);
  }

  // A sub-expression that depends on the facts only, evaluated at most once per decision. Reusing it
  // charges the units its evaluation charged, so the budget runs out exactly where the reference's would
  // (the reference evaluates it again, deterministically, at the same cost).
  const Value& memoised(ExprId id, std::uint32_t slot) {
    State::Memo& memo = state_.memo[slot];
    if (memo.epoch == state_.memo_epoch) {
      if (!charge(memo.cost)) return budget_error();
      return memo.value;
    }
    const std::uint64_t before = cost_;
    Value temp;
    const Value& result = eval_node(id, temp);
    if (exhausted_) return budget_error();  // the expression is the budget error now, whatever it held
    memo.value = &result == &temp ? std::move(temp) : result;
    memo.cost = cost_ - before;
    memo.epoch = state_.memo_epoch;
    return memo.value;
  }

  const Value& eval_node(ExprId id, Value& out) {
    if (!charge(1)) return budget_error();
    if (id >= program_.nodes.size()) return set(out, invalid_program("expression id out of range"));
    const Node& node = program_.nodes[id];
    if (static_cast<std::size_t>(node.first_child) + node.child_count > program_.children.size()) {
      return set(out, invalid_program("children out of range"));
    }
    if (plan_ != nullptr) {
      const FastNode& fast = plan_->code[id];
      switch (fast.op) {
        case FastOp::kGeneric: break;
        case FastOp::kFactEqualConst: {
          const Value& fact = facts_.get(fast.slot);
          if (fact.is_error()) break;
          const Value& constant = program_.constants[fast.constant];
          // call(): 1 + fact node + constant node, then the builtin's operand costs.
          if (!charge(2 + operand_cost(fact) + operand_cost(constant))) return budget_error();
          return boolean((fact == constant) != fast.negate);
        }
        case FastOp::kFactOrderConst: {
          const Value& fact = facts_.get(fast.slot);
          const Value& constant = program_.constants[fast.constant];
          if (fact.kind() != constant.kind()) break;
          if (!charge(2 + operand_cost(fact) + operand_cost(constant))) return budget_error();
          const Value& a = fast.fact_left ? fact : constant;
          const Value& b = fast.fact_left ? constant : fact;
          switch (fact.kind()) {
            case Kind::kInt: return boolean(ordered(fast.builtin, a.as_int(), b.as_int()));
            case Kind::kUint: return boolean(ordered(fast.builtin, a.as_uint(), b.as_uint()));
            default: return boolean(ordered(fast.builtin, a.as_string(), b.as_string()));
          }
        }
        case FastOp::kFactInConstList: {
          const Value& fact = facts_.get(fast.slot);
          const ConstantSet& set = plan_->sets[fast.aux];
          bool found = false;
          if (fact.kind() == Kind::kString) {
            found = set.contains(fact.as_string());
          } else if (fact.kind() == Kind::kInt) {
            found = set.ints.find(fact.as_int()) != set.ints.end();
          } else {
            break;
          }
          if (!charge(2 + operand_cost(fact) + program_.constants[fast.constant].as_list().size())) {
            return budget_error();
          }
          return boolean(found);
        }
        case FastOp::kInKnownList: break;  // call() looks the plan's set up
        case FastOp::kMatchesConstPattern: {
          const Value& text = eval(program_.child(node, 0), out);
          if (text.is_error()) return text;
          const Value& pattern = program_.constants[fast.constant];
          if (!charge(1)) return budget_error();  // the pattern's constant node
          if (!charge(operand_cost(text) + operand_cost(pattern))) return budget_error();
          if (text.kind() != Kind::kString) {
            const std::array<Value, 2> arguments = {text, pattern};
            return check_size(out, call_builtin(Builtin::kMatches, arguments));
          }
          return boolean(plan_->regexes[fast.aux]->partial_match(text.as_string()));
        }
        case FastOp::kPlanConstant: {
          const PlanConstant& constant = plan_->constants[fast.aux];
          if (!charge(constant.cost - 1)) return budget_error();  // the node's own unit is charged above
          return constant.value;
        }
        case FastOp::kFusedComprehension: return fused_comprehension(node, out, plan_->fused[fast.aux], nullptr);
        case FastOp::kFusedCount: return fused_count(node, out, plan_->fused[fast.aux]);
        case FastOp::kFusedMapExists: return fused_map_exists(node, out, plan_->map_tests[fast.aux]);
      }
    }
    switch (node.op) {
      case Op::kConstant:
        if (node.a >= program_.constants.size()) return set(out, invalid_program("constant out of range"));
        return program_.constants[node.a];
      case Op::kFact:
        if (node.a >= fact_count_) return set(out, invalid_program("fact slot out of range"));
        return facts_.get(static_cast<FactSlot>(node.a));
      case Op::kFactHas:
        if (node.a >= fact_count_) return set(out, invalid_program("fact slot out of range"));
        return boolean(facts_.is_set(static_cast<FactSlot>(node.a)));
      case Op::kLocal:
        if (node.a >= locals_.size()) return set(out, invalid_program("local slot out of range"));
        return locals_[node.a];
      case Op::kSelect:
      case Op::kHas: return select(node, out);
      case Op::kCall: return call(node, out);
      case Op::kMatchesConst: return matches(node, out);
      case Op::kAnd: return logical(node, out, /*is_and=*/true);
      case Op::kOr: return logical(node, out, /*is_and=*/false);
      case Op::kNot: {
        if (node.child_count != 1) return set(out, invalid_program("`!` takes one operand"));
        const Value& operand = eval(program_.child(node, 0), out);
        if (operand.is_error()) return operand;
        if (!is_bool(operand)) return set(out, no_such_overload("!_", operand));
        return boolean(!operand.as_bool());
      }
      case Op::kConditional: {
        if (node.child_count != 3) return set(out, invalid_program("`?:` takes three operands"));
        Value temp;
        const Value& condition = eval(program_.child(node, 0), temp);
        if (condition.is_error()) return forward(condition, temp, out);
        if (!is_bool(condition)) return set(out, no_such_overload("_?_:_", condition));
        return eval(program_.child(node, condition.as_bool() ? 1 : 2), out);
      }
      case Op::kList: return list(node, out);
      case Op::kMap: return map(node, out);
      case Op::kComprehension: return comprehension(node, out);
    }
    return set(out, invalid_program("unknown operation"));
  }

  const Value& select(const Node& node, Value& out) {
    if (node.child_count != 1) return set(out, invalid_program("field selection takes one operand"));
    if (node.a >= program_.constants.size() || program_.constants[node.a].kind() != Kind::kString) {
      return set(out, invalid_program("field name is not a string constant"));
    }
    const Value& operand = eval(program_.child(node, 0), out);
    if (operand.is_error()) return operand;
    const Value& field = program_.constants[node.a];
    if (operand.kind() != Kind::kMap) {
      return set(out,
                 Value::error("type " + std::string(kind_name(operand.kind())) + " does not support field selection"));
    }
    const Value* found = operand.find(field);
    if (node.op == Op::kHas) return boolean(found != nullptr);
    if (found == nullptr) return set(out, Value::error("no such key: " + field.as_string()));
    if (&operand != &out) return *found;  // inside a long-lived value
    Value copy = *found;                  // inside `out`, which is about to be replaced
    return set(out, std::move(copy));
  }

  const Value& check_size(Value& out, Value value) {
    std::uint64_t size = 0;
    switch (value.kind()) {
      case Kind::kString:
      case Kind::kBytes: size = value.as_string().size(); break;
      case Kind::kList: size = value.as_list().size(); break;
      case Kind::kMap: size = value.as_map().size(); break;
      default: break;
    }
    if (size > options_.max_value_size) {
      return set(out, Value::error("value too large: " + std::to_string(size) + " > " +
                                   std::to_string(options_.max_value_size)));
    }
    if (value.kind() == Kind::kBool) return boolean(value.as_bool());
    return set(out, std::move(value));
  }

  // Builtins computed on references, without copying the arguments; false when the general
  // call_builtin() must decide (other kinds, or an error to report in its words).
  bool direct_builtin(Builtin builtin, const Value& a, const Value& b, bool& result) const {
    switch (builtin) {
      case Builtin::kEqual: result = a == b; return true;
      case Builtin::kNotEqual: result = !(a == b); return true;
      case Builtin::kLess:
      case Builtin::kLessEqual:
      case Builtin::kGreater:
      case Builtin::kGreaterEqual:
        if (a.kind() != b.kind()) return false;
        switch (a.kind()) {
          case Kind::kInt: result = ordered(builtin, a.as_int(), b.as_int()); return true;
          case Kind::kUint: result = ordered(builtin, a.as_uint(), b.as_uint()); return true;
          case Kind::kString: result = ordered(builtin, a.as_string(), b.as_string()); return true;
          default: return false;
        }
      case Builtin::kIn:
        if (b.kind() == Kind::kList) {
          result = false;
          for (const Value& item : b.as_list()) {
            if (item == a) {
              result = true;
              break;
            }
          }
          return true;
        }
        if (b.kind() == Kind::kMap) {
          result = b.find(a) != nullptr;
          return true;
        }
        return false;
      case Builtin::kContains:
      case Builtin::kStartsWith:
      case Builtin::kEndsWith: {
        if (a.kind() != Kind::kString || b.kind() != Kind::kString) return false;
        const std::string_view text = a.as_string();
        const std::string_view part = b.as_string();
        result = builtin == Builtin::kContains     ? text.find(part) != std::string_view::npos
                 : builtin == Builtin::kStartsWith ? text.starts_with(part)
                                                   : text.ends_with(part);
        return true;
      }
      default: return false;
    }
  }

  const Value& call(const Node& node, Value& out) {
    if (node.child_count == 2) {
      Value first_temp;
      const Value& first = eval(program_.child(node, 0), first_temp);
      if (first.is_error()) return forward(first, first_temp, out);
      if (is_text_test(node.builtin) && text_depth_ < state_.operand_texts.size() &&
          is_concatenation(program_.child(node, 1))) {
        return text_test(node, first, out);
      }
      const Value& second = eval(program_.child(node, 1), out);
      if (second.is_error()) return second;
      return call_two(node, first, second, out);
    }
    if (node.child_count == 1) return call_one(node, out);
    return call_many(node, out);
  }

  static bool is_text_test(Builtin builtin) {
    return builtin == Builtin::kStartsWith || builtin == Builtin::kEndsWith || builtin == Builtin::kContains;
  }

  // `a.endsWith(b + c)`, `startsWith` or `contains` with a `+` for the part: the part is joined in a buffer of
  // the scratch (append_text) instead of a new string Value, then tested as call() tests it, at the same cost.
  const Value& text_test(const Node& node, const Value& first, Value& out) {
    std::string& text = state_.operand_texts[text_depth_];
    text.clear();
    ++text_depth_;
    const Value* second = append_text(program_.child(node, 1), text, out);
    --text_depth_;
    if (second != nullptr) return second->is_error() ? *second : call_two(node, first, *second, out);
    if (!charge(operand_cost(first) + text.size() / 64)) return budget_error();
    if (first.kind() != Kind::kString) {  // the builtin's words
      const std::array<Value, 2> arguments = {first, Value::string(text)};
      return check_size(out, call_builtin(node.builtin, arguments));
    }
    const std::string_view whole = first.as_string();
    return boolean(node.builtin == Builtin::kContains     ? whole.find(text) != std::string_view::npos
                   : node.builtin == Builtin::kStartsWith ? whole.starts_with(text)
                                                          : whole.ends_with(text));
  }

  // call() of two operands once both are evaluated without an error.
  const Value& call_two(const Node& node, const Value& first, const Value& second, Value& out) {
    if (!charge(operand_cost(first) + operand_cost(second))) return budget_error();
    if (node.builtin == Builtin::kIn && plan_ != nullptr) {  // `x in L` with L known to the plan: its hash set
      const FastNode& fast = plan_->code[static_cast<ExprId>(&node - program_.nodes.data())];
      if (fast.op == FastOp::kInKnownList) {
        const ConstantSet& set = plan_->sets[fast.aux];
        if (first.kind() == Kind::kString) return boolean(set.contains(first.as_string()));
        if (first.kind() == Kind::kInt) return boolean(set.ints.contains(first.as_int()));
      }
    }
    bool result = false;
    if (direct_builtin(node.builtin, first, second, result)) return boolean(result);
    if (node.builtin == Builtin::kGlob && first.kind() == Kind::kString && second.kind() == Kind::kString) {
      if (const GlobPattern* glob = cached_glob(second)) {
        return boolean(glob->match(first.as_string(), state_.glob_buffers));
      }
    }
    const std::array<Value, 2> arguments = {first, second};
    return check_size(out, call_builtin(node.builtin, arguments));
  }

  // call() of three or more operands, or none.
  const Value& call_many(const Node& node, Value& out) {
    constexpr std::uint32_t kInlineArguments = 4;
    if (node.child_count <= kInlineArguments) {
      std::array<Value, kInlineArguments> arguments;
      std::uint64_t units = 0;
      for (std::uint32_t i = 0; i < node.child_count; ++i) {
        const Value& argument = eval(program_.child(node, i), arguments[i]);
        if (&argument != &arguments[i]) arguments[i] = argument;
        if (arguments[i].is_error()) return set(out, std::move(arguments[i]));
        units += operand_cost(arguments[i]);
      }
      if (!charge(units)) return budget_error();
      if (node.child_count == 1 && node.builtin == Builtin::kSize) {
        const Value& a = arguments[0];
        if (a.kind() == Kind::kList) return set(out, Value::integer(static_cast<std::int64_t>(a.as_list().size())));
        if (a.kind() == Kind::kMap) return set(out, Value::integer(static_cast<std::int64_t>(a.as_map().size())));
      }
      return check_size(out, call_builtin(node.builtin, std::span<const Value>(arguments.data(), node.child_count)));
    }
    List arguments;
    arguments.reserve(node.child_count);
    std::uint64_t units = 0;
    for (std::uint32_t i = 0; i < node.child_count; ++i) {
      Value temp;
      const Value& argument = eval(program_.child(node, i), temp);
      arguments.push_back(&argument == &temp ? std::move(temp) : argument);
      if (arguments.back().is_error()) return set(out, std::move(arguments.back()));
      units += operand_cost(arguments.back());
    }
    if (!charge(units)) return budget_error();
    return check_size(out, call_builtin(node.builtin, arguments));
  }

  // A builtin of one argument: size() and lowerAscii() without copies, the rest through call_builtin().
  const Value& call_one(const Node& node, Value& out) {
    const Value& argument = eval(program_.child(node, 0), out);
    if (argument.is_error()) return argument;
    if (!charge(operand_cost(argument))) return budget_error();
    switch (node.builtin) {
      case Builtin::kSize: {
        std::int64_t size = -1;
        if (argument.kind() == Kind::kList) size = static_cast<std::int64_t>(argument.as_list().size());
        if (argument.kind() == Kind::kMap) size = static_cast<std::int64_t>(argument.as_map().size());
        if (size >= 0) return set(out, Value::integer(size));
        break;
      }
      case Builtin::kLowerAscii: {
        if (argument.kind() != Kind::kString) break;
        const std::string& text = argument.as_string();
        if (text.size() > options_.max_value_size) break;  // check_size() words the error
        std::size_t upper = 0;
        while (upper < text.size() && !(text[upper] >= 'A' && text[upper] <= 'Z')) ++upper;
        if (upper == text.size()) return argument;  // already lower case: the same value
        std::string lowered = text;
        for (std::size_t i = upper; i < lowered.size(); ++i) {
          if (lowered[i] >= 'A' && lowered[i] <= 'Z') lowered[i] = static_cast<char>(lowered[i] - 'A' + 'a');
        }
        return set(out, Value::string(std::move(lowered)));
      }
      case Builtin::kTrim: {
        if (argument.kind() != Kind::kString) break;
        const std::string& text = argument.as_string();
        if (text.size() > options_.max_value_size) break;  // check_size() words the error
        // Nothing to trim when both ends are ASCII and not white space: the same value.
        if (text.empty() || (!may_be_space(text.front()) && !may_be_space(text.back()))) return argument;
        break;
      }
      default: break;
    }
    const Value copy = &argument == &out ? std::move(out) : argument;
    return check_size(out, call_builtin(node.builtin, std::span<const Value>(&copy, 1)));
  }

  // The compiled form of a glob pattern, compiled on first use in this scratch; nullptr when it does
  // not compile (the general path then reports the error in the reference's words).
  const GlobPattern* cached_glob(const Value& pattern) {
    std::vector<State::CachedGlob>& globs = state_.globs;
    const std::string* key = &pattern.as_string();
    for (const State::CachedGlob& cached : globs) {
      if (&cached.pattern.as_string() == key) return &cached.glob;
    }
    auto compiled = GlobPattern::compile(*key);
    if (!compiled) return nullptr;
    constexpr std::size_t kMaxCachedGlobs = 64;
    if (globs.size() == kMaxCachedGlobs) globs.erase(globs.begin());
    globs.push_back(State::CachedGlob{pattern, std::move(compiled.value())});
    return &globs.back().glob;
  }

  const Value& matches(const Node& node, Value& out) {
    if (node.child_count != 1) return set(out, invalid_program("matches takes one operand"));
    if (node.a >= program_.regexes.size() || program_.regexes[node.a] == nullptr) {
      return set(out, invalid_program("regular expression out of range"));
    }
    const Value& text = eval(program_.child(node, 0), out);
    if (text.is_error()) return text;
    if (text.kind() != Kind::kString) return set(out, no_such_overload("matches", text));
    if (!charge(operand_cost(text))) return budget_error();
    return boolean(program_.regexes[node.a]->partial_match(text.as_string()));
  }

  const Value& logical(const Node& node, Value& out, bool is_and) {
    if (node.child_count != 2) return set(out, invalid_program("logical operators take two operands"));
    const bool deciding = !is_and;
    const Value& left = eval(program_.child(node, 0), out);
    if (is_bool(left) && left.as_bool() == deciding) return left;
    Value right_temp;
    const Value& right = eval(program_.child(node, 1), right_temp);
    if (is_bool(right) && right.as_bool() == deciding) return forward(right, right_temp, out);
    const std::string_view function = is_and ? "_&&_" : "_||_";
    if (left.is_error()) return left;
    if (!is_bool(left)) return set(out, no_such_overload(function, left));
    if (right.is_error()) return forward(right, right_temp, out);
    if (!is_bool(right)) return set(out, no_such_overload(function, right));
    return forward(right, right_temp, out);
  }

  const Value& list(const Node& node, Value& out) {
    if (node.child_count > options_.max_value_size) {
      return set(out, Value::error("value too large: a list of " + std::to_string(node.child_count) + " elements"));
    }
    List items;
    items.reserve(node.child_count);
    for (std::uint32_t i = 0; i < node.child_count; ++i) {
      Value temp;
      const Value& item = eval(program_.child(node, i), temp);
      if (item.is_error()) return forward(item, temp, out);
      items.push_back(&item == &temp ? std::move(temp) : item);
    }
    return set(out, Value::list(std::move(items)));
  }

  const Value& map(const Node& node, Value& out) {
    if (node.child_count % 2 != 0) return set(out, invalid_program("a map literal needs key and value pairs"));
    MapEntries entries;
    entries.reserve(node.child_count / 2);
    for (std::uint32_t i = 0; i < node.child_count; i += 2) {
      Value key_temp;
      const Value& key_ref = eval(program_.child(node, i), key_temp);
      if (key_ref.is_error()) return forward(key_ref, key_temp, out);
      Value key = &key_ref == &key_temp ? std::move(key_temp) : key_ref;
      Value value_temp;
      const Value& value_ref = eval(program_.child(node, i + 1), value_temp);
      if (value_ref.is_error()) return forward(value_ref, value_temp, out);
      Value value = &value_ref == &value_temp ? std::move(value_temp) : value_ref;
      switch (key.kind()) {
        case Kind::kBool:
        case Kind::kInt:
        case Kind::kUint:
        case Kind::kString: break;
        default: return set(out, Value::error("unsupported map key type: " + std::string(kind_name(key.kind()))));
      }
      for (const auto& entry : entries) {
        if (entry.first == key) return set(out, Value::error("repeated map key: " + key.debug_string()));
      }
      entries.emplace_back(std::move(key), std::move(value));
    }
    return set(out, Value::map(std::move(entries)));
  }

  class LocalScope {
   public:
    LocalScope(std::vector<Value>& locals, std::uint32_t slot)
        : locals_(locals), slot_(slot), saved_(std::move(locals[slot])) {}
    ~LocalScope() { locals_[slot_] = std::move(saved_); }
    LocalScope(const LocalScope&) = delete;
    LocalScope& operator=(const LocalScope&) = delete;
    void bind(const Value& value) { locals_[slot_] = value; }

   private:
    std::vector<Value>& locals_;
    std::uint32_t slot_;
    Value saved_;
  };

  // One element of a fused comprehension: the element's text. Its lower-case form, once needed, is kept
  // in state_.lowered for lowered_for_ (the text's bytes; reset by every fused comprehension, whose
  // elements all stay alive while it runs).
  struct Element {
    std::string_view text;
    std::uint64_t size_units = 0;  // operand_cost of the text (and of its lower-case form)
  };

  std::string_view receiver(const Element& element, bool lower) {
    if (!lower) return element.text;
    if (lowered_for_ != element.text.data()) {
      std::string& buffer = state_.lowered;
      buffer.assign(element.text);
      for (char& c : buffer) c = lower_ascii(c);
      lowered_for_ = element.text.data();
    }
    return state_.lowered;
  }

  // contains/startsWith/endsWith of a constant on the element or its lower-case form; the lower-case
  // form is compared byte by byte (or word by word, PredicateNode::packed) where only a prefix or a suffix
  // matters.
  [[gnu::always_inline]] bool string_test(const PredicateNode& p, const Element& element) {
    const std::string_view text = element.text;
    if (p.packed && text.size() >= 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, text.data() + (p.builtin == Builtin::kStartsWith ? 0 : text.size() - 8), 8);
      return ((w | p.fold) & p.mask) == p.word && !p.never;
    }
    const std::string_view part = p.literal;
    switch (p.builtin) {
      case Builtin::kStartsWith:
        return text.size() >= part.size() && (p.lower ? same_lowered(text.data(), part) : same(text.data(), part));
      case Builtin::kEndsWith: {
        if (text.size() < part.size()) return false;
        const char* tail = text.data() + (text.size() - part.size());
        return p.lower ? same_lowered(tail, part) : same(tail, part);
      }
      default: return contains(receiver(element, p.lower), part);
    }
  }

  // Evaluates a predicate node on an element, adding to `units` what the general evaluator charges for
  // the nodes it stands for (the caller charges them): an operator node 1 unit (PredicateItem::units), a
  // leaf its own `units`, plus for a string test the receiver (the variable, 1 unit, or
  // lowerAscii(variable): call + variable + its operand size) and the element's operand size.
  // Returns the units as the second member: a caller's running count stays in a register.
  std::pair<bool, std::uint64_t> test(const FusedComprehension& fused, std::uint32_t index, const Element& element) {
    std::uint64_t units = 0;
    const bool result = visit(fused, fused.nodes[index], element, units);
    return {result, units};
  }
  bool test(const FusedComprehension& fused, std::uint32_t index, const Element& element, std::uint64_t& units) {
    const auto [result, added] = test(fused, index, element);
    units += added;
    return result;
  }

  // test() of one node, inlined where it is called: a leaf, a chain of `&&` or `||`, a `!`; deeper
  // operands through test().
  [[gnu::always_inline]] bool visit(const FusedComprehension& fused, const PredicateNode& p, const Element& element,
                                    std::uint64_t& units) {
    switch (p.kind) {
      case PredicateNode::Kind::kAnd:
      case PredicateNode::Kind::kOr: {
        const bool deciding = p.kind == PredicateNode::Kind::kOr;
        const PredicateItem* item = fused.items.data() + p.left;
        for (const PredicateItem* last = item + p.right; item != last; ++item) {
          units += item->units;
          const PredicateNode& operand = fused.nodes[item->node];
          const bool result =
              is_leaf(operand) ? leaf(operand, element, units) : test(fused, item->node, element, units);
          if (result == deciding) return deciding;
        }
        return !deciding;
      }
      case PredicateNode::Kind::kNot: {
        units += 1;
        const PredicateNode& operand = fused.nodes[p.left];
        return !(is_leaf(operand) ? leaf(operand, element, units) : test(fused, p.left, element, units));
      }
      default: return leaf(p, element, units);
    }
  }

  static bool is_leaf(const PredicateNode& p) {
    return p.kind != PredicateNode::Kind::kAnd && p.kind != PredicateNode::Kind::kOr &&
           p.kind != PredicateNode::Kind::kNot;
  }

  [[gnu::always_inline]] bool leaf(const PredicateNode& p, const Element& element, std::uint64_t& units) {
    switch (p.kind) {
      case PredicateNode::Kind::kTest:
        units += p.fixed_units + p.size_factor * element.size_units;
        return string_test(p, element);
      case PredicateNode::Kind::kRegex: {
        units += p.fixed_units + p.size_factor * element.size_units;
        const std::string_view text = receiver(element, p.lower);
        if (p.dfa != nullptr) {
          if (const std::optional<bool> matched = p.dfa->partial_match(text)) return *matched;
        }
        return p.regex->partial_match(text);
      }
      case PredicateNode::Kind::kGlob:
        units += p.fixed_units + p.size_factor * element.size_units;
        return plan_->globs[p.index].match(receiver(element, p.lower), state_.glob_buffers);
      case PredicateNode::Kind::kGlobAny: {
        // The pattern list is a constant: evaluating it charges range_units, its value is the plan's set.
        units += p.units + p.range_units;
        const GlobSet& set = plan_->glob_sets[p.index];
        const std::string_view text = receiver(element, p.lower);
        // The general evaluator iterates up to the first matching pattern (or through all of them), each
        // iteration charging the pattern's units, the receiver's and the element's size.
        const std::size_t first = set.first_match(text, state_.glob_buffers);
        const bool found = first < set.globs.size();
        const std::size_t iterations = found ? first + 1 : set.globs.size();
        const std::uint64_t receiver_units = p.lower ? 2 + element.size_units : 1;
        units += (iterations == 0 ? 0 : set.units_through[iterations - 1]) +
                 iterations * (receiver_units + element.size_units);
        return found;
      }
      default: return false;
    }
  }

  // Whether `value` may live in a comprehension variable's slot, which a body may rebind.
  bool in_locals(const Value& value) const {
    return &value >= locals_.data() && &value < locals_.data() + locals_.size();
  }

  // The texts of a range's elements (a map's keys), those a fused predicate takes: strings within
  // max_value_size. A `lasting` range (a fact, a constant, a memo: alive and unchanged for the whole
  // decision) is described once per decision, whichever comprehensions walk it.
  const std::vector<TextView>& text_view(const Value& range, bool lasting) {
    const void* key = range.kind() == Kind::kMap ? static_cast<const void*>(&range.as_map())
                                                 : static_cast<const void*>(&range.as_list());
    if (lasting) {
      for (State::ListView& view : state_.views) {
        if (view.key == key && view.epoch == state_.memo_epoch) return view.texts;
      }
    }
    // (A fused predicate contains no comprehension that could take a view while one is walked.)
    State::ListView& view = state_.views[lasting ? 1 + state_.next_view++ % (state_.views.size() - 1) : 0];
    view.key = lasting ? key : nullptr;
    view.epoch = state_.memo_epoch;
    view.texts.clear();
    auto add = [&](const Value& element) {
      if (element.kind() == Kind::kString && element.as_string().size() <= options_.max_value_size) {
        view.texts.push_back(TextView{element.as_string(), true});
      } else {
        view.texts.push_back(TextView{{}, false});
      }
    };
    if (range.kind() == Kind::kMap) {
      for (const auto& entry : range.as_map()) add(entry.first);
    } else {
      for (const Value& element : range.as_list()) add(element);
    }
    return view.texts;
  }

  // all/exists/exists_one/filter with a fused body (FastOp::kFusedComprehension). String elements run the
  // predicate tree, others the general body. With `kept` (size(list.filter(...)), FastOp::kFusedCount) a
  // filter counts its kept elements into *kept and returns true instead of building the list. Charges
  // are summed per element and charged once per element: only whether the total exceeds the budget
  // matters, and it is the reference's total.
  const Value& fused_comprehension(const Node& node, Value& out, const FusedComprehension& fused, std::size_t* kept) {
    if (node.child_count != 2) return set(out, invalid_program("a macro takes a range and a body"));
    if (node.a >= locals_.size()) return set(out, invalid_program("local slot out of range"));
    Value range_temp;
    const Value* evaluated = nullptr;
    if (!iterable_range(node, range_temp, out, evaluated)) return *evaluated;
    const Value& range_ref = *evaluated;
    // A range in a variable's slot is held by value: the general body of a non-string element may rebind it.
    Value held;
    const bool in_slot = in_locals(range_ref);
    if (in_slot) held = range_ref;
    const Value& range = in_slot ? held : range_ref;
    const bool over_map = range.kind() == Kind::kMap;
    const std::size_t count = over_map ? range.as_map().size() : range.as_list().size();
    const Value* items = over_map ? nullptr : range.as_list().data();
    // The elements' texts, kept for the decision when the range outlives this call (a fact, a memo).
    const std::vector<TextView>& texts = text_view(range, /*lasting=*/!in_slot && &range_ref != &range_temp);
    const PredicateNode& root = fused.nodes[fused.root];
    lowered_for_ = nullptr;
    const ExprId body = program_.child(node, 1);
    LocalScope scope(locals_, node.a);
    const Macro macro = node.macro;
    const bool deciding = macro == Macro::kExists;  // all/exists: the value that decides
    const std::uint64_t budget = options_.cost_budget;
    Value first_error;
    std::size_t matched = 0;
    List results;
    // A filter that has kept every element so far: its result is the range itself, with no new list.
    bool whole = !over_map && kept == nullptr;
    for (std::size_t i = 0; i < count; ++i) {
      bool result = false;
      if (texts[i].is_text) {
        const Element e{texts[i].text, texts[i].text.size() / 64};
        std::uint64_t units = 1;  // the iteration
        result = visit(fused, root, e, units);
        cost_ += units;
        if (cost_ > budget) {
          exhausted_ = true;
          return budget_error();
        }
      } else {
        const Value& element = over_map ? range.as_map()[i].first : items[i];
        if (!charge(1)) return budget_error();
        scope.bind(element);
        Value temp;
        const Value& value = eval(body, temp);
        if (exhausted_) return budget_error();
        if (!is_bool(value)) {
          switch (macro) {
            case Macro::kAll:
            case Macro::kExists:
              if (!first_error.is_error()) {
                first_error = value.is_error() ? value : no_such_overload(deciding ? "exists" : "all", value);
              }
              continue;
            case Macro::kExistsOne:
              if (value.is_error()) return set(out, Value(value));
              return set(out, no_such_overload("exists_one", value));
            default:
              if (value.is_error()) return set(out, Value(value));
              return set(out, no_such_overload("filter", value));
          }
        }
        result = value.as_bool();
      }
      switch (macro) {
        case Macro::kAll:
        case Macro::kExists:
          if (result == deciding) return boolean(deciding);
          break;
        case Macro::kExistsOne: matched += result ? 1 : 0; break;
        default:
          if (kept != nullptr) {
            *kept += result ? 1 : 0;
          } else if (whole) {
            if (result) break;
            whole = false;  // the first element left out: the list so far is the elements before it
            if (i > 0) {
              results.reserve(count - 1);
              results.assign(items, items + i);
            }
          } else if (result) {
            if (results.empty()) results.reserve(count - i);
            results.push_back(over_map ? range.as_map()[i].first : items[i]);
          }
          break;
      }
    }
    switch (macro) {
      case Macro::kAll:
      case Macro::kExists:
        if (first_error.is_error()) return set(out, std::move(first_error));
        return boolean(!deciding);
      case Macro::kExistsOne: return boolean(matched == 1);
      default:
        if (kept != nullptr) return boolean(true);
        if (whole) return set(out, Value(range));  // the same elements: the same immutable list
        if (results.empty()) return state_.empty_list;
        return set(out, Value::list(std::move(results)));
    }
  }

  // size(list.filter(x, p)) (FastOp::kFusedCount): what call_one() charges and returns for the filter's
  // list, without building it.
  const Value& fused_count(const Node& node, Value& out, const FusedComprehension& fused) {
    const ExprId filter = program_.child(node, 0);
    if (!charge(1)) return budget_error();  // the filter node, visited by eval()
    std::size_t kept = 0;
    const Value& result = fused_comprehension(program_.nodes[filter], out, fused, &kept);
    if (result.is_error()) return result;
    if (!charge(kept)) return budget_error();  // size()'s operand: the list of kept elements
    return set(out, Value::integer(static_cast<std::int64_t>(kept)));
  }

  // The exists body of a FusedMapTest on an element's size.
  static bool compare(const FusedMapTest& fused, std::int64_t size) {
    const std::int64_t a = fused.variable_left ? size : fused.constant;
    const std::int64_t b = fused.variable_left ? fused.constant : size;
    switch (fused.op) {
      case Builtin::kEqual: return a == b;
      case Builtin::kNotEqual: return a != b;
      default: return ordered(fused.op, a, b);
    }
  }

  // range.map(x, size(x)).exists(y, y OP n) and .all(...) (FastOp::kFusedMapExists): one pass over the
  // range. The map visits every element (iteration, size() call, variable and the element's operand
  // size) and fails on the first element size() rejects; the exists then visits elements up to the
  // deciding one (iteration, comparison, variable, constant; ints have no operand size).
  const Value& fused_map_exists(const Node& node, Value& out, const FusedMapTest& fused) {
    if (!charge(1)) return budget_error();  // the map node
    Value range_temp;
    const Value& range = eval(fused.range, range_temp);
    if (range.is_error()) return forward(range, range_temp, out);
    if (range.kind() != Kind::kList && range.kind() != Kind::kMap) {
      return set(out, Value::error("type " + std::string(kind_name(range.kind())) + " cannot be iterated"));
    }
    const bool over_map = range.kind() == Kind::kMap;
    const std::size_t count = over_map ? range.as_map().size() : range.as_list().size();
    const bool deciding = node.macro == Macro::kExists;
    std::size_t decided = count;  // the first element whose test is `deciding`
    std::uint64_t units = 0;
    // size() counts a string's code points, between 0 and its byte count: for an order comparison, when
    // both bounds compare alike the count is not needed.
    const bool ordering = fused.op != Builtin::kEqual && fused.op != Builtin::kNotEqual;
    const bool at_zero = compare(fused, 0);
    const std::vector<TextView>& texts = text_view(range, !in_locals(range) && &range != &range_temp);
    for (std::size_t i = 0; i < count; ++i) {
      units += 3;
      if (texts[i].is_text) {
        const std::string_view text = texts[i].text;
        units += text.size() / 64;
        if (decided != count) continue;  // decided: only the map's charges remain
        const bool result = ordering && at_zero == compare(fused, static_cast<std::int64_t>(text.size()))
                                ? at_zero
                                : compare(fused, static_cast<std::int64_t>(internal::count_code_points(text)));
        if (result == deciding) decided = i;
        continue;
      }
      const Value& element = over_map ? range.as_map()[i].first : range.as_list()[i];
      std::int64_t size = 0;
      switch (element.kind()) {
        case Kind::kString: {  // over max_value_size: size() takes it all the same
          const std::string& text = element.as_string();
          units += text.size() / 64;
          if (decided != count) continue;
          size = static_cast<std::int64_t>(internal::count_code_points(text));
          break;
        }
        case Kind::kBytes:
          units += element.as_string().size() / 64;
          size = static_cast<std::int64_t>(element.as_string().size());
          break;
        case Kind::kList:
          units += element.as_list().size();
          size = static_cast<std::int64_t>(element.as_list().size());
          break;
        case Kind::kMap:
          units += element.as_map().size();
          size = static_cast<std::int64_t>(element.as_map().size());
          break;
        default: {
          if (!charge(units)) return budget_error();
          Value result = call_builtin(Builtin::kSize, std::span<const Value>(&element, 1));
          if (result.is_error() || result.kind() != Kind::kInt) {
            if (!result.is_error()) result = invalid_program("size() returned a non-int");
            return set(out, std::move(result));
          }
          units = 0;
          size = result.as_int();
          break;
        }
      }
      if (decided == count && compare(fused, size) == deciding) decided = i;
    }
    units += 4 * (decided == count ? count : decided + 1);
    if (!charge(units)) return budget_error();
    return boolean(decided == count ? !deciding : deciding);
  }

  const Value& comprehension(const Node& node, Value& out) {
    const bool is_map_with_filter = node.macro == Macro::kMap && node.child_count == 3;
    if (node.child_count != 2 && !is_map_with_filter) {
      return set(out, invalid_program("a macro takes a range and a body"));
    }
    if (node.a >= locals_.size()) return set(out, invalid_program("local slot out of range"));
    Value range_temp;
    const Value* evaluated = nullptr;
    if (!iterable_range(node, range_temp, out, evaluated)) return *evaluated;
    const Value& range_ref = *evaluated;
    // Hold the range by value: a reference to a local could be rebound by the body.
    const Value range = &range_ref == &range_temp ? std::move(range_temp) : range_ref;
    const bool over_map = range.kind() == Kind::kMap;
    const std::size_t count = over_map ? range.as_map().size() : range.as_list().size();
    auto item = [&](std::size_t i) -> const Value& { return over_map ? range.as_map()[i].first : range.as_list()[i]; };
    const ExprId body = program_.child(node, 1);
    LocalScope scope(locals_, node.a);
    auto run_body = [&](std::size_t i, ExprId expr, Value& temp) -> const Value& {
      scope.bind(item(i));
      return eval(expr, temp);
    };

    switch (node.macro) {
      case Macro::kAll:
      case Macro::kExists: {
        const bool deciding = node.macro == Macro::kExists;
        Value first_error;
        for (std::size_t i = 0; i < count; ++i) {
          if (!charge(1)) return budget_error();
          Value temp;
          const Value& result = run_body(i, body, temp);
          if (is_bool(result)) {
            if (result.as_bool() == deciding) return boolean(deciding);
          } else if (!first_error.is_error()) {
            first_error = result.is_error() ? result : no_such_overload(deciding ? "exists" : "all", result);
          }
        }
        if (first_error.is_error()) return set(out, std::move(first_error));
        return boolean(!deciding);
      }
      case Macro::kExistsOne: {
        std::size_t matched = 0;
        for (std::size_t i = 0; i < count; ++i) {
          if (!charge(1)) return budget_error();
          Value temp;
          const Value& result = run_body(i, body, temp);
          if (result.is_error()) return set(out, Value(result));
          if (!is_bool(result)) return set(out, no_such_overload("exists_one", result));
          if (result.as_bool()) ++matched;
        }
        return boolean(matched == 1);
      }
      case Macro::kMap:
      case Macro::kFilter: {
        const bool is_filter = node.macro == Macro::kFilter;
        const ExprId predicate = is_filter ? body : (is_map_with_filter ? program_.child(node, 2) : kNoExpr);
        List results;
        for (std::size_t i = 0; i < count; ++i) {
          if (!charge(1)) return budget_error();
          if (predicate != kNoExpr) {
            Value temp;
            const Value& keep = is_filter ? run_body(i, predicate, temp) : (scope.bind(item(i)), eval(predicate, temp));
            if (keep.is_error()) return set(out, Value(keep));
            if (!is_bool(keep)) return set(out, no_such_overload(is_filter ? "filter" : "map", keep));
            if (!keep.as_bool()) continue;
          }
          if (results.empty()) results.reserve(count - i);
          if (is_filter) {
            results.push_back(item(i));
          } else {
            scope.bind(item(i));
            Value temp;
            const Value& transformed = eval(body, temp);
            if (transformed.is_error()) return set(out, Value(transformed));
            results.push_back(&transformed == &temp ? std::move(temp) : transformed);
          }
        }
        return set(out, Value::list(std::move(results)));
      }
    }
    return set(out, invalid_program("unknown macro"));
  }

  const Program& program_;
  const EvaluationPlan* plan_;
  const Facts& facts_;
  const EvaluationOptions& options_;
  State& state_;
  std::vector<Value>& locals_;
  std::size_t fact_count_;
  std::uint64_t cost_ = 0;
  bool exhausted_ = false;
  std::uint32_t text_depth_ = 0;       // operand_texts in use
  const char* lowered_for_ = nullptr;  // the element whose lower-case form state_.lowered holds
};

std::string condition_error(std::string_view clause, const Value& value) {
  if (value.is_error()) return value.as_string();
  return "`" + std::string(clause) + "` must be a bool, got " + std::string(kind_name(value.kind()));
}

const std::string& rule_name(const Program& program, const PlannedRule& planned) {
  if (planned.rule == kOtherwiseRule) return kOtherwiseName;
  return program.policies[planned.policy].rules[planned.rule].name;
}

const Rule& rule_of(const Program& program, const PlannedRule& planned) {
  const Policy& policy = program.policies[planned.policy];
  return planned.rule == kOtherwiseRule ? policy.otherwise : policy.rules[planned.rule];
}

// Judges the candidate policies and rules into the scratch.
class Judge {
 public:
  Judge(const Program& program, const EvaluationPlan& plan, const Facts& facts, const EvaluationOptions& options,
        State& state)
      : program_(program),
        plan_(plan),
        facts_(facts),
        state_(state),
        fast_(plan_applies(options)),
        expressions_(program, fast_ ? &plan : nullptr, facts, options, state) {
    use_index_ = fast_ && index_is_exact(options);
  }

  void run() {
    State& s = state_;
    s.matches.clear();
    s.errors.clear();
    s.roles.clear();
    s.applicable.clear();
    s.approvals = 0;
    s.any_applicable = s.any_deny = s.any_escalate = false;
    const std::size_t policy_count = program_.policies.size();
    if (s.policy_epoch.size() < policy_count) {
      s.policy_epoch.resize(policy_count, 0);
      s.matched_epoch.resize(policy_count, 0);
    }
    if (++s.epoch == 0) {  // wrapped: forget every old mark
      std::fill(s.policy_epoch.begin(), s.policy_epoch.end(), 0);
      std::fill(s.matched_epoch.begin(), s.matched_epoch.end(), 0);
      s.epoch = 1;
    }

    const std::uint8_t code = channel_code();
    static constexpr std::array<std::uint8_t, 4> kChannelBits = {0, kChannelUpload, kChannelImport, kChannelEgress};
    const std::uint8_t bit = kChannelBits[code];
    for (std::uint32_t p : plan_.unkeyed_policies[code]) consider_policy(p);
    for_each_candidate(plan_.policy_index, [&](std::uint32_t p) {
      const std::uint8_t channels = program_.policies[p].channels;
      const bool applies = bit == 0 ? channels == kChannelAny : (channels & bit) != 0;
      if (applies) consider_policy(p);
    });

    for (std::uint32_t p : s.applicable) {
      for (std::uint32_t id : plan_.policies[p].unkeyed_rules) judge_rule(id);
    }
    if (!s.applicable.empty()) {
      for_each_candidate(plan_.rule_index, [&](std::uint32_t id) {
        if (s.policy_epoch[plan_.rules[id].policy] == s.epoch) judge_rule(id);
      });
    }
    for (std::uint32_t p : s.applicable) {
      if (s.matched_epoch[p] != s.epoch) apply(plan_.policies[p].otherwise);
    }
  }

 private:
  // See evaluation_plan.cpp: the index may skip rules only when the conjuncts before any key cannot
  // run out of the cost budget. The facts' walk_bound() answers without reading the guard facts (a
  // transfer's facts are rarely in cache); only when it is too high are the guard facts themselves read.
  bool index_is_exact(const EvaluationOptions& options) const {
    auto within = [&](std::uint64_t largest) {
      const long double bound = static_cast<long double>(plan_.guard_static) +
                                static_cast<long double>(plan_.guard_fact_count) * static_cast<long double>(largest);
      return bound <= static_cast<long double>(options.cost_budget);
    };
    if (within(facts_.walk_bound())) return true;
    std::uint64_t largest = 0;
    for (FactSlot slot : plan_.guard_slots) largest = std::max(largest, operand_cost(facts_.get(slot)));
    return within(largest);
  }

  std::uint8_t channel_code() const {
    if (!plan_.channel_slot) return 0;
    const Value& channel = facts_.get(*plan_.channel_slot);
    if (channel.kind() != Kind::kString) return 0;
    const std::string_view name = channel.as_string();  // lengths first, no strlen()
    if (name == "upload"sv) return 1;
    if (name == "import"sv) return 2;
    if (name == "egress"sv) return 3;
    return 0;
  }

  template <typename Visit>
  void for_each_candidate(const KeyIndex& index, Visit visit) const {
    for (const SlotIndex& slot_index : index.slots) {
      const Value& value = facts_.get(slot_index.slot);
      const bool expected = slot_index.is_string ? value.kind() == Kind::kString : value.kind() == Kind::kInt;
      if (!use_index_ || !expected) {
        for (std::uint32_t id : slot_index.all) visit(id);
        continue;
      }
      const std::vector<std::uint32_t>* ids = nullptr;
      if (slot_index.is_string) {
        ids = slot_index.find(value.as_string());
      } else {
        const std::int64_t number = value.as_int();
        auto it = slot_index.ints.find(number);
        if (it != slot_index.ints.end()) ids = &it->second;
        for (const auto& [bound, id] : slot_index.at_least) {
          if (bound > number) break;
          visit(id);
        }
        for (const auto& [bound, id] : slot_index.at_most) {
          if (bound < number) break;
          visit(id);
        }
      }
      if (ids != nullptr) {
        for (std::uint32_t id : *ids) visit(id);
      }
    }
  }

  void consider_policy(std::uint32_t p) {
    const Policy& policy = program_.policies[p];
    if (policy.when != kNoExpr) {
      Value temp;
      const Value& when = expressions_.run(policy.when, temp);
      if (!is_bool(when)) {
        record_error(p, &kWhenRule, condition_error("when", when), &plan_.policies[p].location);
        return;
      }
      if (!when.as_bool()) return;
    }
    state_.any_applicable = true;
    state_.policy_epoch[p] = state_.epoch;
    state_.applicable.push_back(p);
  }

  void record_error(std::uint32_t policy, const std::string* rule, std::string message, const std::string* location) {
    state_.errors.push_back(ErrorRecord{policy, rule, std::move(message), location});
  }

  // The value of a rule's `when` or `unless`; nullopt, with the error recorded, when it is not a bool.
  std::optional<bool> condition(const PlannedRule& planned, ExprId id, std::string_view clause) {
    Value temp;
    const Value& value = expressions_.run(id, temp);
    if (!is_bool(value)) {
      record_error(planned.policy, &rule_name(program_, planned), condition_error(clause, value), &planned.location);
      return std::nullopt;
    }
    return value.as_bool();
  }

  void judge_rule(std::uint32_t id) {
    const PlannedRule& planned = plan_.rules[id];
    if (planned.when != kNoExpr) {
      std::optional<bool> when;
      if (fast_ && planned.when_tests.count != 0) {
        when = expressions_.conjunction(&plan_.conjuncts[planned.when_tests.first], planned.when_tests.count);
      }
      if (!when.has_value()) when = condition(planned, planned.when, "when");
      if (!when.value_or(false)) return;
    }
    if (planned.unless != kNoExpr && condition(planned, planned.unless, "unless").value_or(true)) return;
    state_.matched_epoch[planned.policy] = state_.epoch;
    apply(id);
  }

  void apply(std::uint32_t id) {
    const PlannedRule& planned = plan_.rules[id];
    const Rule& rule = rule_of(program_, planned);
    state_.matches.emplace_back();
    MatchRecord& record = state_.matches.back();
    record.id = id;
    if (rule.because != kNoExpr) {
      const auto index = static_cast<std::uint32_t>(state_.matches.size() - 1);
      if (state_.reason_texts.size() <= index) state_.reason_texts.resize(index + 1);
      Value temp;
      const Value* reason = expressions_.run_text(rule.because, state_.reason_texts[index], temp);
      if (reason == nullptr) {  // built by `+` into reason_texts[index]
        record.has_reason = true;
        record.text = index;
      } else if (reason->kind() == Kind::kString) {
        record.has_reason = true;
        if (reason == &temp) {
          record.owned = true;
          record.owned_reason = std::move(temp);
        } else {
          record.reason = reason;
        }
      } else {
        std::string message = reason->is_error()
                                  ? reason->as_string()
                                  : "`because` must be a string, got " + std::string(kind_name(reason->kind()));
        record_error(planned.policy, &rule_name(program_, planned), std::move(message), &planned.location);
      }
    }
    switch (rule.effect) {
      case Effect::kDeny: state_.any_deny = true; break;
      case Effect::kEscalate:
        state_.any_escalate = true;
        if (rule.roles.empty()) {
          state_.roles.push_back(&kDefaultReviewer);
        } else {
          for (const std::string& role : rule.roles) state_.roles.push_back(&role);
        }
        state_.approvals = std::max<std::uint32_t>(state_.approvals, rule.approvals);
        break;
      case Effect::kApprove: break;
    }
  }

  const Program& program_;
  const EvaluationPlan& plan_;
  const Facts& facts_;
  State& state_;
  const bool fast_;  // the plan's fast forms and compiled conjunctions apply (plan_applies())
  FastExpressions expressions_;
  bool use_index_ = true;
};

// The plan to evaluate with: the program's own, or one built for this call.
const EvaluationPlan& plan_for(const Program& program, std::shared_ptr<const EvaluationPlan>& local) {
  if (program.plan != nullptr && program.plan->fits(program)) return *program.plan;
  local = build_evaluation_plan(program);
  return *local;
}

// Sorts the matches into the Decision's order and settles the outcome and reviewers.
OutcomeSummary summarise(const EvaluationPlan& plan, State& s) {
  s.order.resize(s.matches.size());
  for (std::uint32_t i = 0; i < s.order.size(); ++i) s.order[i] = i;
  std::sort(s.order.begin(), s.order.end(), [&](std::uint32_t x, std::uint32_t y) {
    const MatchRecord& a = s.matches[x];
    const MatchRecord& b = s.matches[y];
    const PlannedRule& ra = plan.rules[a.id];
    const PlannedRule& rb = plan.rules[b.id];
    if (ra.group != rb.group) return ra.group < rb.group;
    // Only hand-built programs repeat a (policy, rule, effect): then the reference orders by reason, location.
    static const std::string kNoReason;
    const std::string& reason_a = a.has_reason ? a.reason_text(s.reason_texts) : kNoReason;
    const std::string& reason_b = b.has_reason ? b.reason_text(s.reason_texts) : kNoReason;
    return std::tie(reason_a, ra.location) < std::tie(reason_b, rb.location);
  });
  s.rules.clear();
  for (std::uint32_t i : s.order) {
    const PlannedRule& planned = plan.rules[s.matches[i].id];
    s.rules.push_back(RuleRef{planned.policy, planned.rule});
  }
  OutcomeSummary summary;
  summary.rules = s.rules;
  summary.error_count = s.errors.size();
  if (s.any_deny) {
    summary.outcome = Outcome::kDeny;
    s.roles.clear();
    return summary;
  }
  if (s.any_escalate || !s.errors.empty() || !s.any_applicable) {
    summary.outcome = Outcome::kEscalate;
    if (!s.any_escalate && s.errors.empty()) {  // no policy applies
      s.roles.clear();
      s.approvals = 0;
    }
    if (s.roles.empty()) s.roles.push_back(&kDefaultReviewer);
    auto less = [](const std::string* a, const std::string* b) { return *a < *b; };
    auto same = [](const std::string* a, const std::string* b) { return *a == *b; };
    std::sort(s.roles.begin(), s.roles.end(), less);
    s.roles.erase(std::unique(s.roles.begin(), s.roles.end(), same), s.roles.end());
    summary.roles = s.roles;
    summary.approvals = std::max(s.approvals, static_cast<std::uint32_t>(s.roles.size()));
    return summary;
  }
  summary.outcome = Outcome::kApprove;
  s.roles.clear();
  return summary;
}

// Appends "sde-ingress.no_executables: executable files may not enter a workspace".
void append_description(std::string& out, const MatchedRule& rule) {
  out += rule.policy;
  out += '.';
  out += rule.rule;
  if (!rule.reason.empty()) {
    out += ": "sv;
    out += rule.reason;
  }
}

// Appends "error in POLICY.RULE: MESSAGE".
void append_description(std::string& out, const EvaluationError& error) {
  out += "error in "sv;
  out += error.policy;
  out += '.';
  out += error.rule;
  out += ": "sv;
  out += error.message;
}

template <typename Item>
void append_item(std::string& summary, const Item& item, bool& first) {
  if (!first) summary += "; "sv;
  append_description(summary, item);
  first = false;
}

// Resizes `items` to `size`. The elements a shrink would destroy are moved into `spare`, and a growth takes
// them back, so their strings keep their capacity from one decision to the next.
template <typename T>
void resize_keeping(std::vector<T>& items, std::size_t size, std::vector<T>& spare) {
  while (items.size() > size) {
    spare.push_back(std::move(items.back()));
    items.pop_back();
  }
  while (items.size() < size) {
    if (spare.empty()) {
      items.emplace_back();
    } else {
      items.push_back(std::move(spare.back()));
      spare.pop_back();
    }
  }
}

// The Decision in the reference's words, from the summary and the records in the scratch, written into
// `decision` with assign() and resize_keeping() only, so that its strings and vectors keep their capacity from
// one decision to the next: a warmed-up Decision takes no allocation here.
void build_decision(const Program& program, const EvaluationPlan& plan, State& s, const OutcomeSummary& summary,
                    Decision& decision) {
  decision.policy_set.assign(program.policy_set);
  decision.outcome = summary.outcome;
  resize_keeping(decision.rules, s.order.size(), s.spare_rules);
  for (std::size_t k = 0; k < s.order.size(); ++k) {
    const MatchRecord& record = s.matches[s.order[k]];
    const PlannedRule& planned = plan.rules[record.id];
    MatchedRule& matched = decision.rules[k];
    matched.policy.assign(program.policies[planned.policy].name);
    matched.rule.assign(rule_name(program, planned));
    matched.effect = rule_of(program, planned).effect;
    if (record.has_reason) {
      matched.reason.assign(record.reason_text(s.reason_texts));
    } else {
      matched.reason.clear();
    }
    matched.location.assign(planned.location);
  }
  resize_keeping(decision.errors, s.errors.size(), s.spare_errors);
  for (std::size_t k = 0; k < s.errors.size(); ++k) {
    const ErrorRecord& record = s.errors[k];
    EvaluationError& error = decision.errors[k];
    error.policy.assign(program.policies[record.policy].name);
    error.rule.assign(*record.rule);
    error.message.assign(record.message);
    error.location.assign(*record.location);
  }
  std::sort(decision.errors.begin(), decision.errors.end(), [](const EvaluationError& a, const EvaluationError& b) {
    return std::tie(a.policy, a.rule, a.message, a.location) < std::tie(b.policy, b.rule, b.message, b.location);
  });

  if (summary.outcome != Outcome::kEscalate) {  // no reviewers
    resize_keeping(decision.reviewers.roles, 0, s.spare_roles);
    decision.reviewers.approvals = 0;
  }
  std::string& reason = decision.reason;
  bool first = true;
  switch (summary.outcome) {
    case Outcome::kDeny:
      reason.assign("denied by "sv);
      for (const MatchedRule& rule : decision.rules) {
        if (rule.effect == Effect::kDeny) append_item(reason, rule, first);
      }
      return;
    case Outcome::kApprove:
      reason.assign("approved by "sv);
      for (const MatchedRule& rule : decision.rules) append_item(reason, rule, first);
      return;
    case Outcome::kEscalate: break;
  }
  std::vector<std::string>& roles = decision.reviewers.roles;
  resize_keeping(roles, summary.roles.size(), s.spare_roles);
  for (std::size_t k = 0; k < summary.roles.size(); ++k) roles[k].assign(*summary.roles[k]);
  decision.reviewers.approvals = summary.approvals;
  if (!s.any_escalate && decision.errors.empty()) {
    reason.assign("no policy applies"sv);
    return;
  }
  reason.assign("escalated to "sv);
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (i > 0) reason += ", "sv;
    reason += roles[i];
  }
  reason += " ("sv;
  std::array<char, 16> digits{};
  auto written = std::to_chars(digits.data(), digits.data() + digits.size(), summary.approvals);
  reason.append(digits.data(), written.ptr);
  reason += summary.approvals == 1 ? " approval): "sv : " approvals): "sv;
  for (const MatchedRule& rule : decision.rules) {
    if (rule.effect == Effect::kEscalate) append_item(reason, rule, first);
  }
  for (const EvaluationError& error : decision.errors) append_item(reason, error, first);
}

// The summary of the reference's Decision: for facts of a schema other than the program's, which the
// plan's slots do not describe. Rare, so it may allocate.
OutcomeSummary summarise_reference(const Program& program, const Facts& facts, State& s,
                                   const EvaluationOptions& options) {
  const Decision decision = evaluate_reference(program, facts, options);
  s.rules.clear();
  for (const MatchedRule& matched : decision.rules) {
    for (std::uint32_t p = 0; p < program.policies.size(); ++p) {
      const Policy& policy = program.policies[p];
      if (policy.name != matched.policy) continue;
      RuleRef ref{p, kOtherwiseRule};
      for (std::uint32_t r = 0; r < policy.rules.size(); ++r) {
        if (policy.rules[r].name == matched.rule) ref.rule = r;
      }
      s.rules.push_back(ref);
      break;
    }
  }
  s.owned_roles = decision.reviewers.roles;
  s.roles.clear();
  for (const std::string& role : s.owned_roles) s.roles.push_back(&role);
  OutcomeSummary summary;
  summary.outcome = decision.outcome;
  summary.rules = s.rules;
  summary.roles = s.roles;
  summary.approvals = decision.reviewers.approvals;
  summary.error_count = decision.errors.size();
  return summary;
}

}  // namespace

OutcomeSummary evaluate_outcome(const Program& program, const Facts& facts, EvaluationScratch& scratch,
                                const EvaluationOptions& options) {
  if (&facts.schema() != program.schema) return summarise_reference(program, facts, scratch.state(), options);
  std::shared_ptr<const EvaluationPlan> local;
  const EvaluationPlan& plan = plan_for(program, local);
  State& state = scratch.state();
  Judge(program, plan, facts, options, state).run();
  return summarise(plan, state);
}

void evaluate(const Program& program, const Facts& facts, EvaluationScratch& scratch, Decision& decision,
              const EvaluationOptions& options) {
  // The plan's slots and kinds come from the program's schema; facts of another schema get the reference.
  if (&facts.schema() != program.schema) {
    decision = evaluate_reference(program, facts, options);
    return;
  }
  std::shared_ptr<const EvaluationPlan> local;
  const EvaluationPlan& plan = plan_for(program, local);
  State& state = scratch.state();
  Judge(program, plan, facts, options, state).run();
  const OutcomeSummary summary = summarise(plan, state);
  build_decision(program, plan, state, summary, decision);
}

Decision evaluate(const Program& program, const Facts& facts, EvaluationScratch& scratch,
                  const EvaluationOptions& options) {
  Decision decision;
  evaluate(program, facts, scratch, decision, options);
  return decision;
}

Decision evaluate(const Program& program, const Facts& facts, const EvaluationOptions& options) {
  EvaluationScratch scratch;
  return evaluate(program, facts, scratch, options);
}

Value evaluate_constant_expression(const Program& program, ExprId id, std::uint64_t& cost) {
  const Facts facts(*program.schema);
  const EvaluationOptions options;
  EvaluationScratch scratch;
  FastExpressions expressions(program, nullptr, facts, options, scratch.state());
  Value out;
  const Value& result = expressions.run(id, out);
  cost = expressions.cost();
  return &result == &out ? std::move(out) : result;
}

Value evaluate_expression(const Program& program, const Facts& facts, ExprId root, const EvaluationOptions& options) {
  if (root == kNoExpr) root = program.root;
  if (root == kNoExpr) return Value::error("the program has no expression to evaluate");
  // Used while a program is still being built (constant folding), so a missing or stale plan is
  // simply not used here: every node then runs in its general form.
  const EvaluationPlan* plan = nullptr;
  if (program.plan != nullptr && program.plan->fits(program) && &facts.schema() == program.schema &&
      plan_applies(options)) {
    plan = program.plan.get();
  }
  EvaluationScratch scratch;
  FastExpressions expressions(program, plan, facts, options, scratch.state());
  Value out;
  const Value& result = expressions.run(root, out);
  return &result == &out ? std::move(out) : result;
}

}  // namespace airlock::runtime
