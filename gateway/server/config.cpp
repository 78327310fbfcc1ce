// Configuration: YAML (yaml-cpp) read into Config, every key validated. yaml-cpp throws; nothing escapes here.
#include "airlock/gateway/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "airlock/gateway/auth/http_client.h"  // --- identity: parse_url, is_loopback_host

namespace airlock::gateway {
namespace {

using runtime::Error;
using runtime::Result;
using runtime::Status;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

Result<std::uint64_t> parse_unsigned(std::string_view digits) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return Error{"expected a whole number, got `" + std::string(digits) + "`"};
  }
  return value;
}

// Splits "10 GiB" into "10" and "GiB".
std::pair<std::string_view, std::string_view> split_number(std::string_view text) {
  text = trim(text);
  std::size_t end = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  return {text.substr(0, end), trim(text.substr(end))};
}

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Status fail(const std::string& key, const std::string& message) const {
    return Error{source_ + ": `" + key + "`: " + message};
  }

  // Every key of `node` must be one of `known`.
  Status check_keys(const YAML::Node& node, const std::string& prefix, const std::set<std::string>& known) const {
    if (!node.IsMap()) return fail(prefix.empty() ? "(top level)" : prefix, "expected a mapping of keys to values");
    for (const auto& entry : node) {
      std::string key = entry.first.Scalar();
      std::string full = prefix.empty() ? key : prefix + "." + key;
      if (known.count(key) == 0) {
        std::string list;
        for (const std::string& name : known) list += (list.empty() ? "" : ", ") + name;
        return Error{source_ + ": unknown key `" + full + "` (known keys here: " + list + ")"};
      }
    }
    return Status::ok();
  }

  Status string(const YAML::Node& node, const std::string& key, std::string& out) const {
    if (!node) return Status::ok();
    if (!node.IsScalar()) return fail(key, "expected a string");
    out = node.Scalar();
    return Status::ok();
  }

  Status size(const YAML::Node& node, const std::string& key, std::uint64_t& out) const {
    if (!node) return Status::ok();
    if (!node.IsScalar()) return fail(key, "expected a size such as `10 GiB` or a number of bytes");
    Result<std::uint64_t> value = parse_size(node.Scalar());
    if (!value) return fail(key, value.message());
    out = *value;
    return Status::ok();
  }

  Status count(const YAML::Node& node, const std::string& key, std::uint64_t max, std::uint64_t& out) const {
    if (!node) return Status::ok();
    if (!node.IsScalar()) return fail(key, "expected a whole number");
    Result<std::uint64_t> value = parse_unsigned(trim(node.Scalar()));
    if (!value) return fail(key, value.message());
    if (*value > max) return fail(key, "must be at most " + std::to_string(max));
    out = *value;
    return Status::ok();
  }

  Status duration(const YAML::Node& node, const std::string& key, std::chrono::seconds& out) const {
    if (!node) return Status::ok();
    if (!node.IsScalar()) return fail(key, "expected a duration such as `30s`, `5m`, `24h` or `7d`");
    Result<std::chrono::seconds> value = parse_duration(node.Scalar());
    if (!value) return fail(key, value.message());
    out = *value;
    return Status::ok();
  }

 private:
  std::string source_;
};

