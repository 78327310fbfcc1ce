// AWS Signature Version 4 for S3 requests (header-based auth), implemented with OpenSSL HMAC-SHA256.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace airlock::gateway::import::sigv4 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // optional (temporary credentials): sent as x-amz-security-token
};

struct Request {
  std::string method = "GET";
  std::string canonical_uri = "/";                           // already URI-encoded (S3: each path segment encoded once)
  std::vector<std::pair<std::string, std::string>> query;    // decoded names and values
  std::vector<std::pair<std::string, std::string>> headers;  // every header that is signed (host included)
  std::string payload_hash;                                  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// The SHA-256 of the empty body, hex.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string sha256_hex(std::string_view data);
std::string hex(std::string_view bytes);
// Raw HMAC-SHA256 bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
// RFC 3986 unreserved characters kept, everything else %XX (upper case); '/' kept unless encode_slash.
std::string uri_encode(std::string_view text, bool encode_slash);

// "host;range;x-amz-content-sha256;x-amz-date": lower-cased, sorted names.
std::string signed_headers(const Request& request);
// METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH (header values trimmed, inner spaces folded).
std::string canonical_request(const Request& request);
// "20130524/us-east-1/s3/aws4_request"
std::string credential_scope(std::string_view amz_date, std::string_view region, std::string_view service);
std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request);
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"), raw bytes.
std::string signing_key(std::string_view secret_key, std::string_view date, std::string_view region,
                        std::string_view service);
// The hex signature of the request.
std::string signature(const Request& request, const Credentials& credentials, std::string_view amz_date,
                      std::string_view region, std::string_view service);
// The Authorization header value.
std::string authorization(const Request& request, const Credentials& credentials, std::string_view amz_date,
                          std::string_view region, std::string_view service);

// "20130524T000000Z" for a UNIX time in seconds.
std::string amz_date(long long unix_seconds);

}  // namespace airlock::gateway::import::sigv4
