// Data sources registered with the gateway and import runs reported by `airlock import`, in the SQLite store.
// An import run becomes a transfer of channel "import" whose id is the run id, walked through the lifecycle in
// one transaction so that its audit trail reads like an upload's.
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sqlite_store.h"

namespace airlock::gateway {
using sqlite::Statement;
using store_internal::dump;
using store_internal::kTransferColumns;
using store_internal::parse_object;
using store_internal::Transaction;

namespace store_internal {

const char* registry_migration() {
  return R"sql(
CREATE TABLE IF NOT EXISTS datasources (
  namespace TEXT NOT NULL CHECK (length(namespace) BETWEEN 1 AND 63),
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 253),
  type TEXT NOT NULL CHECK (type IN ('Import', 'Uploaded')),
  project TEXT NOT NULL,
  display_name TEXT NOT NULL,
  pvc_namespace TEXT NOT NULL,
  pvc TEXT NOT NULL,
  registered_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
);
CREATE INDEX IF NOT EXISTS datasources_by_name ON datasources (name);

CREATE TABLE IF NOT EXISTS imports (
  run_id TEXT PRIMARY KEY NOT NULL REFERENCES transfers (id),
  namespace TEXT NOT NULL,
  datasource TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('approved', 'escalated', 'denied', 'failed')),
  location TEXT NOT NULL,
  policy_set TEXT NOT NULL,
  report_json TEXT NOT NULL,
  reporter TEXT NOT NULL,
  reported_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transfers_by_datasource ON transfers (datasource, created_at, id);
)sql";
}

}  // namespace store_internal

