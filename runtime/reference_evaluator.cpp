// The straightforward evaluator: walks the expression nodes and builds the Decision as it goes.
// Kept as the reference the fast evaluator (evaluator.cpp) is tested against; see reference.h.
#include "airlock/runtime/reference.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "airlock/runtime/builtins.h"

namespace airlock::runtime {
namespace {

constexpr std::string_view kBudgetExceeded = "evaluation cost budget exceeded";
constexpr std::string_view kDefaultReviewer = "data-approver";

Value no_such_overload(std::string_view function, const Value& operand) {
  return Value::error("no such overload: " + std::string(function) + " on " + std::string(kind_name(operand.kind())));
}

bool is_bool(const Value& value) { return value.kind() == Kind::kBool; }

// Evaluates expressions of one program against one set of facts. Holds all per-evaluation
// state (locals, cost), so a Program stays immutable and shareable across threads.
class ExpressionEvaluator {
 public:
  ExpressionEvaluator(const Program& program, const Facts& facts, const EvaluationOptions& options)
      : program_(program), facts_(facts), options_(options), locals_(program.local_count) {}

  // Evaluates one expression with a fresh cost budget. Exhausting the budget makes the whole
  // expression an error, even where `&&` or `||` would otherwise have absorbed it.
  Value run(ExprId root) {
    cost_ = 0;
    exhausted_ = false;
    Value result = eval(root);
    if (exhausted_) return budget_error();
    return result;
  }

 private:
  Value budget_error() {
    if (!budget_error_.is_error()) budget_error_ = Value::error(std::string(kBudgetExceeded));
    return budget_error_;
  }

  // Adds `units` to the cost; false once the budget is spent.
  bool charge(std::uint64_t units) {
    cost_ += units;
    if (cost_ > options_.cost_budget) exhausted_ = true;
    return !exhausted_;
  }

  static Value invalid_program(std::string_view what) { return Value::error("invalid program: " + std::string(what)); }

  Value eval(ExprId id) {
    if (!charge(1)) return budget_error();
    if (id >= program_.nodes.size()) return invalid_program("expression id out of range");
    const Node& node = program_.nodes[id];
    if (static_cast<std::size_t>(node.first_child) + node.child_count > program_.children.size()) {
      return invalid_program("children out of range");
    }
    switch (node.op) {
      case Op::kConstant:
        if (node.a >= program_.constants.size()) return invalid_program("constant out of range");
        return program_.constants[node.a];
      case Op::kFact:
        if (node.a >= facts_.schema().fields().size()) return invalid_program("fact slot out of range");
        return facts_.get(static_cast<FactSlot>(node.a));
      case Op::kFactHas:
        if (node.a >= facts_.schema().fields().size()) return invalid_program("fact slot out of range");
        return Value::boolean(facts_.is_set(static_cast<FactSlot>(node.a)));
      case Op::kLocal:
        if (node.a >= locals_.size()) return invalid_program("local slot out of range");
        return locals_[node.a];
      case Op::kSelect:
      case Op::kHas:
        return select(node);
      case Op::kCall:
        return call(node);
      case Op::kMatchesConst:
        return matches(node);
      case Op::kAnd:
        return logical(node, /*is_and=*/true);
      case Op::kOr:
        return logical(node, /*is_and=*/false);
      case Op::kNot: {
        if (node.child_count != 1) return invalid_program("`!` takes one operand");
        Value operand = eval(program_.child(node, 0));
        if (operand.is_error()) return operand;
        if (!is_bool(operand)) return no_such_overload("!_", operand);
        return Value::boolean(!operand.as_bool());
      }
      case Op::kConditional: {
        if (node.child_count != 3) return invalid_program("`?:` takes three operands");
        Value condition = eval(program_.child(node, 0));
        if (condition.is_error()) return condition;
        if (!is_bool(condition)) return no_such_overload("_?_:_", condition);
        return eval(program_.child(node, condition.as_bool() ? 1 : 2));
      }
      case Op::kList:
        return list(node);
      case Op::kMap:
        return map(node);
      case Op::kComprehension:
        return comprehension(node);
    }
    return invalid_program("unknown operation");
  }

