#include "airlock/runtime/decision.h"

#include <nlohmann/json.hpp>

namespace airlock::runtime {

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kApprove: return "approve";
    case Outcome::kDeny: return "deny";
    case Outcome::kEscalate: return "escalate";
  }
  return "escalate";
}

std::string Decision::to_json(bool pretty) const {
  using Json = nlohmann::ordered_json;
  Json roles = Json::array();
  for (const std::string& role : reviewers.roles) roles.push_back(role);
  Json rules_json = Json::array();
  for (const MatchedRule& rule : rules) {
    Json entry = Json::object();
    entry["policy"] = rule.policy;
    entry["rule"] = rule.rule;
    entry["effect"] = effect_name(rule.effect);
    entry["reason"] = rule.reason;
    entry["location"] = rule.location;
    rules_json.push_back(std::move(entry));
  }
  Json errors_json = Json::array();
  for (const EvaluationError& error : errors) {
    Json entry = Json::object();
    entry["policy"] = error.policy;
    entry["rule"] = error.rule;
    entry["message"] = error.message;
    entry["location"] = error.location;
    errors_json.push_back(std::move(entry));
  }
  Json reviewers_json = Json::object();
  reviewers_json["roles"] = std::move(roles);
  reviewers_json["approvals"] = reviewers.approvals;

  Json json = Json::object();
  json["outcome"] = outcome_name(outcome);
  json["reviewers"] = std::move(reviewers_json);
  json["rules"] = std::move(rules_json);
  json["errors"] = std::move(errors_json);
  json["policy_set"] = policy_set;
  json["reason"] = reason;
  // Reasons may quote fact values; never let a stray byte turn into an exception.
  return json.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace airlock::runtime
