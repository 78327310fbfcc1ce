// `airlock sync --once` end to end: the real CLI binary against the in-process test API server and a real
// `airlock serve` gateway that accepts uploads only to registered data sources. An Uploaded data source gets
// registered with the gateway; an upload the gateway approves yields an AnalyticsWorkspaceDataBinding and status.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "../gateway/gateway_process.h"
#include "fixtures.h"

namespace airlock::k8s::testing {
namespace {

using airlock::testing::auth;
using airlock::testing::create_upload;
using airlock::testing::curl;
using airlock::testing::GatewayProcess;
using airlock::testing::HttpResult;
using airlock::testing::join;
using airlock::testing::kAliceToken;
using airlock::testing::metadata;
using airlock::testing::patch_upload;
using airlock::testing::run_command;
using airlock::testing::shell_quote;
using airlock::testing::test_config;
using airlock::testing::write_file;

constexpr const char* kSyncToken = "sync-token-0123456789abcdef";
const std::string kUpload = "ds-782b4a1f07234229980f75f2f651412a";
const std::string kWorkspace = "advanced-generic-workspace";

class SyncEndToEnd : public ::testing::Test {
 protected:
  SyncEndToEnd()
      : gateway_(test_config("  - {token: sync-token-0123456789abcdef, user: k8s-sync, roles: [k8s-sync]}\n"
                             "registry: {require_registration: true}\n")) {}

  void SetUp() override {
    gateway_.start();
    std::ofstream(gateway_.root() + "/kubeconfig")
        << "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: test\n  cluster: {server: \""
        << server_.url() << "\"}\nusers:\n- name: sync\n  user: {token: test}\ncontexts:\n- name: test\n"
        << "  context: {cluster: test, user: sync, namespace: jupyterhub}\n";
    std::ofstream(gateway_.root() + "/sync-token") << kSyncToken << "\n";
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_.log();
  }

  // Runs the real binary once; returns its exit status and what it printed.
  std::pair<std::string, int> sync_once() {
    return run_command(std::string(AIRLOCK_BINARY) + " sync --once --kubeconfig " +
                       shell_quote(gateway_.root() + "/kubeconfig") + " --namespace jupyterhub --gateway " +
                       shell_quote(gateway_.url()) + " --gateway-token-file " +
                       shell_quote(gateway_.root() + "/sync-token") + " 2>&1");
  }

  HttpResult upload(const std::string& datasource, const std::string& bytes) {
    HttpResult created = create_upload(gateway_, kAliceToken, std::to_string(bytes.size()),
                                       metadata("counts.csv", "text/csv", kWorkspace, datasource));
    if (created.status != 201) return created;
    return patch_upload(gateway_, kAliceToken, created.header("location"), 0,
                        write_file(gateway_.root() + "/counts.csv", bytes));
  }

  TestApiServer server_;
  GatewayProcess gateway_;
};

TEST_F(SyncEndToEnd, RegistersAnUploadedSourceAndBindsWhatTheGatewayApproved) {
  server_.put(kDataSources, uploaded_datasource(kUpload));

  // Before k8s-sync registered it, the gateway refuses uploads to the data source.
  HttpResult refused = upload(kUpload, "a,b\n1,2\n");
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.json()["error"], "unregistered_datasource");

  auto [first, first_code] = sync_once();
  ASSERT_EQ(first_code, 0) << first;
  HttpResult registered = curl(join(auth(kSyncToken), {gateway_.url("/api/v1/datasources/jupyterhub/" + kUpload)}));
  ASSERT_EQ(registered.status, 200) << registered.body;
  EXPECT_EQ(registered.json()["type"], "Uploaded");
  EXPECT_EQ(registered.json()["pvc"], "pvc-782b4a1f07234229980f75f2f651412a");
  EXPECT_EQ(registered.json()["registered_by"], "k8s-sync");
  Json ds = server_.object(kDataSources, kUpload);
  EXPECT_EQ(condition(ds, "Registered")["status"], "True");
  EXPECT_EQ(ds["status"]["stage"], "AwaitingUpload");
  EXPECT_TRUE(server_.objects(kBindings).empty());

  HttpResult uploaded = upload(kUpload, "region,count\nnorth,12\nsouth,15\n");
  ASSERT_EQ(uploaded.status, 204) << uploaded.body;
  ASSERT_EQ(uploaded.header("airlock-transfer-state"), "released");

  auto [second, second_code] = sync_once();
  ASSERT_EQ(second_code, 0) << second;
  Json binding = server_.object(kBindings, "dsb-782b4a1f07234229980f75f2f651412a");
  ASSERT_TRUE(binding.is_object()) << second;
  EXPECT_EQ(binding["spec"]["workspace"], kWorkspace);
  EXPECT_EQ(binding["spec"]["datasource"], kUpload);
  ds = server_.object(kDataSources, kUpload);
  EXPECT_EQ(ds["status"]["stage"], "Approved");
  EXPECT_EQ(ds["status"]["decision"]["state"], "released");
  EXPECT_EQ(ds["status"]["decision"]["outcome"], "approve");
  EXPECT_EQ(condition(ds, "Bound")["status"], "True");
  EXPECT_EQ(condition(ds, "Approved")["status"], "True");

  // The namespace filter goes through the registrations: another namespace sees none of it.
  HttpResult elsewhere = curl(
      join(auth(kSyncToken), {gateway_.url("/api/v1/transfers?datasource=" + kUpload + "&namespace=other-namespace")}));
  ASSERT_EQ(elsewhere.status, 200) << elsewhere.body;
  EXPECT_TRUE(elsewhere.json()["transfers"].empty());
}

}  // namespace
}  // namespace airlock::k8s::testing
