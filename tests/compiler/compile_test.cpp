// The compiler end to end: source text -> diagnostics or a Program that the evaluator judges with.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"

namespace airlock::compiler {
namespace {

using runtime::Facts;
using runtime::Outcome;

// The example of LANGUAGE.md, verbatim.
constexpr std::string_view kLanguageExample = R"(// Line comments with //, block comments with /* */.
policy "sde-ingress" {
  description "Standard gate for data entering a workspace"
  applies to upload, import                  // channels: upload, import, egress; `ingress` = upload + import; `any`
  when transfer.workspace != "sandbox"       // optional: the policy applies only where this holds

  let max_auto_size = 500 MiB                // named values, usable in later lets and in rules
  let tabular = ["text/csv", "text/tab-separated-values"]

  rule no_executables {
    deny
    when file.type in ["application/x-executable", "application/x-dosexec", "application/x-mach-binary"]
    because "executable files may not enter a workspace"
  }

  rule identifiers {
    escalate to "information-governance", "data-engineer" requiring 2 approvals
    when content.nhs_numbers > 0
    because "the file holds " + string(content.nhs_numbers) + " NHS numbers"
  }

  rule small_tables {
    approve
    when file.type in tabular && file.size <= max_auto_size
    unless content.nhs_numbers > 0 || content.emails > 0
  }

  otherwise escalate to "data-approver" because "no rule approved this file"
}

test "a small CSV is approved" {
  given {
    transfer: {channel: "upload", direction: "ingress", workspace: "ws1"},
    file: {name: "a.csv", type: "text/csv", size: 10 KiB},
  }
  expect approve
  expect rules ["sde-ingress.small_tables"]  // optional: exactly these rules matched
}
)";

CompiledPolicySet compile_one(std::string_view text, std::string path = "test.policy") {
  std::vector<SourceFile> files{SourceFile{std::move(path), std::string(text)}};
  return compile_policy_set(files);
}

std::string all_diagnostics(const CompiledPolicySet& set) {
  std::string out;
  for (const auto& d : set.diagnostics) out += d.render() + "\n";
  return out;
}

// The first error's headline, for exact assertions.
std::string first_error(const CompiledPolicySet& set) {
  for (const auto& d : set.diagnostics) {
    if (d.severity == Severity::kError) return d.headline() + (d.help.empty() ? "" : " | help: " + d.help);
  }
  return "(no error)";
}

Facts facts_from(std::string_view json) {
  auto facts = Facts::from_json(json);
  EXPECT_TRUE(facts) << facts.message();
  return facts ? std::move(facts.value()) : Facts();
}

TEST(Compiler, CompilesTheLanguageExample) {
  CompiledPolicySet set = compile_one(kLanguageExample, "policies/ingress.policy");
  ASSERT_TRUE(set.ok()) << all_diagnostics(set);
  ASSERT_EQ(set.program->policies.size(), 1u);
  const runtime::Policy& policy = set.program->policies[0];
  EXPECT_EQ(policy.name, "sde-ingress");
  EXPECT_EQ(policy.channels, runtime::kChannelUpload | runtime::kChannelImport);
  ASSERT_EQ(policy.rules.size(), 3u);
  EXPECT_EQ(policy.rules[0].name, "identifiers");  // sorted by name
  EXPECT_EQ(policy.rules[0].roles, (std::vector<std::string>{"data-engineer", "information-governance"}));
  EXPECT_EQ(policy.rules[0].approvals, 2u);
  EXPECT_EQ(policy.rules[0].location.to_string(), "policies/ingress.policy:16:3");
  EXPECT_EQ(set.program->policy_set.size(), 64u);
  ASSERT_EQ(set.tests.size(), 1u);
  EXPECT_EQ(set.tests[0].name, "a small CSV is approved");
  EXPECT_EQ(set.tests[0].expect_outcome, Outcome::kApprove);
  EXPECT_EQ(set.tests[0].expect_rules, (std::vector<std::string>{"sde-ingress.small_tables"}));
}

TEST(Compiler, TheExampleDecidesAsLanguageMdSays) {
  CompiledPolicySet set = compile_one(kLanguageExample, "policies/ingress.policy");
  ASSERT_TRUE(set.ok()) << all_diagnostics(set);
  const auto& program = *set.program;

  runtime::Decision approved = runtime::evaluate(program, set.tests[0].given);
  EXPECT_EQ(approved.outcome, Outcome::kApprove);

  runtime::Decision escalated =
      runtime::evaluate(program, facts_from(R"({"transfer": {"channel": "upload", "workspace": "ws1"},
                              "file": {"type": "text/csv", "size": 100}, "content": {"nhs_numbers": 3}})"));
  EXPECT_EQ(escalated.outcome, Outcome::kEscalate);
  EXPECT_EQ(escalated.reviewers.roles, (std::vector<std::string>{"data-engineer", "information-governance"}));
  EXPECT_EQ(escalated.reviewers.approvals, 2u);
  ASSERT_EQ(escalated.rules.size(), 1u);
  EXPECT_EQ(escalated.rules[0].reason, "the file holds 3 NHS numbers");
  EXPECT_EQ(escalated.rules[0].location, "policies/ingress.policy:16:3");

  runtime::Decision denied =
      runtime::evaluate(program, facts_from(R"({"transfer": {"channel": "import", "workspace": "ws1"},
                              "file": {"type": "application/x-dosexec", "size": 100}})"));
  EXPECT_EQ(denied.outcome, Outcome::kDeny);

  // The policy does not apply in the sandbox workspace or on egress: no policy applies.
  for (std::string_view json : {R"({"transfer": {"channel": "upload", "workspace": "sandbox"}})",
                                R"({"transfer": {"channel": "egress", "workspace": "ws1"}})"}) {
    runtime::Decision none = runtime::evaluate(program, facts_from(json));
    EXPECT_EQ(none.outcome, Outcome::kEscalate) << json;
    EXPECT_TRUE(none.rules.empty()) << json;
    EXPECT_EQ(none.reviewers.roles, (std::vector<std::string>{"data-approver"})) << json;
  }

  runtime::Decision otherwise =
      runtime::evaluate(program, facts_from(R"({"transfer": {"channel": "upload", "workspace": "ws1"},
                              "file": {"type": "image/png", "size": 100}})"));
  EXPECT_EQ(otherwise.outcome, Outcome::kEscalate);
  ASSERT_EQ(otherwise.rules.size(), 1u);
  EXPECT_EQ(otherwise.rules[0].rule, "otherwise");
  EXPECT_EQ(otherwise.rules[0].reason, "no rule approved this file");
}

TEST(Compiler, ThePolicySetDoesNotDependOnFileOrder) {
  const SourceFile a{"a.policy", R"(policy "a" { applies to upload rule r { approve } })"};
  const SourceFile b{"b.policy", R"(policy "b" { applies to upload rule r { deny when file.size > 10 } })"};
  std::vector<SourceFile> forward{a, b};
  std::vector<SourceFile> backward{b, a};
  CompiledPolicySet one = compile_policy_set(forward);
  CompiledPolicySet two = compile_policy_set(backward);
  ASSERT_TRUE(one.ok() && two.ok()) << all_diagnostics(one) << all_diagnostics(two);
  EXPECT_EQ(one.program->policy_set, two.program->policy_set);
  const Facts facts = facts_from(R"({"transfer": {"channel": "upload"}, "file": {"size": 11}})");
  EXPECT_EQ(runtime::evaluate(*one.program, facts).to_json(), runtime::evaluate(*two.program, facts).to_json());
}

TEST(Compiler, PolicySetHashChangesWithTheText) {
  CompiledPolicySet one = compile_one(R"(policy "a" { applies to upload rule r { approve } })");
  CompiledPolicySet two = compile_one(R"(policy "a" { applies to upload rule r { deny } })");
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NE(one.program->policy_set, two.program->policy_set);
}

TEST(Compiler, UnknownFactSuggestsTheClosestOne) {
  CompiledPolicySet set = compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny when file.sise > 0 }\n}\n");
  EXPECT_FALSE(set.ok());
  EXPECT_EQ(first_error(set), "test.policy:3:22: error: unknown fact `file.sise` | help: did you mean `file.size`?");
}

