#include "airlock/runtime/evaluator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "program_builder.h"

// Counts every allocation of this test binary, so a test can assert that evaluating allocates nothing.
// Test-only instrumentation: the product code has no global state.
namespace {
std::atomic<std::uint64_t> allocation_count{0};
}  // namespace

// Not inlined, so the compiler never pairs a malloc it can see with a `delete` it can see.
[[gnu::noinline]] void* operator new(std::size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
[[gnu::noinline]] void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
[[gnu::noinline]] void operator delete(void* memory) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete[](void* memory) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete[](void* memory, const std::nothrow_t&) noexcept { std::free(memory); }

namespace airlock::runtime {
namespace {

using testing::ProgramBuilder;

Value eval(ProgramBuilder& builder, ExprId root, const Facts& facts = Facts(), const EvaluationOptions& options = {}) {
  return evaluate_expression(builder.program(), facts, root, options);
}

void expect_error(const Value& value, std::string_view message) {
  ASSERT_TRUE(value.is_error()) << value.debug_string();
  EXPECT_EQ(value.as_string(), message);
}

void expect_error_containing(const Value& value, std::string_view part) {
  ASSERT_TRUE(value.is_error()) << value.debug_string();
  EXPECT_NE(value.as_string().find(part), std::string::npos) << value.as_string();
}

Value bools(std::initializer_list<Value> items) { return Value::list(List(items)); }
Value yes() { return Value::boolean(true); }
Value no() { return Value::boolean(false); }
Value oops(std::string message = "oops") { return Value::error(std::move(message)); }

Facts upload_facts(std::string channel = "upload") {
  Facts facts;
  EXPECT_TRUE(facts.set("transfer.channel", Value::string(std::move(channel))).is_ok());
  return facts;
}

// ---------------------------------------------------------------- expressions

TEST(Evaluator, ConstantYieldsItsValue) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.integer(42)), Value::integer(42));
  EXPECT_EQ(eval(b, b.string("x")), Value::string("x"));
}

TEST(Evaluator, FactReadsItsSlotOrTheDefault) {
  ProgramBuilder b;
  const ExprId size = b.fact("file.size");
  const ExprId type = b.fact("file.type");
  Facts facts;
  ASSERT_TRUE(facts.set("file.size", Value::integer(10)).is_ok());
  EXPECT_EQ(eval(b, size, facts), Value::integer(10));
  EXPECT_EQ(eval(b, type, facts), Value::string(""));
}

TEST(Evaluator, FactHasReportsWhetherTheGatewaySetTheFact) {
  ProgramBuilder b;
  const ExprId has_size = b.fact_has("file.size");
  const ExprId has_type = b.fact_has("file.type");
  Facts facts;
  ASSERT_TRUE(facts.set("file.size", Value::integer(0)).is_ok());
  EXPECT_EQ(eval(b, has_size, facts), yes());
  EXPECT_EQ(eval(b, has_type, facts), no());
}

TEST(Evaluator, ExpressionDefaultsToTheProgramRoot) {
  ProgramBuilder b;
  b.program().root = b.integer(7);
  EXPECT_EQ(evaluate_expression(b.program(), Facts()), Value::integer(7));
  ProgramBuilder empty;
  EXPECT_TRUE(evaluate_expression(empty.program(), Facts()).is_error());
}

TEST(Evaluator, SelectReadsAMapKey) {
  ProgramBuilder b;
  const ExprId map = b.constant(Value::map({{Value::string("a"), Value::integer(1)}}));
  EXPECT_EQ(eval(b, b.select(map, "a")), Value::integer(1));
  expect_error(eval(b, b.select(map, "b")), "no such key: b");
  expect_error_containing(eval(b, b.select(b.integer(1), "a")), "does not support field selection");
  expect_error(eval(b, b.select(b.error("first"), "a")), "first");
}

TEST(Evaluator, HasTellsWhetherAMapHoldsAKey) {
  ProgramBuilder b;
  const ExprId map = b.constant(Value::map({{Value::string("a"), Value::integer(1)}}));
  EXPECT_EQ(eval(b, b.has(map, "a")), yes());
  EXPECT_EQ(eval(b, b.has(map, "b")), no());
  EXPECT_TRUE(eval(b, b.has(b.string("s"), "a")).is_error());
}

TEST(Evaluator, CallDispatchesToTheBuiltin) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.call(Builtin::kAdd, {b.integer(2), b.integer(3)})), Value::integer(5));
  EXPECT_EQ(eval(b, b.call(Builtin::kSize, {b.string("abc")})), Value::integer(3));
  EXPECT_TRUE(eval(b, b.call(Builtin::kDivide, {b.integer(1), b.integer(0)})).is_error());
}

