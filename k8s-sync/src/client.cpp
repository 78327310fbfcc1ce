// The REST client: one connection per request (Beast over Asio, C++20 coroutines on a private io_context, so every
// request has a deadline and a watch can be stopped from its own loop).
#include "airlock/k8s/client.h"

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <sstream>

#include "airlock/k8s/yaml.h"

namespace airlock::k8s {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using runtime::Error;
using runtime::Result;
using runtime::Status;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path.string()};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z')
      value = c - 'A';
    else if (c >= 'a' && c <= 'z')
      value = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      value = c - '0' + 52;
    else if (c == '+' || c == '-')
      value = 62;
    else if (c == '/' || c == '_')
      value = 63;
    else if (c == '=' || std::isspace(static_cast<unsigned char>(c)))
      continue;
    else
      return Error{"invalid base64"};
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  return out;
}

const Json* find_named(const Json& list, const std::string& name, const char* field) {
  if (!list.is_array()) return nullptr;
  for (const Json& entry : list) {
    if (entry.is_object() && entry.value("name", "") == name && entry.contains(field)) return &entry[field];
  }
  return nullptr;
}

// A PEM from `<key>-data` (base64) or `<key>` (a path relative to the kubeconfig).
Result<std::string> pem_from(const Json& section, const std::string& key, const std::filesystem::path& base) {
  if (section.contains(key + "-data")) {
    Result<std::string> decoded = base64_decode(section[key + "-data"].get<std::string>());
    if (!decoded) return Error{key + "-data: " + decoded.message()};
    return decoded;
  }
  if (section.contains(key)) {
    std::filesystem::path path = section[key].get<std::string>();
    if (path.is_relative()) path = base / path;
    return read_file(path);
  }
  return std::string();
}

// A list inside the kubeconfig by reference (find_named returns pointers into it).
const Json& list_of(const Json& kubeconfig, const char* key) {
  static const Json kEmpty = Json::array();
  return kubeconfig.contains(key) ? kubeconfig[key] : kEmpty;
}

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

Status set_server(ClusterConfig& config, std::string_view url) {
  std::string text(url);
  std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string::npos) return Error{"server `" + text + "` is not a URL (https://host:port)"};
  config.scheme = text.substr(0, scheme_end);
  if (config.scheme != "https" && config.scheme != "http") return Error{"server `" + text + "`: unsupported scheme"};
  std::string rest = text.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('/'));
  std::string port = config.scheme == "https" ? "443" : "80";
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    std::size_t close = rest.find(']');
    if (close == std::string::npos) return Error{"server `" + text + "`: unterminated IPv6 address"};
    config.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    std::size_t colon = rest.rfind(':');
    config.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (config.host.empty()) return Error{"server `" + text + "` has no host"};
  config.port = port;
  return Status::ok();
}