TEST(Compiler, ComparingANumberWithAStringIsATypeError) {
  CompiledPolicySet set =
      compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny when file.size > \"big\" }\n}\n");
  EXPECT_FALSE(set.ok());
  EXPECT_EQ(first_error(set),
            "test.policy:3:22: error: cannot compare int with string using `>` | help: both sides must be numbers, or "
            "both strings, bytes, bools, timestamps or durations; write a size as a number, such as 10 MiB");
}

TEST(Compiler, EqualityBetweenUnrelatedTypesIsATypeError) {
  CompiledPolicySet set =
      compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny when file.size == \"big\" }\n}\n");
  EXPECT_EQ(first_error(set).rfind("test.policy:3:22: error: cannot compare int with string using `==`", 0), 0u)
      << first_error(set);
}

TEST(Compiler, UnknownEffectSuggestsTheClosestOne) {
  CompiledPolicySet set = compile_one("policy \"p\" {\n  applies to upload\n  rule r { aprove }\n}\n");
  EXPECT_EQ(first_error(set), "test.policy:3:12: error: unknown effect `aprove` | help: did you mean `approve`?");
}

TEST(Compiler, UnknownChannelSuggestsTheClosestOne) {
  CompiledPolicySet set = compile_one("policy \"p\" {\n  applies to uplaod\n  rule r { approve }\n}\n");
  EXPECT_EQ(first_error(set), "test.policy:2:14: error: unknown channel `uplaod` | help: did you mean `upload`?");
}

