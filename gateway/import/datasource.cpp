// Reading the AnalyticsWorkspaceDataSource from YAML or JSON.
#include "airlock/gateway/import/datasource.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

namespace airlock::gateway::import {
namespace {

using Json = nlohmann::json;
using runtime::Error;
using runtime::Result;

// YAML scalars become strings: the fields read here are all strings (options are flattened to strings anyway).
Json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json object = Json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = yaml_to_json(entry.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      Json array = Json::array();
      for (const auto& item : node) array.push_back(yaml_to_json(item));
      return array;
    }
    case YAML::NodeType::Scalar: return node.as<std::string>();
    default: return nullptr;
  }
}

std::string string_at(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return "";
  if (found->is_string()) return found->get<std::string>();
  return found->dump();
}

const Json& child(const Json& object, const char* key) {
  static const Json kNull;  // immutable
  if (!object.is_object()) return kNull;
  auto found = object.find(key);
  return found == object.end() ? kNull : *found;
}

Result<DataSource> from_json(const Json& resource, std::string_view source_name) {
  std::string where(source_name);
  if (!resource.is_object()) return Error{where + ": a data source must be an object"};
  std::string kind = string_at(resource, "kind");
  if (!kind.empty() && kind != "AnalyticsWorkspaceDataSource" && kind != "AnalyticsDataSource") {
    return Error{where + ": kind is \"" + kind + "\", not AnalyticsWorkspaceDataSource"};
  }
  const Json& metadata = child(resource, "metadata");
  const Json& spec = child(resource, "spec");
  if (!spec.is_object()) return Error{where + ": spec is missing"};
  DataSource source;
  source.name = string_at(metadata, "name");
  source.ns = string_at(metadata, "namespace");
  if (source.name.empty()) return Error{where + ": metadata.name is missing"};
  source.type = string_at(spec, "type");
  source.display_name = string_at(spec, "displayName");
  source.description = string_at(spec, "description");
  source.license = string_at(spec, "license");
  const Json& publisher = child(spec, "publisher");
  source.publisher_organisation = string_at(publisher, "organisation");
  const Json& contact = child(publisher, "contact");
  source.contact_name = string_at(contact, "name");
  source.contact_role = string_at(contact, "role");
  source.contact_email = string_at(contact, "email");
  source.project = string_at(child(spec, "project"), "id");

  const Json& connections = child(spec, "connections");
  if (!connections.is_null() && !connections.is_array()) return Error{where + ": spec.connections must be a list"};
  for (std::size_t i = 0; connections.is_array() && i < connections.size(); ++i) {
    const Json& item = connections[i];
    std::string at = where + ": spec.connections[" + std::to_string(i) + "]";
    Connection connection;
    connection.type = string_at(item, "type");
    connection.name = string_at(item, "name");
    connection.url = string_at(item, "url");
    if (connection.type.empty() || connection.name.empty()) return Error{at + ": type and name are required"};
    const Json& credentials = child(item, "credentials");
    if (credentials.is_object()) {
      for (const auto& [role, key] : credentials.items()) {
        if (role != "secretName" && key.is_string()) connection.credentials[role] = key.get<std::string>();
      }
    }
    const Json& options = child(item, "options");
    if (options.is_object()) {
      for (const auto& [option, value] : options.items()) {
        connection.options[option] = value.is_string() ? value.get<std::string>() : value.dump();
      }
    }
    source.connections.push_back(std::move(connection));
  }

  const Json& objects = child(spec, "objects");
  if (!objects.is_null() && !objects.is_array()) return Error{where + ": spec.objects must be a list"};
  for (std::size_t i = 0; objects.is_array() && i < objects.size(); ++i) {
    const Json& item = objects[i];
    std::string at = where + ": spec.objects[" + std::to_string(i) + "]";
    ImportObject object;
    if (const Json& table = child(item, "table"); table.is_object()) {
      object.kind = ImportObject::Kind::kTable;
      object.name = string_at(table, "name");
      object.schema = string_at(table, "schema");
      object.query = string_at(table, "query");
      object.connection = string_at(table, "connection");
      if (object.name.empty()) return Error{at + ": table.name is required"};
    } else if (const Json& file = child(item, "file"); file.is_object()) {
      object.kind = ImportObject::Kind::kFile;
      object.path = string_at(file, "path");
      object.connection = string_at(file, "connection");
      if (object.path.empty()) return Error{at + ": file.path is required"};
    } else {
      return Error{at + ": an object is a table or a file"};
    }
    if (object.connection.empty()) return Error{at + ": connection is required"};
    if (source.find_connection(object.connection) == nullptr) {
      return Error{at + ": no connection named \"" + object.connection + "\""};
    }
    source.objects.push_back(std::move(object));
  }
  return source;
}

}  // namespace

const Connection* DataSource::find_connection(std::string_view connection_name) const {
  for (const Connection& connection : connections) {
    if (connection.name == connection_name) return &connection;
  }
  return nullptr;
}

Result<DataSource> parse_datasource_json(std::string_view json, std::string_view source_name) {
  Json resource = Json::parse(json, nullptr, false);
  if (resource.is_discarded()) return Error{std::string(source_name) + ": not valid JSON"};
  return from_json(resource, source_name);
}

Result<DataSource> parse_datasource(std::string_view text, std::string_view source_name) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') return parse_datasource_json(text, source_name);
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    for (const YAML::Node& document : documents) {
      if (!document.IsMap()) continue;
      Json resource = yaml_to_json(document);
      std::string kind = string_at(resource, "kind");
      if (kind.empty() || kind == "AnalyticsWorkspaceDataSource" || kind == "AnalyticsDataSource") {
        return from_json(resource, source_name);
      }
    }
  } catch (const YAML::Exception& error) {
    return Error{std::string(source_name) + ": " + error.what()};
  }
  return Error{std::string(source_name) + ": no AnalyticsWorkspaceDataSource in it"};
}

std::string url_without_credentials(std::string_view url) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  std::size_t authority = scheme_end + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority);
  std::string_view host_part = url.substr(
      authority, authority_end == std::string_view::npos ? std::string_view::npos : authority_end - authority);
  std::size_t at = host_part.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string cleaned(url.substr(0, authority));
  cleaned += host_part.substr(at + 1);
  if (authority_end != std::string_view::npos) cleaned += url.substr(authority_end);
  return cleaned;
}

std::string url_host(std::string_view url) {
  std::string clean = url_without_credentials(url);
  std::size_t scheme_end = clean.find("://");
  if (scheme_end == std::string::npos) return "";
  std::size_t start = scheme_end + 3;
  std::size_t end = clean.find_first_of("/?#", start);
  std::string authority = clean.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    return close == std::string::npos ? "" : authority.substr(1, close - 1);
  }
  std::size_t colon = authority.find(':');
  return colon == std::string::npos ? authority : authority.substr(0, colon);
}

}  // namespace airlock::gateway::import
