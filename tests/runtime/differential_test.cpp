// The fast evaluator agrees with the reference on every generated input: random (seeded) programs and
// facts, including errors, unless-clauses, missing facts, unknown channels, tiny cost budgets, keys in
// mixed-kind lists and case differences, and W2-shaped rule sets built by hand.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/reference.h"
#include "evaluation_plan.h"
#include "program_builder.h"

namespace airlock::runtime {
namespace {

using testing::ProgramBuilder;

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : random_(seed) {}

  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_); }
  bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

  // ---- Facts ----

  Facts facts() {
    Facts facts;
    auto maybe = [&](std::string_view path, Value value) {
      if (chance(85)) {
        EXPECT_TRUE(facts.set(path, std::move(value)).is_ok()) << path;
      }
    };
    maybe("transfer.channel", Value::string(pick(channels_)));
    maybe("transfer.workspace", Value::string(pick(workspaces_)));
    maybe("file.type", Value::string(pick(types_)));
    maybe("file.name", Value::string(pick(names_)));
    maybe("destination.name", Value::string(pick(destinations_)));
    maybe("file.size", Value::integer(pick(sizes_)));
    maybe("content.nhs_numbers", Value::integer(static_cast<std::int64_t>(below(3))));
    maybe("archive.encrypted", Value::boolean(chance(30)));
    maybe("archive.compression_ratio", Value::floating(static_cast<double>(below(200)) / 2.0));
    List roles;
    for (const auto& role : roles_) {
      if (chance(40)) roles.push_back(Value::string(role));
    }
    maybe("actor.roles", Value::list(std::move(roles)));
    List entries;
    const std::size_t count = below(6);
    for (std::size_t i = 0; i < count; ++i) entries.push_back(Value::string(pick(names_)));
    if (chance(10)) {
      // Not a list of strings (which Facts::set(path, ...) would refuse): these elements take the general path.
      entries.insert(entries.begin() + static_cast<std::ptrdiff_t>(below(entries.size() + 1)),
                     chance(50) ? Value::integer(3) : Value::list({Value::string("x")}));
      facts.set(FactSchema::standard().find("archive.entry_names").value(), Value::list(std::move(entries)));
    } else {
      maybe("archive.entry_names", Value::list(std::move(entries)));
    }
    return facts;
  }

  // ---- Expressions ----

  Value string_constant(const std::vector<std::string>& pool) { return Value::string(pick(pool)); }

  // A number that equals (or nearly equals) a file size, in any numeric kind.
  Value number_constant() {
    const std::int64_t base = pick(sizes_);
    switch (below(5)) {
      case 0: return Value::unsigned_integer(static_cast<std::uint64_t>(base < 0 ? 0 : base));
      case 1: return Value::floating(static_cast<double>(base));
      case 2: return Value::floating(static_cast<double>(base) + 0.5);
      default: return Value::integer(base);
    }
  }

  ExprId string_fact(ProgramBuilder& b, std::vector<std::string>*& pool) {
    switch (below(5)) {
      case 0: pool = &workspaces_; return b.fact("transfer.workspace");
      case 1: pool = &types_; return b.fact("file.type");
      case 2: pool = &names_; return b.fact("file.name");
      case 3: pool = &destinations_; return b.fact("destination.name");
      default: pool = &channels_; return b.fact("transfer.channel");
    }
  }

  // A conjunct the index can use: fact == constant, constant == fact, or fact in [constants].
  ExprId key(ProgramBuilder& b) {
    if (chance(25)) {
      const ExprId size = b.fact("file.size");
      if (chance(50)) return b.call(Builtin::kEqual, {size, b.constant(number_constant())});
      std::vector<ExprId> items;
      const std::size_t n = 1 + below(4);
      for (std::size_t i = 0; i < n; ++i) {
        items.push_back(b.constant(chance(80) ? number_constant() : Value::string("10")));
      }
      return b.call(Builtin::kIn, {size, fold_list(b, items)});
    }
    std::vector<std::string>* pool = nullptr;
    const ExprId fact = string_fact(b, pool);
    switch (below(3)) {
      case 0: return b.call(Builtin::kEqual, {fact, b.constant(string_constant(*pool))});
      case 1: return b.call(Builtin::kEqual, {b.constant(string_constant(*pool)), fact});
      default: {
        std::vector<ExprId> items;
        const std::size_t n = 1 + below(4);
        for (std::size_t i = 0; i < n; ++i) {
          items.push_back(b.constant(chance(85) ? string_constant(*pool) : Value::integer(1)));
        }
        return b.call(Builtin::kIn, {fact, fold_list(b, items)});
      }
    }
  }

  // A constant list, as the compiler folds a literal list of constants.
  ExprId fold_list(ProgramBuilder& b, const std::vector<ExprId>& items) {
    List values;
    for (ExprId item : items) values.push_back(b.program().constants[b.program().nodes[item].a]);
    if (chance(20)) return b.list(items);  // left unfolded: the plain path must agree too
    return b.constant(Value::list(std::move(values)));
  }

  ExprId condition(ProgramBuilder& b, int depth) {
    const std::size_t choice = depth <= 0 ? below(12) : below(20);
    switch (choice) {
      case 0: return key(b);
      case 1: {
        const ExprId size = b.fact("file.size");
        const Builtin op = pick(std::vector<Builtin>{Builtin::kLess, Builtin::kLessEqual, Builtin::kGreater,
                                                     Builtin::kGreaterEqual, Builtin::kNotEqual});
        const ExprId constant = b.constant(number_constant());
        return chance(70) ? b.call(op, {size, constant}) : b.call(op, {constant, size});
      }
      case 2: {
        std::vector<std::string>* pool = nullptr;
        const ExprId fact = string_fact(b, pool);
        const Builtin op = pick(std::vector<Builtin>{Builtin::kLess, Builtin::kGreaterEqual, Builtin::kNotEqual});
        return b.call(op, {fact, b.constant(string_constant(*pool))});
      }
      case 3: {
        const Builtin op = pick(std::vector<Builtin>{Builtin::kEndsWith, Builtin::kStartsWith, Builtin::kContains});
        return b.call(op, {b.fact("file.name"), b.string(pick(std::vector<std::string>{".csv", ".exe", "Re", ""}))});
      }
      case 4: return b.matches(b.fact("file.name"), pick(std::vector<std::string>{"\\.csv$", "(?i)report", "^b"}));
      case 5: {
        // matches() with a constant pattern through the call form; one pattern is invalid.
        const std::string pattern = pick(std::vector<std::string>{"exe$", "[", "^a"});
        return b.call(Builtin::kMatches, {b.fact("file.name"), b.string(pattern)});
      }
      case 6: return b.fact_has(pick(std::vector<std::string_view>{"file.size", "transfer.workspace", "file.type"}));
      case 7: return b.call(Builtin::kGreater, {b.call(Builtin::kSize, {b.fact("actor.roles")}), b.integer(0)});
      case 8: return b.call(Builtin::kIn, {b.string(pick(roles_)), b.fact("actor.roles")});
      case 9: return b.fact("archive.encrypted");
      case 10: return b.call(Builtin::kGreater, {b.fact("content.nhs_numbers"), b.integer(0)});
      case 11: {
        const ExprId ratio = b.fact("archive.compression_ratio");
        return b.call(Builtin::kGreaterEqual, {ratio, b.constant(number_constant())});
      }
      case 12: return b.and_(condition(b, depth - 1), condition(b, depth - 1));
      case 13: return b.or_(condition(b, depth - 1), condition(b, depth - 1));
      case 14: return b.not_(condition(b, depth - 1));
      case 15: return failing(b);
      case 16: {
        const ExprId body =
            b.call(Builtin::kEndsWith, {b.local(0), b.string(pick(std::vector<std::string>{".exe", ".csv"}))});
        const Macro macro = pick(std::vector<Macro>{Macro::kExists, Macro::kAll, Macro::kExistsOne});
        return b.comprehension(macro, 0, b.fact("archive.entry_names"), {body});
      }
      case 17: {
        // size(names.filter(n, p)) compared with a count: counted without building the list.
        const ExprId lowered = b.call(Builtin::kLowerAscii, {b.local(0)});
        const ExprId test =
            b.call(pick(std::vector<Builtin>{Builtin::kEndsWith, Builtin::kStartsWith, Builtin::kContains}),
                   {chance(50) ? lowered : b.local(0),
                    b.string(pick(std::vector<std::string>{".csv", "b", "Re", "nested/", ""}))});
        const ExprId body = chance(30)   ? b.not_(test)
                            : chance(50) ? b.or_(test, b.matches(b.local(0), "\\.exe$"))
                                         : test;
        const ExprId count =
            b.call(Builtin::kSize, {b.comprehension(Macro::kFilter, 0, b.fact("archive.entry_names"), {body})});
        return b.call(pick(std::vector<Builtin>{Builtin::kGreater, Builtin::kEqual}),
                      {count, b.integer(static_cast<std::int64_t>(below(3)))});
      }
      case 18: {
        // names.map(n, size(n)).exists(s, s OP k), or .all.
        const ExprId sizes =
            b.comprehension(Macro::kMap, 1, b.fact("archive.entry_names"), {b.call(Builtin::kSize, {b.local(1)})});
        const Builtin op = pick(std::vector<Builtin>{Builtin::kLess, Builtin::kLessEqual, Builtin::kGreater,
                                                     Builtin::kGreaterEqual, Builtin::kEqual, Builtin::kNotEqual});
        const ExprId k = b.integer(static_cast<std::int64_t>(below(14)));
        const ExprId test = chance(50) ? b.call(op, {b.local(2), k}) : b.call(op, {k, b.local(2)});
        return b.comprehension(chance(50) ? Macro::kExists : Macro::kAll, 2, sizes, {test});
      }
      default: return b.conditional(condition(b, depth - 1), condition(b, depth - 1), condition(b, depth - 1));
    }
  }

  // Expressions that fail: an error constant, division by zero, a type error.
  ExprId failing(ProgramBuilder& b) {
    switch (below(4)) {
      case 0: return b.error("boom");
      case 1:
        return b.call(Builtin::kEqual, {b.call(Builtin::kDivide, {b.fact("file.size"), b.integer(0)}), b.integer(1)});
      case 2: return b.not_(b.fact("file.name"));
      default: return b.fact("file.size");  // not a bool
    }
  }

  // A rule's `when`: a chain of conjuncts, often with a key somewhere in it.
  ExprId when(ProgramBuilder& b) {
    std::vector<ExprId> conjuncts;
    const std::size_t n = 1 + below(4);
    const std::size_t key_at = chance(75) ? below(n) : n;
    for (std::size_t i = 0; i < n; ++i) conjuncts.push_back(i == key_at ? key(b) : condition(b, 2));
    ExprId tree = conjuncts[0];
    for (std::size_t i = 1; i < n; ++i) {
      // Sometimes nest to the right, as (a && (b && c)).
      tree = chance(70) ? b.and_(tree, conjuncts[i]) : b.and_(conjuncts[i], tree);
    }
    return tree;
  }

  ExprId because(ProgramBuilder& b) {
    switch (below(5)) {
      case 0: return b.string("a constant reason");
      case 1: return b.call(Builtin::kAdd, {b.string("file "), b.fact("file.name")});
      case 2: return b.integer(3);  // not a string
      case 3: return b.error("no reason");
      default: return b.string("");
    }
  }

  Program program() {
    ProgramBuilder b;
    const std::size_t policies = 1 + below(4);
    for (std::size_t p = 0; p < policies; ++p) {
      const std::uint8_t channels =
          pick(std::vector<std::uint8_t>{kChannelAny, kChannelUpload, kChannelIngress, kChannelEgress, kChannelImport});
      ExprId policy_when = kNoExpr;
      if (chance(40)) policy_when = chance(60) ? key(b) : condition(b, 1);
      std::vector<Rule> rules;
      const std::size_t count = below(7);
      for (std::size_t r = 0; r < count; ++r) {
        const Effect effect = pick(std::vector<Effect>{Effect::kApprove, Effect::kDeny, Effect::kEscalate});
        std::string name = "r" + std::to_string(chance(10) ? 0 : r);  // sometimes a repeated name
        Rule rule = ProgramBuilder::rule(std::move(name), effect, chance(90) ? when(b) : kNoExpr,
                                         chance(30) ? condition(b, 1) : kNoExpr, chance(60) ? because(b) : kNoExpr);
        if (effect == Effect::kEscalate) {
          rule.roles = chance(50) ? std::vector<std::string>{"data-approver"}
                                  : std::vector<std::string>{"governance", "security"};
          rule.approvals = static_cast<std::uint32_t>(rule.roles.size() + below(2));
        }
        rule.location = {"gen.policy", static_cast<std::uint32_t>(r + 1), chance(10) ? 0u : 3u};
        if (chance(5)) rule.location = {};
        rules.push_back(std::move(rule));
      }
      const std::string name = "p" + std::to_string(chance(10) ? 0 : p);
      Policy& policy = b.policy(name, channels, policy_when);
      policy.rules = std::move(rules);
      if (chance(50))
        policy.otherwise = ProgramBuilder::rule("otherwise", Effect::kApprove, kNoExpr, kNoExpr, because(b));
    }
    Program program = b.build();
    program.policy_set = "generated";
    return program;
  }

  std::vector<std::string> channels_ = {"upload", "import", "egress", "", "Upload", "bogus"};
  std::vector<std::string> workspaces_ = {"ws-0001", "ws-0002", "ws-0003", "WS-0001", ""};
  std::vector<std::string> types_ = {"text/csv", "application/pdf", "TEXT/CSV", "application/x-msdownload"};
  std::vector<std::string> names_ = {"a.csv", "b.exe", "Report.PDF", "", "nested/c.csv"};
  std::vector<std::string> destinations_ = {"partner-a", "partner-b", "Partner-A"};
  std::vector<std::string> roles_ = {"researcher", "admin", "Admin"};
  std::vector<std::int64_t> sizes_ = {0, 1, 10, 1024, -1, 5000};

 private:
  std::mt19937_64 random_;
};