Status read_limits(const Reader& reader, const YAML::Node& node, LimitsConfig& limits) {
  if (!node) return Status::ok();
  if (Status s = reader.check_keys(
          node, "limits",
          {"max_upload_size", "max_header_bytes", "max_chunk_bytes", "max_json_body_bytes", "idle_timeout",
           "min_rate_bytes_per_second", "min_rate_grace", "max_concurrent_uploads_per_user",
           "max_inspection_queue"});
      !s) {
    return s;
  }
  std::uint64_t header_bytes = limits.max_header_bytes;
  std::uint64_t per_user = limits.max_concurrent_uploads_per_user;
  Status statuses[] = {
      reader.size(node["max_upload_size"], "limits.max_upload_size", limits.max_upload_size),
      reader.size(node["max_header_bytes"], "limits.max_header_bytes", header_bytes),
      reader.size(node["max_chunk_bytes"], "limits.max_chunk_bytes", limits.max_chunk_bytes),
      reader.size(node["max_json_body_bytes"], "limits.max_json_body_bytes", limits.max_json_body_bytes),
      reader.duration(node["idle_timeout"], "limits.idle_timeout", limits.idle_timeout),
      reader.size(node["min_rate_bytes_per_second"], "limits.min_rate_bytes_per_second",
                  limits.min_rate_bytes_per_second),
      reader.duration(node["min_rate_grace"], "limits.min_rate_grace", limits.min_rate_grace),
      reader.count(node["max_concurrent_uploads_per_user"], "limits.max_concurrent_uploads_per_user", 10'000, per_user),
      reader.size(node["max_inspection_queue"], "limits.max_inspection_queue", limits.max_inspection_queue_bytes),
  };
  for (Status& status : statuses) {
    if (!status) return status;
  }
  if (header_bytes < 1024 || header_bytes > (1u << 20)) {
    return reader.fail("limits.max_header_bytes", "must be between 1 KiB and 1 MiB");
  }
  limits.max_header_bytes = static_cast<std::uint32_t>(header_bytes);
  if (per_user == 0) return reader.fail("limits.max_concurrent_uploads_per_user", "must be at least 1");
  limits.max_concurrent_uploads_per_user = static_cast<std::uint32_t>(per_user);
  if (limits.max_upload_size == 0) return reader.fail("limits.max_upload_size", "must be more than 0");
  if (limits.max_chunk_bytes == 0) return reader.fail("limits.max_chunk_bytes", "must be more than 0");
  if (limits.idle_timeout.count() == 0) return reader.fail("limits.idle_timeout", "must be more than 0s");
  return Status::ok();
}

Status read_tokens(const Reader& reader, const YAML::Node& node, std::vector<TokenConfig>& tokens) {
  if (!node) return Status::ok();
  if (!node.IsSequence()) return reader.fail("tokens", "expected a list of {token, user, roles}");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < node.size(); ++i) {
    std::string key = "tokens[" + std::to_string(i) + "]";
    const YAML::Node entry = node[i];
    if (Status s = reader.check_keys(entry, key, {"token", "user", "roles"}); !s) return s;
    TokenConfig token;
    if (Status s = reader.string(entry["token"], key + ".token", token.token); !s) return s;
    if (Status s = reader.string(entry["user"], key + ".user", token.user); !s) return s;
    if (token.token.size() < 16) return reader.fail(key + ".token", "must be at least 16 characters");
    if (token.token.find_first_of(" \t\r\n") != std::string::npos) {
      return reader.fail(key + ".token", "must not contain white space");
    }
    if (token.user.empty()) return reader.fail(key + ".user", "is required");
    if (!seen.insert(token.token).second) return reader.fail(key + ".token", "is given twice");
    if (const YAML::Node roles = entry["roles"]) {
      if (!roles.IsSequence()) return reader.fail(key + ".roles", "expected a list of role names");
      for (const auto& role : roles) {
        if (!role.IsScalar() || role.Scalar().empty()) return reader.fail(key + ".roles", "expected role names");
        token.roles.push_back(role.Scalar());
      }
    }
    tokens.push_back(std::move(token));
  }
  return Status::ok();
}

// --- identity: `auth:` (sign-in, bearer JWTs from the OpenID provider, browser sessions)
Status read_bool(const Reader& reader, const YAML::Node& node, const std::string& key, bool& out) {
  if (!node) return Status::ok();
  if (!node.IsScalar()) return reader.fail(key, "expected true or false");
  const std::string& text = node.Scalar();
  if (text == "true" || text == "yes" || text == "on") {
    out = true;
  } else if (text == "false" || text == "no" || text == "off") {
    out = false;
  } else {
    return reader.fail(key, "expected true or false, got `" + text + "`");
  }
  return Status::ok();
}

