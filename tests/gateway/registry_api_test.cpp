// The data source registry and import reports of the real gateway (docs/api.md, "Data sources and imports").
#include <gtest/gtest.h>

#include <filesystem>

#include "gateway_process.h"

namespace airlock::testing {
namespace {

constexpr const char* kSyncToken = "sync-token-0123456789abcdef";
constexpr const char* kImporterToken = "importer-token-0123456789abcdef";
const std::string kRun = "5f0c0123456789abcdef0123456789ab";

std::string registry_config(bool require_registration) {
  return test_config(std::string("  - {token: sync-token-0123456789abcdef, user: k8s-sync, roles: [k8s-sync]}\n"
                                 "  - {token: importer-token-0123456789abcdef, user: importer, roles: [importer]}\n") +
                     (require_registration ? "registry: {require_registration: true}\n" : ""));
}

nlohmann::json registration(const std::string& type = "Uploaded") {
  return {
      {"namespace", "jupyterhub"},    {"name", "ds-1"}, {"type", type}, {"project", "d4e6"}, {"displayName", "Cohort"},
      {"pvcNamespace", "jupyterhub"}, {"pvc", "pvc-1"}};
}

HttpResult put_registration(const GatewayProcess& gateway, const char* token, const std::string& path,
                            const nlohmann::json& body) {
  return curl(join(auth(token), {"-X", "PUT", gateway.url(path), "-H", "Content-Type: application/json",
                                 "--data-binary", body.dump()}));
}

nlohmann::json report(const std::string& outcome, const std::string& run = kRun) {
  nlohmann::json body = {{"run_id", run},
                         {"channel", "import"},
                         {"datasource", {{"namespace", "jupyterhub"}, {"name", "gm-gold"}, {"project", "d4e6"}}},
                         {"outcome", outcome},
                         {"reason", outcome + ": 1 file"},
                         {"location", outcome == "escalated" ? "/data/quarantine/" + run : "/data/released"},
                         {"policy_set", std::string(64, 'a')},
                         {"started_at", "2026-11-29T09:58:12.123Z"},
                         {"finished_at", "2026-11-29T09:58:14.456Z"},
                         {"files", {{{"name", "attendances.csv"}, {"size", 1234}, {"sha256", std::string(64, 'b')}}}},
                         {"warnings", nlohmann::json::array()}};
  if (outcome == "escalated") {
    body["decision"] = {{"outcome", "escalate"}, {"reviewers", {{"roles", {"data-approver"}}, {"approvals", 1}}}};
  } else if (outcome != "failed") {
    body["decision"] = {{"outcome", outcome == "approved" ? "approve" : "deny"}};
  }
  return body;
}

HttpResult post_report(const GatewayProcess& gateway, const char* token, const nlohmann::json& body) {
  return curl(join(auth(token), {"-X", "POST", gateway.url("/api/v1/imports"), "-H", "Content-Type: application/json",
                                 "--data-binary", body.dump()}));
}

class Registry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = new GatewayProcess(registry_config(true));
    gateway_->start();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_->log();
  }
  static GatewayProcess* gateway_;
};
GatewayProcess* Registry::gateway_ = nullptr;

TEST_F(Registry, OnlyARegistrarRoleMayRegister) {
  HttpResult refused = put_registration(*gateway_, kAliceToken, "/api/v1/datasources/jupyterhub/ds-1", registration());
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.json()["error"], "forbidden");
  HttpResult reviewer =
      put_registration(*gateway_, kReviewerToken, "/api/v1/datasources/jupyterhub/ds-1", registration());
  EXPECT_EQ(reviewer.status, 403);
}