Result<ClusterConfig> load_kubeconfig(const std::filesystem::path& path, std::string_view context_name) {
  Result<std::string> text = read_file(path);
  if (!text) return Error{text.message()};
  Result<std::vector<Json>> documents = yaml_documents_to_json(*text, path.string());
  if (!documents) return Error{documents.message()};
  if (documents->empty() || !(*documents)[0].is_object()) return Error{path.string() + ": not a kubeconfig"};
  const Json& kubeconfig = (*documents)[0];
  std::string name = context_name.empty() ? kubeconfig.value("current-context", "") : std::string(context_name);
  if (name.empty()) return Error{path.string() + ": no current-context (pass --context)"};
  const Json* context = find_named(list_of(kubeconfig, "contexts"), name, "context");
  if (context == nullptr) return Error{path.string() + ": no context named `" + name + "`"};
  std::string cluster_name = context->value("cluster", "");
  std::string user_name = context->value("user", "");
  const Json* cluster = find_named(list_of(kubeconfig, "clusters"), cluster_name, "cluster");
  if (cluster == nullptr)
    return Error{path.string() + ": context `" + name + "` names unknown cluster `" + cluster_name + "`"};
  const Json* user = find_named(list_of(kubeconfig, "users"), user_name, "user");
  static const Json kNoUser = Json::object();
  if (user == nullptr) user = &kNoUser;

  ClusterConfig config;
  std::filesystem::path base = path.parent_path();
  if (Status status = set_server(config, cluster->value("server", "")); !status) {
    return Error{path.string() + ": cluster `" + cluster_name + "`: " + status.message()};
  }
  config.insecure_skip_tls_verify = cluster->value("insecure-skip-tls-verify", false);
  Result<std::string> ca = pem_from(*cluster, "certificate-authority", base);
  if (!ca) return Error{path.string() + ": cluster `" + cluster_name + "`: " + ca.message()};
  config.ca_pem = *ca;
  Result<std::string> certificate = pem_from(*user, "client-certificate", base);
  if (!certificate) return Error{path.string() + ": user `" + user_name + "`: " + certificate.message()};
  config.client_certificate_pem = *certificate;
  Result<std::string> key = pem_from(*user, "client-key", base);
  if (!key) return Error{path.string() + ": user `" + user_name + "`: " + key.message()};
  config.client_key_pem = *key;
  config.bearer_token = user->value("token", "");
  if (user->contains("tokenFile")) {
    std::filesystem::path token_file = (*user)["tokenFile"].get<std::string>();
    config.token_file = token_file.is_relative() ? base / token_file : token_file;
  }
  config.default_namespace = context->value("namespace", "default");
  return config;
}

Result<ClusterConfig> load_in_cluster_config(const EnvironmentLookup& environment,
                                             const std::filesystem::path& service_account_dir) {
  std::optional<std::string> host = environment("KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = environment("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Error{"not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"};
  }
  ClusterConfig config;
  config.scheme = "https";
  config.host = *host;
  config.port = *port;
  config.token_file = service_account_dir / "token";
  if (!std::filesystem::exists(config.token_file)) return Error{"cannot read " + config.token_file.string()};
  Result<std::string> ca = read_file(service_account_dir / "ca.crt");
  if (!ca) return Error{ca.message()};
  config.ca_pem = *ca;
  Result<std::string> ns = read_file(service_account_dir / "namespace");
  if (ns) config.default_namespace = trim(*ns);
  return config;
}

std::string ApiResponse::describe() const {
  if (status == 0) return error.empty() ? "no response" : error;
  std::string text = std::to_string(status);
  if (body.is_object()) {
    if (body.contains("reason") && body["reason"].is_string()) text += " " + body["reason"].get<std::string>();
    if (body.contains("message") && body["message"].is_string()) text += ": " + body["message"].get<std::string>();
  }
  if (!error.empty()) text += ": " + error;
  return text;
}

struct KubeClient::Transport {
  std::optional<asio::ssl::context> ssl;
  std::string setup_error;
};

KubeClient::KubeClient(ClusterConfig config, std::chrono::milliseconds timeout)
    : config_(std::move(config)), timeout_(timeout), transport_(std::make_unique<Transport>()) {
  if (config_.scheme != "https") return;
  transport_->ssl.emplace(asio::ssl::context::tls_client);
  asio::ssl::context& context = *transport_->ssl;
  context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (config_.insecure_skip_tls_verify) {
    context.set_verify_mode(asio::ssl::verify_none);
  } else {
    context.set_verify_mode(asio::ssl::verify_peer);
    if (config_.ca_pem.empty()) {
      context.set_default_verify_paths(ec);
    } else {
      context.add_certificate_authority(asio::buffer(config_.ca_pem), ec);
    }
    if (ec) transport_->setup_error = "CA certificates: " + ec.message();
  }
  if (!config_.client_certificate_pem.empty()) {
    context.use_certificate_chain(asio::buffer(config_.client_certificate_pem), ec);
    if (ec) transport_->setup_error = "client certificate: " + ec.message();
    context.use_private_key(asio::buffer(config_.client_key_pem), asio::ssl::context::pem, ec);
    if (ec) transport_->setup_error = "client key: " + ec.message();
  }
}

