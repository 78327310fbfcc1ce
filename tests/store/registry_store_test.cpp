// Data sources registered with the store, and import runs recorded as transfers of channel import.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "airlock/gateway/store.h"
#include "store_test_support.h"

namespace airlock::gateway {
namespace {

using S = TransferState;
using store_test::open_store;
using store_test::upload_request;

constexpr UnixMillis kNow = 1'780'000'000'000;
const std::string kRun = "5f0c0123456789abcdef0123456789ab";

DataSourceRecord uploaded(const std::string& ns, const std::string& name) {
  return {.ns = ns,
          .name = name,
          .type = "Uploaded",
          .project = "d4e6",
          .display_name = "An uploaded dataset",
          .pvc_namespace = "jupyterhub",
          .pvc = name + "-staging"};
}

ImportRecord import_run(const std::string& outcome, const std::string& run = kRun) {
  ImportRecord record{.run_id = run,
                      .ns = "jupyterhub",
                      .datasource = "gm-gold",
                      .project = "d4e6",
                      .outcome = outcome,
                      .reason = outcome + ": 2 files",
                      .location = outcome == "escalated" ? "/data/quarantine/" + run : "/data/released",
                      .policy_set = std::string(64, 'a'),
                      .total_size = 300,
                      .files = 2,
                      .report_json = R"({"files": [{}, {}]})",
                      .reporter = "importer"};
  if (outcome == "escalated") {
    record.decision_json = R"({"outcome": "escalate", "reviewers": {"roles": ["data-approver"], "approvals": 1}})";
  } else if (outcome != "failed") {
    record.decision_json = std::string(R"({"outcome": ")") + (outcome == "approved" ? "approve" : "deny") + R"("})";
  }
  return record;
}

std::vector<std::string> audited_states(TransferStore& store, const std::string& id) {
  std::vector<std::string> states;
  const std::vector<AuditEvent> events = store.audit_events(id).value();  // the Result is a temporary
  for (const AuditEvent& event : events) states.push_back(event.to_state);
  return states;
}

TEST(DataSourceRegistry, RegisteringTwiceIsIdempotentAndAuditedOnce) {
  auto store = open_store(":memory:");
  Result<DataSourceRecord> first = store->register_datasource(uploaded("jupyterhub", "ds-1"), "k8s-sync", kNow);
  ASSERT_TRUE(first) << first.message();
  Result<DataSourceRecord> again = store->register_datasource(uploaded("jupyterhub", "ds-1"), "k8s-sync", kNow + 5);
  ASSERT_TRUE(again) << again.message();
  EXPECT_EQ(again->updated_at, kNow);  // nothing changed
  EXPECT_EQ(store->audit_events("").value().size(), 1u);
  EXPECT_EQ(store->audit_events("").value()[0].action, "datasource_registered");

  DataSourceRecord renamed = uploaded("jupyterhub", "ds-1");
  renamed.display_name = "Renamed";
  Result<DataSourceRecord> changed = store->register_datasource(renamed, "k8s-sync", kNow + 10);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->created_at, kNow);
  EXPECT_EQ(changed->updated_at, kNow + 10);
  EXPECT_EQ(store->datasource("jupyterhub", "ds-1").value().display_name, "Renamed");
  EXPECT_EQ(store->audit_events("").value().size(), 2u);
  EXPECT_TRUE(store->verify_audit().value().intact);
}

TEST(DataSourceRegistry, RefusesAnUnknownTypeAndReportsUnknownSourcesAsNotFound) {
  auto store = open_store(":memory:");
  DataSourceRecord odd = uploaded("jupyterhub", "ds-1");
  odd.type = "Streamed";
  Result<DataSourceRecord> refused = store->register_datasource(odd, "k8s-sync", kNow);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.message().starts_with("invalid:")) << refused.message();
  Result<DataSourceRecord> missing = store->datasource("jupyterhub", "nope");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.message().starts_with("not_found:"));
}

TEST(DataSourceRegistry, UploadsAreAcceptedOnlyForUploadedSources) {
  auto store = open_store(":memory:");
  EXPECT_FALSE(store->accepts_uploads("ds-1").value());
  ASSERT_TRUE(store->register_datasource(uploaded("team-a", "ds-1"), "k8s-sync", kNow));
  EXPECT_TRUE(store->accepts_uploads("ds-1").value());
  DataSourceRecord imported = uploaded("team-a", "gm-gold");
  imported.type = "Import";
  ASSERT_TRUE(store->register_datasource(imported, "k8s-sync", kNow));
  EXPECT_FALSE(store->accepts_uploads("gm-gold").value());
}