namespace {

constexpr const char* kDataSourceColumns =
    "namespace, name, type, project, display_name, pvc_namespace, pvc, registered_by, created_at, updated_at";

DataSourceRecord read_datasource(const Statement& row) {
  DataSourceRecord record;
  record.ns = row.text(0);
  record.name = row.text(1);
  record.type = row.text(2);
  record.project = row.text(3);
  record.display_name = row.text(4);
  record.pvc_namespace = row.text(5);
  record.pvc = row.text(6);
  record.registered_by = row.text(7);
  record.created_at = row.integer(8);
  record.updated_at = row.integer(9);
  return record;
}

bool same_registration(const DataSourceRecord& a, const DataSourceRecord& b) {
  return a.type == b.type && a.project == b.project && a.display_name == b.display_name &&
         a.pvc_namespace == b.pvc_namespace && a.pvc == b.pvc;
}

nlohmann::json registration_json(const DataSourceRecord& record) {
  return {{"namespace", record.ns},
          {"name", record.name},
          {"type", record.type},
          {"project", record.project},
          {"displayName", record.display_name},
          {"pvcNamespace", record.pvc_namespace},
          {"pvc", record.pvc}};
}

bool valid_run_id(const std::string& id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<DataSourceRecord> SqliteTransferStore::register_datasource(const DataSourceRecord& registration,
                                                                  const std::string& actor, UnixMillis now) {
  if (registration.ns.empty() || registration.name.empty()) {
    return Error{"invalid: a data source needs a namespace and a name"};
  }
  if (registration.type != "Import" && registration.type != "Uploaded") {
    return Error{"invalid: type must be Import or Uploaded, not `" + registration.type + "`"};
  }
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  std::optional<DataSourceRecord> existing;
  {
    Result<std::unique_ptr<Statement>> query = db_->prepare(std::string("SELECT ") + kDataSourceColumns +
                                                            " FROM datasources WHERE namespace = ?1 AND name = ?2");
    if (!query) return query.error();
    (*query)->bind(1, registration.ns).bind(2, registration.name);
    int rc = (*query)->step();
    if (rc == SQLITE_ROW) {
      existing = read_datasource(**query);
    } else if (rc != SQLITE_DONE) {
      return db_->error("cannot read data source " + registration.ns + "/" + registration.name);
    }
  }
  if (existing && same_registration(*existing, registration)) return *existing;  // nothing to change
  {
    Result<std::unique_ptr<Statement>> upsert = db_->prepare(
        "INSERT INTO datasources (namespace, name, type, project, display_name, pvc_namespace, pvc, registered_by, "
        "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) "
        "ON CONFLICT (namespace, name) DO UPDATE SET type = ?3, project = ?4, display_name = ?5, "
        "pvc_namespace = ?6, pvc = ?7, registered_by = ?8, updated_at = ?9");
    if (!upsert) return upsert.error();
    (*upsert)
        ->bind(1, registration.ns)
        .bind(2, registration.name)
        .bind(3, registration.type)
        .bind(4, registration.project)
        .bind(5, registration.display_name)
        .bind(6, registration.pvc_namespace)
        .bind(7, registration.pvc)
        .bind(8, actor)
        .bind(9, static_cast<std::int64_t>(now));
    if ((*upsert)->step() != SQLITE_DONE) return db_->error("cannot register data source " + registration.name);
  }
  nlohmann::json detail = {{"datasource", registration_json(registration)}, {"updated", existing.has_value()}};
  if (Status status = append_locked("", actor, "datasource_registered", "", "", dump(detail), now); !status) {
    return Error{status.message()};
  }
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  DataSourceRecord stored = registration;
  stored.registered_by = actor;
  stored.created_at = existing ? existing->created_at : now;
  stored.updated_at = now;
  return stored;
}

Result<DataSourceRecord> SqliteTransferStore::datasource(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mutex_);
  Result<std::unique_ptr<Statement>> query = db_->prepare(std::string("SELECT ") + kDataSourceColumns +
                                                          " FROM datasources WHERE namespace = ?1 AND name = ?2");
  if (!query) return query.error();
  (*query)->bind(1, ns).bind(2, name);
  int rc = (*query)->step();
  if (rc == SQLITE_ROW) return read_datasource(**query);
  if (rc == SQLITE_DONE) return Error{"not_found: no data source " + ns + "/" + name + " is registered"};
  return db_->error("cannot read data source " + ns + "/" + name);
}

Result<std::vector<DataSourceRecord>> SqliteTransferStore::datasources(const std::string& ns) {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("SELECT ") + kDataSourceColumns + " FROM datasources";
  if (!ns.empty()) sql += " WHERE namespace = ?1";
  sql += " ORDER BY namespace, name LIMIT 10000";
  Result<std::unique_ptr<Statement>> query = db_->prepare(sql);
  if (!query) return query.error();
  if (!ns.empty()) (*query)->bind(1, ns);
  std::vector<DataSourceRecord> records;
  int rc;
  while ((rc = (*query)->step()) == SQLITE_ROW) records.push_back(read_datasource(**query));
  if (rc != SQLITE_DONE) return db_->error("cannot list data sources");
  return records;
}

Result<bool> SqliteTransferStore::accepts_uploads(const std::string& name) {
  std::lock_guard lock(mutex_);
  Result<std::unique_ptr<Statement>> query =
      db_->prepare("SELECT 1 FROM datasources WHERE name = ?1 AND type = 'Uploaded' LIMIT 1");
  if (!query) return query.error();
  (*query)->bind(1, name);
  int rc = (*query)->step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->error("cannot look up data source " + name);
}

Result<Transfer> SqliteTransferStore::record_import(const ImportRecord& record, UnixMillis now) {
  if (!valid_run_id(record.run_id)) return Error{"invalid: run_id must be 32 lower-case hex characters"};
  if (record.ns.empty() || record.datasource.empty()) {
    return Error{"invalid: the report must name the data source's namespace and name"};
  }
  static const std::vector<std::string> kOutcomes = {"approved", "escalated", "denied", "failed"};
  if (std::find(kOutcomes.begin(), kOutcomes.end(), record.outcome) == kOutcomes.end()) {
    return Error{"invalid: outcome must be approved, escalated, denied or failed, not `" + record.outcome + "`"};
  }
  if (record.outcome != "failed" && record.decision_json.empty()) {
    return Error{"invalid: a decided import needs its decision"};
  }
  if (!record.decision_json.empty()) {
    if (Result<nlohmann::json> decision = parse_object(record.decision_json, "decision"); !decision) {
      return decision.error();
    }
  }
  if (record.total_size > static_cast<std::uint64_t>(INT64_MAX)) return Error{"invalid: total size too large"};

  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  if (Result<Transfer> existing = get_locked(record.run_id); existing) {
    if (existing->channel != "import" || existing->datasource != record.datasource) {
      return Error{"conflict: transfer " + record.run_id + " exists and is not this import"};
    }
    return existing;  // the same run reported again (a retried request, a Job restarted after reporting)
  } else if (!existing.message().starts_with("not_found:")) {
    return existing;
  }

  const std::string filename = std::to_string(record.files) + (record.files == 1 ? " file" : " files");
  nlohmann::json metadata = {{"namespace", record.ns},
                             {"run_id", record.run_id},
                             {"location", record.location},
                             {"policy_set", record.policy_set}};
  {
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO transfers (id, channel, owner, workspace, datasource, project, filename, declared_type, "
        "justification, total_length, byte_offset, state, metadata_json, created_at, updated_at, expires_at) "
        "VALUES (?1, 'import', ?2, '', ?3, ?4, ?5, 'application/ld+json', ?6, ?7, ?7, 'created', ?8, ?9, ?9, 0)");
    if (!insert) return insert.error();
    (*insert)
        ->bind(1, record.run_id)
        .bind(2, record.reporter)
        .bind(3, record.datasource)
        .bind(4, record.project)
        .bind(5, filename)
        .bind(6, "import run " + record.run_id + " of " + record.ns + "/" + record.datasource)
        .bind(7, static_cast<std::int64_t>(record.total_size))
        .bind(8, dump(metadata))
        .bind(9, static_cast<std::int64_t>(now));
    if ((*insert)->step() != SQLITE_DONE) return db_->error("cannot record import " + record.run_id);
  }
  nlohmann::json created = {
      {"channel", "import"},         {"namespace", record.ns},         {"datasource", record.datasource},
      {"project", record.project},   {"files", record.files},          {"length", record.total_size},
      {"location", record.location}, {"policy_set", record.policy_set}};
  if (Status status = append_locked(record.run_id, record.reporter, "created", "", "created", dump(created), now);
      !status) {
    return Error{status.message()};
  }
  {
    // An import names its data source's namespace: registered (as Import) unless k8s-sync registered it already.
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO datasources (namespace, name, type, project, display_name, pvc_namespace, pvc, registered_by, "
        "created_at, updated_at) VALUES (?1, ?2, 'Import', ?3, '', '', '', 'import report', ?4, ?4) "
        "ON CONFLICT (namespace, name) DO NOTHING");
    if (!insert) return insert.error();
    (*insert)
        ->bind(1, record.ns)
        .bind(2, record.datasource)
        .bind(3, record.project)
        .bind(4, static_cast<std::int64_t>(now));
    if ((*insert)->step() != SQLITE_DONE) return db_->error("cannot register data source " + record.datasource);
  }
  {
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO imports (run_id, namespace, datasource, outcome, location, policy_set, report_json, reporter, "
        "reported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (!insert) return insert.error();
    (*insert)
        ->bind(1, record.run_id)
        .bind(2, record.ns)
        .bind(3, record.datasource)
        .bind(4, record.outcome)
        .bind(5, record.location)
        .bind(6, record.policy_set)
        .bind(7, record.report_json)
        .bind(8, record.reporter)
        .bind(9, static_cast<std::int64_t>(now));
    if ((*insert)->step() != SQLITE_DONE) return db_->error("cannot record the report of import " + record.run_id);
  }

  auto step = [&](TransferState to, std::string reason, nlohmann::json detail = nlohmann::json::object(),
                  std::optional<std::string> decision = std::nullopt) -> Status {
    StateChange change{.to = to, .actor = "system", .reason = std::move(reason), .decision_json = std::move(decision)};
    Result<Transfer> moved = transition_locked(record.run_id, change, std::move(detail), now, std::nullopt);
    if (!moved) return Error{moved.message()};
    return Status::ok();
  };
  if (Status s = step(TransferState::kReceiving, "fetched by airlock import"); !s) return Error{s.message()};
  if (Status s = step(TransferState::kInspecting, "every object fetched"); !s) return Error{s.message()};
  if (record.outcome == "failed") {
    if (Status s = step(TransferState::kFailed, record.reason.empty() ? "the import failed" : record.reason); !s) {
      return Error{s.message()};
    }
  } else {
    nlohmann::json decision = nlohmann::json::parse(record.decision_json, nullptr, false);
    std::string decision_outcome = decision.value("outcome", "");
    if (Status s = step(TransferState::kDecided, record.reason, {{"outcome", decision_outcome}}, record.decision_json);
        !s) {
      return Error{s.message()};
    }
    if (record.outcome == "approved") {
      if (Status s = step(TransferState::kApproved, record.reason); !s) return Error{s.message()};
      if (Status s = step(TransferState::kReleased, "released by airlock import", {{"path", record.location}}); !s) {
        return Error{s.message()};
      }
    } else if (record.outcome == "denied") {
      if (Status s = step(TransferState::kDenied, record.reason); !s) return Error{s.message()};
    } else {
      nlohmann::json reviewers = decision.contains("reviewers") ? decision["reviewers"] : nlohmann::json::object();
      if (Status s = step(TransferState::kEscalated, record.reason,
                          {{"roles", reviewers.value("roles", nlohmann::json::array())},
                           {"approvals", reviewers.value("approvals", 1)},
                           {"location", record.location}});
          !s) {
        return Error{s.message()};
      }
      // As an escalated upload: a case opens at once.
      if (Status s = step(TransferState::kInReview, "awaiting review"); !s) return Error{s.message()};
    }
  }
  Result<Transfer> stored = get_locked(record.run_id);
  if (!stored) return stored;
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return stored;
}

Result<ImportRecord> SqliteTransferStore::import_record(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  Result<std::unique_ptr<Statement>> query = db_->prepare(
      "SELECT i.run_id, i.namespace, i.datasource, t.project, i.outcome, t.reason, i.location, i.policy_set, "
      "t.decision_json, coalesce(t.total_length, 0), i.report_json, i.reporter, i.reported_at "
      "FROM imports i JOIN transfers t ON t.id = i.run_id WHERE i.run_id = ?1");
  if (!query) return query.error();
  (*query)->bind(1, run_id);
  int rc = (*query)->step();
  if (rc == SQLITE_DONE) return Error{"not_found: no import run " + run_id};
  if (rc != SQLITE_ROW) return db_->error("cannot read import " + run_id);
  const Statement& row = **query;
  ImportRecord record;
  record.run_id = row.text(0);
  record.ns = row.text(1);
  record.datasource = row.text(2);
  record.project = row.text(3);
  record.outcome = row.text(4);
  record.reason = row.text(5);
  record.location = row.text(6);
  record.policy_set = row.text(7);
  record.decision_json = row.text(8);
  record.total_size = static_cast<std::uint64_t>(row.integer(9));
  record.report_json = row.text(10);
  record.reporter = row.text(11);
  record.reported_at = row.integer(12);
  nlohmann::json report = nlohmann::json::parse(record.report_json, nullptr, false);
  if (report.is_object() && report.contains("files") && report["files"].is_array()) {
    record.files = report["files"].size();
  }
  return record;
}

}  // namespace airlock::gateway