KubeClient::~KubeClient() = default;

std::string KubeClient::current_token() {
  if (config_.token_file.empty()) return config_.bearer_token;
  std::lock_guard lock(token_mutex_);
  auto now = std::chrono::steady_clock::now();
  if (!token_loaded_ || now - token_read_at_ >= config_.token_refresh) {
    Result<std::string> token = read_file(config_.token_file);
    if (token) {  // keep the last good token when the file is being rotated
      token_ = trim(*token);
      token_loaded_ = true;
      token_read_at_ = now;
    }
  }
  return token_;
}

namespace {

struct Exchange {
  const ClusterConfig& config;
  http::request<http::string_body> request;
  std::chrono::milliseconds timeout;
  // For watches: called per line; returns false to end the stream. Null for plain requests.
  std::function<bool(std::string_view line)> on_line;
  const std::function<bool()>* should_stop = nullptr;
  ApiResponse response;
  bool stopped = false;
};

template <typename Stream>
asio::awaitable<void> run_exchange(Stream& stream, Exchange& exchange) {
  auto& lowest = beast::get_lowest_layer(stream);
  tcp::resolver resolver(co_await asio::this_coro::executor);
  lowest.expires_after(exchange.timeout);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(exchange.config.host, exchange.config.port, kUseTuple);
  if (resolve_error) {
    exchange.response.error = "resolve " + exchange.config.host + ": " + resolve_error.message();
    co_return;
  }
  auto [connect_error, endpoint] = co_await lowest.async_connect(endpoints, kUseTuple);
  if (connect_error) {
    exchange.response.error =
        "connect " + exchange.config.host + ":" + exchange.config.port + ": " + connect_error.message();
    co_return;
  }
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    if (!is_ip_address(exchange.config.host)) {
      SSL_set_tlsext_host_name(stream.native_handle(), exchange.config.host.c_str());
    }
    if (!exchange.config.insecure_skip_tls_verify) {
      stream.set_verify_callback(asio::ssl::host_name_verification(exchange.config.host));
    }
    auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple);
    if (handshake_error) {
      exchange.response.error = "TLS handshake with " + exchange.config.host + ": " + handshake_error.message();
      co_return;
    }
  }
  auto [write_error, written] = co_await http::async_write(stream, exchange.request, kUseTuple);
  if (write_error) {
    exchange.response.error = "send: " + write_error.message();
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [header_error, header_bytes] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
  if (header_error) {
    exchange.response.error = "read: " + header_error.message();
    co_return;
  }
  exchange.response.status = static_cast<int>(parser.get().result_int());
  const bool streaming = exchange.on_line && exchange.response.status == 200;
  if (streaming) lowest.expires_never();
  std::string body;
  std::string pending;  // a partial line of the watch stream
  std::array<char, 16384> chunk{};
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [read_error, read_bytes] = co_await http::async_read_some(stream, buffer, parser, kUseTuple);
    std::size_t got = chunk.size() - parser.get().body().size;
    if (streaming) {
      pending.append(chunk.data(), got);
      std::size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        if (!line.empty() && !exchange.on_line(line)) {
          exchange.stopped = true;
          co_return;
        }
      }
    } else {
      body.append(chunk.data(), got);
      if (body.size() > (64u << 20)) {
        exchange.response.error = "response body over 64 MiB";
        co_return;
      }
    }
    if (read_error == http::error::need_buffer) continue;
    if (read_error) {
      if (streaming && exchange.should_stop != nullptr && (*exchange.should_stop)()) exchange.stopped = true;
      exchange.response.error = "read: " + read_error.message();
      co_return;
    }
  }
  if (streaming && !pending.empty() && !exchange.on_line(pending)) exchange.stopped = true;
  if (!streaming && !body.empty()) {
    exchange.response.body = Json::parse(body, nullptr, false);
    if (exchange.response.body.is_discarded()) {
      exchange.response.body = nullptr;
      if (!exchange.response.ok()) exchange.response.error = body.substr(0, 512);
    }
  }
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// Closes the stream when should_stop() says so, checking every 50 ms, until the exchange finishes.
template <typename Stream>
asio::awaitable<void> stop_watcher(Stream& stream, const std::function<bool()>& should_stop, const bool& finished) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!finished) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(kUseTuple);
    if (finished) co_return;
    if (should_stop()) {
      beast::get_lowest_layer(stream).close();
      co_return;
    }
  }
}