TEST_F(Registry, RegistrationIsIdempotentAndReadable) {
  HttpResult first = put_registration(*gateway_, kSyncToken, "/api/v1/datasources/jupyterhub/ds-1", registration());
  ASSERT_TRUE(first.status == 201 || first.status == 200) << first.body;
  HttpResult again = put_registration(*gateway_, kSyncToken, "/api/v1/datasources/jupyterhub/ds-1", registration());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["created_at"], first.json()["created_at"]);
  EXPECT_EQ(again.json()["registered_by"], "k8s-sync");

  HttpResult one = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/datasources/jupyterhub/ds-1")}));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json()["type"], "Uploaded");
  EXPECT_EQ(one.json()["pvc"], "pvc-1");
  HttpResult listed = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/datasources?namespace=jupyterhub")}));
  ASSERT_EQ(listed.status, 200);
  nlohmann::json body = listed.json();
  bool found = false;
  for (const auto& item : body["datasources"]) found = found || item["name"] == "ds-1";
  EXPECT_TRUE(found);
  HttpResult other = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/datasources?namespace=elsewhere")}));
  EXPECT_TRUE(other.json()["datasources"].empty());
  EXPECT_EQ(curl(join(auth(kAliceToken), {gateway_->url("/api/v1/datasources/jupyterhub/nope")})).status, 404);
}

TEST_F(Registry, NamesMustBeKubernetesNames) {
  nlohmann::json body = registration();
  body.erase("namespace");
  body.erase("name");
  for (const std::string& path :
       {std::string("/api/v1/datasources/Jupyter_Hub/ds-1"), std::string("/api/v1/datasources/jupyterhub/DS..1"),
        std::string("/api/v1/datasources/jupyterhub/-ds")}) {
    HttpResult refused = put_registration(*gateway_, kSyncToken, path, body);
    EXPECT_EQ(refused.status, 400) << path << " " << refused.body;
  }
  nlohmann::json mismatched = registration();
  mismatched["name"] = "ds-2";
  EXPECT_EQ(put_registration(*gateway_, kSyncToken, "/api/v1/datasources/jupyterhub/ds-1", mismatched).status, 400);
  nlohmann::json bad_type = registration("Streamed");
  EXPECT_EQ(put_registration(*gateway_, kSyncToken, "/api/v1/datasources/jupyterhub/ds-1", bad_type).status, 400);
}

TEST_F(Registry, UploadsGoOnlyToRegisteredUploadedSources) {
  HttpResult refused = create_upload(*gateway_, kAliceToken, "8", metadata("a.csv", "text/csv", "ws-1", "ds-unknown"));
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.json()["error"], "unregistered_datasource");
  EXPECT_EQ(refused.header("tus-resumable"), "1.0.0");
  ASSERT_LT(put_registration(*gateway_, kSyncToken, "/api/v1/datasources/jupyterhub/ds-1", registration()).status, 300);
  HttpResult accepted = create_upload(*gateway_, kAliceToken, "8", metadata("a.csv", "text/csv", "ws-1", "ds-1"));
  EXPECT_EQ(accepted.status, 201) << accepted.body;
}

TEST_F(Registry, AnEscalatedImportIsATransferInReviewForItsNamespace) {
  HttpResult refused = post_report(*gateway_, kAliceToken, report("escalated"));
  EXPECT_EQ(refused.status, 403) << refused.body;

  HttpResult accepted = post_report(*gateway_, kImporterToken, report("escalated"));
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  EXPECT_EQ(accepted.json()["id"], kRun);
  EXPECT_EQ(accepted.json()["state"], "in_review");
  EXPECT_EQ(accepted.header("location"), "/api/v1/transfers/" + kRun);
  HttpResult again = post_report(*gateway_, kImporterToken, report("escalated"));
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.json()["state"], "in_review");

  // What k8s-sync polls: the data source's transfers in its namespace.
  HttpResult listed =
      curl(join(auth(kSyncToken), {gateway_->url("/api/v1/transfers?datasource=gm-gold&namespace=jupyterhub")}));
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json()["transfers"].size(), 1u);
  EXPECT_EQ(listed.json()["transfers"][0]["channel"], "import");
  EXPECT_EQ(listed.json()["transfers"][0]["state"], "in_review");
  EXPECT_EQ(listed.json()["transfers"][0]["outcome"], "escalate");
  HttpResult elsewhere =
      curl(join(auth(kSyncToken), {gateway_->url("/api/v1/transfers?datasource=gm-gold&namespace=other")}));
  EXPECT_TRUE(elsewhere.json()["transfers"].empty());
  // A reviewer sees it too; the researcher who did not start it does not.
  HttpResult reviewer = curl(join(auth(kReviewerToken), {gateway_->url("/api/v1/transfers?datasource=gm-gold")}));
  EXPECT_EQ(reviewer.json()["transfers"].size(), 1u);
  HttpResult alice = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers?datasource=gm-gold")}));
  EXPECT_TRUE(alice.json()["transfers"].empty());

  HttpResult stored = curl(join(auth(kReviewerToken), {gateway_->url("/api/v1/imports/" + kRun)}));
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(stored.json()["location"], "/data/quarantine/" + kRun);
  EXPECT_EQ(stored.json()["report"]["files"][0]["name"], "attendances.csv");
}