TEST(Evaluator, CallReturnsTheFirstErrorArgument) {
  ProgramBuilder b;
  expect_error(eval(b, b.call(Builtin::kAdd, {b.error("first"), b.error("second")})), "first");
  expect_error(eval(b, b.call(Builtin::kAdd, {b.integer(1), b.error("second")})), "second");
  const ExprId division = b.call(Builtin::kDivide, {b.integer(1), b.integer(0)});
  EXPECT_TRUE(eval(b, b.call(Builtin::kAdd, {division, b.integer(1)})).is_error());
}

TEST(Evaluator, MatchesAConstantPattern) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.matches(b.string("data/report.csv"), R"(\.csv$)")), yes());
  EXPECT_EQ(eval(b, b.matches(b.string("data/report.txt"), R"(\.csv$)")), no());
  EXPECT_EQ(eval(b, b.matches(b.string("a-report-b"), "report")), yes());
  EXPECT_TRUE(eval(b, b.matches(b.integer(1), "1")).is_error());
  expect_error(eval(b, b.matches(b.error("first"), "x")), "first");
}

TEST(Evaluator, AndAbsorbsErrorsInBothOrders) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.and_(b.boolean(false), b.error("e"))), no());
  EXPECT_EQ(eval(b, b.and_(b.error("e"), b.boolean(false))), no());
  expect_error(eval(b, b.and_(b.boolean(true), b.error("e"))), "e");
  expect_error(eval(b, b.and_(b.error("e"), b.boolean(true))), "e");
  expect_error(eval(b, b.and_(b.error("left"), b.error("right"))), "left");
  EXPECT_EQ(eval(b, b.and_(b.boolean(true), b.boolean(true))), yes());
  EXPECT_EQ(eval(b, b.and_(b.boolean(true), b.boolean(false))), no());
}

TEST(Evaluator, OrAbsorbsErrorsInBothOrders) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.or_(b.boolean(true), b.error("e"))), yes());
  EXPECT_EQ(eval(b, b.or_(b.error("e"), b.boolean(true))), yes());
  expect_error(eval(b, b.or_(b.boolean(false), b.error("e"))), "e");
  expect_error(eval(b, b.or_(b.error("e"), b.boolean(false))), "e");
  expect_error(eval(b, b.or_(b.error("left"), b.error("right"))), "left");
  EXPECT_EQ(eval(b, b.or_(b.boolean(false), b.boolean(false))), no());
  EXPECT_EQ(eval(b, b.or_(b.boolean(false), b.boolean(true))), yes());
}

TEST(Evaluator, LogicalOperatorsRejectNonBoolOperandsUnlessDecided) {
  ProgramBuilder b;
  expect_error_containing(eval(b, b.and_(b.integer(1), b.boolean(true))), "no such overload");
  expect_error_containing(eval(b, b.and_(b.boolean(true), b.string("x"))), "no such overload");
  expect_error_containing(eval(b, b.or_(b.integer(1), b.boolean(false))), "no such overload");
  EXPECT_EQ(eval(b, b.and_(b.integer(1), b.boolean(false))), no());
  EXPECT_EQ(eval(b, b.or_(b.integer(1), b.boolean(true))), yes());
}

TEST(Evaluator, NotNegatesBoolsAndRejectsTheRest) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.not_(b.boolean(true))), no());
  EXPECT_EQ(eval(b, b.not_(b.boolean(false))), yes());
  expect_error(eval(b, b.not_(b.error("e"))), "e");
  expect_error_containing(eval(b, b.not_(b.integer(0))), "no such overload");
}

TEST(Evaluator, ConditionalEvaluatesOnlyTheTakenBranch) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.conditional(b.boolean(true), b.integer(1), b.error("not taken"))), Value::integer(1));
  EXPECT_EQ(eval(b, b.conditional(b.boolean(false), b.error("not taken"), b.integer(2))), Value::integer(2));
  expect_error(eval(b, b.conditional(b.error("cond"), b.integer(1), b.integer(2))), "cond");
  expect_error_containing(eval(b, b.conditional(b.integer(1), b.integer(1), b.integer(2))), "no such overload");
}

TEST(Evaluator, ListBuildsItsElementsAndPropagatesErrors) {
  ProgramBuilder b;
  EXPECT_EQ(eval(b, b.list({b.integer(1), b.string("a")})), Value::list({Value::integer(1), Value::string("a")}));
  EXPECT_EQ(eval(b, b.list(std::vector<ExprId>{})), Value::list({}));
  expect_error(eval(b, b.list({b.integer(1), b.error("second"), b.error("third")})), "second");
}

TEST(Evaluator, MapBuildsEntriesAndChecksKeys) {
  ProgramBuilder b;
  const Value built = eval(b, b.map({b.string("a"), b.integer(1), b.integer(2), b.boolean(true)}));
  ASSERT_EQ(built.kind(), Kind::kMap);
  ASSERT_EQ(built.as_map().size(), 2u);
  EXPECT_EQ(*built.find(Value::string("a")), Value::integer(1));
  EXPECT_EQ(*built.find(Value::integer(2)), yes());
  expect_error_containing(eval(b, b.map({b.string("a"), b.integer(1), b.string("a"), b.integer(2)})), "repeated");
  expect_error_containing(
      eval(b, b.map({b.integer(1), b.integer(1), b.constant(Value::unsigned_integer(1)), b.integer(2)})), "repeated");
  expect_error_containing(eval(b, b.map({b.constant(Value::floating(1.5)), b.integer(1)})), "key");
  expect_error(eval(b, b.map({b.error("key"), b.integer(1)})), "key");
  expect_error(eval(b, b.map({b.string("a"), b.error("value")})), "value");
}

