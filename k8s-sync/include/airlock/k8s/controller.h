// The k8s-sync controller: reconciles AnalyticsWorkspaceDataSources into PVCs, credential Secrets, import Jobs,
// reviewer workspaces and AnalyticsWorkspaceDataBindings, and writes what happened to their status.
// Every reconcile is level-driven and idempotent: it reads the objects fresh, computes the desired children from them
// and the gateway's transfers, applies them with server-side apply and writes status through /status.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "airlock/k8s/client.h"
#include "airlock/k8s/clock.h"
#include "airlock/k8s/leader_election.h"
#include "airlock/k8s/transfer_feed.h"
#include "airlock/k8s/work_queue.h"

namespace airlock::k8s {

struct ControllerOptions {
  std::string ns = "jupyterhub";          // where the data sources and bindings live
  std::string storage_ns = "jupyterhub";  // PVCs, Secrets, Jobs and reviewer workspaces
  std::string storage_class = "jupyter-default";
  std::string staging_storage_class = "jupyter-default";
  std::string storage_size = "10Gi";
  std::string import_image = "ghcr.io/lsc-sde/airlock:latest";
  std::string reviewer_image = "quay.io/jupyter/minimal-notebook:latest";
  // The Secret (in `ns`) holding the keys that connections[].credentials name (userKey, passwordKey, ...);
  // a connection may name its own with credentials.secretName.
  std::string credentials_secret = "airlock-import-credentials";
  int import_backoff_limit = 2;
  // Where the import Job reports its run (`airlock import --gateway`); empty: no report. The token (role importer)
  // is the key `token` of the Secret `import_gateway_token_secret`, mounted at /etc/airlock/gateway.
  std::string import_gateway_url;
  std::string import_gateway_token_secret = "airlock-import-gateway-token";
  std::string field_manager = "airlock";
  std::string component = "airlock-k8s-sync";  // Events' source
  std::chrono::seconds transfer_poll_interval{15};
  // How long an escalated import that reviewers rejected or returned stays in DIR/quarantine/RUN on its volume
  // (for investigation, as the gateway keeps denied bytes for `denied_retention`) before a discard Job deletes
  // it. Zero: never deleted.
  std::chrono::seconds rejected_import_retention{std::chrono::hours(24 * 30)};
  int conflict_retries = 5;
  WorkQueueOptions queue;
  LeaseOptions lease;
};

// What the controller knows when it computes the children of one data source.
struct DesiredState {
  std::vector<Json> apply;   // objects to server-side apply
  std::vector<Json> remove;  // {apiVersion, kind, metadata{namespace,name}} of managed objects that must go
};

// The children of a data source (pure; no API access). `transfers` null: the gateway's decisions are unknown
// (no feed, or it failed), so bindings and reviewer workspaces are left as they are. `credentials` maps credential
// keys to values; with `redact_credentials` the Secret names where each value comes from instead. `now` decides
// which rejected imports are past their retention (the epoch: none).
DesiredState desired_children(const Json& datasource, const ControllerOptions& options,
                              const std::vector<TransferUpdate>* transfers, const Json& credentials,
                              bool redact_credentials = false, TimePoint now = {});

// The status a data source should have, given its import Job (null: none or not read) and transfers (null: unknown);
// `problem` non-empty marks the Synced condition False; `now` stamps conditions whose status changes.
// `release_job` is the Job releasing an import approved in review, `discard_job` the one deleting the newest
// import run that reviewers rejected or returned (null: none or not read).
Json desired_status(const Json& datasource, const ControllerOptions& options, const Json* import_job,
                    const std::vector<TransferUpdate>* transfers, const std::string& problem, TimePoint now,
                    const Json* release_job = nullptr, const Json* discard_job = nullptr);

// The import run an Import data source should release: the newest transfer of channel import, when reviewers
// approved it (state approved; an import the policies approved is released by the importer and is `released`).
const TransferUpdate* import_awaiting_release(const std::vector<TransferUpdate>& transfers);
// The name of the Job that releases import run `run_id` of the data source.
std::string release_job_name(const Json& datasource, std::string_view run_id);
// The import transfers reviewers rejected or returned whose quarantined copy is past `retention` at `now` (none when
// retention is zero), and the name of the Job that deletes one.
std::vector<const TransferUpdate*> imports_to_discard(const std::vector<TransferUpdate>& transfers,
                                                      std::chrono::seconds retention, TimePoint now);
std::string discard_job_name(const Json& datasource, std::string_view run_id);

// What `airlock sync --render` writes: the children of each data source, an Import source as if its import had
// been triggered, credentials redacted.
std::vector<Json> render_manifests(const std::vector<Json>& datasources, const ControllerOptions& options);

// The names the controller gives a data source's children.
std::string child_name(std::string_view base, std::string_view suffix);
std::string binding_name(std::string_view datasource);
std::string data_pvc_name(const Json& datasource);  // the import PVC or the staging PVC

// The key of an object: "namespace/name".
std::string object_key(const Json& object);

class Controller {
 public:
  // `feed` may be null (no gateway): decisions are then not reflected and Uploaded sources are not registered.
  Controller(KubeClient& client, TransferFeed* feed, const Clock& clock, ControllerOptions options);

  // Reconciles one data source by key; an error means "retry with backoff".
  runtime::Status reconcile(const std::string& key);
  // LISTs the data sources and enqueues every key.
  runtime::Status enqueue_all();
  // Enqueues the data source a child (Job, Deployment, PVC, binding) belongs to, by its labels.
  void enqueue_owner_of(const Json& child);
  // Pops one ready key and reconciles it (backoff on failure); false when no key was ready.
  bool process_next();
  // enqueue_all, then process until no key is ready now (keys in backoff stay queued); the first error, if any.
  runtime::Status run_once();

  // The long-running loop: leader election, informers on data sources and managed Jobs/Deployments, and one worker;
  // returns when should_stop() or when leadership is lost (the process then exits and restarts).
  runtime::Status run(const std::function<bool()>& should_stop);

  WorkQueue& queue() { return queue_; }
  const ControllerOptions& options() const { return options_; }
  int reconciles() const { return reconciles_.load(); }

 private:
  runtime::Status reconcile_existing(Json datasource);
  runtime::Status finalize(const Json& datasource);
  runtime::Status ensure_finalizer(Json& datasource);
  runtime::Result<Json> read_credentials(const Json& datasource);
  runtime::Status apply_children(const DesiredState& desired);
  runtime::Status write_status(const std::string& ns, const std::string& name,
                               const std::function<Json(const Json& fresh)>& compute);
  void record_event(const Json& object, const std::string& type, const std::string& reason, const std::string& message);

  KubeClient& client_;
  TransferFeed* feed_;
  const Clock& clock_;
  ControllerOptions options_;
  WorkQueue queue_;
  std::atomic<int> reconciles_{0};
};

// The finalizer the controller puts on data sources so that children in other namespaces are cleaned up.
inline constexpr const char* kFinalizer = "xlscsde.nhs.uk/airlock-cleanup";

}  // namespace airlock::k8s
