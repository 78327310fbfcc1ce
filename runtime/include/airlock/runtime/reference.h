// The reference evaluator: the straightforward tree walk the fast evaluator must agree with.
// It reads only the Program's nodes and policies (never its evaluation plan), so it stays the
// plain statement of the semantics. Slower than evaluate(); use it for tests and for checking.
#pragma once

#include "airlock/runtime/decision.h"
#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/program.h"

namespace airlock::runtime {

// The same decision as evaluate(), computed without the rule index or any fast path.
Decision evaluate_reference(const Program& program, const Facts& facts, const EvaluationOptions& options = {});

// The same value as evaluate_expression(), computed by the plain tree walk.
Value evaluate_expression_reference(const Program& program, const Facts& facts, ExprId root = kNoExpr,
                                    const EvaluationOptions& options = {});

}  // namespace airlock::runtime
