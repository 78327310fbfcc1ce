// The data source registry and import reports (docs/api.md, "Data sources and imports"):
//   PUT  /api/v1/datasources/NS/NAME   k8s-sync registers a data source (roles k8s-sync or platform-admin)
//   GET  /api/v1/datasources[?namespace=NS], GET /api/v1/datasources/NS/NAME
//   POST /api/v1/imports               `airlock import` reports a run (roles importer, k8s-sync, platform-admin)
//   GET  /api/v1/imports/RUN           the stored report (those roles, and reviewers)
#include <algorithm>

#include "service.h"

namespace airlock::gateway::server {
namespace {

constexpr std::string_view kRegistrarRoles[] = {"k8s-sync", "platform-admin"};
constexpr std::string_view kImporterRoles[] = {"importer", "k8s-sync", "platform-admin"};

template <std::size_t N>
bool has_any_role(const Principal& principal, const std::string_view (&roles)[N]) {
  return std::any_of(principal.roles.begin(), principal.roles.end(), [&](const std::string& role) {
    return std::find(std::begin(roles), std::end(roles), role) != std::end(roles);
  });
}

// A DNS-1123 label: what Kubernetes requires of namespaces (and what we require of every name segment).
bool is_dns_label(std::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(text.front()) || !alnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// A DNS-1123 subdomain: what Kubernetes requires of most object names (custom resources, PVCs).
bool is_dns_subdomain(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = text.find('.', start);
    std::string_view part = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!is_dns_label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool valid_run_id(std::string_view id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

nlohmann::ordered_json datasource_json(const DataSourceRecord& record) {
  return {{"namespace", record.ns},
          {"name", record.name},
          {"type", record.type},
          {"project", record.project},
          {"displayName", record.display_name},
          {"pvcNamespace", record.pvc_namespace},
          {"pvc", record.pvc},
          {"registered_by", record.registered_by},
          {"created_at", timestamp_text(record.created_at)},
          {"updated_at", timestamp_text(record.updated_at)}};
}

std::string dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return {};
  return object[key].get<std::string>();
}

// "not_found: ..." -> 404 and so on (store.h's error codes).
unsigned status_of(const std::string& message) {
  if (message.starts_with("not_found:")) return 404;
  if (message.starts_with("conflict:")) return 409;
  if (message.starts_with("invalid:")) return 400;
  return 500;
}

}  // namespace

std::optional<Response> Service::check_registration(const RequestHeader& header, const std::string& datasource) {
  if (!config_.registry.require_registration) return std::nullopt;
  Result<bool> accepted = store_->accepts_uploads(datasource);
  if (!accepted) return store_error(header, accepted.message());
  if (*accepted) return std::nullopt;
  return error_response(422, "unregistered_datasource",
                        "data source `" + datasource +
                            "` is not registered for uploads; uploads go only to an AnalyticsWorkspaceDataSource of "
                            "type Uploaded that k8s-sync has registered with the gateway",
                        header.version(), wants_keep_alive(header));
}

std::optional<Response> Service::handle_registry(const RequestHeader& header, const std::string& body,
                                                 const Principal& principal) {
  const std::string_view path = target_path(header.target());
  const unsigned version = header.version();
  const bool keep_alive = wants_keep_alive(header);
  const http::verb method = header.method();
  auto error = [&](unsigned status, std::string_view code, const std::string& message) {
    return error_response(status, code, message, version, keep_alive);
  };
  auto from_store = [&](const std::string& message) {
    unsigned status = status_of(message);
    if (status == 500) return store_error(header, message);
    return error(status, message.substr(0, message.find(':')), message);
  };

  constexpr std::string_view kDataSources = "/api/v1/datasources";
  if (path == kDataSources || path == "/api/v1/datasources/") {
    if (method != http::verb::get) return error(405, "method_not_allowed", "use GET to list data sources");
    std::string ns = query_parameter(header.target(), "namespace");
    if (!ns.empty() && !is_dns_label(ns)) return error(400, "bad_request", "`namespace` is not a Kubernetes namespace");
    Result<std::vector<DataSourceRecord>> records = store_->datasources(ns);
    if (!records) return store_error(header, records.message());
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const DataSourceRecord& record : *records) items.push_back(datasource_json(record));
    return json_response(200, dump({{"datasources", items}}), version, keep_alive);
  }
  if (path.starts_with("/api/v1/datasources/")) {
    std::string_view rest = path.substr(kDataSources.size() + 1);
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos) {
      return error(404, "not_found", "use /api/v1/datasources/NAMESPACE/NAME");
    }
    const std::string ns(rest.substr(0, slash));
    const std::string name(rest.substr(slash + 1));
    if (!is_dns_label(ns)) return error(400, "invalid", "`" + ns + "` is not a Kubernetes namespace (RFC 1123 label)");
    if (!is_dns_subdomain(name)) {
      return error(400, "invalid", "`" + name + "` is not a Kubernetes object name (RFC 1123 subdomain)");
    }
    if (method == http::verb::get) {
      Result<DataSourceRecord> record = store_->datasource(ns, name);
      if (!record) return from_store(record.message());
      return json_response(200, dump(datasource_json(*record)), version, keep_alive);
    }
    if (method != http::verb::put) return error(405, "method_not_allowed", "use GET or PUT");
    if (!has_any_role(principal, kRegistrarRoles)) {
      return error(403, "forbidden", "registering a data source needs the role k8s-sync or platform-admin");
    }
    nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
    if (!request.is_object()) return error(400, "invalid", "the body must be a JSON object");
    for (const char* key : {"namespace", "name", "type", "project", "displayName", "pvcNamespace", "pvc"}) {
      if (request.contains(key) && !request[key].is_string()) {
        return error(400, "invalid", std::string("`") + key + "` must be a string");
      }
    }
    if (!string_field(request, "namespace").empty() && string_field(request, "namespace") != ns) {
      return error(400, "invalid", "`namespace` in the body differs from the path");
    }
    if (!string_field(request, "name").empty() && string_field(request, "name") != name) {
      return error(400, "invalid", "`name` in the body differs from the path");
    }
    DataSourceRecord registration{.ns = ns,
                                  .name = name,
                                  .type = string_field(request, "type"),
                                  .project = string_field(request, "project"),
                                  .display_name = string_field(request, "displayName"),
                                  .pvc_namespace = string_field(request, "pvcNamespace"),
                                  .pvc = string_field(request, "pvc")};
    if (registration.type != "Import" && registration.type != "Uploaded") {
      return error(400, "invalid", "`type` must be Import or Uploaded");
    }
    if (!registration.pvc_namespace.empty() && !is_dns_label(registration.pvc_namespace)) {
      return error(400, "invalid", "`pvcNamespace` is not a Kubernetes namespace");
    }
    if (!registration.pvc.empty() && !is_dns_subdomain(registration.pvc)) {
      return error(400, "invalid", "`pvc` is not a Kubernetes object name");
    }
    if (registration.display_name.size() > 1024 || registration.project.size() > 253) {
      return error(400, "invalid", "`displayName` or `project` is too long");
    }
    Result<DataSourceRecord> before = store_->datasource(ns, name);
    if (!before && !before.message().starts_with("not_found:")) return store_error(header, before.message());
    Result<DataSourceRecord> stored = store_->register_datasource(registration, principal.user, now_millis());
    if (!stored) return from_store(stored.message());
    if (!before || before->updated_at != stored->updated_at) {
      log_.info("data source registered", {{"namespace", ns},
                                           {"name", name},
                                           {"type", registration.type},
                                           {"by", principal.user},
                                           {"updated", before.is_ok()}});
    }
    return json_response(before ? 200 : 201, dump(datasource_json(*stored)), version, keep_alive);
  }

