// A streaming HTTP/1.1 client on Beast over OpenSSL: the body goes to the sink as it arrives, never held whole.
// Synchronous on the outside; each step is an asynchronous operation run to completion so that Beast's
// tcp_stream timeouts apply (its synchronous operations have none).
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>

#include "airlock/gateway/import/sources.h"

namespace airlock::gateway::import {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using runtime::Error;
using runtime::Result;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunkBytes = 64u << 10;
constexpr std::size_t kExcerptBytes = 4096;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code error;
  net::ip::make_address(host, error);
  return !error;
}

// The outcome of one request: a final response, or a redirect to follow.
struct Hop {
  FetchResponse response;
  std::string location;  // set for a redirect that should be followed
};

class Exchange {
 public:
  Exchange(const HttpUrl& url, const FetchRequest& request, const FetchOptions& options, Clock::time_point deadline,
           const ChunkSink& sink)
      : url_(url), request_(request), options_(options), deadline_(deadline), sink_(sink) {}

  Result<Hop> run() {
    tcp::resolver resolver(context_);
    beast::error_code error;
    auto endpoints = resolver.resolve(url_.host, std::to_string(url_.port), error);
    if (error) return fail("resolving " + url_.host, error);
    if (url_.scheme == "http") {
      beast::tcp_stream stream(context_);
      if (Result<bool> connected = connect(stream, endpoints); !connected) return connected.error();
      return exchange(stream, stream);
    }
    ssl::context tls(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    if (!options_.ca_file.empty()) {
      tls.load_verify_file(options_.ca_file, error);
      if (error) return fail("loading the CA file " + options_.ca_file, error);
    } else {
      tls.set_default_verify_paths(error);
      if (error) return fail("loading the system CA store", error);
    }
    tls.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(context_, tls);
    X509_VERIFY_PARAM* parameters = SSL_get0_param(stream.native_handle());
    if (is_ip_literal(url_.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(parameters, url_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str());
      X509_VERIFY_PARAM_set1_host(parameters, url_.host.c_str(), 0);
    }
    if (Result<bool> connected = connect(beast::get_lowest_layer(stream), endpoints); !connected) {
      return connected.error();
    }
    arm(beast::get_lowest_layer(stream), options_.connect_timeout);
    error = await([&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
    if (error) return fail("TLS handshake with " + url_.host, error);
    return exchange(stream, beast::get_lowest_layer(stream));
  }

 private:
  Error fail(const std::string& what, const beast::error_code& error) const {
    std::string message = error == beast::error::timeout ? "timed out" : error.message();
    return Error{what + ": " + message};
  }

  // Runs one asynchronous operation to completion on this thread and returns its error.
  template <typename Start>
  beast::error_code await(Start&& start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code error, auto&&...) { result = error; });
    context_.restart();
    context_.run();
    return result;
  }

  void arm(beast::tcp_stream& stream, std::chrono::milliseconds step) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    stream.expires_after(std::max(std::chrono::milliseconds(1), std::min(step, left)));
  }

  Result<bool> connect(beast::tcp_stream& stream, const tcp::resolver::results_type& endpoints) {
    arm(stream, options_.connect_timeout);
    beast::error_code error = await([&](auto handler) { stream.async_connect(endpoints, handler); });
    if (error) return fail("connecting to " + url_.host + ":" + std::to_string(url_.port), error);
    return true;
  }

  template <typename Stream>
  Result<Hop> exchange(Stream& stream, beast::tcp_stream& lowest) {
    http::verb verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown) return Error{"unknown HTTP method " + request_.method};
    http::request<http::string_body> message{verb, url_.target, 11};
    message.set(http::field::host, url_.host_header());
    message.set(http::field::user_agent, options_.user_agent);
    for (const auto& [name, value] : request_.headers) message.set(name, value);
    message.body() = request_.body;
    message.prepare_payload();
    arm(lowest, options_.idle_timeout);
    beast::error_code error = await([&](auto handler) { http::async_write(stream, message, handler); });
    if (error) return fail("sending the request to " + url_.host, error);

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);  // counted below against max_bytes
    arm(lowest, options_.idle_timeout);
    error = await([&](auto handler) { http::async_read_header(stream, buffer, parser, handler); });
    if (error) return fail("reading the response of " + url_.host, error);

