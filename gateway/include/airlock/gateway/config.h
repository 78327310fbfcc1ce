// The gateway's configuration (`airlock serve --config FILE`), every key documented in docs/configuration.md.
// Loading validates everything: an unknown key or a bad value is an error that names the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/result.h"

namespace airlock::gateway {

struct TlsConfig {
  std::string cert;  // PEM certificate chain; TLS is on when both cert and key are set
  std::string key;   // PEM private key
  bool enabled() const { return !cert.empty(); }
};

struct LimitsConfig {
  std::uint64_t max_upload_size = 10ull << 30;        // Upload-Length above this is refused (413)
  std::uint32_t max_header_bytes = 16u << 10;         // request line and headers (431 above)
  std::uint64_t max_chunk_bytes = 256ull << 20;       // body of one PATCH (413 above)
  std::uint64_t max_json_body_bytes = 1u << 20;       // body of a non-upload request (413 above)
  std::chrono::seconds idle_timeout{60};              // no byte for this long closes the connection
  std::uint64_t min_rate_bytes_per_second = 1024;     // a body slower than this (after a grace) is cut
  std::chrono::seconds min_rate_grace{10};            // how long a body may stay under the minimum rate
  std::uint32_t max_concurrent_uploads_per_user = 4;  // PATCH requests in flight per user (429 above)
  std::uint64_t max_inspection_queue_bytes = 32u << 20;  // bytes waiting for the inspection threads, in all
};

struct TokenConfig {
  std::string token;
  std::string user;
  std::vector<std::string> roles;
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error, off
  std::string format = "json";  // json | text
};

// --- identity: `auth:` (docs/configuration.md, docs/identity.md)
// The OpenID provider (Keycloak): bearer JWTs for API clients and the browser sign-in. Off when issuer is empty.
struct OidcConfig {
  std::string issuer;                  // https://keycloak.example.org/realms/sde (http only on a loopback host)
  std::vector<std::string> audiences;  // `aud` must contain one of them; default: {client_id}
  std::string client_id;               // this gateway's client; its resource_access roles count
  std::string client_secret;           // empty: a public client. Or read from client_secret_file at load.
  std::string redirect_uri;            // default: public_url + "/auth/callback"
  std::vector<std::string> scopes{"openid", "profile", "email"};
  std::vector<std::string> role_clients;  // more resource_access.<client> entries whose roles count
  std::chrono::seconds leeway{60};
  std::chrono::seconds jwks_refetch_interval{30};
  std::string ca_file;  // PEM bundle for the provider's certificate; empty: the system's CAs
  bool enabled() const { return !issuer.empty(); }
};

struct SessionCookieConfig {
  std::chrono::seconds lifetime{8 * 3600};
  std::chrono::seconds idle_timeout{3600};
  // Unset: true, unless the gateway serves plain http on a loopback address (see secure_cookie_for()).
  std::optional<bool> secure_cookie;
};

struct AuthConfig {
  std::string public_url;     // where browsers reach the gateway, "https://airlock.example.org" (no path)
  bool token_sign_in = true;  // POST /auth/token: a static token starts a browser session
  SessionCookieConfig session;
  OidcConfig oidc;
};
// --- end identity

// --- reviews: `webhooks:` and `reviews:` (docs/configuration.md, docs/reviews.md)
// A webhook that receives review notifications (escalated, decided, revoked) as signed JSON POSTs.
struct WebhookTargetConfig {
  std::string name;                       // unique; the outbox names its deliveries by it
  std::string url;                        // https (plain http only to a loopback host)
  std::string secret;                     // HMAC-SHA256 key, at least 16 bytes
  std::vector<std::string> events;        // escalated, decided, revoked; empty: every event
  std::chrono::seconds timeout{10};       // per attempt
  std::uint32_t max_attempts = 10;        // then the delivery is marked failed
  std::chrono::seconds retry_delay{5};    // the first retry's delay; doubled after each failure
  std::chrono::seconds max_retry_delay{3600};
  std::string ca_file;                    // PEM bundle for the receiver's certificate; empty: the system's CAs
};

struct ReviewsConfig {
  // Where a reviewer workspace is reached; {transfer} and {datasource} are replaced. Empty: no URL.
  std::string workspace_url;
};
// --- end reviews

// --- registry: `registry:` (docs/configuration.md, docs/api.md "Data sources and imports")
struct RegistryConfig {
  // Uploads only to data sources registered as Uploaded (by k8s-sync); off for the embedded default (no k8s).
  bool require_registration = false;
};
// --- end registry

struct Config {
  std::string listen = "127.0.0.1:8080";  // ADDR:PORT; port 0 picks a free port
  TlsConfig tls;
  std::string data_dir = "./airlock-data";
  std::string policies_dir = "policies";
  LimitsConfig limits;
  std::chrono::seconds upload_expiry{24 * 3600};      // an unfinished upload is removed after this
  std::chrono::seconds denied_retention{30 * 86400};  // denied bytes are kept this long
  std::chrono::seconds cleanup_interval{60};          // how often expiry and retention run
  std::chrono::seconds shutdown_grace{20};            // SIGTERM: time for in-flight requests
  std::string clamd_socket;                           // empty: no malware scan (scan.result "skipped")
  std::vector<TokenConfig> tokens;                    // empty: one local token is generated at start
  LogConfig log;
  std::uint32_t threads = 2;  // threads running the network loop
  std::uint32_t inspection_threads = 2;  // threads running the inspectors beside the network (0: on the network)
  RegistryConfig registry;    // --- registry: data sources registered by k8s-sync
  AuthConfig auth;            // --- identity: sign-in, bearer JWTs, sessions
  std::vector<WebhookTargetConfig> webhooks;  // --- reviews: review notifications
  ReviewsConfig reviews;                      // --- reviews
};

// Reads and validates a YAML configuration file. Keys left out keep the defaults above.
runtime::Result<Config> load_config(const std::string& path);
// The same for YAML text; `source` names it in messages ("airlock.yaml").
runtime::Result<Config> parse_config(std::string_view yaml, std::string_view source);

// "10 GiB", "512KiB", "1000" (bytes) -> bytes. Units: B, KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB.
runtime::Result<std::uint64_t> parse_size(std::string_view text);
// "30s", "5m", "24h", "7d", "90" (seconds) -> seconds.
runtime::Result<std::chrono::seconds> parse_duration(std::string_view text);

// Splits "ADDR:PORT" ("127.0.0.1:8080", "[::1]:0", "0.0.0.0:443").
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
runtime::Result<ListenAddress> parse_listen_address(std::string_view text);

// --- identity: whether the session cookie is Secure (and __Host-), from auth.session.secure_cookie or, when
// unset, from where the gateway is reached: false only for plain http on a loopback address (public_url's host
// when set, else the listen address).
bool secure_cookie_for(const Config& config);

}  // namespace airlock::gateway