TEST_F(Registry, AnApprovedImportWaitsForK8sSyncToReleaseIt) {
  const std::string run = "5f0c0123456789abcdef0123456789cd";
  ASSERT_EQ(post_report(*gateway_, kImporterToken, report("escalated", run)).status, 202);
  HttpResult voted = curl(join(auth(kReviewerToken),
                               {"-X", "POST", gateway_->url("/api/v1/transfers/" + run + "/votes"), "-H",
                                "Content-Type: application/json", "--data-binary", R"({"vote":"approve"})"}));
  ASSERT_EQ(voted.status, 200) << voted.body;
  EXPECT_EQ(voted.json()["decided"], true);
  // The gateway holds none of an import's bytes: it neither releases nor reports a failed release.
  EXPECT_EQ(voted.json()["transfer"]["state"], "approved") << voted.body;
  EXPECT_FALSE(voted.json().contains("release_error")) << voted.body;
  EXPECT_FALSE(std::filesystem::exists(gateway_->data_dir() + "/released/gm-gold"));
  HttpResult listed =
      curl(join(auth(kSyncToken), {gateway_->url("/api/v1/transfers?datasource=gm-gold&namespace=jupyterhub")}));
  const nlohmann::json body = listed.json();
  bool seen = false;
  for (const auto& transfer : body["transfers"]) {
    if (transfer["id"] == run) {
      seen = true;
      EXPECT_EQ(transfer["state"], "approved");
      EXPECT_EQ(transfer["reviewed_by"], "rita");
    }
  }
  EXPECT_TRUE(seen) << listed.body;
}

TEST_F(Registry, DecidedAndFailedImportsAreRecordedAsSuch) {
  std::string denied_run(32, 'd');
  std::string failed_run(32, 'e');
  std::string approved_run(32, 'a');
  EXPECT_EQ(post_report(*gateway_, kImporterToken, report("denied", denied_run)).json()["state"], "denied");
  EXPECT_EQ(post_report(*gateway_, kImporterToken, report("failed", failed_run)).json()["state"], "failed");
  EXPECT_EQ(post_report(*gateway_, kImporterToken, report("approved", approved_run)).json()["state"], "released");
}

TEST_F(Registry, RefusesMalformedReports) {
  nlohmann::json bad_run = report("approved", "xyz");
  EXPECT_EQ(post_report(*gateway_, kImporterToken, bad_run).status, 400);
  nlohmann::json bad_namespace = report("approved", std::string(32, 'c'));
  bad_namespace["datasource"]["namespace"] = "Not A Namespace";
  EXPECT_EQ(post_report(*gateway_, kImporterToken, bad_namespace).status, 400);
  nlohmann::json no_decision = report("approved", std::string(32, 'c'));
  no_decision.erase("decision");
  EXPECT_EQ(post_report(*gateway_, kImporterToken, no_decision).status, 400);
  HttpResult not_json = curl(join(auth(kImporterToken), {"-X", "POST", gateway_->url("/api/v1/imports"), "-H",
                                                         "Content-Type: application/json", "--data-binary", "{"}));
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(curl(join(auth(kImporterToken), {gateway_->url("/api/v1/imports")})).status, 405);
}

TEST(RegistryDefault, WithoutRegistrationRequiredUploadsGoAnywhere) {
  GatewayProcess gateway(registry_config(false));
  gateway.start();
  HttpResult created = create_upload(gateway, kAliceToken, "8", metadata("a.csv", "text/csv", "ws-1", "ds-unknown"));
  EXPECT_EQ(created.status, 201) << created.body;
}

}  // namespace
}  // namespace airlock::testing
