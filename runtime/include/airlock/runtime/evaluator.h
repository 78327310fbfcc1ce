// Evaluates a Program against Facts. Pure and deterministic: no I/O, no clock, no globals.
// One Program may be evaluated from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "airlock/runtime/decision.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/program.h"
#include "airlock/runtime/value.h"

namespace airlock::runtime {

struct EvaluationOptions {
  // Every node visited and every element a function walks costs one unit; past the budget
  // the expression evaluates to an error (so a pathological policy cannot hang the gateway).
  std::uint64_t cost_budget = 10'000'000;
  // Largest string, bytes or list an expression may build.
  std::uint64_t max_value_size = 16u << 20;
};

// Working memory for evaluations, reused from one decision to the next so that a warmed-up scratch
// makes evaluate_outcome() allocate nothing in the common case. One scratch per thread: it is not
// shareable, but it may be used with any number of programs, one evaluation at a time.
class EvaluationScratch {
 public:
  EvaluationScratch();
  ~EvaluationScratch();
  EvaluationScratch(EvaluationScratch&&) noexcept;
  EvaluationScratch& operator=(EvaluationScratch&&) noexcept;
  EvaluationScratch(const EvaluationScratch&) = delete;
  EvaluationScratch& operator=(const EvaluationScratch&) = delete;

  struct State;  // defined in evaluator.cpp
  State& state() { return *state_; }

 private:
  std::unique_ptr<State> state_;
};

// Judges the transfer: applicable policies by `applies to` (transfer.channel) and `when`,
// then deny-overrides combination as LANGUAGE.md defines it.
Decision evaluate(const Program& program, const Facts& facts, const EvaluationOptions& options = {});
// The same, reusing `scratch`'s memory.
Decision evaluate(const Program& program, const Facts& facts, EvaluationScratch& scratch,
                  const EvaluationOptions& options = {});
// The same, written into `decision` (whatever it held is replaced). Its strings and vectors keep their
// capacity from one call to the next, so a thread that keeps one scratch and one Decision allocates
// nothing for the Decision once both are warm (reasons built by `+` still allocate as they are evaluated).
void evaluate(const Program& program, const Facts& facts, EvaluationScratch& scratch, Decision& decision,
              const EvaluationOptions& options = {});

// A matched rule by position: program.policies[policy].rules[rule], or the policy's `otherwise`.
inline constexpr std::uint32_t kOtherwiseRule = 0xffffffffu;
struct RuleRef {
  std::uint32_t policy = 0;
  std::uint32_t rule = kOtherwiseRule;
  friend bool operator==(const RuleRef&, const RuleRef&) = default;
};

// The decision without its strings, for hot paths (the gateway, benchmarks). Views into the scratch
// and the program: valid until the scratch is used again.
struct OutcomeSummary {
  Outcome outcome = Outcome::kEscalate;
  std::span<const RuleRef> rules;                    // in the Decision's order (by policy, then rule)
  std::span<const std::string* const> roles;         // the reviewers when escalated: sorted, unique
  std::uint32_t approvals = 0;                       // when escalated
  std::size_t error_count = 0;
};

// The outcome evaluate() would give, without building the Decision's strings. With a warmed-up
// scratch and constant `because` reasons it allocates nothing.
OutcomeSummary evaluate_outcome(const Program& program, const Facts& facts, EvaluationScratch& scratch,
                                const EvaluationOptions& options = {});

// Evaluates one expression of the program (program.root when `root` is kNoExpr).
Value evaluate_expression(const Program& program, const Facts& facts, ExprId root = kNoExpr,
                          const EvaluationOptions& options = {});

}  // namespace airlock::runtime
