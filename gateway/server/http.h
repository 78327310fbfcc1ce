// Beast types shared by the server's sources, and the JSON responses every handler returns.
// Internal to gateway/server: no public header includes Beast.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <string_view>

namespace airlock::gateway::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;

using Response = http::response<http::string_body>;
using RequestHeader = http::request_header<>;

inline constexpr std::string_view kTusVersion = "1.0.0";
inline constexpr std::string_view kTusExtensions =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration";
inline constexpr std::string_view kTusChecksumAlgorithms = "sha256,sha1";
inline constexpr std::string_view kOffsetOctetStream = "application/offset+octet-stream";

// tus's "Checksum Mismatch"; Beast has no name for it.
inline constexpr unsigned kStatusChecksumMismatch = 460;

// A response with a JSON body. `keep_alive` follows the request's.
Response json_response(unsigned status, std::string body, unsigned version, bool keep_alive);
// {"error": code, "message": message} with `status`.
Response error_response(unsigned status, std::string_view code, std::string_view message, unsigned version,
                        bool keep_alive);
// An empty response (204, 201, ...).
Response empty_response(unsigned status, unsigned version, bool keep_alive);

// Whether the client wants the connection kept open (HTTP/1.1 unless `Connection: close`).
bool wants_keep_alive(const RequestHeader& header);

// The path of a request target without its query ("/files/abc?x" -> "/files/abc").
std::string_view target_path(std::string_view target);
// The value of `name` in the target's query string (not decoded beyond %XX), empty when absent.
std::string query_parameter(std::string_view target, std::string_view name);

}  // namespace airlock::gateway::server
