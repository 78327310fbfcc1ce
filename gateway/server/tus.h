// The parts of tus 1.0.0 that are plain text processing: Upload-Metadata, Upload-Checksum, dates, names.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/gateway/transfer.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway::server {

// Strict base64 (RFC 4648 standard alphabet, padding required when the length is not a multiple of 4).
runtime::Result<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

// Upload-Metadata: "key base64,key2 base64,key3" -> {key: decoded}. Keys are unique, non-empty, printable
// ASCII without spaces or commas. Errors name the offending key.
runtime::Result<std::map<std::string, std::string>> parse_upload_metadata(std::string_view header);
// The inverse, for HEAD responses.
std::string format_upload_metadata(const std::map<std::string, std::string>& metadata);

// What the gateway needs from the metadata: a filename that never becomes a path, and names of the
// workspace and data source. Errors name the key and the problem.
struct UploadDescription {
  std::string filename;
  std::string workspace;
  std::string datasource;
  std::string project;
  std::string declared_type;
  std::string justification;
};
runtime::Result<UploadDescription> describe_upload(const std::map<std::string, std::string>& metadata);

// A file name as the client gave it may be stored and shown, but only if it is one plain name:
// valid UTF-8, 1-255 bytes, no control characters, no '/' or '\\', not "." or "..".
runtime::Status check_filename(std::string_view name);
// Workspace, data source and project names: [A-Za-z0-9][A-Za-z0-9._-]{0,62}.
runtime::Status check_resource_name(std::string_view key, std::string_view name);

// Upload-Checksum: "sha256 BASE64" -> algorithm and raw digest. Unknown algorithms are an error
// starting with "unsupported:".
struct ChecksumRequest {
  std::string algorithm;  // "sha256" or "sha1"
  std::string digest;     // raw bytes
};
runtime::Result<ChecksumRequest> parse_upload_checksum(std::string_view header);

// RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for Upload-Expires.
std::string http_date(UnixMillis at);

// 32 lower-case hex characters from the system's random source.
runtime::Result<std::string> random_hex(std::size_t bytes);

}  // namespace airlock::gateway::server
