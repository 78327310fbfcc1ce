#include "early_decision.h"

#include <algorithm>

#include "airlock/runtime/evaluator.h"

namespace airlock::gateway::server {
namespace {

// Every fact slot an expression reads (kFact and has()), transitively through its children.
void collect(const runtime::Program& program, runtime::ExprId root, std::vector<runtime::FactSlot>& slots) {
  if (root == runtime::kNoExpr) return;
  std::vector<runtime::ExprId> stack{root};
  std::vector<bool> seen(program.nodes.size(), false);
  while (!stack.empty()) {
    runtime::ExprId id = stack.back();
    stack.pop_back();
    if (id >= program.nodes.size() || seen[id]) continue;
    seen[id] = true;
    const runtime::Node& node = program.node(id);
    if (node.op == runtime::Op::kFact || node.op == runtime::Op::kFactHas) {
      slots.push_back(static_cast<runtime::FactSlot>(node.a));
    }
    for (std::uint32_t i = 0; i < node.child_count; ++i) stack.push_back(program.child(node, i));
  }
}

}  // namespace

EarlyDecisions::EarlyDecisions(std::shared_ptr<const runtime::Program> program) : program_(std::move(program)) {
  for (const runtime::Policy& policy : program_->policies) {
    std::vector<runtime::FactSlot> policy_slots;
    collect(*program_, policy.when, policy_slots);
    std::vector<RuleFacts> rules;
    auto add = [&](const runtime::Rule& rule) {
      RuleFacts facts{policy_slots};
      collect(*program_, rule.when, facts.slots);
      collect(*program_, rule.unless, facts.slots);
      std::sort(facts.slots.begin(), facts.slots.end());
      facts.slots.erase(std::unique(facts.slots.begin(), facts.slots.end()), facts.slots.end());
      rules.push_back(std::move(facts));
    };
    for (const runtime::Rule& rule : policy.rules) add(rule);
    add(policy.otherwise);
    rules_.push_back(std::move(rules));
  }
}

const EarlyDecisions::RuleFacts* EarlyDecisions::find(const std::string& policy, const std::string& rule) const {
  for (std::size_t p = 0; p < program_->policies.size(); ++p) {
    const runtime::Policy& candidate = program_->policies[p];
    if (candidate.name != policy) continue;
    for (std::size_t r = 0; r < candidate.rules.size(); ++r) {
      if (candidate.rules[r].name == rule) return &rules_[p][r];
    }
    if (rule == candidate.otherwise.name || rule == "otherwise") return &rules_[p].back();
  }
  return nullptr;
}

std::optional<runtime::Decision> EarlyDecisions::final_deny(const runtime::Facts& facts) const {
  runtime::Decision decision = runtime::evaluate(*program_, facts);
  if (decision.outcome != runtime::Outcome::kDeny) return std::nullopt;
  for (const runtime::MatchedRule& matched : decision.rules) {
    if (matched.effect != runtime::Effect::kDeny) continue;
    const RuleFacts* rule = find(matched.policy, matched.rule);
    if (rule == nullptr) continue;
    bool known =
        std::all_of(rule->slots.begin(), rule->slots.end(), [&](runtime::FactSlot slot) { return facts.is_set(slot); });
    if (known) return decision;
  }
  return std::nullopt;
}

}  // namespace airlock::gateway::server
