// The AnalyticsWorkspaceDataSource an import reads (k8s-sync/crds/analyticsworkspacedatasources.yaml), as plain C++.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/result.h"

namespace airlock::gateway::import {

struct Connection {
  std::string type;  // databricks, postgresql, s3, http, https, pvc
  std::string name;
  std::string url;
  // Credential role (userKey, passwordKey, accessKey, secretKey, sessionTokenKey, tokenKey) -> the key of the
  // mounted Secret, i.e. the file name in the credentials directory. secretName is dropped.
  std::map<std::string, std::string> credentials;
  // options, flattened to strings (region, endpoint, pathStyle, ...).
  std::map<std::string, std::string> options;
};

struct ImportObject {
  enum class Kind { kTable, kFile };
  Kind kind = Kind::kFile;
  std::string name;    // table name (may be "schema.table")
  std::string schema;  // table schema
  std::string query;   // table query (a SELECT), instead of the whole table
  std::string path;    // file path within the connection
  std::string connection;
};

struct DataSource {
  std::string name;
  std::string ns;
  std::string type;  // Import, Uploaded
  std::string display_name;
  std::string description;
  std::string license;
  std::string publisher_organisation;
  std::string contact_name;
  std::string contact_role;
  std::string contact_email;
  std::string project;
  std::vector<Connection> connections;
  std::vector<ImportObject> objects;

  const Connection* find_connection(std::string_view connection_name) const;
};

// Parses a DataSource from YAML or JSON text (a whole resource with apiVersion, kind, metadata and spec).
// Errors name `source_name` and the offending field.
runtime::Result<DataSource> parse_datasource(std::string_view text, std::string_view source_name);
// The same from a resource already held as JSON text (what the API server returns).
runtime::Result<DataSource> parse_datasource_json(std::string_view json, std::string_view source_name);

// A URL with any user:password@ removed: what facts, logs and the RO-Crate may show.
std::string url_without_credentials(std::string_view url);
// The host of a URL (without port, brackets or user info); "" when there is none.
std::string url_host(std::string_view url);

}  // namespace airlock::gateway::import