// A string or a list of strings, none empty.
Status read_names(const Reader& reader, const YAML::Node& node, const std::string& key, bool allow_single,
                  std::vector<std::string>& out) {
  if (!node) return Status::ok();
  out.clear();
  if (allow_single && node.IsScalar()) {
    out.push_back(node.Scalar());
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar()) return reader.fail(key, "expected a list of names");
      out.push_back(item.Scalar());
    }
  } else {
    return reader.fail(key, allow_single ? "expected a name or a list of names" : "expected a list of names");
  }
  for (const std::string& name : out) {
    if (name.empty() || name.find_first_of(" \t\r\n") != std::string::npos) {
      return reader.fail(key, "names must be non-empty and without white space");
    }
  }
  return Status::ok();
}

// An absolute http(s) URL; `what` says what it is for, in the message.
Result<auth::Url> read_url(const Reader& reader, const std::string& key, const std::string& text) {
  Result<auth::Url> url = auth::parse_url(text);
  if (!url) return Error{reader.fail(key, url.message()).message()};
  if (text.find('#') != std::string::npos) return Error{reader.fail(key, "must not have a fragment").message()};
  return url;
}

Status read_oidc(const Reader& reader, const YAML::Node& node, const AuthConfig& auth_config, OidcConfig& oidc) {
  if (Status s =
          reader.check_keys(node, "auth.oidc",
                            {"issuer", "audience", "client_id", "client_secret", "client_secret_file", "redirect_uri",
                             "scopes", "role_clients", "leeway", "jwks_refetch_interval", "ca_file"});
      !s) {
    return s;
  }
  std::string secret_file;
  Status statuses[] = {
      reader.string(node["issuer"], "auth.oidc.issuer", oidc.issuer),
      read_names(reader, node["audience"], "auth.oidc.audience", true, oidc.audiences),
      reader.string(node["client_id"], "auth.oidc.client_id", oidc.client_id),
      reader.string(node["client_secret"], "auth.oidc.client_secret", oidc.client_secret),
      reader.string(node["client_secret_file"], "auth.oidc.client_secret_file", secret_file),
      reader.string(node["redirect_uri"], "auth.oidc.redirect_uri", oidc.redirect_uri),
      read_names(reader, node["scopes"], "auth.oidc.scopes", false, oidc.scopes),
      read_names(reader, node["role_clients"], "auth.oidc.role_clients", false, oidc.role_clients),
      reader.duration(node["leeway"], "auth.oidc.leeway", oidc.leeway),
      reader.duration(node["jwks_refetch_interval"], "auth.oidc.jwks_refetch_interval", oidc.jwks_refetch_interval),
      reader.string(node["ca_file"], "auth.oidc.ca_file", oidc.ca_file),
  };
  for (Status& status : statuses) {
    if (!status) return status;
  }
  if (oidc.issuer.empty()) return reader.fail("auth.oidc.issuer", "is required (the provider's issuer URL)");
  Result<auth::Url> issuer = read_url(reader, "auth.oidc.issuer", oidc.issuer);
  if (!issuer) return Status(Error{issuer.message()});
  if (issuer->scheme != "https" && !auth::is_loopback_host(issuer->host)) {
    return reader.fail("auth.oidc.issuer", "must be https (plain http only on 127.0.0.1, ::1 or localhost)");
  }
  if (oidc.issuer.find('?') != std::string::npos) return reader.fail("auth.oidc.issuer", "must not have a query");
  if (oidc.client_id.empty()) return reader.fail("auth.oidc.client_id", "is required with auth.oidc");
  if (oidc.audiences.empty()) oidc.audiences = {oidc.client_id};
  if (!oidc.client_secret.empty() && !secret_file.empty()) {
    return reader.fail("auth.oidc.client_secret_file", "give client_secret or client_secret_file, not both");
  }
  if (!secret_file.empty()) {
    std::ifstream file(secret_file, std::ios::binary);
    if (!file) return reader.fail("auth.oidc.client_secret_file", secret_file + ": cannot open the file");
    std::ostringstream text;
    text << file.rdbuf();
    oidc.client_secret = text.str();
    while (!oidc.client_secret.empty() && std::isspace(static_cast<unsigned char>(oidc.client_secret.back()))) {
      oidc.client_secret.pop_back();
    }
    if (oidc.client_secret.empty()) return reader.fail("auth.oidc.client_secret_file", secret_file + " is empty");
  }
  if (std::find(oidc.scopes.begin(), oidc.scopes.end(), "openid") == oidc.scopes.end()) {
    return reader.fail("auth.oidc.scopes", "must include `openid`");
  }
  if (oidc.leeway > std::chrono::minutes(10)) return reader.fail("auth.oidc.leeway", "must be at most 10m");
  if (oidc.jwks_refetch_interval.count() == 0) {
    return reader.fail("auth.oidc.jwks_refetch_interval", "must be at least 1s");
  }
  if (!oidc.ca_file.empty() && !std::ifstream(oidc.ca_file)) {
    return reader.fail("auth.oidc.ca_file", oidc.ca_file + ": cannot open the file");
  }
  if (oidc.redirect_uri.empty()) {
    if (auth_config.public_url.empty()) {
      return reader.fail(
          "auth.public_url",
          "is required with auth.oidc (where browsers reach the gateway; or set auth.oidc.redirect_uri)");
    }
    oidc.redirect_uri = auth_config.public_url + "/auth/callback";
  }
  Result<auth::Url> redirect = read_url(reader, "auth.oidc.redirect_uri", oidc.redirect_uri);
  if (!redirect) return Status(Error{redirect.message()});
  if (redirect->target != "/auth/callback") {
    return reader.fail("auth.oidc.redirect_uri", "must be the gateway's /auth/callback (https://HOST/auth/callback)");
  }
  if (redirect->scheme != "https" && !auth::is_loopback_host(redirect->host) &&
      auth_config.session.secure_cookie.value_or(true)) {
    return reader.fail("auth.oidc.redirect_uri",
                       "must be https (plain http only on a loopback host, or with auth.session.secure_cookie: false)");
  }
  return Status::ok();
}