TEST(Compiler, RequiringFewerApprovalsThanRolesIsAnError) {
  CompiledPolicySet set = compile_one(
      "policy \"p\" {\n  applies to upload\n  rule r { escalate to \"a\", \"b\" requiring 1 approvals }\n}\n");
  EXPECT_NE(first_error(set).find("`requiring 1` is fewer approvals than the 2 roles listed"), std::string::npos)
      << first_error(set);
}

TEST(Compiler, DuplicatePolicyNamesAcrossFilesAreAnError) {
  std::vector<SourceFile> files{{"b.policy", "policy \"p\" { applies to upload rule r { approve } }\n"},
                                {"a.policy", "policy \"p\" { applies to upload rule r { approve } }\n"}};
  CompiledPolicySet set = compile_policy_set(files);
  EXPECT_EQ(first_error(set),
            "b.policy:1:8: error: duplicate policy name \"p\" | help: first defined at a.policy:1:8; policy names are "
            "unique across all loaded files");
}

TEST(Compiler, DuplicateRuleNamesAreAnError) {
  CompiledPolicySet set =
      compile_one("policy \"p\" {\n  applies to upload\n  rule r { approve }\n  rule r { deny }\n}\n");
  EXPECT_EQ(first_error(set),
            "test.policy:4:8: error: duplicate rule name `r` in policy \"p\" | help: first defined at test.policy:3:8");
}

TEST(Compiler, UnknownFunctionSuggestsTheClosestOne) {
  CompiledPolicySet set =
      compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny when file.name.startswith(\"x\") }\n}\n");
  EXPECT_NE(first_error(set).find("unknown function `startswith` | help: did you mean `startsWith`?"),
            std::string::npos)
      << first_error(set);
}

TEST(Compiler, RegexThatRe2RejectsIsACompileError) {
  CompiledPolicySet set =
      compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny when file.name.matches(\"(\") }\n}\n");
  EXPECT_NE(first_error(set).find("test.policy:3:40: error: invalid regular expression"), std::string::npos)
      << first_error(set);
}