  Value select(const Node& node) {
    if (node.child_count != 1) return invalid_program("field selection takes one operand");
    if (node.a >= program_.constants.size() || program_.constants[node.a].kind() != Kind::kString) {
      return invalid_program("field name is not a string constant");
    }
    Value operand = eval(program_.child(node, 0));
    if (operand.is_error()) return operand;
    const Value& field = program_.constants[node.a];
    if (operand.kind() != Kind::kMap) {
      return Value::error("type " + std::string(kind_name(operand.kind())) + " does not support field selection");
    }
    const Value* found = operand.find(field);
    if (node.op == Op::kHas) return Value::boolean(found != nullptr);
    if (found == nullptr) return Value::error("no such key: " + field.as_string());
    return *found;
  }

  // The work a builtin does grows with the size of its operands (`x in list`, `s.contains(t)`).
  static std::uint64_t operand_cost(const Value& value) {
    switch (value.kind()) {
      case Kind::kList:
        return value.as_list().size();
      case Kind::kMap:
        return value.as_map().size();
      case Kind::kString:
      case Kind::kBytes:
        return value.as_string().size() / 64;
      default:
        return 0;
    }
  }

  Value finish_call(const Node& node, std::span<const Value> arguments) {
    std::uint64_t units = 0;
    for (const Value& argument : arguments) units += operand_cost(argument);
    if (!charge(units)) return budget_error();
    Value result = call_builtin(node.builtin, arguments);
    return check_size(std::move(result));
  }

  Value check_size(Value value) {
    std::uint64_t size = 0;
    switch (value.kind()) {
      case Kind::kString:
      case Kind::kBytes:
        size = value.as_string().size();
        break;
      case Kind::kList:
        size = value.as_list().size();
        break;
      case Kind::kMap:
        size = value.as_map().size();
        break;
      default:
        return value;
    }
    if (size > options_.max_value_size) {
      return Value::error("value too large: " + std::to_string(size) + " > " + std::to_string(options_.max_value_size));
    }
    return value;
  }

  Value call(const Node& node) {
    constexpr std::uint32_t kInlineArguments = 4;
    if (node.child_count <= kInlineArguments) {
      std::array<Value, kInlineArguments> arguments;
      for (std::uint32_t i = 0; i < node.child_count; ++i) {
        arguments[i] = eval(program_.child(node, i));
        if (arguments[i].is_error()) return arguments[i];
      }
      return finish_call(node, std::span<const Value>(arguments.data(), node.child_count));
    }
    List arguments;
    arguments.reserve(node.child_count);
    for (std::uint32_t i = 0; i < node.child_count; ++i) {
      arguments.push_back(eval(program_.child(node, i)));
      if (arguments.back().is_error()) return arguments.back();
    }
    return finish_call(node, arguments);
  }

  Value matches(const Node& node) {
    if (node.child_count != 1) return invalid_program("matches takes one operand");
    if (node.a >= program_.regexes.size() || program_.regexes[node.a] == nullptr) {
      return invalid_program("regular expression out of range");
    }
    Value text = eval(program_.child(node, 0));
    if (text.is_error()) return text;
    if (text.kind() != Kind::kString) return no_such_overload("matches", text);
    if (!charge(operand_cost(text))) return budget_error();
    return Value::boolean(program_.regexes[node.a]->partial_match(text.as_string()));
  }

  // CEL's commutative `&&` and `||`: the deciding value (false for `&&`, true for `||`) wins
  // over an error or a non-bool on either side; otherwise the first error is the result.
  Value logical(const Node& node, bool is_and) {
    if (node.child_count != 2) return invalid_program("logical operators take two operands");
    const bool deciding = !is_and;
    Value left = eval(program_.child(node, 0));
    if (is_bool(left) && left.as_bool() == deciding) return left;
    Value right = eval(program_.child(node, 1));
    if (is_bool(right) && right.as_bool() == deciding) return right;
    const std::string_view function = is_and ? "_&&_" : "_||_";
    if (left.is_error()) return left;
    if (!is_bool(left)) return no_such_overload(function, left);
    if (right.is_error()) return right;
    if (!is_bool(right)) return no_such_overload(function, right);
    return right;
  }

