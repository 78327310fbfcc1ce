// The result of judging one transfer: what LANGUAGE.md calls the decision.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "airlock/runtime/program.h"

namespace airlock::runtime {

enum class Outcome : std::uint8_t { kApprove, kDeny, kEscalate };
std::string_view outcome_name(Outcome outcome);

struct MatchedRule {
  std::string policy;
  std::string rule;  // "otherwise" for a policy's default
  Effect effect = Effect::kEscalate;
  std::string reason;
  std::string location;  // "policies/ingress.policy:17:3"
  friend bool operator==(const MatchedRule&, const MatchedRule&) = default;
};

struct EvaluationError {
  std::string policy;
  std::string rule;  // "when" for a policy's applicability condition
  std::string message;
  std::string location;
  friend bool operator==(const EvaluationError&, const EvaluationError&) = default;
};

struct Reviewers {
  std::vector<std::string> roles;  // sorted, unique
  std::uint32_t approvals = 0;
  friend bool operator==(const Reviewers&, const Reviewers&) = default;
};

struct Decision {
  Outcome outcome = Outcome::kEscalate;
  Reviewers reviewers;               // empty unless escalated
  std::vector<MatchedRule> rules;    // sorted by policy, then rule
  std::vector<EvaluationError> errors;
  std::string policy_set;
  std::string reason;                // one-line summary for people (an extension of the JSON form)

  // The JSON form of LANGUAGE.md, on one line; `pretty` indents it.
  std::string to_json(bool pretty = false) const;
};

}  // namespace airlock::runtime