TEST(Evaluator, AllIsFalseIfAnyIsFalseElseErrorIfAnyErred) {
  ProgramBuilder b;
  auto all = [&](Value range) { return eval(b, b.comprehension(Macro::kAll, 0, b.constant(range), {b.local(0)})); };
  EXPECT_EQ(all(bools({yes(), oops(), no()})), no());
  EXPECT_EQ(all(bools({no(), oops()})), no());
  expect_error(all(bools({yes(), oops("first"), oops("second")})), "first");
  EXPECT_EQ(all(bools({yes(), yes()})), yes());
  EXPECT_EQ(all(bools({})), yes());
  expect_error_containing(all(bools({yes(), Value::integer(1)})), "no such overload");
}

TEST(Evaluator, ExistsIsTrueIfAnyIsTrueElseErrorIfAnyErred) {
  ProgramBuilder b;
  auto exists = [&](Value range) {
    return eval(b, b.comprehension(Macro::kExists, 0, b.constant(range), {b.local(0)}));
  };
  EXPECT_EQ(exists(bools({no(), oops(), yes()})), yes());
  EXPECT_EQ(exists(bools({yes(), oops()})), yes());
  expect_error(exists(bools({no(), oops("first")})), "first");
  EXPECT_EQ(exists(bools({no(), no()})), no());
  EXPECT_EQ(exists(bools({})), no());
}

TEST(Evaluator, ExistsOneCountsExactlyOneAndPropagatesErrors) {
  ProgramBuilder b;
  auto exists_one = [&](Value range) {
    return eval(b, b.comprehension(Macro::kExistsOne, 0, b.constant(range), {b.local(0)}));
  };
  EXPECT_EQ(exists_one(bools({no(), yes(), no()})), yes());
  EXPECT_EQ(exists_one(bools({yes(), yes()})), no());
  EXPECT_EQ(exists_one(bools({})), no());
  expect_error(exists_one(bools({yes(), oops("e")})), "e");
  expect_error(exists_one(bools({yes(), yes(), oops("late")})), "late");
}

TEST(Evaluator, MapTransformsEveryElement) {
  ProgramBuilder b;
  const ExprId range = b.constant(Value::list({Value::integer(1), Value::integer(2)}));
  const ExprId doubled = b.comprehension(Macro::kMap, 0, range, {b.call(Builtin::kAdd, {b.local(0), b.local(0)})});
  EXPECT_EQ(eval(b, doubled), Value::list({Value::integer(2), Value::integer(4)}));
  const ExprId wrapped = b.comprehension(Macro::kMap, 1, b.constant(bools({yes(), oops("e")})), {b.list({b.local(1)})});
  expect_error(eval(b, wrapped), "e");
}

TEST(Evaluator, MapWithAFilterFiltersFirst) {
  ProgramBuilder b;
  const ExprId range = b.constant(bools({yes(), no(), yes()}));
  // [true, false, true].map(x, x, "kept") keeps two.
  const ExprId kept = b.comprehension(Macro::kMap, 0, range, {b.string("kept"), b.local(0)});
  EXPECT_EQ(eval(b, kept), Value::list({Value::string("kept"), Value::string("kept")}));
  // The transform is not evaluated for filtered-out elements.
  const ExprId guarded =
      b.comprehension(Macro::kMap, 0, b.constant(bools({no(), no()})), {b.error("never"), b.local(0)});
  EXPECT_EQ(eval(b, guarded), Value::list({}));
  const ExprId bad_filter = b.comprehension(Macro::kMap, 0, range, {b.local(0), b.integer(1)});
  expect_error_containing(eval(b, bad_filter), "no such overload");
}

TEST(Evaluator, FilterKeepsElementsWherePredicateHolds) {
  ProgramBuilder b;
  const ExprId range = b.constant(bools({yes(), no(), yes()}));
  EXPECT_EQ(eval(b, b.comprehension(Macro::kFilter, 0, range, {b.local(0)})), bools({yes(), yes()}));
  expect_error(eval(b, b.comprehension(Macro::kFilter, 0, b.constant(bools({yes(), oops("e")})), {b.local(0)})), "e");
  const ExprId ints = b.constant(Value::list({Value::integer(1)}));
  expect_error_containing(eval(b, b.comprehension(Macro::kFilter, 0, ints, {b.local(0)})), "no such overload");
}

