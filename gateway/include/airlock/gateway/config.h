// The gateway's configuration (`airlock serve --config FILE`), every key documented in docs/configuration.md.
// Loading validates everything: an unknown key or a bad value is an error that names the key.
#pragma once

#include <chrono>
#include <cstdint>
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

}  // namespace airlock::gateway