  Value list(const Node& node) {
    if (node.child_count > options_.max_value_size) {
      return Value::error("value too large: a list of " + std::to_string(node.child_count) + " elements");
    }
    List items;
    items.reserve(node.child_count);
    for (std::uint32_t i = 0; i < node.child_count; ++i) {
      items.push_back(eval(program_.child(node, i)));
      if (items.back().is_error()) return items.back();
    }
    return Value::list(std::move(items));
  }

  Value map(const Node& node) {
    if (node.child_count % 2 != 0) return invalid_program("a map literal needs key and value pairs");
    MapEntries entries;
    entries.reserve(node.child_count / 2);
    for (std::uint32_t i = 0; i < node.child_count; i += 2) {
      Value key = eval(program_.child(node, i));
      if (key.is_error()) return key;
      Value value = eval(program_.child(node, i + 1));
      if (value.is_error()) return value;
      switch (key.kind()) {
        case Kind::kBool:
        case Kind::kInt:
        case Kind::kUint:
        case Kind::kString:
          break;
        default:
          return Value::error("unsupported map key type: " + std::string(kind_name(key.kind())));
      }
      for (const auto& entry : entries) {
        if (entry.first == key) return Value::error("repeated map key: " + key.debug_string());
      }
      entries.emplace_back(std::move(key), std::move(value));
    }
    return Value::map(std::move(entries));
  }

  // Restores a comprehension variable's slot when the comprehension ends, however it ends.
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

  Value comprehension(const Node& node) {
    const bool is_map_with_filter = node.macro == Macro::kMap && node.child_count == 3;
    if (node.child_count != 2 && !is_map_with_filter) return invalid_program("a macro takes a range and a body");
    if (node.a >= locals_.size()) return invalid_program("local slot out of range");
    Value range = eval(program_.child(node, 0));
    if (range.is_error()) return range;
    if (range.kind() != Kind::kList && range.kind() != Kind::kMap) {
      return Value::error("type " + std::string(kind_name(range.kind())) + " cannot be iterated");
    }
    const bool over_map = range.kind() == Kind::kMap;
    const std::size_t count = over_map ? range.as_map().size() : range.as_list().size();
    auto item = [&](std::size_t i) -> const Value& { return over_map ? range.as_map()[i].first : range.as_list()[i]; };
    const ExprId body = program_.child(node, 1);
    LocalScope scope(locals_, node.a);

    switch (node.macro) {
      case Macro::kAll:
      case Macro::kExists: {
        // all: false decides; exists: true decides. Otherwise the first error, else the other bool.
        const bool deciding = node.macro == Macro::kExists;
        Value first_error;
        for (std::size_t i = 0; i < count; ++i) {
          if (!charge(1)) return budget_error();
          scope.bind(item(i));
          Value result = eval(body);
          if (is_bool(result)) {
            if (result.as_bool() == deciding) return result;
          } else if (!first_error.is_error()) {
            first_error = result.is_error() ? result : no_such_overload(deciding ? "exists" : "all", result);
          }
        }
        if (first_error.is_error()) return first_error;
        return Value::boolean(!deciding);
      }
      case Macro::kExistsOne: {
        std::size_t matched = 0;
        for (std::size_t i = 0; i < count; ++i) {
          if (!charge(1)) return budget_error();
          scope.bind(item(i));
          Value result = eval(body);
          if (result.is_error()) return result;
          if (!is_bool(result)) return no_such_overload("exists_one", result);
          if (result.as_bool()) ++matched;
        }
        return Value::boolean(matched == 1);
      }
      case Macro::kMap:
      case Macro::kFilter: {
        const bool is_filter = node.macro == Macro::kFilter;
        const ExprId predicate = is_filter ? body : (is_map_with_filter ? program_.child(node, 2) : kNoExpr);
        List results;
        results.reserve(is_filter || predicate != kNoExpr ? 0 : count);
        for (std::size_t i = 0; i < count; ++i) {
          if (!charge(1)) return budget_error();
          scope.bind(item(i));
          if (predicate != kNoExpr) {
            Value keep = eval(predicate);
            if (keep.is_error()) return keep;
            if (!is_bool(keep)) return no_such_overload(is_filter ? "filter" : "map", keep);
            if (!keep.as_bool()) continue;
          }
          if (is_filter) {
            results.push_back(item(i));
          } else {
            Value transformed = eval(body);
            if (transformed.is_error()) return transformed;
            results.push_back(std::move(transformed));
          }
        }
        return Value::list(std::move(results));
      }
    }
    return invalid_program("unknown macro");
  }

