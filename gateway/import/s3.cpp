// S3 GET Object with SigV4, virtual-hosted or path-style, for AWS and S3-compatible stores.
#include <regex>

#include "airlock/gateway/import/sources.h"

namespace airlock::gateway::import {
namespace {

using runtime::Error;
using runtime::Result;

std::string option(const std::vector<std::pair<std::string, std::string>>& options, std::string_view name) {
  for (const auto& [key, value] : options) {
    if (key == name) return value;
  }
  return "";
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string join_key(std::string prefix, std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  if (prefix.empty()) return std::string(path);
  if (path.empty()) return prefix;
  if (prefix.back() != '/') prefix += '/';
  return prefix + std::string(path);
}

std::string default_host(const S3Location& location) {
  bool default_port =
      (location.scheme == "https" && location.port == 443) || (location.scheme == "http" && location.port == 80);
  return default_port ? location.host : location.host + ":" + std::to_string(location.port);
}

}  // namespace

std::string S3Location::target() const {
  return "/" + (path_style ? sigv4::uri_encode(bucket, true) + "/" : std::string()) + sigv4::uri_encode(key, false);
}

std::string S3Location::url() const { return scheme + "://" + default_host(*this) + target(); }

Result<S3Location> s3_location(std::string_view url, const std::vector<std::pair<std::string, std::string>>& options,
                               std::string_view path) {
  S3Location location;
  std::string region = option(options, "region");
  std::string endpoint = option(options, "endpoint");
  std::string path_style_option = option(options, "pathStyle");
  std::string prefix;
  if (url.starts_with("s3://")) {
    std::string_view rest = url.substr(5);
    std::size_t slash = rest.find('/');
    location.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) prefix = percent_decode(rest.substr(slash + 1));
    if (location.bucket.empty()) return Error{"no bucket in " + std::string(url)};
    if (!region.empty()) location.region = region;
    if (!endpoint.empty()) {
      Result<HttpUrl> parsed = parse_http_url(endpoint);
      if (!parsed) return Error{"options.endpoint: " + parsed.message()};
      location.scheme = parsed->scheme;
      location.host = parsed->host;
      location.port = parsed->port;
      location.path_style = path_style_option != "false";
    } else {
      location.path_style = path_style_option == "true";
      location.host = location.path_style ? "s3." + location.region + ".amazonaws.com"
                                          : location.bucket + ".s3." + location.region + ".amazonaws.com";
    }
  } else {
    Result<HttpUrl> parsed = parse_http_url(url);
    if (!parsed) return parsed.error();
    location.scheme = parsed->scheme;
    location.host = parsed->host;
    location.port = parsed->port;
    std::string target = parsed->target.substr(0, parsed->target.find('?'));
    static const std::regex kVirtualHosted(R"(^(.+)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$)");
    static const std::regex kRegional(R"(^s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$)");
    std::smatch match;
    if (path_style_option != "true" && std::regex_match(location.host, match, kVirtualHosted)) {
      location.bucket = match[1];
      if (match[2].matched) location.region = match[2];
      location.path_style = false;
      prefix = percent_decode(target);
    } else {
      if (std::regex_match(location.host, match, kRegional) && match[1].matched) location.region = match[1];
      std::string_view rest = std::string_view(target).substr(1);
      std::size_t slash = rest.find('/');
      location.bucket = percent_decode(rest.substr(0, slash));
      if (slash != std::string_view::npos) prefix = percent_decode(rest.substr(slash + 1));
      location.path_style = true;
      if (location.bucket.empty()) return Error{"no bucket in the path of " + std::string(url)};
    }
    if (!region.empty()) location.region = region;
  }
  location.key = join_key(prefix, path);
  if (location.key.empty()) return Error{"no object key for " + std::string(url)};
  return location;
}

Result<FetchResponse> fetch_s3_object(const S3Location& location, const sigv4::Credentials& credentials,
                                      long long unix_seconds, const FetchOptions& options, const ChunkSink& sink) {
  if (credentials.access_key.empty() || credentials.secret_key.empty()) {
    return Error{"S3 needs credentials: accessKey and secretKey"};
  }
  std::string date = sigv4::amz_date(unix_seconds);
  sigv4::Request signing;
  signing.method = "GET";
  signing.canonical_uri = location.target();
  signing.payload_hash = std::string(sigv4::kEmptyPayloadHash);
  signing.headers = {
      {"host", default_host(location)}, {"x-amz-content-sha256", signing.payload_hash}, {"x-amz-date", date}};
  if (!credentials.session_token.empty())
    signing.headers.emplace_back("x-amz-security-token", credentials.session_token);
  FetchRequest request;
  request.url = location.url();
  request.follow_redirects = false;  // a redirect would need signing again for another host
  for (const auto& [name, value] : signing.headers) {
    if (name != "host") request.headers.emplace_back(name, value);
  }
  request.headers.emplace_back("Authorization",
                               sigv4::authorization(signing, credentials, date, location.region, "s3"));
  Result<FetchResponse> response = fetch(request, options, sink);
  if (!response) return response;
  if (response->status < 200 || response->status >= 300) {
    std::string detail = response->body_excerpt;
    std::smatch match;
    static const std::regex kCode("<Code>([^<]*)</Code>");
    if (std::regex_search(detail, match, kCode)) detail = match[1];
    return Error{"S3 GET " + location.bucket + "/" + location.key + ": HTTP " + std::to_string(response->status) +
                 (detail.empty() ? "" : " " + detail.substr(0, 200))};
  }
  return response;
}

}  // namespace airlock::gateway::import
