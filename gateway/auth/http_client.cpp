// The blocking client: one io_context per request, the exchange as a coroutine, run_for() as the deadline
// over all of it (an unfinished exchange is abandoned; destroying the io_context closes its socket).
#include "airlock/gateway/auth/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <exception>
#include <optional>

namespace airlock::gateway::auth {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using runtime::Error;
using runtime::Result;
using tcp = asio::ip::tcp;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

struct Exchange {
  const Url& url;
  http::request<http::string_body>& request;
  asio::ssl::context* tls = nullptr;
  std::size_t max_response_bytes = 0;
  std::string stage = "resolve";
  std::optional<Result<HttpResponse>> outcome;
};

HttpResponse to_response(http::response<http::string_body>& message) {
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  return response;
}

template <typename Stream>
asio::awaitable<void> write_and_read(Stream& stream, Exchange& exchange) {
  exchange.stage = "write";
  co_await http::async_write(stream, exchange.request, asio::use_awaitable);
  exchange.stage = "read";
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(exchange.max_response_bytes);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  exchange.outcome = to_response(parser.get());
}

asio::awaitable<void> run_exchange(Exchange& exchange) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const auto endpoints =
      co_await resolver.async_resolve(exchange.url.host, std::to_string(exchange.url.port), asio::use_awaitable);
  if (exchange.tls == nullptr) {
    beast::tcp_stream stream(executor);
    exchange.stage = "connect";
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    co_await write_and_read(stream, exchange);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(executor, *exchange.tls);
  SSL* ssl = stream.native_handle();
  if (is_ip_literal(exchange.url.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), exchange.url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, exchange.url.host.c_str());
    SSL_set1_host(ssl, exchange.url.host.c_str());
  }
  exchange.stage = "connect";
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  exchange.stage = "TLS handshake";
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  co_await write_and_read(stream, exchange);
}

std::string host_header(const Url& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  const bool default_port = (url.scheme == "https" && url.port == 443) || (url.scheme == "http" && url.port == 80);
  if (!default_port) host += ":" + std::to_string(url.port);
  return host;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return "";
}

std::vector<std::string> HttpResponse::headers_named(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) values.push_back(value);
  }
  return values;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return Error{"URL without a scheme: " + std::string(text)};
  for (char c : text.substr(0, scheme_end))
    url.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (url.scheme != "http" && url.scheme != "https") {
    return Error{"URL scheme must be http or https: " + std::string(text)};
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return Error{"URL with credentials: " + std::string(text)};
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Error{"URL with a bad IPv6 host: " + std::string(text)};
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error{"URL with a bad host: " + std::string(text)};
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return Error{"URL without a host: " + std::string(text)};
  for (char c : url.host) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return Error{"URL with a bad host: " + std::string(text)};
    }
  }
  if (port_text.empty()) {
    url.port = url.scheme == "https" ? 443 : 80;
  } else {
    unsigned long port = 0;
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) {
        return Error{"URL with a bad port: " + std::string(text)};
      }
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) return Error{"URL with a bad port: " + std::string(text)};
    url.port = static_cast<std::uint16_t>(port);
  }
  const auto fragment = rest.find('#');
  rest = rest.substr(0, fragment);
  for (char c : rest) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return Error{"URL with a space or control character: " + std::string(text)};
    }
  }
  url.target = rest.empty() ? "/" : (rest.front() == '?' ? "/" + std::string(rest) : std::string(rest));
  return url;
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) const {
  auto url = parse_url(request.url);
  if (!url) return url.error();
  if (url->scheme == "http" && !options_.allow_insecure_http &&
      !(options_.allow_http_loopback && is_loopback_host(url->host))) {
    return Error{"refusing plain http to " + request.url + " (https is required)"};
  }
  const http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) return Error{"unknown HTTP method " + request.method};

  http::request<http::string_body> message{verb, url->target, 11};
  message.set(http::field::host, host_header(*url));
  message.set(http::field::user_agent, options_.user_agent);
  message.set(http::field::connection, "close");
  for (const auto& [name, value] : request.headers) {
    if (name.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
      return Error{"bad header " + name};
    }
    message.set(name, value);
  }
  message.body() = request.body;
  if (!request.body.empty() || verb == http::verb::post || verb == http::verb::put) message.prepare_payload();

  std::optional<asio::ssl::context> tls;
  if (url->scheme == "https") {
    tls.emplace(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (options_.ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(options_.ca_file, ec);
    }
    if (ec) return Error{"cannot load CA certificates " + options_.ca_file + ": " + ec.message()};
    tls->set_verify_mode(asio::ssl::verify_peer);
  }

  Exchange exchange{*url, message, tls ? &*tls : nullptr, options_.max_response_bytes};
  {
    asio::io_context io;
    asio::co_spawn(io, run_exchange(exchange), [&exchange](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const boost::system::system_error& e) {
        exchange.outcome = Error{exchange.stage + ": " + e.code().message()};
      } catch (const std::exception& e) {
        exchange.outcome = Error{exchange.stage + ": " + e.what()};
      }
    });
    io.run_for(options_.timeout);
  }
  if (!exchange.outcome) {
    return Error{request.method + " " + request.url + ": timed out after " + std::to_string(options_.timeout.count()) +
                 " ms (" + exchange.stage + ")"};
  }
  if (!exchange.outcome->is_ok()) {
    return Error{request.method + " " + request.url + ": " + exchange.outcome->message()};
  }
  return std::move(*exchange.outcome);
}

std::string url_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += url_encode(name) + "=" + url_encode(value);
  }
  return out;
}

}  // namespace airlock::gateway::auth
