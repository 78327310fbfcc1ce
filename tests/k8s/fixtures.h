// Shared pieces of the k8s-sync tests: a fake transfer feed, a data source builder and polling with a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "airlock/k8s/client.h"
#include "airlock/k8s/transfer_feed.h"
#include "test_api_server.h"

namespace airlock::k8s::testing {

inline const std::string kNamespace = "jupyterhub";
inline const std::string kDataSources = "/apis/xlscsde.nhs.uk/v1/namespaces/jupyterhub/analyticsworkspacedatasources";
inline const std::string kBindings = "/apis/xlscsde.nhs.uk/v1/namespaces/jupyterhub/analyticsworkspacedatabindings";
inline const std::string kPvcs = "/api/v1/namespaces/jupyterhub/persistentvolumeclaims";
inline const std::string kSecrets = "/api/v1/namespaces/jupyterhub/secrets";
inline const std::string kJobs = "/apis/batch/v1/namespaces/jupyterhub/jobs";
inline const std::string kDeployments = "/apis/apps/v1/namespaces/jupyterhub/deployments";
inline const std::string kEvents = "/api/v1/namespaces/jupyterhub/events";
inline const std::string kLeases = "/apis/coordination.k8s.io/v1/namespaces/jupyterhub/leases";

// Transfers the test sets; registrations it records; failures on demand.
class FakeTransferFeed final : public TransferFeed {
 public:
  runtime::Result<std::vector<TransferUpdate>> transfers(std::string_view, std::string_view datasource) override {
    std::lock_guard lock(mutex_);
    if (failing_) return runtime::Error{"gateway unreachable"};
    return transfers_[std::string(datasource)];
  }
  runtime::Status register_datasource(const DataSourceRegistration& registration) override {
    std::lock_guard lock(mutex_);
    if (failing_) return runtime::Error{"gateway unreachable"};
    registrations_.push_back(registration);
    return runtime::Status::ok();
  }
  void set(const std::string& datasource, std::vector<TransferUpdate> transfers) {
    std::lock_guard lock(mutex_);
    transfers_[datasource] = std::move(transfers);
  }
  void set_failing(bool failing) {
    std::lock_guard lock(mutex_);
    failing_ = failing;
  }
  std::vector<DataSourceRegistration> registrations() const {
    std::lock_guard lock(mutex_);
    return registrations_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<TransferUpdate>> transfers_;
  std::vector<DataSourceRegistration> registrations_;
  bool failing_ = false;
};

inline TransferUpdate transfer(std::string id, std::string state, std::int64_t at, std::string outcome = "",
                               std::string reviewed_by = "") {
  TransferUpdate update;
  update.id = std::move(id);
  update.channel = "upload";
  update.datasource = "ds-782b4a1f07234229980f75f2f651412a";
  update.workspace = "advanced-generic-workspace";
  update.state = std::move(state);
  update.outcome = std::move(outcome);
  update.reviewed_by = std::move(reviewed_by);
  update.updated_at_ms = at;
  if (update.outcome == "escalate") update.reviewers = {"data-approver"};
  return update;
}

inline Json import_datasource(const std::string& name) {
  return {
      {"apiVersion", "xlscsde.nhs.uk/v1"},
      {"kind", "AnalyticsWorkspaceDataSource"},
      {"metadata", {{"name", name}, {"namespace", kNamespace}, {"labels", {{"xlscsde.nhs.uk/type", "import"}}}}},
      {"spec",
       {{"type", "Import"},
        {"publisher", {{"organisation", "NHS Greater Manchester ICB"}}},
        {"project", {{"id", "d4e6"}}},
        {"displayName", "GM Attendances"},
        {"connections",
         Json::array({{{"type", "databricks"},
                       {"name", "databricks"},
                       {"url", "https://example-databricks-instance.xlscsde.nhs.uk/path"},
                       {"credentials", {{"userKey", "DatabricksUsername"}, {"passwordKey", "DatabricksPassword"}}}}})},
        {"objects", Json::array({{{"table", {{"name", "patients"}, {"connection", "databricks"}}}}})}}}};
}

inline Json uploaded_datasource(const std::string& name) {
  return {{"apiVersion", "xlscsde.nhs.uk/v1"},
          {"kind", "AnalyticsWorkspaceDataSource"},
          {"metadata", {{"name", name}, {"namespace", kNamespace}}},
          {"spec",
           {{"type", "Uploaded"},
            {"project", {{"id", "d4e6"}}},
            {"displayName", "An uploaded example dataset"},
            {"connections", Json::array({{{"type", "pvc"}, {"name", "pvc-782b4a1f07234229980f75f2f651412a"}}})}}}};
}

inline Json credentials_secret() {
  // "alice" and "s3cret" in base64.
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", "airlock-import-credentials"}, {"namespace", kNamespace}}},
          {"data", {{"DatabricksUsername", "YWxpY2U="}, {"DatabricksPassword", "czNjcmV0"}}}};
}

// Polls `condition` until it holds or the deadline passes (no fixed sleeps).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

inline ClusterConfig config_for_server(const TestApiServer& server) {
  ClusterConfig config;
  (void)set_server(config, server.url());
  return config;
}

inline Json condition(const Json& object, const std::string& type) {
  for (const Json& item : object["status"].value("conditions", Json::array())) {
    if (item.value("type", "") == type) return item;
  }
  return Json();
}

}  // namespace airlock::k8s::testing