template <typename Stream>
void perform(asio::io_context& io, Stream& stream, Exchange& exchange) {
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await run_exchange(stream, exchange);
        finished = true;
        beast::error_code ignored;
        // Wake the stop watcher's timer so io.run() returns promptly.
        asio::post(io, [] {});
      },
      [&](std::exception_ptr error) {
        finished = true;
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& exception) {
            exchange.response.error = exception.what();
          }
        }
      });
  if (exchange.should_stop != nullptr) {
    asio::co_spawn(io, stop_watcher(stream, *exchange.should_stop, finished), asio::detached);
  }
  io.run();
}

}  // namespace

ApiResponse KubeClient::request(std::string_view method, std::string_view target, const std::string& body,
                                std::string_view content_type) {
  if (!transport_->setup_error.empty()) return ApiResponse{0, nullptr, transport_->setup_error};
  Exchange exchange{config_, {}, timeout_, nullptr, nullptr, {}, false};
  exchange.request.method_string(std::string(method));
  exchange.request.target(std::string(target));
  exchange.request.version(11);
  exchange.request.set(http::field::host, config_.host);
  exchange.request.set(http::field::accept, "application/json");
  exchange.request.set(http::field::user_agent, "airlock-k8s-sync/0.1");
  std::string token = current_token();
  if (!token.empty()) exchange.request.set(http::field::authorization, "Bearer " + token);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    exchange.request.set(http::field::content_type, std::string(content_type));
    exchange.request.body() = body;
    exchange.request.prepare_payload();
  }
  asio::io_context io;
  if (transport_->ssl) {
    beast::ssl_stream<beast::tcp_stream> stream(io, *transport_->ssl);
    perform(io, stream, exchange);
  } else {
    beast::tcp_stream stream(io);
    perform(io, stream, exchange);
  }
  if (exchange.response.status == 0 && exchange.response.error.empty()) exchange.response.error = "no response";
  if (exchange.response.status == 0) {
    exchange.response.error = std::string(method) + " " + std::string(target) + ": " + exchange.response.error;
  }
  return exchange.response;
}

namespace {
std::string with_field_manager(std::string_view path, const std::string& manager, bool force) {
  std::string target(path);
  target += target.find('?') == std::string::npos ? "?" : "&";
  target += "fieldManager=" + url_encode(manager);
  if (force) target += "&force=true";
  return target;
}
}  // namespace

ApiResponse KubeClient::create(std::string_view collection_path, const Json& object) {
  return request("POST", with_field_manager(collection_path, field_manager, false), object.dump());
}

ApiResponse KubeClient::update(std::string_view path, const Json& object) {
  return request("PUT", with_field_manager(path, field_manager, false), object.dump());
}

ApiResponse KubeClient::update_status(std::string_view path, const Json& object) {
  return request("PUT", with_field_manager(std::string(path) + "/status", field_manager, false), object.dump());
}

ApiResponse KubeClient::apply(std::string_view path, const Json& object, bool force) {
  // JSON is YAML: the apply body may be either.
  return request("PATCH", with_field_manager(path, field_manager, force), object.dump(),
                 "application/apply-patch+yaml");
}

ApiResponse KubeClient::merge_patch(std::string_view path, const Json& patch) {
  return request("PATCH", with_field_manager(path, field_manager, false), patch.dump(), "application/merge-patch+json");
}

