// The fast evaluator agrees with the reference on compiled policy sets: the standard library
// (policies/) and generated W2-shaped sets, over seeded generated transfers, and the benchmark
// workloads W1, W2 and W3 (bench/workloads.h), with the default budget and with budgets that run out.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/reference.h"
#include "workloads.h"

namespace airlock::compiler {
namespace {

using runtime::Facts;
using runtime::Value;

class TransferGenerator {
 public:
  explicit TransferGenerator(std::uint64_t seed) : random_(seed) {}

  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_); }
  const std::string& pick(const std::vector<std::string>& items) { return items[below(items.size())]; }

  Facts facts(std::size_t workspaces, std::size_t destinations) {
    Facts facts;
    auto set = [&](std::string_view path, Value value) {
      if (below(10) != 0) {
        EXPECT_TRUE(facts.set(path, std::move(value)).is_ok()) << path;
      }
    };
    set("transfer.channel", Value::string(pick({"upload", "import", "egress", "", "Egress"})));
    set("transfer.workspace", Value::string("ws-" + std::to_string(below(workspaces + 2))));
    set("transfer.justification", Value::string(pick({"", "to publish the aggregate counts for the paper", "x"})));
    set("destination.name", Value::string("dest-" + std::to_string(below(destinations + 2))));
    set("file.type", Value::string(pick({"text/csv", "application/pdf", "application/zip", "TEXT/CSV",
                                         "application/x-msdownload", "text/plain"})));
    set("file.declared_type", Value::string(pick({"", "text/csv", "application/octet-stream", "image/png"})));
    set("file.name", Value::string(pick({"counts.csv", "setup.exe", "report.pdf", "../escape.csv", "data.zip"})));
    set("file.extension", Value::string(pick({"csv", "exe", "pdf", "zip", ""})));
    set("file.size", Value::integer(static_cast<std::int64_t>(below(4) == 0 ? below(1) : below(600'000'000))));
    set("scan.result", Value::string(pick({"clean", "infected", "error", "skipped", "weird"})));
    set("archive.is_archive", Value::boolean(below(3) == 0));
    set("archive.encrypted", Value::boolean(below(10) == 0));
    set("archive.entries", Value::integer(static_cast<std::int64_t>(below(200))));
    set("archive.nested_archives", Value::integer(static_cast<std::int64_t>(below(3))));
    set("archive.compression_ratio", Value::floating(static_cast<double>(below(300))));
    runtime::List entries;
    for (std::size_t i = below(6); i > 0; --i) entries.push_back(Value::string(pick({"a.csv", "b.exe", "../c.txt", "d.pdf"})));
    set("archive.entry_names", Value::list(std::move(entries)));
    set("content.nhs_numbers", Value::integer(static_cast<std::int64_t>(below(4) == 0 ? 1 : 0)));
    set("content.postcodes", Value::integer(static_cast<std::int64_t>(below(6) == 0 ? 2 : 0)));
    set("table.is_table", Value::boolean(below(2) == 0));
    set("table.min_count", Value::integer(static_cast<std::int64_t>(below(20))));
    set("table.zero_cells", Value::integer(static_cast<std::int64_t>(below(3))));
    set("source.type", Value::string(pick({"http", "https", "postgresql", "s3"})));
    set("source.url", Value::string(pick({"https://data.example.org/x", "HTTP://old.example", "postgresql://db?sslmode=disable"})));
    set("source.host", Value::string(pick({"data.example.org", "evil.example"})));
    set("datasource.publisher", Value::string(pick({"", "ONS"})));
    set("datasource.license", Value::string(pick({"", "OGL-UK-3.0"})));
    return facts;
  }

 private:
  std::mt19937_64 random_;
};

void expect_agreement(const runtime::Program& program, const Facts& facts, runtime::EvaluationScratch& scratch,
                      const runtime::EvaluationOptions& options = {}) {
  const runtime::Decision expected = runtime::evaluate_reference(program, facts, options);
  const runtime::Decision actual = runtime::evaluate(program, facts, scratch, options);
  ASSERT_EQ(actual.to_json(), expected.to_json()) << "facts: " << facts.to_json();
  EXPECT_EQ(runtime::evaluate_outcome(program, facts, scratch, options).outcome, expected.outcome);
}