void expect_same(const Program& program, const Facts& facts, const EvaluationOptions& options,
                 EvaluationScratch& scratch, const std::string& context) {
  const Decision expected = evaluate_reference(program, facts, options);
  const Decision actual = evaluate(program, facts, scratch, options);
  ASSERT_EQ(actual.to_json(), expected.to_json()) << context << "\nfacts: " << facts.to_json();
  EXPECT_EQ(actual.outcome, expected.outcome);
  EXPECT_EQ(actual.reviewers, expected.reviewers);
  EXPECT_EQ(actual.rules, expected.rules);
  EXPECT_EQ(actual.errors, expected.errors);
  EXPECT_EQ(actual.reason, expected.reason);

  // The same again into one Decision reused by every call in this binary, across programs, facts and
  // outcomes: nothing of an earlier decision (a rule, a role, an error, a reason) may survive into a later.
  static Decision reused;
  evaluate(program, facts, scratch, reused, options);
  EXPECT_EQ(reused.to_json(), expected.to_json()) << context << " (reused Decision)";
  EXPECT_EQ(reused.reviewers, expected.reviewers) << context << " (reused Decision)";
  EXPECT_EQ(reused.rules, expected.rules) << context << " (reused Decision)";
  EXPECT_EQ(reused.errors, expected.errors) << context << " (reused Decision)";
  EXPECT_EQ(reused.reason, expected.reason) << context << " (reused Decision)";

  const OutcomeSummary summary = evaluate_outcome(program, facts, scratch, options);
  EXPECT_EQ(summary.outcome, expected.outcome) << context;
  ASSERT_EQ(summary.rules.size(), expected.rules.size()) << context;
  for (std::size_t i = 0; i < summary.rules.size(); ++i) {
    const Policy& policy = program.policies[summary.rules[i].policy];
    EXPECT_EQ(policy.name, expected.rules[i].policy);
    const std::string& rule =
        summary.rules[i].rule == kOtherwiseRule ? std::string("otherwise") : policy.rules[summary.rules[i].rule].name;
    EXPECT_EQ(rule, expected.rules[i].rule);
  }
  std::vector<std::string> roles;
  for (const std::string* role : summary.roles) roles.push_back(*role);
  EXPECT_EQ(roles, expected.reviewers.roles) << context;
  EXPECT_EQ(summary.approvals, expected.reviewers.approvals) << context;
  EXPECT_EQ(summary.error_count, expected.errors.size()) << context;
}