  const Program& program_;
  const Facts& facts_;
  const EvaluationOptions& options_;
  std::vector<Value> locals_;
  std::uint64_t cost_ = 0;
  bool exhausted_ = false;
  Value budget_error_;
};

std::uint8_t channel_bit(const Facts& facts) {
  const auto slot = facts.schema().find("transfer.channel");
  if (!slot) return 0;
  const Value& channel = facts.get(*slot);
  if (channel.kind() != Kind::kString) return 0;
  const std::string& name = channel.as_string();
  if (name == "upload") return kChannelUpload;
  if (name == "import") return kChannelImport;
  if (name == "egress") return kChannelEgress;
  return 0;
}

bool applies_to_channel(const Policy& policy, std::uint8_t channel) {
  if (channel == 0) return policy.channels == kChannelAny;
  return (policy.channels & channel) != 0;
}

std::string location_of(const Rule& rule, const Policy& policy) {
  std::string location = rule.location.to_string();
  return location.empty() ? policy.location.to_string() : location;
}

// "sde-ingress.no_executables: executable files may not enter a workspace"
std::string describe(const MatchedRule& rule) {
  std::string text = rule.policy + "." + rule.rule;
  if (!rule.reason.empty()) text += ": " + rule.reason;
  return text;
}

std::string describe(const EvaluationError& error) {
  return "error in " + error.policy + "." + error.rule + ": " + error.message;
}

void append_item(std::string& summary, std::string_view item, bool& first) {
  summary += first ? "" : "; ";
  summary += item;
  first = false;
}

// Judges the applicable policies of one transfer.
class DecisionBuilder {
 public:
  DecisionBuilder(const Program& program, const Facts& facts, const EvaluationOptions& options)
      : program_(program), expressions_(program, facts, options) {}

  Decision build(const Facts& facts) {
    decision_.policy_set = program_.policy_set;
    const std::uint8_t channel = channel_bit(facts);
    for (const Policy& policy : program_.policies) {
      if (!applies_to_channel(policy, channel)) continue;
      if (policy.when != kNoExpr) {
        const Value when = expressions_.run(policy.when);
        if (!is_bool(when)) {
          record_error(policy, "when", condition_error("when", when), policy.location.to_string());
          continue;
        }
        if (!when.as_bool()) continue;
      }
      any_applicable_ = true;
      bool matched = false;
      for (const Rule& rule : policy.rules) matched = judge_rule(policy, rule) || matched;
      if (!matched) apply(policy, policy.otherwise, "otherwise");
    }
    combine();
    return std::move(decision_);
  }

 private:
  static std::string condition_error(std::string_view clause, const Value& value) {
    if (value.is_error()) return value.as_string();
    return "`" + std::string(clause) + "` must be a bool, got " + std::string(kind_name(value.kind()));
  }

  void record_error(const Policy& policy, std::string rule, std::string message, std::string location) {
    decision_.errors.push_back(EvaluationError{policy.name, std::move(rule), std::move(message), std::move(location)});
  }

  // Whether the rule matched; an error in `when` or `unless` is recorded and the rule does not match.
  bool judge_rule(const Policy& policy, const Rule& rule) {
    if (rule.when != kNoExpr) {
      const Value when = expressions_.run(rule.when);
      if (!is_bool(when)) {
        record_error(policy, rule.name, condition_error("when", when), location_of(rule, policy));
        return false;
      }
      if (!when.as_bool()) return false;
    }
    if (rule.unless != kNoExpr) {
      const Value unless = expressions_.run(rule.unless);
      if (!is_bool(unless)) {
        record_error(policy, rule.name, condition_error("unless", unless), location_of(rule, policy));
        return false;
      }
      if (unless.as_bool()) return false;
    }
    apply(policy, rule, rule.name);
    return true;
  }

