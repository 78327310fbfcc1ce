// Reading the data source, the URL helpers and the combination of per-file decisions.
#include "airlock/gateway/import/datasource.h"

#include <gtest/gtest.h>

#include "airlock/gateway/import/importer.h"
#include "import_test_support.h"

namespace airlock::import_test {
namespace {

namespace importing = gateway::import;

TEST(DataSource, TheDesignsImportExampleParses) {
  std::string yaml = read_file(fs::path(AIRLOCK_SOURCE_DIR) / "examples" / "k8s" / "datasource-import.yaml");
  ASSERT_FALSE(yaml.empty());
  auto source = importing::parse_datasource(yaml, "datasource-import.yaml");
  ASSERT_TRUE(source) << source.message();
  EXPECT_EQ(source->name, "example-data-source-1");
  EXPECT_EQ(source->type, "Import");
  EXPECT_EQ(source->publisher_organisation, "NHS Greater Manchester ICB");
  EXPECT_EQ(source->contact_role, "AWMS Developer");
  EXPECT_EQ(source->project, "d4e6");
  EXPECT_NE(source->license.find("may ONLY be used"), std::string::npos);
  ASSERT_EQ(source->connections.size(), 1u);
  EXPECT_EQ(source->connections[0].type, "databricks");
  EXPECT_EQ(source->connections[0].credentials.at("passwordKey"), "DatabricksPassword");
  ASSERT_EQ(source->objects.size(), 2u);
  EXPECT_EQ(source->objects[1].kind, importing::ImportObject::Kind::kTable);
  EXPECT_EQ(source->objects[1].name, "attendances");
}

TEST(DataSource, AnObjectNamingAnUnknownConnectionIsAnError) {
  auto source = importing::parse_datasource(
      "kind: AnalyticsWorkspaceDataSource\nmetadata: {name: x}\nspec:\n  type: Import\n  connections: []\n"
      "  objects:\n  - file: {path: a.csv, connection: nowhere}\n",
      "x.yaml");
  ASSERT_FALSE(source);
  EXPECT_EQ(source.message(), "x.yaml: spec.objects[0]: no connection named \"nowhere\"");
}

TEST(DataSource, AnotherKindIsRefused) {
  auto source =
      importing::parse_datasource("{\"kind\": \"Secret\", \"metadata\": {\"name\": \"x\"}, \"spec\": {}}", "s");
  ASSERT_FALSE(source);
  EXPECT_NE(source.message().find("not AnalyticsWorkspaceDataSource"), std::string::npos);
}

TEST(Urls, CredentialsAreRemovedAndHostsFound) {
  EXPECT_EQ(importing::url_without_credentials("postgresql://me:pw@db.example:5432/gold?sslmode=require"),
            "postgresql://db.example:5432/gold?sslmode=require");
  EXPECT_EQ(importing::url_without_credentials("https://files.example/a@b.csv"), "https://files.example/a@b.csv");
  EXPECT_EQ(importing::url_host("postgresql://me:pw@db.example:5432/gold"), "db.example");
  EXPECT_EQ(importing::url_host("https://[::1]:8443/x"), "::1");
  EXPECT_EQ(importing::url_host("not a url"), "");
}

runtime::Decision decision(runtime::Outcome outcome, std::vector<std::string> roles = {}, std::uint32_t approvals = 0) {
  runtime::Decision made;
  made.outcome = outcome;
  made.reviewers = {std::move(roles), approvals};
  made.policy_set = "hash";
  made.reason = std::string(runtime::outcome_name(outcome)) + " reason";
  return made;
}

TEST(CombineDecisions, DenyOverridesEscalateWhichOverridesApprove) {
  using runtime::Outcome;
  EXPECT_EQ(importing::combine_decisions({decision(Outcome::kApprove), decision(Outcome::kApprove)}).outcome,
            Outcome::kApprove);
  runtime::Decision escalated =
      importing::combine_decisions({decision(Outcome::kApprove), decision(Outcome::kEscalate, {"data-approver"}, 1),
                                    decision(Outcome::kEscalate, {"data-approver", "information-governance"}, 2)});
  EXPECT_EQ(escalated.outcome, Outcome::kEscalate);
  EXPECT_EQ(escalated.reviewers.roles, (std::vector<std::string>{"data-approver", "information-governance"}));
  EXPECT_EQ(escalated.reviewers.approvals, 2u);
  EXPECT_EQ(escalated.reason, "escalate reason");
  runtime::Decision denied = importing::combine_decisions(
      {decision(Outcome::kEscalate, {"data-approver"}, 1), decision(Outcome::kDeny), decision(Outcome::kApprove)});
  EXPECT_EQ(denied.outcome, Outcome::kDeny);
  EXPECT_TRUE(denied.reviewers.roles.empty());
  EXPECT_EQ(importing::combine_decisions({}).outcome, Outcome::kEscalate);
}

TEST(ExitCodes, EachOutcomeHasItsDocumentedCode) {
  EXPECT_EQ(importing::import_exit_code(importing::ImportOutcome::kApproved), 0);
  EXPECT_EQ(importing::import_exit_code(importing::ImportOutcome::kFailed), 1);
  EXPECT_EQ(importing::import_exit_code(importing::ImportOutcome::kEscalated), 3);
  EXPECT_EQ(importing::import_exit_code(importing::ImportOutcome::kDenied), 4);
}

}  // namespace
}  // namespace airlock::import_test