  if (path == "/api/v1/imports") {
    if (method != http::verb::post) return error(405, "method_not_allowed", "use POST to report an import");
    if (!has_any_role(principal, kImporterRoles)) {
      return error(403, "forbidden", "reporting an import needs the role importer, k8s-sync or platform-admin");
    }
    nlohmann::json report = nlohmann::json::parse(body, nullptr, false);
    if (!report.is_object()) return error(400, "invalid", "the report must be a JSON object (docs/import.md)");
    if (report.contains("channel") && report["channel"] != "import") {
      return error(400, "invalid", "`channel` must be import");
    }
    const nlohmann::json datasource = report.contains("datasource") ? report["datasource"] : nlohmann::json();
    ImportRecord record{.run_id = string_field(report, "run_id"),
                        .ns = string_field(datasource, "namespace"),
                        .datasource = string_field(datasource, "name"),
                        .project = string_field(datasource, "project"),
                        .outcome = string_field(report, "outcome"),
                        .reason = string_field(report, "reason"),
                        .location = string_field(report, "location"),
                        .policy_set = string_field(report, "policy_set"),
                        .report_json = body,
                        .reporter = principal.user,
                        .reported_at = now_millis()};
    if (!valid_run_id(record.run_id)) return error(400, "invalid", "`run_id` must be 32 lower-case hex characters");
    if (!is_dns_label(record.ns)) return error(400, "invalid", "`datasource.namespace` is not a Kubernetes namespace");
    if (!is_dns_subdomain(record.datasource)) {
      return error(400, "invalid", "`datasource.name` is not a Kubernetes object name");
    }
    if (report.contains("decision") && report["decision"].is_object()) {
      record.decision_json = report["decision"].dump();
    } else if (record.outcome != "failed") {
      return error(400, "invalid", "`decision` (an object) is required unless the import failed");
    }
    if (report.contains("files")) {
      if (!report["files"].is_array()) return error(400, "invalid", "`files` must be an array");
      for (const nlohmann::json& file : report["files"]) {
        if (!file.is_object()) return error(400, "invalid", "`files` must hold objects");
        if (file.contains("size") && file["size"].is_number_unsigned()) {
          record.total_size += file["size"].get<std::uint64_t>();
        }
        ++record.files;
      }
    }
    Result<Transfer> transfer = store_->record_import(record, now_millis());
    if (!transfer) return from_store(transfer.message());
    log_.info("import reported", {{"transfer", transfer->id},
                                  {"namespace", record.ns},
                                  {"datasource", record.datasource},
                                  {"outcome", record.outcome},
                                  {"state", state_name(transfer->state)}});
    nlohmann::ordered_json answer{{"id", transfer->id},
                                  {"channel", transfer->channel},
                                  {"namespace", record.ns},
                                  {"datasource", transfer->datasource},
                                  {"state", state_name(transfer->state)},
                                  {"reason", transfer->reason}};
    Response response = json_response(202, dump(answer), version, keep_alive);
    response.set(http::field::location, "/api/v1/transfers/" + transfer->id);
    return response;
  }
  if (path.starts_with("/api/v1/imports/")) {
    std::string id(path.substr(std::string_view("/api/v1/imports/").size()));
    if (method != http::verb::get) return error(405, "method_not_allowed", "use GET");
    if (!valid_run_id(id)) return error(404, "not_found", "no such import run");
    if (!has_any_role(principal, kImporterRoles) && !principal.is_reviewer()) {
      return error(404, "not_found", "no such import run");
    }
    Result<ImportRecord> record = store_->import_record(id);
    if (!record) return from_store(record.message());
    nlohmann::ordered_json answer{{"run_id", record->run_id},
                                  {"namespace", record->ns},
                                  {"datasource", record->datasource},
                                  {"outcome", record->outcome},
                                  {"location", record->location},
                                  {"reporter", record->reporter},
                                  {"reported_at", timestamp_text(record->reported_at)},
                                  {"report", nlohmann::ordered_json::parse(record->report_json, nullptr, false)}};
    return json_response(200, dump(answer), version, keep_alive);
  }
  return std::nullopt;
}

}  // namespace airlock::gateway::server