Status read_auth(const Reader& reader, const YAML::Node& node, AuthConfig& auth_config) {
  if (!node) return Status::ok();
  if (Status s = reader.check_keys(node, "auth", {"public_url", "token_sign_in", "session", "oidc"}); !s) return s;
  if (Status s = reader.string(node["public_url"], "auth.public_url", auth_config.public_url); !s) return s;
  if (Status s = read_bool(reader, node["token_sign_in"], "auth.token_sign_in", auth_config.token_sign_in); !s) {
    return s;
  }
  if (const YAML::Node session = node["session"]) {
    if (Status s = reader.check_keys(session, "auth.session", {"lifetime", "idle_timeout", "secure_cookie"}); !s) {
      return s;
    }
    SessionCookieConfig& cookie = auth_config.session;
    if (Status s = reader.duration(session["lifetime"], "auth.session.lifetime", cookie.lifetime); !s) return s;
    if (Status s = reader.duration(session["idle_timeout"], "auth.session.idle_timeout", cookie.idle_timeout); !s) {
      return s;
    }
    if (session["secure_cookie"]) {
      bool secure = true;
      if (Status s = read_bool(reader, session["secure_cookie"], "auth.session.secure_cookie", secure); !s) return s;
      cookie.secure_cookie = secure;
    }
    if (cookie.lifetime.count() < 60) return reader.fail("auth.session.lifetime", "must be at least 1m");
    if (cookie.idle_timeout.count() < 60) return reader.fail("auth.session.idle_timeout", "must be at least 1m");
  }
  if (!auth_config.public_url.empty()) {
    while (auth_config.public_url.size() > 1 && auth_config.public_url.back() == '/') auth_config.public_url.pop_back();
    Result<auth::Url> url = read_url(reader, "auth.public_url", auth_config.public_url);
    if (!url) return Status(Error{url.message()});
    if (url->target != "/") {
      return reader.fail("auth.public_url", "must be scheme, host and port only (https://airlock.example.org)");
    }
    if (url->scheme == "http" && !auth::is_loopback_host(url->host) &&
        auth_config.session.secure_cookie.value_or(true)) {
      return reader.fail("auth.public_url",
                         "is plain http on a non-loopback host, where browsers drop Secure cookies: use https, or "
                         "set auth.session.secure_cookie: false (never in production)");
    }
  }
  if (const YAML::Node oidc = node["oidc"]) {
    if (Status s = read_oidc(reader, oidc, auth_config, auth_config.oidc); !s) return s;
  }
  return Status::ok();
}
// --- end identity