    Hop hop;
    hop.response.status = static_cast<int>(parser.get().result_int());
    std::string content_type(parser.get()[http::field::content_type]);
    hop.response.content_type = lower(content_type.substr(0, content_type.find(';')));
    while (!hop.response.content_type.empty() && hop.response.content_type.back() == ' ') {
      hop.response.content_type.pop_back();
    }
    int status = hop.response.status;
    bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirect && request_.follow_redirects) {
      hop.location = std::string(parser.get()[http::field::location]);
      if (hop.location.empty()) return Error{url_.host + " answered " + std::to_string(status) + " without Location"};
      return hop;
    }
    bool success = status >= 200 && status < 300;
    if (success && parser.content_length() && *parser.content_length() > options_.max_bytes) {
      return Error{"the object is " + std::to_string(*parser.content_length()) + " bytes, over the limit of " +
                   std::to_string(options_.max_bytes)};
    }
    std::vector<char> chunk(kChunkBytes);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      arm(lowest, options_.idle_timeout);
      error = await([&](auto handler) { http::async_read(stream, buffer, parser, handler); });
      if (error == http::error::need_buffer) error = {};
      std::size_t got = chunk.size() - parser.get().body().size;
      if (error) {
        return fail("reading the body from " + url_.host + " after " + std::to_string(hop.response.bytes + got) +
                        " bytes (the transfer was cut short)",
                    error);
      }
      if (got == 0) continue;
      if (success) {
        hop.response.bytes += got;
        if (hop.response.bytes > options_.max_bytes) {
          return Error{"the object is over the limit of " + std::to_string(options_.max_bytes) + " bytes"};
        }
        if (runtime::Status status_of_sink = sink_(std::span<const char>(chunk.data(), got)); !status_of_sink) {
          return Error{status_of_sink.message()};
        }
      } else if (hop.response.body_excerpt.size() < kExcerptBytes) {
        hop.response.body_excerpt.append(chunk.data(), std::min(got, kExcerptBytes - hop.response.body_excerpt.size()));
      }
    }
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return hop;
  }

  net::io_context context_;
  const HttpUrl& url_;
  const FetchRequest& request_;
  const FetchOptions& options_;
  Clock::time_point deadline_;
  const ChunkSink& sink_;
};

}  // namespace

std::string HttpUrl::host_header() const {
  std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  return default_port ? name : name + ":" + std::to_string(port);
}

Result<HttpUrl> parse_http_url(std::string_view text) {
  HttpUrl url;
  std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return Error{"not an absolute URL: " + std::string(text)};
  url.scheme = lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") return Error{"not an http(s) URL: " + std::string(text)};
  std::string_view rest = text.substr(scheme_end + 3);
  std::size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (std::size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{"bad IPv6 host in " + std::string(text)};
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') port_text = authority.substr(close + 2);
  } else {
    std::size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return Error{"no host in " + std::string(text)};
  url.port = url.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (error != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return Error{"bad port in " + std::string(text)};
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target.front() == '?') url.target = "/" + url.target;
  return url;
}

std::string resolve_url(const HttpUrl& base, std::string_view reference) {
  if (reference.find("://") != std::string_view::npos) return std::string(reference);
  if (reference.starts_with("//")) return base.scheme + ":" + std::string(reference);
  std::string origin = base.scheme + "://" + base.host_header();
  if (reference.starts_with("/")) return origin + std::string(reference);
  std::string path = base.target.substr(0, base.target.find('?'));
  return origin + path.substr(0, path.rfind('/') + 1) + std::string(reference);
}

Result<FetchResponse> fetch(const FetchRequest& request, const FetchOptions& options, const ChunkSink& sink) {
  Clock::time_point deadline = Clock::now() + options.total_timeout;
  FetchRequest current = request;
  for (int redirects = 0;; ++redirects) {
    Result<HttpUrl> url = parse_http_url(current.url);
    if (!url) return url.error();
    if (url->scheme == "http" && !options.allow_http) {
      return Error{"refusing " + url->scheme + "://" + url->host_header() + ": sources must use https"};
    }
    Exchange exchange(*url, current, options, deadline, sink);
    Result<Hop> hop = exchange.run();
    if (!hop) return hop.error();
    if (hop->location.empty()) {
      hop->response.url = current.url;
      return hop->response;
    }
    if (redirects >= options.max_redirects) {
      return Error{"more than " + std::to_string(options.max_redirects) + " redirects, the last to " + hop->location};
    }
    current.url = resolve_url(*url, hop->location);
    // Credentials go to the origin they were meant for, never to the host a redirect names.
    Result<HttpUrl> next = parse_http_url(current.url);
    if (next && (next->host != url->host || next->port != url->port || next->scheme != url->scheme)) {
      std::erase_if(current.headers, [](const auto& header) { return lower(header.first) == "authorization"; });
    }
    if (hop->response.status == 303) {
      current.method = "GET";
      current.body.clear();
    }
  }
}

}  // namespace airlock::gateway::import
