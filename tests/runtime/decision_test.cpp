#include "airlock/runtime/decision.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "airlock/runtime/program.h"

namespace airlock::runtime {
namespace {

// The example of LANGUAGE.md, "Decision: how policies combine", verbatim.
constexpr const char* kLanguageExample = R"json({
  "outcome": "escalate",
  "reviewers": {"roles": ["data-engineer", "information-governance"], "approvals": 2},
  "rules": [
    {"policy": "sde-ingress", "rule": "identifiers", "effect": "escalate",
     "reason": "the file holds 3 NHS numbers", "location": "policies/ingress.policy:17:3"}
  ],
  "errors": [],
  "policy_set": "sha256 of the compiled policy set"
})json";

Decision language_example() {
  Decision decision;
  decision.outcome = Outcome::kEscalate;
  decision.reviewers = {{"data-engineer", "information-governance"}, 2};
  decision.rules = {{"sde-ingress", "identifiers", Effect::kEscalate, "the file holds 3 NHS numbers",
                     "policies/ingress.policy:17:3"}};
  decision.policy_set = "sha256 of the compiled policy set";
  decision.reason = "escalated to data-engineer, information-governance (2 approvals): sde-ingress.identifiers";
  return decision;
}

TEST(Decision, NamesOutcomesAndEffects) {
  EXPECT_EQ(outcome_name(Outcome::kApprove), "approve");
  EXPECT_EQ(outcome_name(Outcome::kDeny), "deny");
  EXPECT_EQ(outcome_name(Outcome::kEscalate), "escalate");
  EXPECT_EQ(effect_name(Effect::kApprove), "approve");
  EXPECT_EQ(effect_name(Effect::kDeny), "deny");
  EXPECT_EQ(effect_name(Effect::kEscalate), "escalate");
}

TEST(Decision, SourceLocationPrintsFileLineAndColumn) {
  EXPECT_EQ((SourceLocation{"policies/ingress.policy", 17, 3}).to_string(), "policies/ingress.policy:17:3");
  EXPECT_EQ(SourceLocation{}.to_string(), "");
}

TEST(Decision, JsonMatchesTheLanguageExampleKeyForKey) {
  nlohmann::ordered_json expected = nlohmann::ordered_json::parse(kLanguageExample);
  expected["reason"] = language_example().reason;
  EXPECT_EQ(language_example().to_json(), expected.dump());
}

TEST(Decision, JsonIsOneLineUnlessPretty) {
  const std::string compact = language_example().to_json();
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_EQ(compact.rfind(R"({"outcome":"escalate","reviewers":{"roles":["data-engineer",)", 0), 0u) << compact;

  const std::string pretty = language_example().to_json(/*pretty=*/true);
  EXPECT_EQ(pretty.rfind("{\n  \"outcome\": \"escalate\",\n  \"reviewers\": {\n    \"roles\": [\n", 0), 0u) << pretty;
  EXPECT_EQ(nlohmann::ordered_json::parse(pretty).dump(), compact);
}

TEST(Decision, JsonListsErrorsWithTheirFieldsInOrder) {
  Decision decision;
  decision.outcome = Outcome::kEscalate;
  decision.reviewers = {{"data-approver"}, 1};
  decision.errors = {{"sde-ingress", "when", "no such key: x", "policies/ingress.policy:4:3"}};
  decision.policy_set = "00ff";
  decision.reason = "escalated to data-approver (1 approval): error in sde-ingress.when: no such key: x";
  EXPECT_EQ(decision.to_json(),
            R"({"outcome":"escalate","reviewers":{"roles":["data-approver"],"approvals":1},"rules":[],)"
            R"("errors":[{"policy":"sde-ingress","rule":"when","message":"no such key: x",)"
            R"("location":"policies/ingress.policy:4:3"}],"policy_set":"00ff",)"
            R"("reason":"escalated to data-approver (1 approval): error in sde-ingress.when: no such key: x"})");
}

TEST(Decision, ApprovedDecisionHasEmptyReviewers) {
  Decision decision;
  decision.outcome = Outcome::kApprove;
  decision.rules = {{"p", "r", Effect::kApprove, "", "f.policy:1:1"}};
  EXPECT_EQ(decision.to_json(),
            R"({"outcome":"approve","reviewers":{"roles":[],"approvals":0},)"
            R"("rules":[{"policy":"p","rule":"r","effect":"approve","reason":"","location":"f.policy:1:1"}],)"
            R"("errors":[],"policy_set":"","reason":""})");
}

TEST(Decision, JsonSurvivesInvalidUtf8InAReason) {
  Decision decision;
  decision.reason = "bad \xff byte";
  const std::string json = decision.to_json();
  EXPECT_TRUE(nlohmann::json::accept(json)) << json;
}

}  // namespace
}  // namespace airlock::runtime
