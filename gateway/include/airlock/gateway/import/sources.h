// Pulling one object from a source system, streamed chunk by chunk into a sink: HTTPS (Beast over OpenSSL),
// PostgreSQL tables as CSV (libpq COPY), S3 objects (SigV4). No Beast, Asio or libpq in this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/gateway/import/sigv4.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway::import {

// Receives the object's bytes in order. An error stops the transfer.
using ChunkSink = std::function<runtime::Status(std::span<const char>)>;

struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  std::uint16_t port = 0;
  std::string target;               // path and query, "/" at least
  std::string host_header() const;  // host, with the port when not the scheme's default
};
runtime::Result<HttpUrl> parse_http_url(std::string_view url);
// `reference` (absolute, or a path) resolved against `base`, for redirects.
std::string resolve_url(const HttpUrl& base, std::string_view reference);

struct FetchOptions {
  std::string ca_file;  // PEM bundle to trust; empty: the system's CA store
  std::chrono::milliseconds connect_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};          // no byte for this long: the transfer fails
  std::chrono::milliseconds total_timeout{6 * 3'600'000};  // the whole object
  std::uint64_t max_bytes = std::uint64_t{100} << 30;
  int max_redirects = 5;
  bool allow_http = false;  // plain http (the gateway report inside the cluster); sources are https only
  std::string user_agent = "airlock-import";
};

struct FetchRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool follow_redirects = true;
};

struct FetchResponse {
  int status = 0;
  std::string url;           // after redirects
  std::string content_type;  // without parameters, lower-case
  std::uint64_t bytes = 0;   // body bytes given to the sink
  std::string body_excerpt;  // the first 4 KiB of a non-2xx body (an error message from the server)
};

// One request (following up to max_redirects redirects to https URLs). A 2xx body goes to `sink`; any other
// final status is returned with `body_excerpt` and no bytes sunk. Transport failures, a body cut short,
// a body over max_bytes, and timeouts are errors.
runtime::Result<FetchResponse> fetch(const FetchRequest& request, const FetchOptions& options, const ChunkSink& sink);

// --- PostgreSQL ---------------------------------------------------------------------------------------------
struct PostgresTable {
  std::string name;    // "table" or "schema.table" when schema is empty
  std::string schema;  // optional
  std::string query;   // optional SELECT: COPY (query) instead of the whole table
};
struct PostgresOptions {
  std::string url;  // postgresql://host:port/db?sslmode=...
  std::string user;
  std::string password;
  std::chrono::seconds connect_timeout{30};
};
// The SQL that COPY runs (identifiers quoted with PQescapeIdentifier rules), for logs and tests.
runtime::Result<std::string> postgres_copy_sql(const PostgresTable& table);
// Streams `COPY (SELECT * FROM table) TO STDOUT WITH (FORMAT csv, HEADER)` inside a read-only transaction.
// Returns the number of bytes sunk.
runtime::Result<std::uint64_t> copy_postgres_table(const PostgresOptions& options, const PostgresTable& table,
                                                   const ChunkSink& sink);

// --- S3 -------------------------------------------------------------------------------------------------------
struct S3Location {
  std::string scheme = "https";
  std::string host;  // the endpoint host (bucket.s3.region.amazonaws.com when virtual-hosted)
  std::uint16_t port = 443;
  std::string bucket;
  std::string key;
  std::string region = "us-east-1";
  bool path_style = false;
  std::string url() const;     // https://host[:port]/[bucket/]key, key encoded
  std::string target() const;  // /[bucket/]key, encoded as SigV4 wants
};
// The object `path` of the connection `url` (s3://bucket/prefix, https://bucket.s3.REGION.amazonaws.com/prefix,
// https://s3.REGION.amazonaws.com/bucket/prefix, or https://endpoint/bucket/prefix for S3-compatible stores),
// with options region, endpoint and pathStyle ("true"/"false").
runtime::Result<S3Location> s3_location(std::string_view url,
                                        const std::vector<std::pair<std::string, std::string>>& options,
                                        std::string_view path);
// GET Object, signed with SigV4 at `unix_seconds`.
runtime::Result<FetchResponse> fetch_s3_object(const S3Location& location, const sigv4::Credentials& credentials,
                                               long long unix_seconds, const FetchOptions& options,
                                               const ChunkSink& sink);

}  // namespace airlock::gateway::import