// expect_same() at every cost budget from 1 to `max_budget`, then without a budget: where the budget runs
// out, and what was charged before it, must be the reference's.
void expect_same_at_every_budget(const Program& program, const Facts& facts, std::uint64_t max_budget,
                                 EvaluationScratch& scratch, const std::string& context) {
  for (std::uint64_t budget = 1; budget <= max_budget; ++budget) {
    EvaluationOptions options;
    options.cost_budget = budget;
    expect_same(program, facts, options, scratch, context + " budget " + std::to_string(budget));
    if (::testing::Test::HasFatalFailure()) return;
  }
  expect_same(program, facts, EvaluationOptions{}, scratch, context);
}

// expect_same_at_every_budget() on each case, then expect_same() under each of `size_limits` (max_value_size).
void expect_same_for_every_case(const Program& program, const std::vector<Facts>& cases, std::uint64_t max_budget,
                                std::initializer_list<std::uint64_t> size_limits) {
  EvaluationScratch scratch;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const std::string context = "case " + std::to_string(c);
    expect_same_at_every_budget(program, cases[c], max_budget, scratch, context);
    if (::testing::Test::HasFatalFailure()) return;
    for (std::uint64_t limit : size_limits) {
      EvaluationOptions options;
      options.max_value_size = limit;
      expect_same(program, cases[c], options, scratch, context + " max_value_size " + std::to_string(limit));
    }
  }
}