TEST(Evaluator, ComprehensionOverAMapIteratesItsKeys) {
  ProgramBuilder b;
  const ExprId map =
      b.constant(Value::map({{Value::string("a"), Value::integer(1)}, {Value::string("b"), Value::integer(2)}}));
  EXPECT_EQ(eval(b, b.comprehension(Macro::kMap, 0, map, {b.local(0)})),
            Value::list({Value::string("a"), Value::string("b")}));
}

TEST(Evaluator, ComprehensionRejectsNonIterables) {
  ProgramBuilder b;
  expect_error_containing(eval(b, b.comprehension(Macro::kAll, 0, b.integer(3), {b.local(0)})), "cannot be iterated");
  expect_error(eval(b, b.comprehension(Macro::kAll, 0, b.error("range"), {b.local(0)})), "range");
}

TEST(Evaluator, NestedComprehensionsSeeTheirOwnVariables) {
  ProgramBuilder b;
  const ExprId outer_range = b.constant(Value::list({Value::integer(1), Value::integer(2)}));
  const ExprId inner_range = b.constant(Value::list({Value::integer(10)}));
  const ExprId inner = b.comprehension(Macro::kMap, 1, inner_range, {b.list({b.local(0), b.local(1)})});
  const ExprId outer = b.comprehension(Macro::kMap, 0, outer_range, {inner});
  const Value pair_1 = Value::list({Value::list({Value::integer(1), Value::integer(10)})});
  const Value pair_2 = Value::list({Value::list({Value::integer(2), Value::integer(10)})});
  EXPECT_EQ(eval(b, outer), Value::list({pair_1, pair_2}));
}

TEST(Evaluator, ComprehensionRestoresAShadowedVariable) {
  ProgramBuilder b;
  const ExprId outer_range = b.constant(Value::list({Value::integer(1), Value::integer(2)}));
  const ExprId inner = b.comprehension(Macro::kMap, 0, b.constant(Value::list({Value::integer(9)})), {b.local(0)});
  const ExprId outer = b.comprehension(Macro::kMap, 0, outer_range, {b.list({inner, b.local(0)})});
  const Value nine = Value::list({Value::integer(9)});
  EXPECT_EQ(eval(b, outer),
            Value::list({Value::list({nine, Value::integer(1)}), Value::list({nine, Value::integer(2)})}));
}

ExprId nested_all(ProgramBuilder& b, int depth, std::size_t elements) {
  List items(elements, Value::integer(1));
  const ExprId range = b.constant(Value::list(std::move(items)));
  ExprId body = b.boolean(true);
  for (int level = depth - 1; level >= 0; --level) {
    body = b.comprehension(Macro::kAll, static_cast<std::uint32_t>(level), range, {body});
  }
  return body;
}

TEST(Evaluator, CostBudgetStopsAPathologicalExpression) {
  ProgramBuilder b;
  const ExprId expensive = nested_all(b, 3, 2000);  // 8e9 iterations without a budget
  const auto start = std::chrono::steady_clock::now();
  expect_error(eval(b, expensive), "evaluation cost budget exceeded");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(Evaluator, CostBudgetIsConfigurable) {
  ProgramBuilder b;
  const ExprId cheap = nested_all(b, 1, 2000);
  EXPECT_EQ(eval(b, cheap), yes());
  EvaluationOptions tight;
  tight.cost_budget = 100;
  expect_error(eval(b, cheap, Facts(), tight), "evaluation cost budget exceeded");
}

TEST(Evaluator, AnExhaustedBudgetIsNotAbsorbedByLogicalOperators) {
  ProgramBuilder b;
  const ExprId expensive = nested_all(b, 1, 2000);
  EvaluationOptions tight;
  tight.cost_budget = 100;
  expect_error(eval(b, b.and_(expensive, b.boolean(false)), Facts(), tight), "evaluation cost budget exceeded");
  expect_error(eval(b, b.or_(expensive, b.boolean(true)), Facts(), tight), "evaluation cost budget exceeded");
}

TEST(Evaluator, MaxValueSizeLimitsBuiltLists) {
  ProgramBuilder b;
  EvaluationOptions small;
  small.max_value_size = 2;
  const ExprId three = b.list({b.integer(1), b.integer(2), b.integer(3)});
  expect_error_containing(eval(b, three, Facts(), small), "too large");
  EXPECT_EQ(eval(b, three).as_list().size(), 3u);
}

// ---------------------------------------------------------------- decisions

TEST(Evaluator, ApprovesWhenEveryApplicablePolicyApproves) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("small", Effect::kApprove)};
  b.policy("b").rules = {ProgramBuilder::rule("clean", Effect::kApprove)};
  b.program().policy_set = "abc123";
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kApprove);
  EXPECT_EQ(decision.reviewers, Reviewers{});
  ASSERT_EQ(decision.rules.size(), 2u);
  EXPECT_EQ(decision.rules[0].policy, "a");
  EXPECT_EQ(decision.rules[0].rule, "small");
  EXPECT_EQ(decision.rules[0].location, "test.policy:10:3");
  EXPECT_EQ(decision.policy_set, "abc123");
  EXPECT_EQ(decision.reason, "approved by a.small; b.clean");
}