TEST(EvaluatorDifferential, TheStandardPoliciesAgreeWithTheReference) {
  auto files = load_policy_files(std::vector<std::string>{std::string(AIRLOCK_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(files.is_ok()) << files.message();
  const CompiledPolicySet compiled = compile_policy_set(*files);
  ASSERT_NE(compiled.program, nullptr);
  ASSERT_NE(compiled.program->plan, nullptr);  // the compiler finalizes what it builds
  TransferGenerator generator(1);
  runtime::EvaluationScratch scratch;
  std::vector<int> outcomes(3, 0);
  for (int i = 0; i < 3000; ++i) {
    const Facts facts = generator.facts(10, 10);
    runtime::EvaluationOptions options;
    if (i % 10 == 0) options.cost_budget = 1 + generator.below(60);
    expect_agreement(*compiled.program, facts, scratch, options);
    if (HasFatalFailure()) return;
    ++outcomes[static_cast<int>(runtime::evaluate(*compiled.program, facts, scratch).outcome)];
  }
  // The transfers exercise every outcome.
  for (int count : outcomes) EXPECT_GT(count, 0);
  for (const TestCase& test : compiled.tests) expect_agreement(*compiled.program, test.given, scratch);
}

std::string w2_source(std::size_t workspaces, std::size_t destinations) {
  std::string text = "policy \"workspaces\" {\n  applies to ingress\n";
  for (std::size_t i = 0; i < workspaces; ++i) {
    const std::string n = std::to_string(i);
    text += "  rule ws_" + n + " {\n    approve\n    when transfer.workspace == \"ws-" + n +
            "\" && file.type in [\"text/csv\", \"application/pdf\", 1, 1.0] && file.size <= " +
            std::to_string(1000 + i * 1000) + "\n" + (i % 4 == 0 ? "    unless content.nhs_numbers > 0\n" : "") +
            "    because \"workspace ws-" + n + " allows it\"\n  }\n";
  }
  text += "}\npolicy \"egress\" {\n  applies to egress\n";
  for (std::size_t i = 0; i < destinations; ++i) {
    const std::string n = std::to_string(i);
    text += "  rule dest_" + n + " {\n    approve\n    when file.size < 100000000 && \"dest-" + n +
            "\" == destination.name\n  }\n";
  }
  text += "}\npolicy \"global\" {\n  applies to any\n";
  for (std::size_t i = 0; i < 20; ++i) {
    const std::string n = std::to_string(i);
    if (i % 3 == 0) {
      text += "  rule deny_" + n + " {\n    deny\n    when file.name.endsWith(\"." + n + "\") || file.size == " + n +
              "\n  }\n";
    } else {
      text += "  rule escalate_" + n + " {\n    escalate to \"governance\"\n    when content.nhs_numbers > " + n +
              " || file.type.lowerAscii() == \"x/" + n + "\"\n    because \"rule \" + string(" + n + ")\n  }\n";
    }
  }
  text += "  otherwise approve\n}\n";
  return text;
}

TEST(EvaluatorDifferential, GeneratedW2RuleSetsAgreeWithTheReference) {
  for (std::size_t workspaces : {10u, 2000u}) {
    const std::vector<SourceFile> files{SourceFile{"w2.policy", w2_source(workspaces, workspaces / 3 + 1)}};
    const CompiledPolicySet compiled = compile_policy_set(files);
    ASSERT_NE(compiled.program, nullptr) << (compiled.diagnostics.empty() ? "" : compiled.diagnostics[0].message);
    TransferGenerator generator(workspaces);
    runtime::EvaluationScratch scratch;
    for (int i = 0; i < 2000; ++i) {
      expect_agreement(*compiled.program, generator.facts(workspaces, workspaces / 3 + 1), scratch);
      if (HasFatalFailure()) return;
    }
  }
}

// Compiles a benchmark workload and checks the fast evaluator against the reference on its transfers;
// every seventh transfer also runs under a budget small enough to run out part of the way through.
void expect_workload_agrees(const bench::Workload& workload) {
  SCOPED_TRACE(workload.name);
  const CompiledPolicySet compiled = compile_policy_set(workload.policies);
  ASSERT_NE(compiled.program, nullptr) << (compiled.diagnostics.empty() ? "" : compiled.diagnostics[0].message);
  runtime::EvaluationScratch scratch;
  std::vector<int> outcomes(3, 0);
  std::size_t budget_errors = 0;
  for (std::size_t i = 0; i < workload.facts.size(); ++i) {
    auto facts = Facts::from_json(workload.facts[i]);
    ASSERT_TRUE(facts.is_ok()) << facts.message();
    expect_agreement(*compiled.program, *facts, scratch);
    if (::testing::Test::HasFatalFailure()) return;
    ++outcomes[static_cast<int>(runtime::evaluate_outcome(*compiled.program, *facts, scratch).outcome)];
    if (i % 7 == 0) {
      runtime::EvaluationOptions options;
      options.cost_budget = 3 + (i * 37) % 150;
      expect_agreement(*compiled.program, *facts, scratch, options);
      if (::testing::Test::HasFatalFailure()) return;
      budget_errors += runtime::evaluate(*compiled.program, *facts, scratch, options).errors.empty() ? 0 : 1;
    }
  }
  for (int count : outcomes) EXPECT_GT(count, 0);  // the workload mixes every outcome
  EXPECT_GT(budget_errors, 0u);                    // and the small budgets do run out
}

TEST(EvaluatorDifferential, WorkloadW1AgreesWithTheReference) {
  expect_workload_agrees(bench::make_w1(std::string(AIRLOCK_SOURCE_DIR) + "/policies", 1000, 7));
}

TEST(EvaluatorDifferential, WorkloadW2AgreesWithTheReferenceAtTenAndAThousandRules) {
  expect_workload_agrees(bench::make_w2(10, 500, 11));
  expect_workload_agrees(bench::make_w2(1000, 400, 13));
}

TEST(EvaluatorDifferential, WorkloadW3AgreesWithTheReference) { expect_workload_agrees(bench::make_w3(150, 17)); }

}  // namespace
}  // namespace airlock::compiler