TEST(DataSourceRegistry, ListsByNamespaceAndFiltersTransfersThroughRegistrations) {
  auto store = open_store(":memory:");
  ASSERT_TRUE(store->register_datasource(uploaded("team-a", "cohort"), "k8s-sync", kNow));
  ASSERT_TRUE(store->register_datasource(uploaded("team-b", "other"), "k8s-sync", kNow));
  EXPECT_EQ(store->datasources("team-a").value().size(), 1u);
  EXPECT_EQ(store->datasources("").value().size(), 2u);

  Transfer in_a = store->create(upload_request("alice"), kNow).value();  // datasource "cohort"
  NewTransfer elsewhere = upload_request("alice");
  elsewhere.datasource = "other";
  ASSERT_TRUE(store->create(elsewhere, kNow + 1));
  TransferFilter in_team_a;
  in_team_a.datasource_namespace = "team-a";
  std::vector<Transfer> listed = store->list(in_team_a).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, in_a.id);
  TransferFilter in_team_c;
  in_team_c.datasource_namespace = "team-c";
  EXPECT_TRUE(store->list(in_team_c).value().empty());
  TransferFilter by_name;
  by_name.datasource = "other";
  by_name.datasource_namespace = "team-a";
  EXPECT_TRUE(store->list(by_name).value().empty());
  by_name.datasource_namespace = "team-b";
  EXPECT_EQ(store->list(by_name).value().size(), 1u);
  EXPECT_EQ(store->list(TransferFilter{}).value().size(), 2u);  // no namespace: every transfer
}

TEST(ImportRecords, AnApprovedImportIsRecordedAsReleasedWithItsTrail) {
  auto store = open_store(":memory:");
  Result<Transfer> transfer = store->record_import(import_run("approved"), kNow);
  ASSERT_TRUE(transfer) << transfer.message();
  EXPECT_EQ(transfer->id, kRun);
  EXPECT_EQ(transfer->channel, "import");
  EXPECT_EQ(transfer->state, S::kReleased);
  EXPECT_EQ(transfer->datasource, "gm-gold");
  EXPECT_EQ(transfer->length.value_or(0), 300u);
  EXPECT_EQ(audited_states(*store, kRun),
            (std::vector<std::string>{"created", "receiving", "inspecting", "decided", "approved", "released"}));
  // The report registers the data source's namespace, so the namespace filter finds the import.
  EXPECT_EQ(store->datasource("jupyterhub", "gm-gold").value().type, "Import");
  TransferFilter in_jupyterhub;
  in_jupyterhub.datasource_namespace = "jupyterhub";
  EXPECT_EQ(store->list(in_jupyterhub).value().size(), 1u);
  EXPECT_TRUE(store->verify_audit().value().intact);
}

TEST(ImportRecords, AnEscalatedImportOpensAReviewCase) {
  auto store = open_store(":memory:");
  Result<Transfer> transfer = store->record_import(import_run("escalated"), kNow);
  ASSERT_TRUE(transfer) << transfer.message();
  EXPECT_EQ(transfer->state, S::kInReview);
  Result<ReviewCase> review = store->current_case(kRun);
  ASSERT_TRUE(review) << review.message();
  EXPECT_EQ(review->roles, std::vector<std::string>{"data-approver"});
  EXPECT_EQ(review->approvals_required, 1u);
  Result<VoteOutcome> vote =
      store->vote(kRun, {"ann", {"data-approver"}}, {VoteKind::kApprove, "looks fine", Visibility::kPublic}, kNow + 1);
  ASSERT_TRUE(vote) << vote.message();
  EXPECT_EQ(store->get(kRun).value().state, S::kApproved);  // k8s-sync releases it on the volume
  Result<ImportRecord> record = store->import_record(kRun);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->location, "/data/quarantine/" + kRun);
  EXPECT_EQ(record->files, 2u);
}

TEST(ImportRecords, DeniedAndFailedImportsEndThereAndNeedNoCase) {
  auto store = open_store(":memory:");
  ASSERT_EQ(store->record_import(import_run("denied"), kNow).value().state, S::kDenied);
  std::string failed_run(32, 'b');
  Transfer failed = store->record_import(import_run("failed", failed_run), kNow).value();
  EXPECT_EQ(failed.state, S::kFailed);
  EXPECT_EQ(failed.reason, "failed: 2 files");
  EXPECT_FALSE(store->current_case(kRun));
}

TEST(ImportRecords, TheSameRunReportedAgainChangesNothing) {
  auto store = open_store(":memory:");
  ASSERT_TRUE(store->record_import(import_run("escalated"), kNow));
  std::size_t events = store->audit_events("").value().size();
  Result<Transfer> again = store->record_import(import_run("escalated"), kNow + 100);
  ASSERT_TRUE(again) << again.message();
  EXPECT_EQ(again->state, S::kInReview);
  EXPECT_EQ(store->audit_events("").value().size(), events);

  ImportRecord elsewhere = import_run("approved");
  elsewhere.datasource = "another-source";
  Result<Transfer> clash = store->record_import(elsewhere, kNow);
  ASSERT_FALSE(clash);
  EXPECT_TRUE(clash.message().starts_with("conflict:")) << clash.message();
}

TEST(ImportRecords, RefusesBadReports) {
  auto store = open_store(":memory:");
  ImportRecord bad_id = import_run("approved", "not-hex");
  EXPECT_TRUE(store->record_import(bad_id, kNow).message().starts_with("invalid:"));
  ImportRecord no_decision = import_run("approved");
  no_decision.decision_json.clear();
  EXPECT_TRUE(store->record_import(no_decision, kNow).message().starts_with("invalid:"));
  ImportRecord odd = import_run("approved");
  odd.outcome = "maybe";
  EXPECT_TRUE(store->record_import(odd, kNow).message().starts_with("invalid:"));
  EXPECT_TRUE(store->list(TransferFilter{}).value().empty());
}

}  // namespace
}  // namespace airlock::gateway