TEST(Evaluator, DenyOverridesApproveAndEscalate) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("ok", Effect::kApprove)};
  b.policy("b").rules = {ProgramBuilder::escalation("check", {"data-engineer"}, 1)};
  b.policy("c").rules = {ProgramBuilder::rule("no_executables", Effect::kDeny, kNoExpr, kNoExpr,
                                              b.string("executable files may not enter a workspace"))};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_TRUE(decision.reviewers.roles.empty());
  EXPECT_EQ(decision.reviewers.approvals, 0u);
  EXPECT_EQ(decision.rules.size(), 3u);
  EXPECT_EQ(decision.reason, "denied by c.no_executables: executable files may not enter a workspace");
}

TEST(Evaluator, EscalationUnitesRolesAndTakesTheLargestApprovals) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::escalation("identifiers", {"information-governance", "data-engineer"}, 2,
                                                    kNoExpr, b.string("the file holds 3 NHS numbers"))};
  b.policy("b").rules = {ProgramBuilder::escalation("large", {"data-engineer"}, 3)};
  b.policy("c").rules = {ProgramBuilder::rule("ok", Effect::kApprove)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  EXPECT_EQ(decision.reviewers.roles, (std::vector<std::string>{"data-engineer", "information-governance"}));
  EXPECT_EQ(decision.reviewers.approvals, 3u);
  EXPECT_EQ(decision.reason,
            "escalated to data-engineer, information-governance (3 approvals): "
            "a.identifiers: the file holds 3 NHS numbers; b.large");
}

TEST(Evaluator, EscalationNeedsAtLeastOneApprovalPerRole) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::escalation("x", {"role-x"}, 1)};
  b.policy("b").rules = {ProgramBuilder::escalation("y", {"role-y"}, 1)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.reviewers.roles, (std::vector<std::string>{"role-x", "role-y"}));
  EXPECT_EQ(decision.reviewers.approvals, 2u);
}

TEST(Evaluator, AnErrorEscalatesAndNeverApproves) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("broken", Effect::kApprove, b.error("division by zero")),
                         ProgramBuilder::rule("fine", Effect::kApprove)};
  b.policy("b").rules = {ProgramBuilder::rule("ok", Effect::kApprove)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  EXPECT_EQ(decision.reviewers.roles, std::vector<std::string>{"data-approver"});
  EXPECT_EQ(decision.reviewers.approvals, 1u);
  ASSERT_EQ(decision.errors.size(), 1u);
  EXPECT_EQ(decision.errors[0], (EvaluationError{"a", "broken", "division by zero", "test.policy:10:3"}));
  ASSERT_EQ(decision.rules.size(), 2u);
  EXPECT_EQ(decision.reason, "escalated to data-approver (1 approval): error in a.broken: division by zero");
}

TEST(Evaluator, AnErrorWithAnEscalationKeepsTheEscalationsReviewers) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("broken", Effect::kApprove, kNoExpr, b.error("bad")),
                         ProgramBuilder::rule("fine", Effect::kApprove)};
  b.policy("b").rules = {ProgramBuilder::escalation("check", {"data-engineer"}, 1)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  EXPECT_EQ(decision.reviewers.roles, std::vector<std::string>{"data-engineer"});
  ASSERT_EQ(decision.errors.size(), 1u);
  EXPECT_EQ(decision.errors[0].rule, "broken");
}

TEST(Evaluator, ANonBoolConditionIsAnError) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("odd", Effect::kApprove, b.integer(1))};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  ASSERT_EQ(decision.errors.size(), 1u);
  EXPECT_EQ(decision.errors[0].message, "`when` must be a bool, got int");
}

TEST(Evaluator, DenyStillWinsOverAnError) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("broken", Effect::kApprove, b.error("bad"))};
  b.policy("b").rules = {ProgramBuilder::rule("no", Effect::kDeny)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_EQ(decision.errors.size(), 1u);
}

