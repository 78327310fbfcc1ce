// A small blocking HTTP/1.1 client for the identity and webhook code: OIDC discovery, JWKS, the token
// endpoint, webhook posts. One request per connection, a deadline over the whole exchange, a cap on the
// response size. https verifies the peer (system CAs or a configured CA file) and its host name; plain
// http is refused unless allowed (loopback only, for tests and local providers, or an explicit insecure
// flag). Redirects are not followed. No Beast or Asio in this header: they stay in http_client.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/runtime/result.h"

namespace airlock::gateway::auth {

struct HttpClientOptions {
  std::chrono::milliseconds timeout{10000};  // whole request: resolve, connect, TLS, write, read
  std::size_t max_response_bytes = 1u << 20;
  std::string ca_file;               // PEM bundle; empty: the system's default CAs
  bool allow_http_loopback = false;  // http:// to 127.0.0.1, ::1 or localhost (tests, a local provider)
  bool allow_insecure_http = false;  // http:// anywhere. Never in production.
  std::string user_agent = "airlock-gateway";
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  std::string body;

  // The first header of that name (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
  // Every header of that name (Set-Cookie comes many times).
  std::vector<std::string> headers_named(std::string_view name) const;
};

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target;  // path and query, "/" at least
};
runtime::Result<Url> parse_url(std::string_view url);
bool is_loopback_host(std::string_view host);

// Thread-safe: each send() has its own connection.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options) : options_(std::move(options)) {}
  // A transport failure (refused, timeout, TLS, a response too large) is an error; any HTTP status is a
  // response.
  runtime::Result<HttpResponse> send(const HttpRequest& request) const;
  const HttpClientOptions& options() const { return options_; }

 private:
  HttpClientOptions options_;
};

// application/x-www-form-urlencoded, and percent-encoding of one query or form component.
std::string url_encode(std::string_view text);
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace airlock::gateway::auth
