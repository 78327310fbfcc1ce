// AWS Signature Version 4 (header form), as the AWS "Create a signed AWS API request" guide describes it.
#include "airlock/gateway/import/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

namespace airlock::gateway::import::sigv4 {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and folds runs of spaces into one, as the canonical headers require.
std::string canonical_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> sorted_headers(const Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) headers.emplace_back(lower(name), canonical_value(value));
  std::sort(headers.begin(), headers.end());
  // Repeated headers join their values with commas.
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& header : headers) {
    if (!merged.empty() && merged.back().first == header.first) {
      merged.back().second += "," + header.second;
    } else {
      merged.push_back(std::move(header));
    }
  }
  return merged;
}

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string uri_encode(std::string_view text, bool encode_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  return out;
}

std::string signed_headers(const Request& request) {
  std::string out;
  for (const auto& [name, value] : sorted_headers(request)) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string canonical_request(const Request& request) {
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : request.query) query.emplace_back(uri_encode(name, true), uri_encode(value, true));
  std::sort(query.begin(), query.end());
  std::string canonical_query;
  for (const auto& [name, value] : query) {
    if (!canonical_query.empty()) canonical_query += '&';
    canonical_query += name + "=" + value;
  }
  std::string headers;
  for (const auto& [name, value] : sorted_headers(request)) headers += name + ":" + value + "\n";
  return request.method + "\n" + (request.canonical_uri.empty() ? "/" : request.canonical_uri) + "\n" +
         canonical_query + "\n" + headers + "\n" + signed_headers(request) + "\n" + request.payload_hash;
}

std::string credential_scope(std::string_view amz_date, std::string_view region, std::string_view service) {
  return std::string(amz_date.substr(0, 8)) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" + sha256_hex(canonical);
}

std::string signing_key(std::string_view secret_key, std::string_view date, std::string_view region,
                        std::string_view service) {
  std::string date_key = hmac_sha256("AWS4" + std::string(secret_key), date);
  std::string region_key = hmac_sha256(date_key, region);
  std::string service_key = hmac_sha256(region_key, service);
  return hmac_sha256(service_key, "aws4_request");
}

std::string signature(const Request& request, const Credentials& credentials, std::string_view amz_date,
                      std::string_view region, std::string_view service) {
  std::string scope = credential_scope(amz_date, region, service);
  std::string to_sign = string_to_sign(amz_date, scope, canonical_request(request));
  return hex(hmac_sha256(signing_key(credentials.secret_key, amz_date.substr(0, 8), region, service), to_sign));
}

std::string authorization(const Request& request, const Credentials& credentials, std::string_view amz_date,
                          std::string_view region, std::string_view service) {
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key + "/" + credential_scope(amz_date, region, service) +
         ",SignedHeaders=" + signed_headers(request) +
         ",Signature=" + signature(request, credentials, amz_date, region, service);
}

std::string amz_date(long long unix_seconds) {
  std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&time, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

}  // namespace airlock::gateway::import::sigv4