TEST(Evaluator, AnErrorInAPolicysWhenEscalatesAndSkipsThePolicy) {
  ProgramBuilder b;
  b.policy("a", kChannelAny, b.error("bad when")).rules = {ProgramBuilder::rule("no", Effect::kDeny)};
  b.policy("b").rules = {ProgramBuilder::rule("ok", Effect::kApprove)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  ASSERT_EQ(decision.errors.size(), 1u);
  EXPECT_EQ(decision.errors[0], (EvaluationError{"a", "when", "bad when", "test.policy:1:1"}));
  ASSERT_EQ(decision.rules.size(), 1u);
  EXPECT_EQ(decision.rules[0].policy, "b");
}

TEST(Evaluator, NoApplicablePolicyEscalatesToTheDataApprover) {
  ProgramBuilder b;
  b.policy("egress-only", kChannelEgress).rules = {ProgramBuilder::rule("ok", Effect::kApprove)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  EXPECT_EQ(decision.reviewers, (Reviewers{{"data-approver"}, 1}));
  EXPECT_TRUE(decision.rules.empty());
  EXPECT_TRUE(decision.errors.empty());
  EXPECT_EQ(decision.reason, "no policy applies");

  ProgramBuilder none;
  EXPECT_EQ(evaluate(none.program(), upload_facts()).reason, "no policy applies");
}

TEST(Evaluator, OtherwiseAppliesWhenNoRuleMatched) {
  ProgramBuilder b;
  Policy& policy = b.policy("a");
  policy.rules = {ProgramBuilder::rule("never", Effect::kApprove, b.boolean(false))};
  policy.otherwise =
      ProgramBuilder::escalation("otherwise", {"data-approver"}, 1, kNoExpr, b.string("no rule approved this file"));
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  ASSERT_EQ(decision.rules.size(), 1u);
  EXPECT_EQ(decision.rules[0],
            (MatchedRule{"a", "otherwise", Effect::kEscalate, "no rule approved this file", "test.policy:10:3"}));
  EXPECT_EQ(decision.reason, "escalated to data-approver (1 approval): a.otherwise: no rule approved this file");
}

TEST(Evaluator, OtherwiseMayApprove) {
  ProgramBuilder b;
  Policy& policy = b.policy("a");
  policy.rules = {ProgramBuilder::rule("never", Effect::kDeny, b.boolean(false))};
  policy.otherwise = ProgramBuilder::rule("otherwise", Effect::kApprove);
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kApprove);
  EXPECT_EQ(decision.reason, "approved by a.otherwise");
}

TEST(Evaluator, UnlessStopsARuleFromMatching) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("small", Effect::kApprove, b.boolean(true), b.boolean(true)),
                         ProgramBuilder::rule("other", Effect::kApprove, b.boolean(true), b.boolean(false))};
  const Decision decision = evaluate(b.program(), upload_facts());
  ASSERT_EQ(decision.rules.size(), 1u);
  EXPECT_EQ(decision.rules[0].rule, "other");
}

TEST(Evaluator, BecauseIsEvaluatedOnlyForMatchedRules) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("skipped", Effect::kDeny, b.boolean(false), kNoExpr, b.error("never")),
                         ProgramBuilder::rule("ok", Effect::kApprove)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kApprove);
  EXPECT_TRUE(decision.errors.empty());
}

TEST(Evaluator, ABecauseThatFailsIsAnErrorWithAnEmptyReason) {
  ProgramBuilder b;
  b.policy("a").rules = {ProgramBuilder::rule("ok", Effect::kApprove, kNoExpr, kNoExpr, b.integer(3))};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kEscalate);
  ASSERT_EQ(decision.rules.size(), 1u);
  EXPECT_EQ(decision.rules[0].reason, "");
  ASSERT_EQ(decision.errors.size(), 1u);
  EXPECT_EQ(decision.errors[0].message, "`because` must be a string, got int");
}

TEST(Evaluator, APolicyWhoseWhenIsFalseDoesNotApply) {
  ProgramBuilder b;
  b.policy("sandbox", kChannelAny, b.boolean(false)).rules = {ProgramBuilder::rule("no", Effect::kDeny)};
  b.policy("b").rules = {ProgramBuilder::rule("ok", Effect::kApprove)};
  const Decision decision = evaluate(b.program(), upload_facts());
  EXPECT_EQ(decision.outcome, Outcome::kApprove);
  ASSERT_EQ(decision.rules.size(), 1u);
  EXPECT_EQ(decision.rules[0].policy, "b");
}

TEST(Evaluator, PolicyWhenReadsFacts) {
  ProgramBuilder b;
  const ExprId not_sandbox = b.call(Builtin::kNotEqual, {b.fact("transfer.workspace"), b.string("sandbox")});
  b.policy("gate", kChannelAny, not_sandbox).rules = {ProgramBuilder::rule("no", Effect::kDeny)};
  Facts sandbox = upload_facts();
  ASSERT_TRUE(sandbox.set("transfer.workspace", Value::string("sandbox")).is_ok());
  Facts workspace = upload_facts();
  ASSERT_TRUE(workspace.set("transfer.workspace", Value::string("ws1")).is_ok());
  EXPECT_EQ(evaluate(b.program(), sandbox).reason, "no policy applies");
  EXPECT_EQ(evaluate(b.program(), workspace).outcome, Outcome::kDeny);
}