TEST(Differential, RandomProgramsAgreeWithTheReference) {
  Generator generator(20261129);
  EvaluationScratch scratch;
  const std::vector<std::uint64_t> budgets = {10'000'000, 40, 12, 5, 1};
  for (int p = 0; p < 300; ++p) {
    Program program = generator.program();
    finalize_program(program);
    for (int f = 0; f < 40; ++f) {
      const Facts facts = generator.facts();
      EvaluationOptions options;
      if (generator.chance(20)) options.cost_budget = generator.pick(budgets);
      expect_same(program, facts, options, scratch,
                  "program " + std::to_string(p) + " facts " + std::to_string(f) + " budget " +
                      std::to_string(options.cost_budget));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(Differential, ProgramsWithoutAPlanAgreeWithTheReference) {
  Generator generator(7);
  EvaluationScratch scratch;
  for (int p = 0; p < 60; ++p) {
    const Program program = generator.program();  // never finalized: evaluate() plans on each call
    ASSERT_EQ(program.plan, nullptr);
    for (int f = 0; f < 10; ++f) {
      expect_same(program, generator.facts(), {}, scratch, "program " + std::to_string(p));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(Differential, AStalePlanIsNotUsed) {
  ProgramBuilder b;
  b.policy("p", kChannelAny)
      .rules.push_back(ProgramBuilder::rule("csv", Effect::kApprove,
                                            b.call(Builtin::kEqual, {b.fact("file.type"), b.string("text/csv")})));
  finalize_program(b.program());
  // A rule added after finalize_program(): the old plan no longer fits and must not hide it.
  const ExprId pdf = b.call(Builtin::kEqual, {b.fact("file.type"), b.string("application/pdf")});
  b.program().policies[0].rules.push_back(ProgramBuilder::rule("pdf", Effect::kDeny, pdf));
  Facts facts;
  ASSERT_TRUE(facts.set("file.type", Value::string("application/pdf")).is_ok());
  const Decision decision = evaluate(b.program(), facts);
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_EQ(decision.to_json(), evaluate_reference(b.program(), facts).to_json());
}

// A `let` shared by several rules and read inside a comprehension's body is evaluated once per decision
// by the fast evaluator, which charges its cost again on every reuse: at every budget, including those
// that run out in its first evaluation, in a reuse, or in between, both evaluators give the same Decision.
TEST(Differential, SharedLetsChargeTheirCostOnEveryUseAtEveryBudget) {
  ProgramBuilder b;
  const ExprId names = b.fact("archive.entry_names");
  // let executables = archive.entry_names.filter(n, ["**/*.exe", "**/*.sh"].exists(p, n.lowerAscii().glob(p)))
  const ExprId patterns = b.list({b.string("**/*.exe"), b.string("**/*.sh")});
  const ExprId lowered = b.call(Builtin::kLowerAscii, {b.local(0)});
  const ExprId globbed = b.call(Builtin::kGlob, {lowered, b.local(1)});
  const ExprId any_pattern = b.comprehension(Macro::kExists, 1, patterns, {globbed});
  const ExprId executables = b.comprehension(Macro::kFilter, 0, names, {any_pattern});
  const ExprId count = b.call(Builtin::kSize, {executables});
  Policy& policy = b.policy("archives", kChannelAny);
  policy.rules.push_back(ProgramBuilder::rule("many", Effect::kDeny, b.call(Builtin::kGreater, {count, b.integer(1)})));
  policy.rules.push_back(ProgramBuilder::escalation(
      "some", {"data-approver"}, 1, b.call(Builtin::kGreater, {count, b.integer(0)}),
      b.call(Builtin::kAdd, {b.string("found "), b.call(Builtin::kIndex, {executables, b.integer(0)})})));
  // Inside a loop: every entry asks whether it is in the let.
  policy.rules.push_back(ProgramBuilder::rule(
      "listed", Effect::kApprove,
      b.comprehension(Macro::kExists, 2, names, {b.call(Builtin::kIn, {b.local(2), executables})})));
  finalize_program(b.program());

  Facts facts;
  List entries;
  for (const char* name : {"a.csv", "bin/Setup.EXE", "run.sh", "docs/readme.md", "B.TXT"}) {
    entries.push_back(Value::string(name));
  }
  ASSERT_TRUE(facts.set("archive.entry_names", Value::list(std::move(entries))).is_ok());
  EvaluationScratch scratch;
  const Decision full = evaluate(b.program(), facts, scratch);
  EXPECT_EQ(full.outcome, Outcome::kDeny);
  EXPECT_TRUE(full.errors.empty());
  std::size_t budget_errors = 0;
  for (std::uint64_t budget = 1; budget <= 400; ++budget) {
    EvaluationOptions options;
    options.cost_budget = budget;
    expect_same(b.program(), facts, options, scratch, "budget " + std::to_string(budget));
    if (::testing::Test::HasFatalFailure()) return;
    budget_errors += evaluate(b.program(), facts, scratch, options).errors.empty() ? 0 : 1;
  }
  EXPECT_GT(budget_errors, 0u);    // small budgets run out
  EXPECT_LT(budget_errors, 400u);  // large ones do not
}

// Comprehension bodies over strings run fused (string tests, regexes, globs, !, &&, ||, with and without
// lowerAscii()), and comprehensions over constants are evaluated once when the plan is built; both must
// charge what the reference charges, so every budget runs out at the same place.
TEST(Differential, FusedPredicatesAndPlanConstantsChargeTheReferenceCostAtEveryBudget) {
  ProgramBuilder b;
  const ExprId names = b.fact("archive.entry_names");
  // ["csv", "md"].map(x, "**/*." + x): no facts, no free variables, so a plan constant.
  const ExprId patterns = b.comprehension(Macro::kMap, 3, b.list({b.string("csv"), b.string("md")}),
                                          {b.call(Builtin::kAdd, {b.string("**/*."), b.local(3)})});
  const ExprId lowered = b.call(Builtin::kLowerAscii, {b.local(0)});
  const ExprId known = b.comprehension(Macro::kExists, 1, patterns, {b.call(Builtin::kGlob, {lowered, b.local(1)})});
  const ExprId hidden = b.matches(b.local(0), "(^|/)\\.[^/]+$");
  const ExprId odd = b.or_(b.and_(b.not_(known), b.not_(b.call(Builtin::kEndsWith, {b.local(0), b.string("/")}))),
                           b.or_(hidden, b.call(Builtin::kContains, {lowered, b.string("patient")})));
  Policy& policy = b.policy("archives", kChannelAny);
  policy.rules.push_back(ProgramBuilder::rule("odd", Effect::kDeny, b.comprehension(Macro::kExists, 0, names, {odd})));
  policy.rules.push_back(ProgramBuilder::rule(
      "plain", Effect::kApprove,
      b.call(
          Builtin::kEqual,
          {b.call(Builtin::kSize, {b.comprehension(Macro::kFilter, 2, names,
                                                   {b.call(Builtin::kStartsWith, {b.local(2), b.string("data/")})})}),
           b.integer(3)})));
  policy.rules.push_back(
      ProgramBuilder::rule("all_known", Effect::kApprove,
                           b.comprehension(Macro::kAll, 4, names,
                                           {b.or_(b.call(Builtin::kGlob, {b.local(4), b.string("data/**")}),
                                                  b.call(Builtin::kEndsWith, {b.local(4), b.string("/")}))})));
  finalize_program(b.program());

  for (const std::vector<const char*>& listing :
       {std::vector<const char*>{"data/", "data/a.CSV", "data/b.md", "data/c.csv"},
        std::vector<const char*>{"data/a.csv", "docs/.env", "Patient_list.txt", "data/x.exe"}}) {
    Facts facts;
    List entries;
    for (const char* name : listing) entries.push_back(Value::string(name));
    entries.push_back(Value::integer(7));  // not a string: this element takes the general path
    facts.set(FactSchema::standard().find("archive.entry_names").value(), Value::list(std::move(entries)));
    EvaluationScratch scratch;
    for (std::uint64_t budget = 1; budget <= 300; ++budget) {
      EvaluationOptions options;
      options.cost_budget = budget;
      expect_same(b.program(), facts, options, scratch, "budget " + std::to_string(budget));
      if (::testing::Test::HasFatalFailure()) return;
    }
    expect_same(b.program(), facts, EvaluationOptions{}, scratch, "default budget");
  }
}

// The fused forms W3 leans on, at every budget: size(list.filter(...)) counted without a list,
// list.map(x, size(x)).exists/all(y, y OP k) in one pass, startsWith/endsWith compared a word at a time
// (with and without lowerAscii(), literals up to and over 8 bytes, upper-case literals a lower-case
// receiver never ends with), flattened `&&`/`||` chains nested either way, regexes anchored at the end
// (run backwards) or needing a literal; over lists of strings, an empty list, and ranges with elements
// that are not strings (general path, errors), ranges that are maps, and long names (operand sizes).
TEST(Differential, FusedCountsMapTestsAndChainsChargeTheReferenceCostAtEveryBudget) {
  ProgramBuilder b;
  const ExprId names = b.fact("archive.entry_names");
  const ExprId file = b.fact("file.name");
  auto var = [&](std::uint32_t slot) { return b.local(slot); };
  auto lower = [&](std::uint32_t slot) { return b.call(Builtin::kLowerAscii, {b.local(slot)}); };
  auto call = [&](Builtin builtin, ExprId receiver, const char* text) {
    return b.call(builtin, {receiver, b.string(text)});
  };
  auto size_of = [&](ExprId list) { return b.call(Builtin::kSize, {list}); };
  auto sizes = [&](ExprId range, std::uint32_t slot) {
    return b.comprehension(Macro::kMap, slot, range, {b.call(Builtin::kSize, {b.local(slot)})});
  };
  std::vector<std::pair<std::string, ExprId>> rules = {
      {"count_or",
       b.call(Builtin::kGreater, {size_of(b.comprehension(Macro::kFilter, 0, names,
                                                          {b.or_(call(Builtin::kContains, var(0), "patient"),
                                                                 call(Builtin::kContains, lower(0), "nhs"))})),
                                  b.integer(0)})},
      {"count_not",
       b.call(Builtin::kGreater,
              {size_of(b.comprehension(Macro::kFilter, 1, names, {b.not_(call(Builtin::kEndsWith, var(1), "/"))})),
               b.integer(2)})},
      {"long",
       b.comprehension(Macro::kExists, 3, sizes(names, 2), {b.call(Builtin::kGreater, {var(3), b.integer(10)})})},
      {"all_short",
       b.comprehension(Macro::kAll, 5, sizes(names, 4), {b.call(Builtin::kGreaterEqual, {b.integer(40), var(5)})})},
      {"six", b.comprehension(Macro::kExists, 7, sizes(names, 6), {b.call(Builtin::kEqual, {var(7), b.integer(6)})})},
      {"none_empty",
       b.comprehension(Macro::kAll, 9, sizes(names, 8), {b.call(Builtin::kNotEqual, {b.integer(0), var(9)})})},
      {"under", b.comprehension(Macro::kExists, 9, sizes(names, 8), {b.call(Builtin::kLess, {var(9), b.integer(3)})})},
      {"executables", b.comprehension(Macro::kExists, 10, names,
                                      {b.or_(b.or_(call(Builtin::kEndsWith, lower(10), ".exe"),
                                                   call(Builtin::kEndsWith, lower(10), ".dll")),
                                             call(Builtin::kEndsWith, var(10), ".sh"))})},
      {"metadata", b.comprehension(Macro::kExists, 11, names,
                                   {b.or_(call(Builtin::kStartsWith, lower(11), "__macosx/"),
                                          call(Builtin::kEndsWith, var(11), "Thumbs.db"))})},
      {"upper", b.comprehension(Macro::kExists, 12, names, {call(Builtin::kEndsWith, lower(12), ".EXE")})},
      {"short_prefix", b.comprehension(Macro::kExists, 12, names, {call(Builtin::kStartsWith, lower(12), "da")})},
      {"known", b.comprehension(Macro::kAll, 13, names,
                                {b.or_(call(Builtin::kEndsWith, var(13), "/"),
                                       b.matches(var(13), "\\.(csv|parquet|txt|md|json)$"))})},
      {"traversal", b.comprehension(Macro::kExists, 14, names, {b.matches(var(14), "(^|/)\\.\\.(/|$)")})},
      {"hidden", b.comprehension(Macro::kExists, 14, names, {b.matches(lower(14), "(^|/)\\.[^/]+$")})},
      {"one", b.comprehension(Macro::kExistsOne, 15, names,
                              {b.and_(b.and_(call(Builtin::kStartsWith, var(15), "data/"),
                                             b.not_(call(Builtin::kEndsWith, var(15), "/"))),
                                      call(Builtin::kContains, var(15), "a"))})},
      {"right_nested", b.comprehension(Macro::kExists, 16, names,
                                       {b.or_(call(Builtin::kStartsWith, var(16), "/"),
                                              b.or_(call(Builtin::kEndsWith, var(16), ".md"),
                                                    b.and_(call(Builtin::kContains, var(16), "x"),
                                                           b.or_(call(Builtin::kEndsWith, var(16), ".csv"),
                                                                 call(Builtin::kEndsWith, lower(16), ".txt")))))})},
      {"folders", b.call(Builtin::kIn, {b.string("data/"), b.comprehension(Macro::kFilter, 17, names,
                                                                           {call(Builtin::kEndsWith, var(17), "/")})})},
      {"mixed_count", b.call(Builtin::kGreaterEqual,
                             {size_of(b.comprehension(Macro::kFilter, 18, b.list({file, b.integer(3), b.string("ab")}),
                                                      {call(Builtin::kEndsWith, var(18), "b")})),
                              b.integer(1)})},
      {"mixed_sizes", b.comprehension(Macro::kExists, 20, sizes(b.list({file, b.integer(3)}), 19),
                                      {b.call(Builtin::kGreater, {var(20), b.integer(1)})})},
      {"key_sizes",
       b.comprehension(Macro::kExists, 22, sizes(b.map({file, b.integer(1), b.string("k"), b.integer(2)}), 21),
                       {b.call(Builtin::kLess, {var(22), b.integer(2)})})},
      {"list_sizes", b.comprehension(Macro::kAll, 24, sizes(b.list({b.list({b.integer(1), file}), file}), 23),
                                     {b.call(Builtin::kGreaterEqual, {var(24), b.integer(2)})})},
      {"not_a_list",
       b.comprehension(Macro::kExists, 24, sizes(file, 23), {b.call(Builtin::kLess, {var(24), b.integer(2)})})},
      {"mixed_exists", b.comprehension(Macro::kExists, 25, b.list({file, b.integer(7), b.string("z.exe")}),
                                       {call(Builtin::kEndsWith, var(25), ".exe")})},
      {"mixed_all",
       b.comprehension(Macro::kAll, 25, b.list({file, b.integer(7)}), {call(Builtin::kEndsWith, var(25), "e")})},
      {"mixed_one", b.comprehension(Macro::kExistsOne, 25, b.list({file, b.boolean(true)}),
                                    {call(Builtin::kEndsWith, var(25), "e")})},
  };
  Policy& policy = b.policy("archives", kChannelAny);
  for (const auto& [name, condition] : rules)
    policy.rules.push_back(ProgramBuilder::rule(name, Effect::kEscalate, condition));
  finalize_program(b.program());
  // The plan fuses what this test is about (a rename in the plan must not quietly skip it).
  std::size_t counts = 0, map_tests = 0;
  for (const FastNode& node : b.program().plan->code) {
    counts += node.op == FastOp::kFusedCount ? 1 : 0;
    map_tests += node.op == FastOp::kFusedMapExists ? 1 : 0;
  }
  EXPECT_EQ(counts, 3u);
  EXPECT_EQ(map_tests, 9u);

  const std::string long_name = "outputs/tables/" + std::string(110, 'x') + ".CSV";
  const std::vector<std::vector<Value>> listings = {
      {Value::string("data/"), Value::string("data/a.csv"), Value::string("docs/readme.md"),
       Value::string("data/b.parquet")},
      {Value::string("tools/Setup.EXE"), Value::string("data/../../etc/passwd"), Value::string("study/.env"),
       Value::string(long_name), Value::string("__MACOSX/._a.csv"), Value::string("x/Thumbs.db"), Value::string("/abs"),
       Value::string("data/patient_list.txt"), Value::string("NHS.csv"), Value::string("run.sh"), Value::string("a"),
       Value::string("da"), Value::string("")},
      {Value::string("données/é.csv"), Value::string("é/../x"), Value::string("x.csé"), Value::string("données.txt"),
       Value::string("lib.DLL"), Value::string("short.md")},
      {},
      {Value::string("data/a.csv"), Value::integer(3), Value::string("b.exe"), Value::list({Value::string("x")}),
       Value::string("data/")},
      // 3, 11 and 41 bytes: the edges of the size bounds (code points <= bytes) of the map tests above.
      {Value::string("abc"), Value::string("data/ab.csv"), Value::string("study/cohort/" + std::string(28, 'y'))},
  };
  for (std::size_t l = 0; l < listings.size(); ++l) {
    for (const char* name : {"report.exe", "données.txt"}) {
      if (l != 4 && name[0] != 'r') continue;  // the non-ASCII file name with the mixed listing only
      Facts facts;
      facts.set(FactSchema::standard().find("archive.entry_names").value(), Value::list(List(listings[l])));
      ASSERT_TRUE(facts.set("file.name", Value::string(name)).is_ok());
      EvaluationScratch scratch;
      for (std::uint64_t budget = 1; budget <= 420; ++budget) {
        EvaluationOptions options;
        options.cost_budget = budget;
        expect_same(b.program(), facts, options, scratch,
                    "listing " + std::to_string(l) + " " + name + " budget " + std::to_string(budget));
        if (::testing::Test::HasFatalFailure()) return;
      }
      expect_same(b.program(), facts, EvaluationOptions{}, scratch, "listing " + std::to_string(l) + " default budget");
    }
  }
}

// The texts of a list walked by fused comprehensions are described once per decision (which elements the
// fused predicate takes depends on the decision's max_value_size); a later decision with the same scratch
// and the very same list must describe them again.
TEST(Differential, ListsOfEarlierDecisionsAreDescribedAgain) {
  ProgramBuilder b;
  const ExprId names = b.fact("archive.entry_names");
  const ExprId lowered = b.call(Builtin::kLowerAscii, {b.local(0)});
  Policy& policy = b.policy("archives", kChannelAny);
  policy.rules.push_back(ProgramBuilder::rule(
      "exe", Effect::kDeny,
      b.comprehension(Macro::kExists, 0, names, {b.call(Builtin::kEndsWith, {lowered, b.string(".exe")})})));
  finalize_program(b.program());
  Facts facts;
  List entries = {Value::string("a.csv"), Value::string("B.EXE")};
  ASSERT_TRUE(facts.set("archive.entry_names", Value::list(std::move(entries))).is_ok());
  EvaluationScratch scratch;
  std::size_t errors = 0;
  for (int i = 0; i < 6; ++i) {
    EvaluationOptions options;
    options.max_value_size = i % 2 == 0 ? 1000 : 3;  // too small for lowerAscii() of either name
    expect_same(b.program(), facts, options, scratch, "decision " + std::to_string(i));
    errors += evaluate(b.program(), facts, scratch, options).errors.size();
  }
  EXPECT_EQ(errors, 3u);
}

// A fused comprehension keeps an element's lower-case form while it walks the element; the next one (here
// over a computed string that may well take the memory of the previous rule's) must compute its own.
TEST(Differential, LowerCaseFormsAreNotCarriedIntoTheNextComprehension) {
  ProgramBuilder b;
  auto lowered_contains_x = [&](const char* fact, std::uint32_t slot) {
    const ExprId text = b.call(Builtin::kAdd, {b.string("ab"), b.fact(fact)});
    const ExprId lowered = b.call(Builtin::kLowerAscii, {b.local(slot)});
    return b.comprehension(Macro::kExists, slot, b.list({text}),
                           {b.call(Builtin::kContains, {lowered, b.string("x")})});
  };
  Policy& policy = b.policy("names", kChannelAny);
  policy.rules.push_back(ProgramBuilder::rule("file", Effect::kEscalate, lowered_contains_x("file.name", 0)));
  policy.rules.push_back(ProgramBuilder::rule("destination", Effect::kDeny, lowered_contains_x("destination.name", 1)));
  finalize_program(b.program());
  EvaluationScratch scratch;
  for (const char* destination : {"partner", "Xylo"}) {
    Facts facts;
    ASSERT_TRUE(facts.set("file.name", Value::string("X.csv")).is_ok());
    ASSERT_TRUE(facts.set("destination.name", Value::string(destination)).is_ok());
    expect_same(b.program(), facts, {}, scratch, destination);
    EXPECT_EQ(evaluate(b.program(), facts, scratch).outcome,
              destination[0] == 'p' ? Outcome::kEscalate : Outcome::kDeny);
  }
}

// `names.filter(n, patterns.exists(p, n.lowerAscii().glob(p)))` over a list of `**/*.EXT` patterns is
// answered by one lookup of the name's extension; names that are not ASCII, have no extension, several
// dots, a '/' after the last dot, or a NUL byte must get what the reference gives, at the same cost.
TEST(Differential, ExtensionPatternSetsAgreeWithTheReferenceAtEveryBudget) {
  const std::vector<std::string> names = {"a.csv", "data/B.CSV", "x.tar.gz", "README", ".exe", "exe", "dir.exe/file",
                                          "a.", "a.toolongextension", std::string("a.exe\0", 6), "é.exe", "ü/a.md",
                                          "notes.MD", "a.js", "a.json", "deep/er/run.sh", "a..sh", "a.dylib"};
  const std::vector<std::vector<const char*>> pattern_lists = {
      {"**/*.exe", "**/*.sh", "**/*.js", "**/*.exe", "**.md", "**/*.dylib"},  // the table, with a repeat
      {"**/*.csv", "**/*.json", "**/*.toolongextension"},                     // too long: the loop
      {"**/*.csv", "data/*.csv"},                                             // another shape: the loop
  };
  for (std::size_t l = 0; l < pattern_lists.size(); ++l) {
    ProgramBuilder b;
    std::vector<ExprId> patterns;
    for (const char* pattern : pattern_lists[l]) patterns.push_back(b.string(pattern));
    const ExprId lowered = b.call(Builtin::kLowerAscii, {b.local(0)});
    const ExprId known =
        b.comprehension(Macro::kExists, 1, b.list(patterns), {b.call(Builtin::kGlob, {lowered, b.local(1)})});
    const ExprId matching = b.comprehension(Macro::kFilter, 0, b.fact("archive.entry_names"), {known});
    Policy& policy = b.policy("archives", kChannelAny);
    policy.rules.push_back(ProgramBuilder::rule(
        "one", Effect::kDeny, b.call(Builtin::kEqual, {b.call(Builtin::kSize, {matching}), b.integer(1)})));
    policy.rules.push_back(ProgramBuilder::rule(
        "several", Effect::kEscalate, b.call(Builtin::kGreater, {b.call(Builtin::kSize, {matching}), b.integer(1)})));
    finalize_program(b.program());
    for (std::size_t first = 0; first < names.size(); first += 3) {
      Facts facts;
      List entries;
      for (std::size_t i = first; i < std::min(names.size(), first + 6); ++i) entries.push_back(Value::string(names[i]));
      facts.set(FactSchema::standard().find("archive.entry_names").value(), Value::list(std::move(entries)));
      EvaluationScratch scratch;
      for (std::uint64_t budget = 1; budget <= 400; budget += 3) {
        EvaluationOptions options;
        options.cost_budget = budget;
        expect_same(b.program(), facts, options, scratch,
                    "list " + std::to_string(l) + " names from " + std::to_string(first) + " budget " +
                        std::to_string(budget));
        if (::testing::Test::HasFatalFailure()) return;
      }
      expect_same(b.program(), facts, EvaluationOptions{}, scratch, "list " + std::to_string(l) + " default budget");
      // Not vacuous: of "a.csv", "data/B.CSV", "x.tar.gz", "README", ".exe" and "exe", the first list's
      // table finds ".exe" alone.
      if (l == 0 && first == 0) {
        const Decision decision = evaluate(b.program(), facts, scratch);
        EXPECT_EQ(decision.outcome, Outcome::kDeny) << decision.to_json();
      }
    }
  }
}

TEST(Differential, RandomExpressionsAgreeWithTheReference) {
  Generator generator(99);
  for (int i = 0; i < 2000; ++i) {
    ProgramBuilder b;
    const ExprId root = generator.condition(b, 3);
    Program program = b.build();
    if (i % 2 == 0) finalize_program(program);
    const Facts facts = generator.facts();
    EvaluationOptions options;
    if (generator.chance(20)) options.cost_budget = 1 + generator.below(20);
    const Value expected = evaluate_expression_reference(program, facts, root, options);
    const Value actual = evaluate_expression(program, facts, root, options);
    ASSERT_EQ(actual.kind(), expected.kind())
        << i << ": " << expected.debug_string() << " vs " << actual.debug_string();
    ASSERT_EQ(actual.debug_string(), expected.debug_string()) << i;
  }
}

// Rules shaped like a growing deployment: one allow-list rule per workspace, one per destination, and
// global deny and escalate rules.
Program w2_shaped(std::size_t workspaces, std::size_t destinations) {
  ProgramBuilder b;
  const ExprId types = b.constant(Value::list({Value::string("text/csv"), Value::string("application/pdf")}));
  std::vector<Rule> ingress;
  for (std::size_t i = 0; i < workspaces; ++i) {
    const std::string ws = "ws-" + std::to_string(i);
    const ExprId when = b.and_(b.and_(b.call(Builtin::kEqual, {b.fact("transfer.workspace"), b.string(ws)}),
                                      b.call(Builtin::kIn, {b.fact("file.type"), types})),
                               b.call(Builtin::kLessEqual, {b.fact("file.size"), b.integer(1000)}));
    ingress.push_back(ProgramBuilder::rule("allow_" + ws, Effect::kApprove, when,
                                           i % 3 == 0 ? b.fact_has("actor.roles") : kNoExpr,
                                           b.string("allowed " + ws)));
  }
  std::vector<Rule> egress;
  for (std::size_t i = 0; i < destinations; ++i) {
    const std::string destination = "partner-" + std::to_string(i);
    const ExprId when = b.and_(b.call(Builtin::kLess, {b.fact("file.size"), b.integer(5000)}),
                               b.call(Builtin::kEqual, {b.string(destination), b.fact("destination.name")}));
    egress.push_back(ProgramBuilder::rule("to_" + destination, Effect::kApprove, when));
  }
  std::vector<Rule> global;
  for (std::size_t i = 0; i < 20; ++i) {
    const ExprId when =
        i % 2 == 0
            ? b.call(Builtin::kEndsWith, {b.fact("file.name"), b.string("." + std::to_string(i))})
            : b.call(Builtin::kGreater, {b.fact("content.nhs_numbers"), b.integer(static_cast<std::int64_t>(i))});
    if (i % 2 == 0) {
      global.push_back(ProgramBuilder::rule("deny_" + std::to_string(i), Effect::kDeny, when));
    } else {
      global.push_back(ProgramBuilder::escalation("escalate_" + std::to_string(i), {"governance"}, 1, when));
    }
  }
  b.policy("egress", kChannelEgress).rules = std::move(egress);
  b.policy("global", kChannelAny).rules = std::move(global);
  b.policy("workspaces", kChannelIngress).rules = std::move(ingress);
  Program program = b.build();
  finalize_program(program);
  return program;
}

// A rule whose `when` is a chain of `&&` over tests of a fact against a constant is judged from the plan's
// compiled conjunction. It must charge what the tree charges, `&&` nodes included, however the chain nests,
// and hand every case it does not handle (an error fact, a fact of another kind, a budget running out) to
// the general evaluator.
TEST(Differential, CompiledConjunctionsChargeTheReferenceCostAtEveryBudget) {
  ProgramBuilder b;
  const std::string long_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  auto test = [&](Builtin builtin, const char* path, ExprId constant) {
    return b.call(builtin, {b.fact(path), constant});
  };
  auto reversed = [&](Builtin builtin, ExprId constant, const char* path) {
    return b.call(builtin, {constant, b.fact(path)});
  };
  auto types = [&](std::initializer_list<const char*> names) {  // a folded constant list, as the compiler makes
    List items;
    for (const char* name : names) items.push_back(Value::string(name));
    return b.constant(Value::list(std::move(items)));
  };
  // Fresh nodes for every use: a node shared by two rules is memoised, and then judged as a tree.
  auto workspace = [&] { return test(Builtin::kEqual, "transfer.workspace", b.string("ws-0042")); };
  auto small = [&] { return test(Builtin::kLessEqual, "file.size", b.integer(1000)); };
  std::vector<std::pair<std::string, ExprId>> rules = {
      {"left_nested",
       b.and_(b.and_(workspace(), test(Builtin::kIn, "file.type", types({"text/csv", "text/plain"}))), small())},
      {"right_nested", b.and_(workspace(), b.and_(test(Builtin::kIn, "file.type", types({"text/csv"})), small()))},
      {"balanced", b.and_(b.and_(test(Builtin::kNotEqual, "transfer.channel", b.string("egress")),
                                 reversed(Builtin::kGreater, b.integer(5000), "file.size")),
                          b.and_(test(Builtin::kEqual, "file.type", b.string(long_type)),
                                 test(Builtin::kGreaterEqual, "file.size", b.integer(10))))},
      {"strings_ordered",
       b.and_(test(Builtin::kLess, "transfer.workspace", b.string("ws-5")),
              reversed(Builtin::kLessEqual, b.string("ws-0000000000000000001"), "transfer.workspace"))},
      {"unsigned", b.and_(workspace(), test(Builtin::kLess, "file.size", b.constant(Value::unsigned_integer(700))))},
      {"numbers_in", b.and_(test(Builtin::kIn, "content.nhs_numbers",
                                 b.constant(Value::list({Value::integer(1), Value::integer(2)}))),
                            test(Builtin::kEqual, "file.size", b.constant(Value::floating(100.0))))},
      {"kinds_differ", b.and_(test(Builtin::kEqual, "file.size", b.string("100")),
                              test(Builtin::kNotEqual, "transfer.workspace", b.integer(3)))},
      {"one_test", test(Builtin::kEqual, "destination.name", b.string("partner-1"))},
      {"no_numbers", b.and_(test(Builtin::kEqual, "content.nhs_numbers", b.integer(0)),
                            test(Builtin::kGreater, "file.size", b.integer(-1)))},
  };
  Policy& policy = b.policy("gate", kChannelAny);
  for (const auto& [name, condition] : rules)
    policy.rules.push_back(ProgramBuilder::rule(name, Effect::kEscalate, condition));
  policy.rules.push_back(ProgramBuilder::rule("not_a_chain", Effect::kDeny, b.or_(workspace(), small())));
  finalize_program(b.program());
  // Every `&&` chain above is compiled (so this test is about the compiled form), the `||` is not.
  std::size_t compiled = 0;
  for (const PlannedRule& planned : b.program().plan->rules) compiled += planned.when_tests.count != 0 ? 1 : 0;
  EXPECT_EQ(compiled, rules.size());

  const FactSlot size_slot = FactSchema::standard().find("file.size").value();
  const FactSlot workspace_slot = FactSchema::standard().find("transfer.workspace").value();
  std::vector<Facts> cases;
  for (const char* ws : {"ws-0042", "ws-0000000000000000001", "ws-9"}) {
    for (std::int64_t size : {0, 10, 100, 999, 1000, 4999, 70000}) {
      for (const char* type : {"text/csv", "text/plain", "application/pdf"}) {
        Facts facts;
        EXPECT_TRUE(facts.set("transfer.workspace", Value::string(ws)).is_ok());
        EXPECT_TRUE(facts.set("file.size", Value::integer(size)).is_ok());
        EXPECT_TRUE(facts.set("file.type", Value::string(size == 100 ? long_type : type)).is_ok());
        EXPECT_TRUE(facts.set("content.nhs_numbers", Value::integer(size % 3)).is_ok());
        EXPECT_TRUE(facts.set("transfer.channel", Value::string(size == 10 ? "egress" : "upload")).is_ok());
        cases.push_back(std::move(facts));
      }
    }
  }
  // Facts the fast forms leave to the general evaluator: an error, and kinds the schema would refuse.
  Facts error_fact = cases.front();
  error_fact.set(workspace_slot, Value::error("no workspace"));
  cases.push_back(std::move(error_fact));
  Facts unsigned_size = cases.front();
  unsigned_size.set(size_slot, Value::unsigned_integer(100));
  cases.push_back(std::move(unsigned_size));
  Facts text_size = cases.front();
  text_size.set(size_slot, Value::string("100"));
  cases.push_back(std::move(text_size));
  Facts error_count = cases[6];  // ws-0042, 100 bytes: the error is not absorbed by a false `file.size == 100.0`
  error_count.set(FactSchema::standard().find("content.nhs_numbers").value(), Value::error("not counted"));
  cases.push_back(std::move(error_count));
  Facts double_type = cases.front();
  double_type.set(FactSchema::standard().find("file.type").value(), Value::floating(1.5));
  cases.push_back(std::move(double_type));
  Facts list_workspace = cases.front();
  list_workspace.set(workspace_slot, Value::list({Value::string("ws-0042")}));
  cases.push_back(std::move(list_workspace));
  cases.emplace_back();  // nothing set

  expect_same_for_every_case(b.program(), cases, 40, {});
}

// A `because` built by string `+` is joined into one buffer, without a Value per `+`. It must charge what the
// tree charges (each `+`'s unit, its operands, then their costs, a string's growing with its length), and give
// the reference's error, in its words, at the first `+` that is not a join of two strings.
TEST(Differential, ReasonsBuiltByPlusChargeTheReferenceCostAtEveryBudget) {
  ProgramBuilder b;
  const std::string long_text(100, 'x');  // two strings of it cost 1 unit each, joined 3
  auto add = [&](ExprId left, ExprId right) { return b.call(Builtin::kAdd, {left, right}); };
  auto text = [&](const char* value) { return b.string(value); };
  auto conversion = [&](ExprId operand) { return b.call(Builtin::kToString, {operand}); };
  // One node in two reasons is memoised: the chains around it take its memo.
  const ExprId shared = add(text("shared "), b.fact("file.type"));
  std::vector<std::pair<std::string, ExprId>> reasons = {
      {"left_nested",
       add(add(add(text("the type ("), b.fact("file.type")), text(") is ")), b.fact("transfer.workspace"))},
      {"right_nested", add(text("to "), add(b.fact("transfer.workspace"), text(" only")))},
      {"converted",
       add(add(text("n="), b.call(Builtin::kToString, {b.fact("content.nhs_numbers")})), text(" numbers"))},
      {"long", add(add(b.string(long_text), b.fact("file.type")), b.string(long_text))},
      {"number_first", add(add(b.fact("content.nhs_numbers"), text("x")), text("y"))},
      {"number_inside", add(add(text("a"), b.fact("content.nhs_numbers")), text("b"))},
      {"unset_fact", add(add(text("to "), b.fact("destination.name")), text("!"))},
      {"lists", add(add(b.list({text("a")}), b.list({text("b")})), text("c"))},
      {"memo_a", add(shared, text(" a"))},
      {"memo_b", add(add(shared, text(" b")), b.fact("file.type"))},
      {"one_string", b.fact("file.type")},
      // Chains on the right of a `+`, as a `let` inlines them: joined into the same buffer.
      {"right_chain", add(add(text("holds "), add(add(conversion(b.fact("content.postcodes")), text(" postcodes, ")),
                                                  conversion(b.fact("content.nhs_numbers")))),
                          text(" numbers"))},
      {"right_chain_error", add(text("to "), add(b.fact("transfer.workspace"), add(text("/"), b.fact("file.type"))))},
      {"right_chain_number", add(text("n "), add(b.fact("content.nhs_numbers"), text("x")))},
      {"right_chain_lists", add(text("l "), add(b.list({text("a")}), b.list({text("b")})))},
      {"right_not_string", add(add(text("a"), text("b")), b.list({text("c")}))},
      {"long_right", add(b.string(long_text), add(b.string(long_text), add(b.fact("file.type"), b.string(long_text))))},
      {"conversions", add(add(add(conversion(b.integer(-1234567890123)),
                                  conversion(b.constant(Value::unsigned_integer(18446744073709551615u)))),
                              conversion(b.constant(Value::floating(2.5)))),
                          add(conversion(b.fact("file.type")), conversion(b.fact("destination.name"))))},
      {"conversion_first", add(conversion(b.fact("content.nhs_numbers")), text(" NHS numbers"))},
  };
  Policy& policy = b.policy("gate", kChannelAny);
  for (const auto& [name, because] : reasons) {
    policy.rules.push_back(ProgramBuilder::rule(name, Effect::kApprove, kNoExpr, kNoExpr, because));
  }
  finalize_program(b.program());

  std::vector<Facts> cases;
  for (const char* type : {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}) {
    Facts facts;
    EXPECT_TRUE(facts.set("file.type", Value::string(type)).is_ok());
    EXPECT_TRUE(facts.set("transfer.workspace", Value::string("ws-0042")).is_ok());
    EXPECT_TRUE(facts.set("content.nhs_numbers", Value::integer(3)).is_ok());
    EXPECT_TRUE(facts.set("content.postcodes", Value::integer(123456)).is_ok());
    cases.push_back(std::move(facts));
  }
  Facts error_fact = cases.front();
  error_fact.set(FactSchema::standard().find("transfer.workspace").value(), Value::error("no workspace"));
  cases.push_back(std::move(error_fact));
  Facts destination = cases.back();
  EXPECT_TRUE(destination.set("destination.name", Value::string("partner-1")).is_ok());
  cases.push_back(std::move(destination));
  cases.emplace_back();  // nothing set

  // Values over a size limit: the limit's error at the `+` that crosses it.
  expect_same_for_every_case(b.program(), cases, 120, {2u, 5u, 20u, 104u, 250u});
}

// The forms that spare W1 its allocations, at every budget: `host.endsWith("." + d)` (and startsWith,
// contains) with the part joined in a buffer instead of a Value; trim() of a string with nothing to trim
// giving the same value; a filter that keeps every element giving its range, and one that keeps none the
// empty list. Over parts that are errors, numbers or lists, receivers that are not strings, white space of
// every kind at either end, and listings kept whole, in part and not at all.
TEST(Differential, JoinedPartsTrimsAndWholeFiltersChargeTheReferenceCostAtEveryBudget) {
  ProgramBuilder b;
  auto add = [&](ExprId left, ExprId right) { return b.call(Builtin::kAdd, {left, right}); };
  auto text = [&](const char* value) { return b.string(value); };
  const std::string long_text(70, 'x');  // costs a unit as an operand
  const ExprId host = b.fact("source.host");
  const ExprId name = b.fact("file.name");
  const ExprId names = b.fact("archive.entry_names");
  const ExprId domains = b.list({text("nhs.uk"), text("example.org")});
  auto filter = [&](std::uint32_t slot, ExprId body) { return b.comprehension(Macro::kFilter, slot, names, {body}); };
  const ExprId files = filter(1, b.not_(b.call(Builtin::kEndsWith, {b.local(1), text("/")})));
  std::vector<std::pair<std::string, ExprId>> whens = {
      {"trusted", b.comprehension(Macro::kExists, 0, domains,
                                  {b.or_(b.call(Builtin::kEqual, {host, b.local(0)}),
                                         b.call(Builtin::kEndsWith, {host, add(text("."), b.local(0))}))})},
      {"in_workspace",
       b.call(Builtin::kStartsWith, {name, add(b.fact("transfer.workspace"), add(text("/"), text("data")))})},
      {"numbered",
       b.call(Builtin::kContains,
              {name, add(add(text("-"), b.call(Builtin::kToString, {b.fact("content.nhs_numbers")})), text("-"))})},
      {"part_error", b.call(Builtin::kEndsWith, {name, add(b.fact("destination.name"), text(".csv"))})},
      {"long_part", b.call(Builtin::kContains, {name, add(b.fact("transfer.workspace"), b.string(long_text))})},
      {"part_number", b.call(Builtin::kEndsWith, {name, add(text("a"), b.fact("content.nhs_numbers"))})},
      {"part_list", b.call(Builtin::kContains, {name, add(b.list({text("a")}), b.list({text("b")}))})},
      {"receiver_number", b.call(Builtin::kEndsWith, {b.fact("content.nhs_numbers"), add(text("1"), text("2"))})},
      {"nested_parts",
       b.call(Builtin::kEndsWith,
              {name, add(text(""), b.conditional(b.call(Builtin::kContains, {host, add(text("nhs"), text(".uk"))}),
                                                 text(".csv"), text(".txt")))})},
      {"trimmed", b.call(Builtin::kEqual, {b.call(Builtin::kTrim, {name}), name})},
      {"trimmed_size",
       b.call(Builtin::kGreater, {b.call(Builtin::kSize, {b.call(Builtin::kTrim, {host})}), b.integer(3)})},
      {"trim_number", b.call(Builtin::kEqual, {b.call(Builtin::kTrim, {b.fact("content.nhs_numbers")}), text("")})},
      {"all_files", b.call(Builtin::kEqual, {files, names})},
      {"no_programs",
       b.call(Builtin::kEqual, {filter(2, b.call(Builtin::kEndsWith, {b.local(2), text(".exe")})), b.list({})})},
      {"first_file", b.call(Builtin::kEqual, {b.call(Builtin::kIndex, {files, b.integer(0)}), text("a.csv")})},
  };
  Policy& policy = b.policy("gate", kChannelAny);
  for (const auto& [rule, when] : whens) {
    policy.rules.push_back(ProgramBuilder::rule(rule, Effect::kEscalate, when, kNoExpr,
                                                add(text("files: "), b.call(Builtin::kIndex, {files, b.integer(0)}))));
  }
  finalize_program(b.program());

  std::vector<Facts> cases;
  const std::vector<std::pair<const char*, const char*>> hosts_and_names = {
      {"data.nhs.uk", "ws-1/data-3-.csv"},
      {"nhs.uk", " padded.csv"},
      {"evil-nhs.uk", "tab.csv\\t"},
      {" example.org ", "\u00a0nbsp.csv"},
      {"", ""},
      {"\u2003wide", "ends in space\u3000"},
      {"sub.example.org", "ws-1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-3-.csv"}};
  const std::vector<std::vector<const char*>> listings = {
      {"a.csv", "b.md"}, {"dir/", "a.csv", "run.exe"}, {"only/", "dirs/"}, {}};
  for (std::size_t k = 0; k < hosts_and_names.size(); ++k) {
    const auto& [host_text, name_text] = hosts_and_names[k];
    std::string json =
        std::string(R"({"source": {"host": ")") + host_text + R"("}, "file": {"name": ")" + name_text +
        R"("}, "transfer": {"workspace": "ws-1"}, "content": {"nhs_numbers": 3}, "archive": {"entry_names": [)";
    const std::vector<const char*>& listing = listings[k % listings.size()];
    for (std::size_t i = 0; i < listing.size(); ++i) json += (i > 0 ? ", \"" : "\"") + std::string(listing[i]) + "\"";
    json += "]}}";
    auto facts = Facts::from_json(json);
    ASSERT_TRUE(facts.is_ok()) << json << ": " << facts.message();
    cases.push_back(std::move(facts).value());
  }
  Facts error_fact = cases.front();
  error_fact.set(FactSchema::standard().find("destination.name").value(), Value::error("no destination"));
  error_fact.set(FactSchema::standard().find("file.name").value(), Value::error("no name"));
  cases.push_back(std::move(error_fact));
  cases.emplace_back();  // nothing set

  expect_same_for_every_case(b.program(), cases, 150, {1u, 4u, 12u});
}

TEST(Differential, W2ShapedRuleSetsAgreeWithTheReference) {
  Generator generator(4242);
  EvaluationScratch scratch;
  for (std::size_t size : {10u, 1000u}) {
    const Program program = w2_shaped(size, size / 4 + 1);
    for (int f = 0; f < 400; ++f) {
      Facts facts = generator.facts();
      const std::string ws = "ws-" + std::to_string(generator.below(size + 2));
      ASSERT_TRUE(facts.set("transfer.workspace", Value::string(ws)).is_ok());
      ASSERT_TRUE(
          facts.set("destination.name", Value::string("partner-" + std::to_string(generator.below(size / 4 + 2))))
              .is_ok());
      ASSERT_TRUE(facts.set("file.name", Value::string("x." + std::to_string(generator.below(30)))).is_ok());
      expect_same(program, facts, {}, scratch, "W2 " + std::to_string(size) + " facts " + std::to_string(f));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace airlock::runtime
