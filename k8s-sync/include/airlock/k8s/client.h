// A thin Kubernetes REST client (Beast + OpenSSL behind this header): connection settings from a kubeconfig or from
// inside a Pod, JSON requests, server-side apply, the /status subresource, and watch streams.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/runtime/result.h"

namespace airlock::k8s {

using Json = nlohmann::json;

struct ClusterConfig {
  std::string scheme = "https";  // "https" or "http" (http only for local test servers)
  std::string host;
  std::string port = "443";
  std::string bearer_token;
  // When set, the token is read from this file and re-read every `token_refresh` (projected service-account tokens
  // rotate); it wins over bearer_token.
  std::filesystem::path token_file;
  std::chrono::seconds token_refresh{60};
  std::string ca_pem;  // trusted CA certificates; empty: the system's
  std::string client_certificate_pem;
  std::string client_key_pem;
  bool insecure_skip_tls_verify = false;
  std::string default_namespace = "default";
};

// Splits "https://host:port" (default port by scheme) into the config.
runtime::Status set_server(ClusterConfig& config, std::string_view url);

// The current context of a kubeconfig (or `context` when given): server, CA, token, client certificate and key,
// inline (`*-data`, base64) or as file paths relative to the kubeconfig.
runtime::Result<ClusterConfig> load_kubeconfig(const std::filesystem::path& path, std::string_view context = {});

using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;
// Inside a Pod: KUBERNETES_SERVICE_HOST/_PORT, and the service account's token (re-read), CA and namespace.
runtime::Result<ClusterConfig> load_in_cluster_config(
    const EnvironmentLookup& environment,
    const std::filesystem::path& service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// The answer to one request. status 0: no HTTP answer (connection refused, TLS failure, timeout); `error` says why.
struct ApiResponse {
  int status = 0;
  Json body;  // the JSON body (an object, a Status on errors); null when the body was not JSON
  std::string error;

  bool ok() const { return status >= 200 && status < 300; }
  bool not_found() const { return status == 404; }
  bool conflict() const { return status == 409; }
  bool gone() const { return status == 410; }
  // "GET /api/v1/...: 409 Conflict: the object has been modified" for logs and Events.
  std::string describe() const;
};

// How a watch stream ended.
enum class WatchEnd {
  kClosed,   // the server ended the stream (timeoutSeconds, restart): watch again from the last resourceVersion
  kStopped,  // should_stop() said so
  kGone,     // 410 Gone, as the HTTP status or as an ERROR event: relist
  kFailed,   // transport error or another status: back off, then watch again
};

class KubeClient {
 public:
  explicit KubeClient(ClusterConfig config, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const ClusterConfig& config() const { return config_; }
  std::string field_manager = "airlock";

  // One request; thread-safe (each request has its own connection).
  ApiResponse request(std::string_view method, std::string_view target, const std::string& body = {},
                      std::string_view content_type = "application/json");

  ApiResponse get(std::string_view path) { return request("GET", path); }
  ApiResponse create(std::string_view collection_path, const Json& object);
  // PUT with the object's metadata.resourceVersion: 409 when someone wrote in between.
  ApiResponse update(std::string_view path, const Json& object);
  ApiResponse update_status(std::string_view path, const Json& object);
  // Server-side apply (application/apply-patch+yaml) as `field_manager`; force takes over conflicting fields.
  ApiResponse apply(std::string_view path, const Json& object, bool force = true);
  ApiResponse merge_patch(std::string_view path, const Json& patch);
  ApiResponse remove(std::string_view path, std::string_view propagation = "Background");

  // Streams a watch: `target` carries the query (watch=1&resourceVersion=...&allowWatchBookmarks=true).
  // on_event receives each event object ({type, object}); ERROR events with code 410 end the watch with kGone.
  WatchEnd watch(std::string_view target, const std::function<void(const Json& event)>& on_event,
                 const std::function<bool()>& should_stop, std::string* error = nullptr);

 private:
  std::string current_token();

  ClusterConfig config_;
  std::chrono::milliseconds timeout_;
  struct Transport;
  std::unique_ptr<Transport> transport_;
  std::mutex token_mutex_;
  std::string token_;
  std::chrono::steady_clock::time_point token_read_at_{};
  bool token_loaded_ = false;
};

// Paths of the resources the controller uses.
struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  std::string kind;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  std::string collection_path(std::string_view ns) const;
  std::string object_path(std::string_view ns, std::string_view name) const;
};

namespace resources {
const ResourceType& data_source();   // xlscsde.nhs.uk/v1 analyticsworkspacedatasources
const ResourceType& data_binding();  // xlscsde.nhs.uk/v1 analyticsworkspacedatabindings
const ResourceType& pvc();
const ResourceType& secret();
const ResourceType& job();
const ResourceType& deployment();
const ResourceType& lease();
const ResourceType& event();
}  // namespace resources

// Percent-encodes a query value (label selectors contain '=' and ',').
std::string url_encode(std::string_view text);

}  // namespace airlock::k8s
