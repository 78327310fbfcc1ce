// Builds runtime::Programs by hand for the evaluator's tests, without the compiler.
#pragma once

#include <algorithm>
#include <cassert>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "airlock/runtime/builtins.h"
#include "airlock/runtime/program.h"
#include "airlock/runtime/value.h"

namespace airlock::runtime::testing {

class ProgramBuilder {
 public:
  // ---- Expressions ----
  ExprId constant(Value value) {
    program_.constants.push_back(std::move(value));
    return add({.op = Op::kConstant, .a = index(program_.constants.size() - 1)});
  }
  ExprId boolean(bool b) { return constant(Value::boolean(b)); }
  ExprId integer(std::int64_t i) { return constant(Value::integer(i)); }
  ExprId string(std::string s) { return constant(Value::string(std::move(s))); }
  ExprId error(std::string message) { return constant(Value::error(std::move(message))); }

  ExprId fact(std::string_view path) { return add({.op = Op::kFact, .a = slot(path)}); }
  ExprId fact_has(std::string_view path) { return add({.op = Op::kFactHas, .a = slot(path)}); }
  ExprId local(std::uint32_t slot) {
    program_.local_count = std::max(program_.local_count, slot + 1);
    return add({.op = Op::kLocal, .a = slot});
  }
  ExprId select(ExprId operand, std::string field) { return field_node(Op::kSelect, operand, std::move(field)); }
  ExprId has(ExprId operand, std::string field) { return field_node(Op::kHas, operand, std::move(field)); }
  ExprId call(Builtin builtin, std::initializer_list<ExprId> arguments) {
    return add({.op = Op::kCall, .builtin = builtin}, arguments);
  }
  ExprId matches(ExprId text, std::string_view pattern) {
    auto regex = CompiledRegex::compile(pattern);
    assert(regex.is_ok());
    program_.regexes.push_back(*regex);
    return add({.op = Op::kMatchesConst, .a = index(program_.regexes.size() - 1)}, {text});
  }
  ExprId and_(ExprId left, ExprId right) { return add({.op = Op::kAnd}, {left, right}); }
  ExprId or_(ExprId left, ExprId right) { return add({.op = Op::kOr}, {left, right}); }
  ExprId not_(ExprId operand) { return add({.op = Op::kNot}, {operand}); }
  ExprId conditional(ExprId condition, ExprId yes, ExprId no) {
    return add({.op = Op::kConditional}, {condition, yes, no});
  }
  ExprId list(std::initializer_list<ExprId> items) { return add({.op = Op::kList}, items); }
  ExprId list(const std::vector<ExprId>& items) { return add({.op = Op::kList}, items); }
  // {k0: v0, k1: v1, ...} from alternating keys and values.
  ExprId map(std::initializer_list<ExprId> keys_and_values) { return add({.op = Op::kMap}, keys_and_values); }
  // range.macro(x, body) with x in local `slot`; for map with a filter, pass {transform, filter}.
  ExprId comprehension(Macro macro, std::uint32_t slot, ExprId range, std::initializer_list<ExprId> body) {
    program_.local_count = std::max(program_.local_count, slot + 1);
    std::vector<ExprId> children{range};
    children.insert(children.end(), body.begin(), body.end());
    return add({.op = Op::kComprehension, .macro = macro, .a = slot}, children);
  }

  // ---- Policies ----
  Policy& policy(std::string name, std::uint8_t channels = kChannelAny, ExprId when = kNoExpr) {
    Policy policy;
    policy.name = std::move(name);
    policy.channels = channels;
    policy.when = when;
    policy.location = {"test.policy", static_cast<std::uint32_t>(program_.policies.size() + 1), 1};
    policy.otherwise = escalation("otherwise", {"data-approver"}, 1);
    program_.policies.push_back(std::move(policy));
    return program_.policies.back();
  }

  static Rule rule(std::string name, Effect effect, ExprId when = kNoExpr, ExprId unless = kNoExpr,
                   ExprId because = kNoExpr) {
    Rule rule;
    rule.name = std::move(name);
    rule.effect = effect;
    rule.when = when;
    rule.unless = unless;
    rule.because = because;
    rule.location = {"test.policy", 10, 3};
    return rule;
  }
  static Rule escalation(std::string name, std::vector<std::string> roles, std::uint32_t approvals,
                         ExprId when = kNoExpr, ExprId because = kNoExpr) {
    Rule rule = ProgramBuilder::rule(std::move(name), Effect::kEscalate, when, kNoExpr, because);
    rule.roles = std::move(roles);
    rule.approvals = approvals;
    return rule;
  }

  Program& program() { return program_; }
  Program build() const { return program_; }

 private:
  static std::uint32_t index(std::size_t i) { return static_cast<std::uint32_t>(i); }

  static std::uint32_t slot(std::string_view path) {
    auto found = FactSchema::standard().find(path);
    assert(found.has_value());
    return *found;
  }

  ExprId field_node(Op op, ExprId operand, std::string field) {
    program_.constants.push_back(Value::string(std::move(field)));
    return add({.op = op, .a = index(program_.constants.size() - 1)}, {operand});
  }

  ExprId add(Node node, std::initializer_list<ExprId> children = {}) {
    return add(node, std::vector<ExprId>(children));
  }
  ExprId add(Node node, const std::vector<ExprId>& children) {
    node.first_child = index(program_.children.size());
    node.child_count = index(children.size());
    program_.children.insert(program_.children.end(), children.begin(), children.end());
    program_.nodes.push_back(node);
    return index(program_.nodes.size() - 1);
  }

  Program program_;
};

}  // namespace airlock::runtime::testing