TEST(Evaluator, PoliciesApplyToTheirChannels) {
  ProgramBuilder b;
  b.policy("ingress", kChannelIngress).rules = {ProgramBuilder::rule("r", Effect::kApprove)};
  b.policy("egress", kChannelEgress).rules = {ProgramBuilder::rule("r", Effect::kApprove)};
  b.policy("import", kChannelImport).rules = {ProgramBuilder::rule("r", Effect::kApprove)};
  b.policy("any", kChannelAny).rules = {ProgramBuilder::rule("r", Effect::kApprove)};
  auto applied = [&](const Facts& facts) {
    std::vector<std::string> policies;
    for (const MatchedRule& rule : evaluate(b.program(), facts).rules) policies.push_back(rule.policy);
    return policies;
  };
  EXPECT_EQ(applied(upload_facts("upload")), (std::vector<std::string>{"any", "ingress"}));
  EXPECT_EQ(applied(upload_facts("import")), (std::vector<std::string>{"any", "import", "ingress"}));
  EXPECT_EQ(applied(upload_facts("egress")), (std::vector<std::string>{"any", "egress"}));
  EXPECT_EQ(applied(upload_facts("carrier-pigeon")), (std::vector<std::string>{"any"}));
  EXPECT_EQ(applied(Facts()), (std::vector<std::string>{"any"}));
}

// A program with several policies whose rules mix every effect, errors and reasons.
ProgramBuilder mixed_program() {
  ProgramBuilder b;
  const ExprId size = b.fact("file.size");
  const ExprId big = b.call(Builtin::kGreater, {size, b.integer(100)});
  b.policy("p-escalate").rules = {
      ProgramBuilder::escalation("big", {"information-governance", "data-engineer"}, 2, big, b.string("big file")),
      ProgramBuilder::escalation("always", {"data-engineer"}, 1),
      ProgramBuilder::rule("broken", Effect::kApprove, b.error("boom"))};
  b.policy("p-approve").rules = {ProgramBuilder::rule("z-last", Effect::kApprove),
                                 ProgramBuilder::rule("a-first", Effect::kApprove, kNoExpr, kNoExpr, b.string("ok"))};
  b.policy("p-broken-when", kChannelAny, b.error("when failed")).rules = {ProgramBuilder::rule("r", Effect::kDeny)};
  b.policy("p-otherwise").rules = {ProgramBuilder::rule("never", Effect::kDeny, b.boolean(false))};
  b.policy("p-egress", kChannelEgress).rules = {ProgramBuilder::rule("r", Effect::kDeny)};
  return b;
}

TEST(Evaluator, ResultDoesNotDependOnTheOrderOfPoliciesOrRules) {
  ProgramBuilder b = mixed_program();
  Facts facts = upload_facts();
  ASSERT_TRUE(facts.set("file.size", Value::integer(1000)).is_ok());
  const std::string expected = evaluate(b.program(), facts).to_json();
  EXPECT_NE(expected.find("\"outcome\":\"escalate\""), std::string::npos) << expected;
  std::mt19937 random(12345);
  for (int round = 0; round < 20; ++round) {
    Program shuffled = b.program();
    std::shuffle(shuffled.policies.begin(), shuffled.policies.end(), random);
    for (Policy& policy : shuffled.policies) std::shuffle(policy.rules.begin(), policy.rules.end(), random);
    EXPECT_EQ(evaluate(shuffled, facts).to_json(), expected);
  }
}

