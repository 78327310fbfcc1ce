// `airlock test PATH...`: run the `test` blocks of policy files, optionally enforcing rule coverage.
#include <algorithm>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/decision.h"
#include "airlock/runtime/evaluator.h"
#include "command.h"
#include "io.h"

namespace airlock::cli {
namespace {

std::string rule_id(const std::string& policy, const std::string& rule) { return policy + "." + rule; }

std::vector<std::string> matched_rule_ids(const runtime::Decision& decision) {
  std::vector<std::string> ids;
  for (const runtime::MatchedRule& rule : decision.rules) ids.push_back(rule_id(rule.policy, rule.rule));
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> sorted(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  return items;
}

std::string list_text(const std::vector<std::string>& items) {
  std::string text = "[";
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? ", \"" : "\"") + items[i] + "\"";
  return text + "]";
}

// What one test expected and did not get.
struct Mismatches {
  bool outcome = false;              // the expected outcome differs (always shown, so not in `details`)
  std::vector<std::string> details;  // every other expectation that failed, as a sentence
  bool empty() const { return !outcome && details.empty(); }
};

Mismatches mismatches(const compiler::TestCase& test, const runtime::Decision& decision) {
  Mismatches found;
  found.outcome = test.expect_outcome && *test.expect_outcome != decision.outcome;
  std::vector<std::string>& problems = found.details;
  if (test.expect_rules) {
    std::vector<std::string> expected = sorted(*test.expect_rules);
    std::vector<std::string> actual = matched_rule_ids(decision);
    if (expected != actual) {
      problems.push_back("expected rules " + list_text(expected) + ", matched " + list_text(actual));
    }
  }
  if (test.expect_reviewers) {
    std::vector<std::string> expected = sorted(*test.expect_reviewers);
    std::vector<std::string> actual = sorted(decision.reviewers.roles);
    if (expected != actual) {
      problems.push_back("expected reviewers " + list_text(expected) + ", got " + list_text(actual));
    }
  }
  if (test.expect_approvals && *test.expect_approvals != decision.reviewers.approvals) {
    problems.push_back("expected " + std::to_string(*test.expect_approvals) + " approvals, got " +
                       std::to_string(decision.reviewers.approvals));
  }
  // An error is either expected or a bug in the policy: a test never passes over one silently.
  if (test.expect_error && decision.errors.empty()) problems.push_back("expected an evaluation error, got none");
  if (!test.expect_error && !decision.errors.empty()) {
    problems.push_back("evaluation met " + plural(decision.errors.size(), "error") +
                       " (add `expect error` if intended)");
  }
  return found;
}

void print_failure(const compiler::TestCase& test, const runtime::Decision& decision, const Mismatches& problems,
                   std::ostream& out) {
  out << "FAIL " << test.location.to_string() << ": test \"" << test.name << "\"\n";
  out << "  expected outcome: "
      << (test.expect_outcome ? std::string(runtime::outcome_name(*test.expect_outcome)) : std::string("(any)"))
      << "\n";
  out << "  actual outcome:   " << runtime::outcome_name(decision.outcome);
  if (decision.outcome == runtime::Outcome::kEscalate) {
    out << " to " << list_text(decision.reviewers.roles) << ", " << plural(decision.reviewers.approvals, "approval");
  }
  out << "\n";
  for (const std::string& problem : problems.details) out << "  " << problem << "\n";
  if (decision.rules.empty()) {
    out << "  matched rules: none" << (decision.reason.empty() ? "" : " (" + decision.reason + ")") << "\n";
  } else {
    out << "  matched rules:\n";
    for (const runtime::MatchedRule& rule : decision.rules) {
      out << "    " << rule_id(rule.policy, rule.rule) << " (" << runtime::effect_name(rule.effect) << ") at "
          << rule.location;
      if (!rule.reason.empty()) out << ": " << rule.reason;
      out << "\n";
    }
  }
  if (!decision.errors.empty()) {
    out << "  errors:\n";
    for (const runtime::EvaluationError& error : decision.errors) {
      out << "    " << rule_id(error.policy, error.rule) << " at " << error.location << ": " << error.message << "\n";
    }
  }
}

// A policy's `otherwise` counts towards coverage only when the source declares one.
bool declares_otherwise(const runtime::Policy& policy) { return !policy.otherwise.implicit; }

struct CoverageReport {
  std::size_t rules = 0;
  std::size_t covered = 0;
  std::vector<std::string> uncovered;  // "policy.rule (location)"
};

CoverageReport measure_coverage(const runtime::Program& program, const std::set<std::string>& matched) {
  CoverageReport report;
  auto count = [&](const runtime::Policy& policy, const runtime::Rule& rule) {
    ++report.rules;
    std::string id = rule_id(policy.name, rule.name);
    if (matched.contains(id)) {
      ++report.covered;
    } else {
      report.uncovered.push_back(id + " (" + rule.location.to_string() + ")");
    }
  };
  for (const runtime::Policy& policy : program.policies) {
    for (const runtime::Rule& rule : policy.rules) count(policy, rule);
    if (declares_otherwise(policy)) count(policy, policy.otherwise);
  }
  return report;
}

int run_test(const CommandSpec& /*spec*/, const ParsedArguments& arguments, Console& console) {
  std::optional<compiler::CompiledPolicySet> compiled =
      load_policy_set(arguments.positionals(), console, "no test was run");
  if (!compiled) return kExitFailure;
  const runtime::Program& program = *compiled->program;
  bool verbose = arguments.has("--verbose");

  std::size_t passed = 0;
  std::size_t failed = 0;
  std::set<std::string> matched;
  for (const compiler::TestCase& test : compiled->tests) {
    runtime::Decision decision = runtime::evaluate(program, test.given);
    for (const std::string& id : matched_rule_ids(decision)) matched.insert(id);
    Mismatches problems = mismatches(test, decision);
    if (problems.empty()) {
      ++passed;
      if (verbose) console.out << "PASS " << test.location.to_string() << ": test \"" << test.name << "\"\n";
    } else {
      ++failed;
      print_failure(test, decision, problems, console.out);
    }
  }
  if (compiled->tests.empty()) console.err << "note: no test blocks found\n";

  bool coverage_failed = false;
  if (arguments.has("--coverage")) {
    CoverageReport coverage = measure_coverage(program, matched);
    for (const std::string& rule : coverage.uncovered) console.out << "not covered: " << rule << "\n";
    console.out << "coverage: " << coverage.covered << " of " << plural(coverage.rules, "rule")
                << " matched by a test\n";
    coverage_failed = !coverage.uncovered.empty();
  }
  console.out << passed << " passed, " << failed << " failed\n";
  return failed == 0 && !coverage_failed ? kExitOk : kExitFailure;
}

}  // namespace

CommandSpec test_command() {
  return CommandSpec{
      .name = "test",
      .summary = "run the test blocks of policy files",
      .synopsis = "airlock test PATH... [--coverage] [--verbose]",
      .description =
          "Compiles the policy files and runs every `test` block against the whole policy set, comparing the\n"
          "decision with each `expect`. A failure prints the test's name and location, the expected and\n"
          "actual outcome, and the rules that matched with their reasons and any errors. A test fails on an\n"
          "evaluation error unless it says `expect error`. The last line is `N passed, M failed`.\n"
          "Exits 1 when a test fails or the policies do not compile.\n",
      .flags = {{.name = "--coverage",
                 .help = "list the rules no test matched (an `otherwise` counts when declared); exit 1 if any"},
                {.name = "--verbose", .help = "print each passing test too"}},
      .positional_name = "PATH",
      .min_positionals = 1,
      .examples = {"airlock test policies/", "airlock test --coverage --verbose policies/ingress.policy"},
      .run = run_test,
  };
}

}  // namespace airlock::cli