ApiResponse KubeClient::remove(std::string_view path, std::string_view propagation) {
  Json options = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", std::string(propagation)}};
  return request("DELETE", path, options.dump());
}

WatchEnd KubeClient::watch(std::string_view target, const std::function<void(const Json& event)>& on_event,
                           const std::function<bool()>& should_stop, std::string* error) {
  if (!transport_->setup_error.empty()) {
    if (error != nullptr) *error = transport_->setup_error;
    return WatchEnd::kFailed;
  }
  bool gone = false;
  bool failed = false;
  std::string failure;
  Exchange exchange{config_, {}, timeout_, nullptr, &should_stop, {}, false};
  exchange.on_line = [&](std::string_view line) {
    Json event = Json::parse(line, nullptr, false);
    if (!event.is_object()) return true;  // tolerate junk lines
    std::string type = event.value("type", "");
    if (type == "ERROR") {
      const Json& status = event.contains("object") ? event["object"] : event;
      if (status.value("code", 0) == 410) {
        gone = true;
      } else {
        failed = true;
        failure = "watch ERROR event: " + status.dump();
      }
      return false;
    }
    on_event(event);
    return !should_stop();
  };
  exchange.request.method(http::verb::get);
  exchange.request.target(std::string(target));
  exchange.request.version(11);
  exchange.request.set(http::field::host, config_.host);
  exchange.request.set(http::field::accept, "application/json");
  exchange.request.set(http::field::user_agent, "airlock-k8s-sync/0.1");
  std::string token = current_token();
  if (!token.empty()) exchange.request.set(http::field::authorization, "Bearer " + token);
  asio::io_context io;
  if (transport_->ssl) {
    beast::ssl_stream<beast::tcp_stream> stream(io, *transport_->ssl);
    perform(io, stream, exchange);
  } else {
    beast::tcp_stream stream(io);
    perform(io, stream, exchange);
  }
  if (gone || exchange.response.status == 410) return WatchEnd::kGone;
  if (failed) {
    if (error != nullptr) *error = failure;
    return WatchEnd::kFailed;
  }
  if (should_stop()) return WatchEnd::kStopped;
  if (exchange.response.status != 200) {
    if (error != nullptr) *error = exchange.response.describe();
    return WatchEnd::kFailed;
  }
  return WatchEnd::kClosed;
}

std::string ResourceType::collection_path(std::string_view ns) const {
  std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (!ns.empty()) path += "/namespaces/" + std::string(ns);
  return path + "/" + plural;
}

std::string ResourceType::object_path(std::string_view ns, std::string_view name) const {
  return collection_path(ns) + "/" + std::string(name);
}

namespace resources {
const ResourceType& data_source() {
  static const ResourceType kType{"xlscsde.nhs.uk", "v1", "analyticsworkspacedatasources",
                                  "AnalyticsWorkspaceDataSource"};
  return kType;
}
const ResourceType& data_binding() {
  static const ResourceType kType{"xlscsde.nhs.uk", "v1", "analyticsworkspacedatabindings",
                                  "AnalyticsWorkspaceDataBinding"};
  return kType;
}
const ResourceType& pvc() {
  static const ResourceType kType{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"};
  return kType;
}
const ResourceType& secret() {
  static const ResourceType kType{"", "v1", "secrets", "Secret"};
  return kType;
}
const ResourceType& job() {
  static const ResourceType kType{"batch", "v1", "jobs", "Job"};
  return kType;
}
const ResourceType& deployment() {
  static const ResourceType kType{"apps", "v1", "deployments", "Deployment"};
  return kType;
}
const ResourceType& lease() {
  static const ResourceType kType{"coordination.k8s.io", "v1", "leases", "Lease"};
  return kType;
}
const ResourceType& event() {
  static const ResourceType kType{"", "v1", "events", "Event"};
  return kType;
}
}  // namespace resources

std::string url_encode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace airlock::k8s