// --- reviews: `webhooks:` (review notifications) and `reviews:`
Status read_webhooks(const Reader& reader, const YAML::Node& node, std::vector<WebhookTargetConfig>& webhooks) {
  if (!node) return Status::ok();
  if (!node.IsSequence()) return reader.fail("webhooks", "expected a list of {name, url, secret, events, ...}");
  std::set<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string key = "webhooks[" + std::to_string(i) + "]";
    const YAML::Node entry = node[i];
    if (Status s = reader.check_keys(entry, key,
                                     {"name", "url", "secret", "events", "timeout", "max_attempts", "retry_delay",
                                      "max_retry_delay", "ca_file"});
        !s) {
      return s;
    }
    WebhookTargetConfig webhook;
    std::uint64_t attempts = webhook.max_attempts;
    Status statuses[] = {
        reader.string(entry["name"], key + ".name", webhook.name),
        reader.string(entry["url"], key + ".url", webhook.url),
        reader.string(entry["secret"], key + ".secret", webhook.secret),
        reader.duration(entry["timeout"], key + ".timeout", webhook.timeout),
        reader.count(entry["max_attempts"], key + ".max_attempts", 100, attempts),
        reader.duration(entry["retry_delay"], key + ".retry_delay", webhook.retry_delay),
        reader.duration(entry["max_retry_delay"], key + ".max_retry_delay", webhook.max_retry_delay),
        reader.string(entry["ca_file"], key + ".ca_file", webhook.ca_file),
    };
    for (Status& status : statuses) {
      if (!status) return status;
    }
    if (webhook.name.empty()) return reader.fail(key + ".name", "is required");
    if (!names.insert(webhook.name).second) return reader.fail(key + ".name", "`" + webhook.name + "` is given twice");
    Result<auth::Url> url = auth::parse_url(webhook.url);
    if (!url) return reader.fail(key + ".url", url.message());
    if (url->scheme != "https" && !auth::is_loopback_host(url->host)) {
      return reader.fail(key + ".url", "must be https (plain http only to 127.0.0.1, ::1 or localhost)");
    }
    if (webhook.secret.size() < 16) return reader.fail(key + ".secret", "must be at least 16 bytes");
    if (const YAML::Node events = entry["events"]) {
      if (!events.IsSequence()) return reader.fail(key + ".events", "expected a list of events");
      for (const auto& event : events) {
        if (!event.IsScalar() ||
            (event.Scalar() != "escalated" && event.Scalar() != "decided" && event.Scalar() != "revoked")) {
          return reader.fail(key + ".events", "expected escalated, decided or revoked");
        }
        webhook.events.push_back(event.Scalar());
      }
    }
    if (webhook.timeout.count() == 0) return reader.fail(key + ".timeout", "must be at least 1s");
    if (attempts == 0) return reader.fail(key + ".max_attempts", "must be at least 1");
    webhook.max_attempts = static_cast<std::uint32_t>(attempts);
    if (webhook.retry_delay.count() == 0) return reader.fail(key + ".retry_delay", "must be at least 1s");
    if (webhook.max_retry_delay < webhook.retry_delay) {
      return reader.fail(key + ".max_retry_delay", "must be at least retry_delay");
    }
    if (!webhook.ca_file.empty() && !std::ifstream(webhook.ca_file)) {
      return reader.fail(key + ".ca_file", webhook.ca_file + ": cannot open the file");
    }
    webhooks.push_back(std::move(webhook));
  }
  return Status::ok();
}

Status read_reviews(const Reader& reader, const YAML::Node& node, ReviewsConfig& reviews) {
  if (!node) return Status::ok();
  if (Status s = reader.check_keys(node, "reviews", {"workspace_url"}); !s) return s;
  return reader.string(node["workspace_url"], "reviews.workspace_url", reviews.workspace_url);
}
// --- end reviews