TEST(Evaluator, OneProgramEvaluatesFromManyThreadsAlike) {
  ProgramBuilder b = mixed_program();
  const ExprId entries = b.fact("archive.entry_names");
  const ExprId any_exe = b.comprehension(Macro::kExists, 0, entries, {b.matches(b.local(0), R"(\.exe$)")});
  b.policy("archives").rules = {ProgramBuilder::rule("executables", Effect::kDeny, any_exe)};
  const Program program = b.build();

  std::vector<Facts> inputs;
  for (int i = 0; i < 4; ++i) {
    Facts facts = upload_facts();
    EXPECT_TRUE(facts.set("file.size", Value::integer(i * 60)).is_ok());
    List names{Value::string("a.txt"), Value::string(i % 2 == 0 ? "b.csv" : "setup.exe")};
    EXPECT_TRUE(facts.set("archive.entry_names", Value::list(std::move(names))).is_ok());
    inputs.push_back(std::move(facts));
  }
  std::vector<std::string> expected;
  for (const Facts& facts : inputs) expected.push_back(evaluate(program, facts).to_json());
  ASSERT_NE(expected[0], expected[1]);

  std::vector<int> mismatches(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::size_t which = static_cast<std::size_t>((i + t) % 4);
        if (evaluate(program, inputs[which]).to_json() != expected[which]) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// A W2-shaped program: allow-list rules keyed by workspace and file type, plus unkeyed global rules.
Program workspace_program(std::size_t workspaces) {
  ProgramBuilder b;
  const ExprId types = b.constant(Value::list({Value::string("text/csv"), Value::string("text/plain")}));
  std::vector<Rule> rules;
  for (std::size_t i = 0; i < workspaces; ++i) {
    const std::string ws = "ws-" + std::to_string(i);
    const ExprId when = b.and_(b.and_(b.call(Builtin::kEqual, {b.fact("transfer.workspace"), b.string(ws)}),
                                      b.call(Builtin::kIn, {b.fact("file.type"), types})),
                               b.call(Builtin::kLessEqual, {b.fact("file.size"), b.integer(1000)}));
    rules.push_back(ProgramBuilder::rule("allow_" + ws, Effect::kApprove, when, kNoExpr, b.string("allowed")));
  }
  b.policy("workspaces", kChannelIngress).rules = std::move(rules);
  Policy& global = b.policy("global", kChannelAny);
  global.rules.push_back(ProgramBuilder::rule(
      "no_exe", Effect::kDeny, b.call(Builtin::kEndsWith, {b.fact("file.name"), b.string(".exe")})));
  global.rules.push_back(ProgramBuilder::escalation(
      "identifiers", {"governance"}, 1, b.call(Builtin::kGreater, {b.fact("content.nhs_numbers"), b.integer(0)})));
  global.otherwise = ProgramBuilder::rule("otherwise", Effect::kApprove, kNoExpr, kNoExpr, b.string("clean"));
  Program program = b.build();
  finalize_program(program);
  return program;
}

std::vector<Facts> workspace_facts(std::size_t workspaces) {
  std::vector<Facts> all;
  for (std::size_t i = 0; i < 50; ++i) {
    Facts facts = upload_facts(i % 5 == 0 ? "egress" : "upload");
    EXPECT_TRUE(facts.set("transfer.workspace", Value::string("ws-" + std::to_string(i * 7 % workspaces))).is_ok());
    EXPECT_TRUE(facts.set("file.type", Value::string(i % 3 == 0 ? "application/zip" : "text/csv")).is_ok());
    EXPECT_TRUE(facts.set("file.size", Value::integer(static_cast<std::int64_t>(i * 37))).is_ok());
    EXPECT_TRUE(facts.set("file.name", Value::string(i % 11 == 0 ? "setup.exe" : "counts.csv")).is_ok());
    EXPECT_TRUE(facts.set("content.nhs_numbers", Value::integer(i % 13 == 0 ? 2 : 0)).is_ok());
    all.push_back(std::move(facts));
  }
  return all;
}

TEST(Evaluator, AWarmScratchMakesDecisionsWithoutAllocating) {
  const Program program = workspace_program(1000);
  const std::vector<Facts> inputs = workspace_facts(1000);
  EvaluationScratch scratch;
  std::size_t approved = 0;
  for (const Facts& facts : inputs) approved += evaluate_outcome(program, facts, scratch).outcome == Outcome::kApprove;
  ASSERT_GT(approved, 0u);  // the rules do match: the loop below is not trivially empty work

  const std::uint64_t before = allocation_count.load();
  for (int round = 0; round < 10; ++round) {
    for (const Facts& facts : inputs) (void)evaluate_outcome(program, facts, scratch);
  }
  EXPECT_EQ(allocation_count.load() - before, 0u);
}

TEST(Evaluator, OutcomeSummaryNamesTheDecisionsRules) {
  const Program program = workspace_program(20);
  EvaluationScratch scratch;
  for (const Facts& facts : workspace_facts(20)) {
    const Decision decision = evaluate(program, facts, scratch);
    const OutcomeSummary summary = evaluate_outcome(program, facts, scratch);
    EXPECT_EQ(summary.outcome, decision.outcome);
    ASSERT_EQ(summary.rules.size(), decision.rules.size());
    for (std::size_t i = 0; i < summary.rules.size(); ++i) {
      const Policy& policy = program.policies[summary.rules[i].policy];
      EXPECT_EQ(policy.name, decision.rules[i].policy);
      EXPECT_EQ(summary.rules[i].rule == kOtherwiseRule ? "otherwise" : policy.rules[summary.rules[i].rule].name,
                decision.rules[i].rule);
    }
    EXPECT_EQ(summary.approvals, decision.reviewers.approvals);
    EXPECT_EQ(summary.roles.size(), decision.reviewers.roles.size());
  }
}

TEST(Evaluator, ScratchAndPlainEvaluationGiveTheSameDecision) {
  const Program program = workspace_program(50);
  Program unplanned = program;
  unplanned.plan.reset();
  EvaluationScratch scratch;
  for (const Facts& facts : workspace_facts(50)) {
    const std::string expected = evaluate(program, facts).to_json();
    EXPECT_EQ(evaluate(program, facts, scratch).to_json(), expected);
    EXPECT_EQ(evaluate(unplanned, facts, scratch).to_json(), expected);
  }
}

TEST(Evaluator, AScratchServesDifferentProgramsInTurn) {
  const Program small = workspace_program(3);
  const Program large = workspace_program(300);
  EvaluationScratch scratch;
  for (const Facts& facts : workspace_facts(3)) {
    EXPECT_EQ(evaluate(large, facts, scratch).to_json(), evaluate(large, facts).to_json());
    EXPECT_EQ(evaluate(small, facts, scratch).to_json(), evaluate(small, facts).to_json());
  }
}

}  // namespace
}  // namespace airlock::runtime
