// Where the controller learns what the gateway decided: transfer state changes per data source, and registration of
// data sources that accept uploads. The gateway's implementation polls its HTTP API; tests use a fake.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/k8s/client.h"
#include "airlock/runtime/result.h"

namespace airlock::k8s {

struct TransferUpdate {
  std::string id;
  std::string channel;  // upload | import | egress
  std::string datasource;
  std::string workspace;
  // The gateway's lifecycle state: created receiving inspecting decided approved released materialised denied
  // escalated in_review rejected returned failed revoked.
  std::string state;
  std::string reason;
  std::string outcome;  // the decision: approve | deny | escalate; empty before one
  std::vector<std::string> reviewers;
  std::string reviewed_by;  // the reviewer who decided, when a human did
  std::int64_t updated_at_ms = 0;
  // A reviewer asked for a workspace to look at the data (POST /api/v1/transfers/ID/reviewer-workspace);
  // absent or null in the gateway's JSON: none, and k8s-sync runs no reviewer Deployment for the transfer.
  struct ReviewerWorkspace {
    std::string requested_by;
    std::string requested_at;
    std::string url;
  };
  std::optional<ReviewerWorkspace> reviewer_workspace;
};

struct DataSourceRegistration {
  std::string ns;
  std::string name;
  std::string type;  // Import | Uploaded
  std::string project;
  std::string display_name;
  std::string pvc_namespace;
  std::string pvc;
};

class TransferFeed {
 public:
  virtual ~TransferFeed() = default;
  // Every transfer the gateway holds for the data source, in any state.
  virtual runtime::Result<std::vector<TransferUpdate>> transfers(std::string_view ns, std::string_view datasource) = 0;
  // Tells the gateway that uploads to the data source may start (idempotent).
  virtual runtime::Status register_datasource(const DataSourceRegistration& registration) = 0;
};

// Parses the gateway's answer: {"transfers": [{"id", "channel", "datasource", "workspace", "state", "reason",
// "outcome", "decision": {"outcome", "reviewers": [{"role"}] or ["role"]} (or a JSON string of it), "reviewed_by",
// "updated_at": RFC 3339 text or milliseconds, "reviewer_workspace": null or {"requested_by", "requested_at", "url"}}],
// "next": id or null} or a bare array of the same objects.
runtime::Result<std::vector<TransferUpdate>> parse_transfer_list(std::string_view json);

// GET {base}/api/v1/transfers?datasource=NAME&namespace=NS (following `next` pages) and PUT
// {base}/api/v1/datasources/NS/NAME with a bearer token (re-read from `token_file` when given).
class GatewayTransferFeed final : public TransferFeed {
 public:
  static runtime::Result<std::unique_ptr<GatewayTransferFeed>> create(std::string_view base_url, std::string token,
                                                                      std::string token_file, std::string ca_pem);
  runtime::Result<std::vector<TransferUpdate>> transfers(std::string_view ns, std::string_view datasource) override;
  runtime::Status register_datasource(const DataSourceRegistration& registration) override;

 private:
  explicit GatewayTransferFeed(ClusterConfig config) : client_(std::move(config)) {}
  KubeClient client_;
};

}  // namespace airlock::k8s