  void apply(const Policy& policy, const Rule& rule, const std::string& name) {
    MatchedRule matched{policy.name, name, rule.effect, {}, location_of(rule, policy)};
    if (rule.because != kNoExpr) {
      Value reason = expressions_.run(rule.because);
      if (reason.kind() == Kind::kString) {
        matched.reason = reason.as_string();
      } else {
        std::string message = reason.is_error()
                                  ? reason.as_string()
                                  : "`because` must be a string, got " + std::string(kind_name(reason.kind()));
        record_error(policy, name, std::move(message), matched.location);
      }
    }
    switch (rule.effect) {
      case Effect::kDeny:
        any_deny_ = true;
        break;
      case Effect::kEscalate:
        any_escalate_ = true;
        if (rule.roles.empty()) {
          roles_.emplace_back(kDefaultReviewer);
        } else {
          roles_.insert(roles_.end(), rule.roles.begin(), rule.roles.end());
        }
        approvals_ = std::max<std::uint32_t>(approvals_, rule.approvals);
        break;
      case Effect::kApprove:
        break;
    }
    decision_.rules.push_back(std::move(matched));
  }

  void combine() {
    auto& rules = decision_.rules;
    auto& errors = decision_.errors;
    std::sort(rules.begin(), rules.end(), [](const MatchedRule& a, const MatchedRule& b) {
      return std::tie(a.policy, a.rule, a.effect, a.reason, a.location) <
             std::tie(b.policy, b.rule, b.effect, b.reason, b.location);
    });
    std::sort(errors.begin(), errors.end(), [](const EvaluationError& a, const EvaluationError& b) {
      return std::tie(a.policy, a.rule, a.message, a.location) < std::tie(b.policy, b.rule, b.message, b.location);
    });

    std::string& reason = decision_.reason;
    bool first = true;
    if (any_deny_) {
      decision_.outcome = Outcome::kDeny;
      reason = "denied by ";
      for (const MatchedRule& rule : rules) {
        if (rule.effect == Effect::kDeny) append_item(reason, describe(rule), first);
      }
      return;
    }
    if (any_escalate_ || !errors.empty()) {
      escalate(roles_, approvals_);
      for (const MatchedRule& rule : rules) {
        if (rule.effect == Effect::kEscalate) append_item(reason, describe(rule), first);
      }
      for (const EvaluationError& error : errors) append_item(reason, describe(error), first);
      return;
    }
    if (any_applicable_) {
      decision_.outcome = Outcome::kApprove;
      reason = "approved by ";
      for (const MatchedRule& rule : rules) append_item(reason, describe(rule), first);
      return;
    }
    escalate({}, 0);
    reason += "no policy applies";
  }

  // Sets the escalation and starts the reason: "escalated to a, b (2 approvals): ".
  void escalate(std::vector<std::string> roles, std::uint32_t approvals) {
    decision_.outcome = Outcome::kEscalate;
    if (roles.empty()) roles.emplace_back(kDefaultReviewer);
    std::sort(roles.begin(), roles.end());
    roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
    approvals = std::max(approvals, static_cast<std::uint32_t>(roles.size()));
    decision_.reviewers = Reviewers{std::move(roles), approvals};
    if (!any_escalate_ && decision_.errors.empty()) return;  // "no policy applies" says it all
    std::string& reason = decision_.reason;
    reason = "escalated to ";
    for (std::size_t i = 0; i < decision_.reviewers.roles.size(); ++i) {
      if (i > 0) reason += ", ";
      reason += decision_.reviewers.roles[i];
    }
    reason += " (" + std::to_string(approvals) + (approvals == 1 ? " approval): " : " approvals): ");
  }

  const Program& program_;
  ExpressionEvaluator expressions_;
  Decision decision_;
  bool any_applicable_ = false;
  bool any_deny_ = false;
  bool any_escalate_ = false;
  std::vector<std::string> roles_;
  std::uint32_t approvals_ = 0;
};

}  // namespace

Decision evaluate_reference(const Program& program, const Facts& facts, const EvaluationOptions& options) {
  DecisionBuilder builder(program, facts, options);
  return builder.build(facts);
}

Value evaluate_expression_reference(const Program& program, const Facts& facts, ExprId root,
                                    const EvaluationOptions& options) {
  if (root == kNoExpr) root = program.root;
  if (root == kNoExpr) return Value::error("the program has no expression to evaluate");
  ExpressionEvaluator evaluator(program, facts, options);
  return evaluator.run(root);
}

}  // namespace airlock::runtime
