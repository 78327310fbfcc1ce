// Evaluates a Program against Facts. Pure and deterministic: no I/O, no clock, no globals.
// One Program may be evaluated from many threads at once.
#pragma once

#include <cstdint>

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

// Judges the transfer: applicable policies by `applies to` (transfer.channel) and `when`,
// then deny-overrides combination as LANGUAGE.md defines it.
Decision evaluate(const Program& program, const Facts& facts, const EvaluationOptions& options = {});

// Evaluates one expression of the program (program.root when `root` is kNoExpr).
Value evaluate_expression(const Program& program, const Facts& facts, ExprId root = kNoExpr,
                          const EvaluationOptions& options = {});

}  // namespace airlock::runtime