Result<Config> read_config(const YAML::Node& root, const std::string& source) {
  Reader reader(source);
  Config config;
  if (root.IsNull()) return config;  // an empty file: every default
  if (Status s =
          reader.check_keys(root, "",
                            {"listen", "tls", "data_dir", "policies_dir", "limits", "upload_expiry", "denied_retention",
                             "cleanup_interval", "shutdown_grace", "clamd", "tokens", "log", "threads", "inspection_threads",
                             "auth", "webhooks", "reviews", "registry"});
      !s) {
    return Error{s.message()};
  }
  auto check = [](Status status) -> std::optional<Error> {
    if (status) return std::nullopt;
    return Error{status.message()};
  };
  if (auto e = check(reader.string(root["listen"], "listen", config.listen))) return *e;
  if (Result<ListenAddress> address = parse_listen_address(config.listen); !address) {
    return Error{reader.fail("listen", address.message()).message()};
  }
  if (const YAML::Node tls = root["tls"]) {
    if (auto e = check(reader.check_keys(tls, "tls", {"cert", "key"}))) return *e;
    if (auto e = check(reader.string(tls["cert"], "tls.cert", config.tls.cert))) return *e;
    if (auto e = check(reader.string(tls["key"], "tls.key", config.tls.key))) return *e;
    if (config.tls.cert.empty() != config.tls.key.empty()) {
      return Error{
          reader.fail(config.tls.cert.empty() ? "tls.cert" : "tls.key", "TLS needs both cert and key").message()};
    }
  }
  if (auto e = check(reader.string(root["data_dir"], "data_dir", config.data_dir))) return *e;
  if (auto e = check(reader.string(root["policies_dir"], "policies_dir", config.policies_dir))) return *e;
  if (config.data_dir.empty()) return Error{reader.fail("data_dir", "must not be empty").message()};
  if (config.policies_dir.empty()) return Error{reader.fail("policies_dir", "must not be empty").message()};
  if (auto e = check(read_limits(reader, root["limits"], config.limits))) return *e;
  if (auto e = check(reader.duration(root["upload_expiry"], "upload_expiry", config.upload_expiry))) return *e;
  if (auto e = check(reader.duration(root["denied_retention"], "denied_retention", config.denied_retention))) {
    return *e;
  }
  if (auto e = check(reader.duration(root["cleanup_interval"], "cleanup_interval", config.cleanup_interval))) {
    return *e;
  }
  if (config.cleanup_interval.count() == 0)
    return Error{reader.fail("cleanup_interval", "must be more than 0s").message()};
  if (auto e = check(reader.duration(root["shutdown_grace"], "shutdown_grace", config.shutdown_grace))) return *e;
  if (const YAML::Node clamd = root["clamd"]) {
    if (auto e = check(reader.check_keys(clamd, "clamd", {"socket"}))) return *e;
    if (auto e = check(reader.string(clamd["socket"], "clamd.socket", config.clamd_socket))) return *e;
  }
  if (auto e = check(read_tokens(reader, root["tokens"], config.tokens))) return *e;
  if (const YAML::Node log = root["log"]) {
    if (auto e = check(reader.check_keys(log, "log", {"level", "format"}))) return *e;
    if (auto e = check(reader.string(log["level"], "log.level", config.log.level))) return *e;
    if (auto e = check(reader.string(log["format"], "log.format", config.log.format))) return *e;
    static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
    if (std::find(std::begin(kLevels), std::end(kLevels), config.log.level) == std::end(kLevels)) {
      return Error{reader.fail("log.level", "expected trace, debug, info, warn, error or off").message()};
    }
    if (config.log.format != "json" && config.log.format != "text") {
      return Error{reader.fail("log.format", "expected json or text").message()};
    }
  }
  std::uint64_t threads = config.threads;
  if (auto e = check(reader.count(root["threads"], "threads", 64, threads))) return *e;
  if (threads == 0) return Error{reader.fail("threads", "must be at least 1").message()};
  config.threads = static_cast<std::uint32_t>(threads);
  std::uint64_t inspection_threads = config.inspection_threads;
  if (auto e = check(reader.count(root["inspection_threads"], "inspection_threads", 64, inspection_threads))) return *e;
  config.inspection_threads = static_cast<std::uint32_t>(inspection_threads);
  if (auto e = check(read_auth(reader, root["auth"], config.auth))) return *e;  // --- identity
  if (auto e = check(read_webhooks(reader, root["webhooks"], config.webhooks))) return *e;  // --- reviews
  if (auto e = check(read_reviews(reader, root["reviews"], config.reviews))) return *e;     // --- reviews
  // --- registry
  if (const YAML::Node registry = root["registry"]) {
    if (auto e = check(reader.check_keys(registry, "registry", {"require_registration"}))) return *e;
    if (const YAML::Node require = registry["require_registration"]) {
      if (!require.IsScalar() || (require.Scalar() != "true" && require.Scalar() != "false")) {
        return Error{reader.fail("registry.require_registration", "expected true or false").message()};
      }
      config.registry.require_registration = require.Scalar() == "true";
    }
  }
  // --- end registry
  return config;
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  auto [digits, unit] = split_number(text);
  if (digits.empty())
    return Error{"expected a size such as `10 GiB` or a number of bytes, got `" + std::string(text) + "`"};
  Result<std::uint64_t> number = parse_unsigned(digits);
  if (!number) return number;
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {{"", 1},
                                                                          {"B", 1},
                                                                          {"KB", 1000},
                                                                          {"MB", 1000'000},
                                                                          {"GB", 1000'000'000},
                                                                          {"TB", 1000'000'000'000},
                                                                          {"KiB", 1ull << 10},
                                                                          {"MiB", 1ull << 20},
                                                                          {"GiB", 1ull << 30},
                                                                          {"TiB", 1ull << 40}};
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    if (*number > std::numeric_limits<std::uint64_t>::max() / factor)
      return Error{"size `" + std::string(text) + "` is too large"};
    return *number * factor;
  }
  return Error{"unknown size unit `" + std::string(unit) + "` (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"};
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  auto [digits, unit] = split_number(text);
  if (digits.empty())
    return Error{"expected a duration such as `30s`, `5m`, `24h` or `7d`, got `" + std::string(text) + "`"};
  Result<std::uint64_t> number = parse_unsigned(digits);
  if (!number) return Error{number.message()};
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "s")
    factor = 1;
  else if (unit == "m")
    factor = 60;
  else if (unit == "h")
    factor = 3600;
  else if (unit == "d")
    factor = 86400;
  else
    return Error{"unknown duration unit `" + std::string(unit) + "` (use s, m, h or d)"};
  if (*number > (std::uint64_t{1} << 40) / factor) return Error{"duration `" + std::string(text) + "` is too long"};
  return std::chrono::seconds(static_cast<std::int64_t>(*number * factor));
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error{"expected ADDR:PORT such as `127.0.0.1:8080`, got `" + std::string(text) + "`"};
  }
  ListenAddress address;
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') return Error{"unbalanced brackets in `" + std::string(text) + "`"};
    host = host.substr(1, host.size() - 2);
  }
  address.host = std::string(host);
  Result<std::uint64_t> port = parse_unsigned(text.substr(colon + 1));
  if (!port || *port > 65535) return Error{"bad port in `" + std::string(text) + "` (expected 0 to 65535)"};
  address.port = static_cast<std::uint16_t>(*port);
  return address;
}

Result<Config> parse_config(std::string_view yaml, std::string_view source) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return read_config(root, std::string(source));
  } catch (const YAML::Exception& e) {
    return Error{std::string(source) + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                 ": invalid YAML: " + e.msg};
  } catch (const std::exception& e) {
    return Error{std::string(source) + ": " + e.what()};
  }
}

Result<Config> load_config(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{path + ": cannot open the configuration file"};
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Error{path + ": cannot read the configuration file"};
  return parse_config(text.str(), path);
}

// --- identity
bool secure_cookie_for(const Config& config) {
  if (config.auth.session.secure_cookie) return *config.auth.session.secure_cookie;
  if (!config.auth.public_url.empty()) {
    Result<auth::Url> url = auth::parse_url(config.auth.public_url);
    return !(url && url->scheme == "http" && auth::is_loopback_host(url->host));
  }
  if (config.tls.enabled()) return true;
  Result<ListenAddress> address = parse_listen_address(config.listen);
  return !(address && auth::is_loopback_host(address->host));
}
// --- end identity

}  // namespace airlock::gateway