TEST(Compiler, WhenMustBeABool) {
  CompiledPolicySet set = compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny when file.size }\n}\n");
  EXPECT_EQ(first_error(set), "test.policy:3:22: error: a rule's `when` must be bool, but this is int");
}

TEST(Compiler, BecauseMustBeAString) {
  CompiledPolicySet set = compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny because file.size }\n}\n");
  EXPECT_EQ(first_error(set),
            "test.policy:3:25: error: `because` must be string, but this is int | help: convert it with string(...)");
}

TEST(Compiler, ALetCannotHideAFact) {
  CompiledPolicySet set = compile_one("policy \"p\" {\n  applies to upload\n  let file = 1\n  rule r { approve }\n}\n");
  EXPECT_NE(first_error(set).find("`let file` would hide the fact `file`"), std::string::npos) << first_error(set);
}

TEST(Compiler, LetsAreVisibleInLaterLetsAndRules) {
  CompiledPolicySet set = compile_one(R"(policy "p" {
  applies to upload
  let limit = 10 KiB
  let double_limit = limit * 2
  rule big { deny when file.size > double_limit }
  rule ok { approve }
})");
  ASSERT_TRUE(set.ok()) << all_diagnostics(set);
  const Facts small = facts_from(R"({"transfer": {"channel": "upload"}, "file": {"size": 20480}})");
  const Facts large = facts_from(R"({"transfer": {"channel": "upload"}, "file": {"size": 20481}})");
  EXPECT_EQ(runtime::evaluate(*set.program, small).outcome, Outcome::kApprove);
  EXPECT_EQ(runtime::evaluate(*set.program, large).outcome, Outcome::kDeny);
}

TEST(Compiler, AnUnusedLetIsAWarningNotAnError) {
  CompiledPolicySet set =
      compile_one("policy \"p\" {\n  applies to upload\n  let spare = 1\n  rule r { approve }\n}\n");
  EXPECT_TRUE(set.ok()) << all_diagnostics(set);
  ASSERT_FALSE(set.diagnostics.empty());
  EXPECT_EQ(set.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(set.diagnostics[0].headline(), "test.policy:3:7: warning: `spare` is never used");
}

TEST(Compiler, AGroupOfFactsIsNotAValue) {
  CompiledPolicySet set = compile_one("policy \"p\" {\n  applies to upload\n  rule r { deny when file == 1 }\n}\n");
  EXPECT_NE(first_error(set).find("`file` is a group of facts, not a value"), std::string::npos) << first_error(set);
}

TEST(Compiler, TestsNameRulesThatExist) {
  CompiledPolicySet set = compile_one(R"(policy "p" { applies to upload rule small { approve } }
test "t" { given { transfer: {channel: "upload"} } expect approve expect rules ["p.smal"] }
)");
  EXPECT_NE(first_error(set).find("policy \"p\" has no rule `smal` | help: did you mean \"p.small\"?"),
            std::string::npos)
      << first_error(set);
}

TEST(Compiler, GivenFactsAreCheckedAgainstTheSchema) {
  CompiledPolicySet set = compile_one(R"(policy "p" { applies to upload rule r { approve } }
test "t" { given { file: {size: "big"} } expect approve }
)");
  EXPECT_FALSE(set.ok());
  EXPECT_NE(first_error(set).find("file.size"), std::string::npos) << first_error(set);
}

TEST(Compiler, GivenAcceptsTimestampsAndSizes) {
  CompiledPolicySet set =
      compile_one(R"(policy "p" { applies to upload rule late { deny when now > timestamp("2026-01-01T00:00:00Z") } }
test "t" { given { transfer: {channel: "upload"}, now: timestamp("2026-06-01T00:00:00Z"), file: {size: 2 MiB} } expect deny }
)");
  ASSERT_TRUE(set.ok()) << all_diagnostics(set);
  ASSERT_EQ(set.tests.size(), 1u);
  const auto slot = set.tests[0].given.schema().find("file.size");
  ASSERT_TRUE(slot);
  EXPECT_EQ(set.tests[0].given.get(*slot).as_int(), 2 * 1024 * 1024);
  EXPECT_EQ(runtime::evaluate(*set.program, set.tests[0].given).outcome, Outcome::kDeny);
}

TEST(Compiler, ManyErrorsInOneFileAreAllReported) {
  CompiledPolicySet set = compile_one(R"(policy "p" {
  applies to upload
  rule a { deny when file.sise > 0 }
  rule b { deny when actor.nmae == "x" }
  rule c { aprove }
})");
  int errors = 0;
  for (const auto& d : set.diagnostics) errors += d.severity == Severity::kError ? 1 : 0;
  EXPECT_EQ(errors, 3) << all_diagnostics(set);
}

