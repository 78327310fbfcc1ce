// Early decisions: a deny reached on the facts known so far stops an upload, but only when it can no
// longer change. A denying rule is final once every fact it reads (in its `when` and `unless`, and in its
// policy's `when`) has been set: facts, once set, keep their value. Anything else waits for the last byte.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "airlock/runtime/decision.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/program.h"

namespace airlock::gateway::server {

class EarlyDecisions {
 public:
  explicit EarlyDecisions(std::shared_ptr<const runtime::Program> program);

  // The decision when it is a deny that no later fact can change; nullopt otherwise.
  std::optional<runtime::Decision> final_deny(const runtime::Facts& facts) const;

 private:
  struct RuleFacts {
    std::vector<runtime::FactSlot> slots;
  };
  const RuleFacts* find(const std::string& policy, const std::string& rule) const;

  std::shared_ptr<const runtime::Program> program_;
  // [policy][rule] (the last entry of each policy is its `otherwise`): the facts its match depends on.
  std::vector<std::vector<RuleFacts>> rules_;
};

}  // namespace airlock::gateway::server