TEST(Compiler, MacrosBindTheirVariable) {
  CompiledPolicySet set = compile_one(R"(policy "p" {
  applies to upload
  rule exe { deny when archive.entry_names.exists(n, n.endsWith(".exe")) }
  rule ok { approve }
})");
  ASSERT_TRUE(set.ok()) << all_diagnostics(set);
  EXPECT_EQ(runtime::evaluate(*set.program, facts_from(R"({"transfer": {"channel": "upload"},
      "archive": {"entry_names": ["a.csv", "b/c.exe"]}})"))
                .outcome,
            Outcome::kDeny);
  EXPECT_EQ(runtime::evaluate(*set.program, facts_from(R"({"transfer": {"channel": "upload"},
      "archive": {"entry_names": ["a.csv"]}})"))
                .outcome,
            Outcome::kApprove);
}

TEST(Compiler, ConstantExpressionsAreFolded) {
  CompiledExpression folded = compile_expression("10 KiB * 2 + 1");
  ASSERT_TRUE(folded.ok());
  const runtime::Node& root = folded.program->node(folded.program->root);
  EXPECT_EQ(root.op, runtime::Op::kConstant);
  EXPECT_EQ(folded.program->constants[root.a].as_int(), 20481);
}

TEST(Compiler, AnExpressionThatAlwaysFailsIsAWarning) {
  CompiledExpression compiled = compile_expression("1 / 0");
  ASSERT_TRUE(compiled.ok());
  ASSERT_EQ(compiled.diagnostics.size(), 1u);
  EXPECT_NE(compiled.diagnostics[0].message.find("always fails"), std::string::npos);
  EXPECT_TRUE(runtime::evaluate_expression(*compiled.program, Facts()).is_error());
}

TEST(Compiler, HugeRuleCountsHitTheLimit) {
  std::string text = "policy \"p\" {\n  applies to upload\n";
  for (int i = 0; i < 30; ++i) text += "  rule r" + std::to_string(i) + " { approve }\n";
  text += "}\n";
  CompileOptions options;
  options.limits.max_rules = 20;
  std::vector<SourceFile> files{{"big.policy", text}};
  CompiledPolicySet set = compile_policy_set(files, options);
  EXPECT_FALSE(set.ok());
  EXPECT_NE(all_diagnostics(set).find("more than the limit of 20"), std::string::npos) << all_diagnostics(set);
}

TEST(Compiler, LoadsPolicyFilesFromDirectoriesSorted) {
  std::vector<std::string> paths{std::string(AIRLOCK_SOURCE_DIR) + "/policies"};
  auto files = load_policy_files(paths);
  ASSERT_TRUE(files) << files.message();
  ASSERT_FALSE(files->empty());
  EXPECT_TRUE(std::is_sorted(files->begin(), files->end(),
                             [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; }));
  std::vector<std::string> missing{"/nonexistent/policies"};
  auto error = load_policy_files(missing);
  ASSERT_FALSE(error);
  EXPECT_EQ(error.message(), "/nonexistent/policies: no such file or directory");
}

}  // namespace
}  // namespace airlock::compiler
