// The SQLite state store: one connection per TransferStore, serialised by a mutex; every write is a
// BEGIN IMMEDIATE transaction, so several stores (or processes) on one file also serialise.
#include "sqlite_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "airlock/gateway/store.h"
#include "sqlite_database.h"

namespace airlock::gateway {
using sqlite::Database;
using sqlite::Statement;

namespace store_internal {

// Schema migrations, applied in order; the schema's version is how many have been applied.
// Append new migrations; never edit one that has shipped.
const std::vector<std::string>& migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE transfers (
  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),
  channel TEXT NOT NULL CHECK (channel IN ('upload', 'import', 'egress')),
  owner TEXT NOT NULL,
  workspace TEXT NOT NULL,
  datasource TEXT NOT NULL,
  project TEXT NOT NULL,
  filename TEXT NOT NULL,
  declared_type TEXT NOT NULL,
  justification TEXT NOT NULL,
  total_length INTEGER CHECK (total_length IS NULL OR total_length >= 0),
  byte_offset INTEGER NOT NULL DEFAULT 0 CHECK (byte_offset >= 0),
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  retryable INTEGER NOT NULL DEFAULT 0,
  decision_json TEXT NOT NULL DEFAULT '',
  facts_json TEXT NOT NULL DEFAULT '',
  sha256 TEXT NOT NULL DEFAULT '',
  metadata_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX transfers_by_creation ON transfers (created_at, id);
CREATE INDEX transfers_by_owner ON transfers (owner, created_at, id);
CREATE INDEX transfers_by_state ON transfers (state, updated_at);

CREATE TABLE audit_events (
  sequence INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  transfer_id TEXT REFERENCES transfers (id),
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  previous_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_events_by_transfer ON audit_events (transfer_id, sequence);
CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

-- The chain's head, moved in the same transaction as every append: a deleted tail shows.
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence INTEGER NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, sequence, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER audit_head_kept BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END;
)sql",
      // 2: reviews (docs/reviews.md). A case per round of review of a transfer; votes and comments are
      // append-only, like the audit log; the outbox holds one webhook delivery per (event, target).
      R"sql(
CREATE TABLE review_cases (
  id INTEGER PRIMARY KEY,
  transfer_id TEXT NOT NULL REFERENCES transfers (id),
  round INTEGER NOT NULL CHECK (round >= 1),
  roles_json TEXT NOT NULL,
  approvals_required INTEGER NOT NULL CHECK (approvals_required BETWEEN 1 AND 20),
  status TEXT NOT NULL CHECK (status IN ('open', 'approved', 'rejected', 'returned', 'cancelled')),
  opened_by TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  closed_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE (transfer_id, round)
);
CREATE UNIQUE INDEX review_cases_one_open ON review_cases (transfer_id) WHERE status = 'open';
CREATE INDEX review_cases_by_age ON review_cases (status, opened_at, id);

CREATE TABLE review_comments (
  id INTEGER PRIMARY KEY,
  transfer_id TEXT NOT NULL REFERENCES transfers (id),
  case_id INTEGER NOT NULL REFERENCES review_cases (id),
  author TEXT NOT NULL,
  by_requester INTEGER NOT NULL CHECK (by_requester IN (0, 1)),
  visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
  body TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX review_comments_by_transfer ON review_comments (transfer_id, id);

-- One vote per person per case, enforced here as well as in the code.
CREATE TABLE review_votes (
  case_id INTEGER NOT NULL REFERENCES review_cases (id),
  voter TEXT NOT NULL,
  seq INTEGER NOT NULL,
  roles_json TEXT NOT NULL,
  vote TEXT NOT NULL CHECK (vote IN ('approve', 'reject', 'return')),
  comment_id INTEGER REFERENCES review_comments (id),
  at INTEGER NOT NULL,
  PRIMARY KEY (case_id, voter),
  UNIQUE (case_id, seq)
);

CREATE TRIGGER review_votes_append_only_update BEFORE UPDATE ON review_votes
BEGIN SELECT RAISE(ABORT, 'review votes are append-only'); END;
CREATE TRIGGER review_votes_append_only_delete BEFORE DELETE ON review_votes
BEGIN SELECT RAISE(ABORT, 'review votes are append-only'); END;
CREATE TRIGGER review_comments_append_only_update BEFORE UPDATE ON review_comments
BEGIN SELECT RAISE(ABORT, 'review comments are append-only'); END;
CREATE TRIGGER review_comments_append_only_delete BEFORE DELETE ON review_comments
BEGIN SELECT RAISE(ABORT, 'review comments are append-only'); END;

CREATE TABLE notification_outbox (
  id INTEGER PRIMARY KEY,
  event TEXT NOT NULL,
  transfer_id TEXT REFERENCES transfers (id),
  target TEXT NOT NULL,
  payload_json TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX notification_outbox_due ON notification_outbox (state, next_attempt_at, id);

-- Transfers already in review when this migration runs get their case, from their decision's reviewers.
INSERT INTO review_cases (transfer_id, round, roles_json, approvals_required, status, opened_by, opened_at)
SELECT id, 1, roles, min(20, max(1, json_array_length(roles), approvals)), 'open', 'system', updated_at
FROM (SELECT id, updated_at,
             CASE WHEN json_valid(decision_json) AND json_type(decision_json, '$.reviewers.roles') = 'array'
                       AND json_array_length(decision_json, '$.reviewers.roles') > 0
                  THEN json_extract(decision_json, '$.reviewers.roles') ELSE '["data-approver"]' END AS roles,
             CASE WHEN json_valid(decision_json) AND json_type(decision_json, '$.reviewers.approvals') = 'integer'
                  THEN json_extract(decision_json, '$.reviewers.approvals') ELSE 1 END AS approvals
      FROM transfers WHERE state = 'in_review');
)sql",
      // 3: data sources and imports (sqlite_registry.cpp).
      registry_migration(),
      // 4: reviewer workspaces (sqlite_reviewer_workspaces.cpp).
      reviewer_workspaces_migration(),
  };
  return kMigrations;
}

Transfer read_transfer(const Statement& row) {
  Transfer transfer;
  transfer.id = row.text(0);
  transfer.channel = row.text(1);
  transfer.owner = row.text(2);
  transfer.workspace = row.text(3);
  transfer.datasource = row.text(4);
  transfer.project = row.text(5);
  transfer.filename = row.text(6);
  transfer.declared_type = row.text(7);
  transfer.justification = row.text(8);
  if (!row.is_null(9)) transfer.length = static_cast<std::uint64_t>(row.integer(9));
  transfer.offset = static_cast<std::uint64_t>(row.integer(10));
  transfer.state = parse_state(row.text(11)).value_or(TransferState::kFailed);
  transfer.reason = row.text(12);
  transfer.retryable = row.integer(13) != 0;
  transfer.decision_json = row.text(14);
  transfer.facts_json = row.text(15);
  transfer.sha256 = row.text(16);
  transfer.metadata_json = row.text(17);
  transfer.created_at = row.integer(18);
  transfer.updated_at = row.integer(19);
  transfer.expires_at = row.integer(20);
  return transfer;
}

constexpr const char* kAuditColumns =
    "sequence, at, coalesce(transfer_id, ''), actor, action, from_state, to_state, detail_json, previous_hash, hash";

AuditEvent read_event(const Statement& row) {
  AuditEvent event;
  event.sequence = row.integer(0);
  event.at = row.integer(1);
  event.transfer_id = row.text(2);
  event.actor = row.text(3);
  event.action = row.text(4);
  event.from_state = row.text(5);
  event.to_state = row.text(6);
  event.detail_json = row.text(7);
  event.previous_hash = row.text(8);
  event.hash = row.text(9);
  return event;
}

Result<std::string> random_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Error{"storage: the random number generator failed"};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char byte : bytes) {
    id += kHex[byte >> 4];
    id += kHex[byte & 0x0f];
  }
  return id;
}

// Parses a JSON object (or "" as {}) and returns it; "invalid: ..." for anything else.
Result<nlohmann::json> parse_object(const std::string& text, std::string_view what) {
  if (text.empty()) return nlohmann::json::object();
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Error{"invalid: " + std::string(what) + " must be a JSON object"};
  }
  return parsed;
}

std::string dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Walks the chain from the first event; shared by TransferStore::verify_audit and verify_audit_file.
Result<AuditVerification> verify_chain(Database& db) {
  AuditVerification result;
  Result<std::unique_ptr<Statement>> rows =
      db.prepare(std::string("SELECT ") + kAuditColumns + " FROM audit_events ORDER BY sequence");
  if (!rows) return rows.error();
  std::string previous_hash(kGenesisHash);
  std::int64_t expected = 1;
  auto broken = [&](std::int64_t sequence, std::string problem) {
    result.intact = false;
    result.first_broken = sequence;
    result.problem = "event " + std::to_string(sequence) + ": " + std::move(problem);
    return result;
  };
  int rc;
  while ((rc = (*rows)->step()) == SQLITE_ROW) {
    AuditEvent event = read_event(**rows);
    if (event.sequence != expected) {
      return broken(expected, "missing (the next stored event is " + std::to_string(event.sequence) + ")");
    }
    if (event.previous_hash != previous_hash) {
      return broken(event.sequence,
                    "its previous_hash does not match the hash of event " + std::to_string(event.sequence - 1));
    }
    if (audit_event_hash(event) != event.hash) return broken(event.sequence, "hash does not match its contents");
    previous_hash = event.hash;
    result.events = event.sequence;
    ++expected;
  }
  if (rc != SQLITE_DONE) return db.error("cannot read the audit log");
  rows->reset();

  Result<std::unique_ptr<Statement>> head = db.prepare("SELECT sequence, hash FROM audit_head WHERE id = 1");
  if (!head) return head.error();
  rc = (*head)->step();
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) return broken(result.events + 1, "the audit head is missing");
    return db.error("cannot read the audit head");
  }
  std::int64_t head_sequence = (*head)->integer(0);
  std::string head_hash = (*head)->text(1);
  if (head_sequence != result.events || head_hash != previous_hash) {
    std::int64_t first = std::min(head_sequence, result.events) + 1;
    if (head_sequence == result.events) first = result.events;
    return broken(first, "the log ends at event " + std::to_string(result.events) + " but its head records event " +
                             std::to_string(head_sequence) +
                             (head_sequence > result.events ? " (events were deleted from the end)" : ""));
  }
  return result;
}

}  // namespace store_internal

using store_internal::dump;
using store_internal::kAuditColumns;
using store_internal::kTransferColumns;
using store_internal::migrations;
using store_internal::parse_object;
using store_internal::random_id;
using store_internal::read_event;
using store_internal::read_transfer;
using store_internal::Transaction;
using store_internal::verify_chain;

Status SqliteTransferStore::initialise() {
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 10000", "PRAGMA foreign_keys = ON",
                             "PRAGMA synchronous = FULL"}) {
    if (Status status = db_->execute(pragma); !status) return status;
  }
  return migrate();
}

Result<Transfer> SqliteTransferStore::create(const NewTransfer& request, UnixMillis now) {
  if (request.channel != "upload" && request.channel != "import" && request.channel != "egress") {
    return Error{"invalid: unknown channel `" + request.channel + "` (upload, import or egress)"};
  }
  Result<nlohmann::json> metadata = parse_object(request.metadata_json, "metadata");
  if (!metadata) return metadata.error();
  if (request.length && *request.length > static_cast<std::uint64_t>(INT64_MAX)) {
    return Error{"invalid: length " + std::to_string(*request.length) + " is too large"};
  }
  Result<std::string> id = random_id();
  if (!id) return id.error();

  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  {
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO transfers (id, channel, owner, workspace, datasource, project, filename, declared_type, "
        "justification, total_length, byte_offset, state, metadata_json, created_at, updated_at, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 'created', ?11, ?12, ?12, ?13)");
    if (!insert) return insert.error();
    (*insert)
        ->bind(1, *id)
        .bind(2, request.channel)
        .bind(3, request.owner)
        .bind(4, request.workspace)
        .bind(5, request.datasource)
        .bind(6, request.project)
        .bind(7, request.filename)
        .bind(8, request.declared_type)
        .bind(9, request.justification)
        .bind_optional(10, request.length)
        .bind(11, dump(*metadata))
        .bind(12, static_cast<std::int64_t>(now))
        .bind(13, static_cast<std::int64_t>(request.expires_at));
    if ((*insert)->step() != SQLITE_DONE) return db_->error("cannot create transfer");
  }
  nlohmann::json detail = {
      {"channel", request.channel},
      {"workspace", request.workspace},
      {"datasource", request.datasource},
      {"project", request.project},
      {"filename", request.filename},
      {"declared_type", request.declared_type},
      {"justification", request.justification},
      {"length", request.length ? nlohmann::json(*request.length) : nlohmann::json(nullptr)},
  };
  if (Status status = append_locked(*id, request.owner, "created", "", "created", dump(detail), now); !status) {
    return Error{status.message()};
  }
  Result<Transfer> created = get_locked(*id);
  if (!created) return created;
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return created;
}

Result<Transfer> SqliteTransferStore::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  return get_locked(id);
}

Result<std::vector<Transfer>> SqliteTransferStore::list(const TransferFilter& filter) {
  std::string sql = std::string("SELECT ") + kTransferColumns + " FROM transfers WHERE 1 = 1";
  if (filter.owner) sql += " AND owner = ?1";
  if (filter.state) sql += " AND state = ?2";
  if (filter.workspace) sql += " AND workspace = ?3";
  if (filter.datasource) sql += " AND datasource = ?4";
  if (filter.datasource_namespace) sql += " AND datasource IN (SELECT name FROM datasources WHERE namespace = ?7)";
  if (!filter.after_id.empty()) {
    sql += " AND (created_at, id) > (SELECT created_at, id FROM transfers WHERE id = ?5)";
  }
  sql += " ORDER BY created_at, id LIMIT ?6";

  std::lock_guard lock(mutex_);
  if (!filter.after_id.empty()) {
    Result<Transfer> cursor = get_locked(filter.after_id);
    if (!cursor) return Error{"invalid: unknown paging cursor `" + filter.after_id + "`"};
  }
  Result<std::unique_ptr<Statement>> query = db_->prepare(sql);
  if (!query) return query.error();
  Statement& statement = **query;
  if (filter.owner) statement.bind(1, *filter.owner);
  if (filter.state) statement.bind(2, state_name(*filter.state));
  if (filter.workspace) statement.bind(3, *filter.workspace);
  if (filter.datasource) statement.bind(4, *filter.datasource);
  if (!filter.after_id.empty()) statement.bind(5, filter.after_id);
  statement.bind(6, static_cast<std::int64_t>(std::min<std::size_t>(filter.limit, kMaxListLimit)));
  if (filter.datasource_namespace) statement.bind(7, *filter.datasource_namespace);
  return collect(statement, "cannot list transfers");
}

Status SqliteTransferStore::advance_offset(const std::string& id, std::uint64_t expected_offset,
                                           std::uint64_t new_offset, UnixMillis now) {
  if (new_offset < expected_offset) {
    return Error{"invalid: the new offset " + std::to_string(new_offset) + " is before the current one " +
                 std::to_string(expected_offset)};
  }
  if (new_offset > static_cast<std::uint64_t>(INT64_MAX)) return Error{"invalid: offset too large"};
  std::lock_guard lock(mutex_);
  // An offset lost to an OS crash (not a process crash) only makes the client resend bytes that are
  // already durable in the quarantine file, so offsets skip the WAL sync that state changes pay for.
  if (Status status = set_synchronous(false); !status) return status;
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return status;
  Result<Transfer> transfer = get_locked(id);
  if (!transfer) return Error{transfer.message()};
  if (transfer->state != TransferState::kReceiving) {
    return Error{"conflict: transfer " + id + " is " + std::string(state_name(transfer->state)) +
                 "; bytes are accepted only while it is receiving"};
  }
  if (transfer->offset != expected_offset) {
    return Error{"conflict: transfer " + id + " is at offset " + std::to_string(transfer->offset) + ", not " +
                 std::to_string(expected_offset)};
  }
  if (transfer->length && new_offset > *transfer->length) {
    return Error{"invalid: offset " + std::to_string(new_offset) + " is past the length " +
                 std::to_string(*transfer->length) + " of transfer " + id};
  }
  {
    Result<std::unique_ptr<Statement>> update =
        db_->prepare("UPDATE transfers SET byte_offset = ?2, updated_at = ?3 WHERE id = ?1");
    if (!update) return update.error();
    (*update)->bind(1, id).bind(2, static_cast<std::int64_t>(new_offset)).bind(3, static_cast<std::int64_t>(now));
    if ((*update)->step() != SQLITE_DONE) return db_->error("cannot record the offset of transfer " + id);
  }
  return transaction.commit();
}

Status SqliteTransferStore::set_length(const std::string& id, std::uint64_t length, UnixMillis now) {
  if (length > static_cast<std::uint64_t>(INT64_MAX)) return Error{"invalid: length too large"};
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return status;
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return status;
  Result<Transfer> transfer = get_locked(id);
  if (!transfer) return Error{transfer.message()};
  if (transfer->length) {
    if (*transfer->length == length) return Status::ok();
    return Error{"conflict: transfer " + id + " already has length " + std::to_string(*transfer->length)};
  }
  if (length < transfer->offset) {
    return Error{"invalid: length " + std::to_string(length) + " is less than the " + std::to_string(transfer->offset) +
                 " bytes already received"};
  }
  {
    Result<std::unique_ptr<Statement>> update =
        db_->prepare("UPDATE transfers SET total_length = ?2, updated_at = ?3 WHERE id = ?1");
    if (!update) return update.error();
    (*update)->bind(1, id).bind(2, static_cast<std::int64_t>(length)).bind(3, static_cast<std::int64_t>(now));
    if ((*update)->step() != SQLITE_DONE) return db_->error("cannot set the length of transfer " + id);
  }
  return transaction.commit();
}

Result<Transfer> SqliteTransferStore::transition(const std::string& id, const StateChange& change, UnixMillis now,
                                                 std::optional<TransferState> expected_from) {
  Result<nlohmann::json> detail = parse_object(change.detail_json, "detail");
  if (!detail) return detail.error();
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  Result<Transfer> changed = transition_locked(id, change, std::move(*detail), now, expected_from);
  if (!changed) return changed;
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return changed;
}

Result<Transfer> SqliteTransferStore::transition_locked(const std::string& id, const StateChange& change,
                                                        nlohmann::json detail, UnixMillis now,
                                                        std::optional<TransferState> expected_from,
                                                        std::optional<CaseStatus> close_as) {
  nlohmann::json decision;
  if (change.decision_json) {
    Result<nlohmann::json> parsed = parse_object(*change.decision_json, "decision");
    if (!parsed) return parsed.error();
    decision = std::move(*parsed);
  }
  Result<Transfer> current = get_locked(id);
  if (!current) return current;
  const TransferState from = current->state;
  if (expected_from && *expected_from != from) {
    return Error{"conflict: transfer " + id + " is " + std::string(state_name(from)) + ", not " +
                 std::string(state_name(*expected_from))};
  }
  if (!transition_allowed(from, change.to)) {
    return Error{"conflict: transfer " + id + " cannot go from " + std::string(state_name(from)) + " to " +
                 std::string(state_name(change.to))};
  }
  if (from == TransferState::kFailed && !current->retryable) {
    return Error{"conflict: transfer " + id + " failed for good (" + current->reason + "); it cannot be retried"};
  }
  // Returned to the requester, who replaces the files: the bytes start again from zero, and the upload's
  // expiry window starts again too.
  const bool restart = from == TransferState::kReturned && change.to == TransferState::kReceiving;
  {
    Result<std::unique_ptr<Statement>> update = db_->prepare(
        "UPDATE transfers SET state = ?2, reason = ?3, retryable = ?4, updated_at = ?5, "
        "decision_json = coalesce(?6, decision_json), facts_json = coalesce(?7, facts_json), "
        "sha256 = CASE WHEN ?10 THEN '' ELSE coalesce(?8, sha256) END, "
        "byte_offset = CASE WHEN ?10 THEN 0 ELSE byte_offset END, "
        "total_length = CASE WHEN ?10 THEN NULL ELSE total_length END, "
        // New files get as long to arrive as the first ones had.
        "expires_at = CASE WHEN ?10 AND expires_at > 0 THEN ?5 + (expires_at - created_at) ELSE expires_at END "
        "WHERE id = ?1 AND state = ?9");
    if (!update) return update.error();
    Statement& statement = **update;
    statement.bind(1, id)
        .bind(2, state_name(change.to))
        .bind(3, change.reason)
        .bind(4, static_cast<std::int64_t>(change.to == TransferState::kFailed && change.retryable))
        .bind(5, static_cast<std::int64_t>(now))
        .bind(9, state_name(from))
        .bind(10, static_cast<std::int64_t>(restart));
    if (change.decision_json) statement.bind(6, dump(decision));
    if (change.facts_json) statement.bind(7, *change.facts_json);
    if (change.sha256) statement.bind(8, *change.sha256);
    if (statement.step() != SQLITE_DONE) return db_->error("cannot change the state of transfer " + id);
    if (sqlite3_changes(db_->handle()) != 1) return Error{"storage: transfer " + id + " changed under us"};
  }
  Result<Transfer> changed = get_locked(id);
  if (!changed) return changed;

  // The review case follows the transfer in and out of in_review (docs/reviews.md).
  std::string event_payload;
  std::string_view event;
  if (from == TransferState::kInReview) {
    Result<std::optional<ReviewCase>> open = open_case_of_locked(id);
    if (!open) return open.error();
    if (*open) {
      const CaseStatus status = close_as.value_or(CaseStatus::kCancelled);
      Result<std::unique_ptr<Statement>> close =
          db_->prepare("UPDATE review_cases SET status = ?2, closed_at = ?3 WHERE id = ?1 AND status = 'open'");
      if (!close) return close.error();
      (*close)->bind(1, (**open).id).bind(2, case_status_name(status)).bind(3, static_cast<std::int64_t>(now));
      if ((*close)->step() != SQLITE_DONE) return db_->error("cannot close the review of transfer " + id);
      detail["case"] = (**open).id;
      detail["round"] = (**open).round;
      detail["case_status"] = case_status_name(status);
    }
    if (change.to == TransferState::kApproved || change.to == TransferState::kRejected ||
        change.to == TransferState::kReturned) {
      event = kEventDecided;
      nlohmann::json outcome = {{"outcome", state_name(change.to)}, {"reason", change.reason}};
      if (*open) outcome["case"] = {{"id", (**open).id}, {"round", (**open).round}};
      event_payload = dump(outcome);
    }
  }
  if (change.to == TransferState::kInReview) {
    Result<ReviewCase> opened = open_case_locked(*changed, change.actor, now);
    if (!opened) return opened.error();
    detail["case"] = opened->id;
    detail["round"] = opened->round;
    detail["roles"] = opened->roles;
    detail["approvals"] = opened->approvals_required;
    event = kEventEscalated;
    event_payload = dump({{"case",
                           {{"id", opened->id},
                            {"round", opened->round},
                            {"roles", opened->roles},
                            {"approvals_required", opened->approvals_required}}}});
  }
  if (change.to == TransferState::kRevoked) {
    event = kEventRevoked;
    event_payload = dump({{"reason", change.reason}});
  }

  if (!change.reason.empty()) detail["reason"] = change.reason;
  if (change.to == TransferState::kFailed) detail["retryable"] = change.retryable;
  if (change.sha256) detail["sha256"] = *change.sha256;
  if (change.decision_json) detail["decision"] = decision;
  if (Status status = append_locked(id, change.actor, "state", std::string(state_name(from)),
                                    std::string(state_name(change.to)), dump(detail), now);
      !status) {
    return Error{status.message()};
  }
  if (!event.empty()) {
    Result<nlohmann::json> particulars = parse_object(event_payload, "payload");
    if (!particulars) return particulars.error();
    nlohmann::json payload = std::move(*particulars);
    payload["event"] = event;
    payload["at"] = now;
    payload["actor"] = change.actor;
    payload["transfer"] = {{"id", changed->id},
                           {"channel", changed->channel},
                           {"workspace", changed->workspace},
                           {"datasource", changed->datasource},
                           {"filename", changed->filename},
                           {"requester", changed->owner},
                           {"state", state_name(changed->state)}};
    Result<std::vector<std::int64_t>> queued = enqueue_locked(event, id, dump(payload), now);
    if (!queued) return queued.error();
  }
  return changed;
}

Status SqliteTransferStore::append_event(const std::string& transfer_id, const std::string& actor,
                                         const std::string& action, const std::string& detail_json, UnixMillis now) {
  if (action.empty()) return Error{"invalid: an audit event needs an action"};
  Result<nlohmann::json> detail = parse_object(detail_json, "detail");
  if (!detail) return detail.error();
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return status;
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return status;
  std::string state;
  if (!transfer_id.empty()) {
    Result<Transfer> transfer = get_locked(transfer_id);
    if (!transfer) return Error{transfer.message()};
    state = state_name(transfer->state);
  }
  if (Status status = append_locked(transfer_id, actor, action, state, state, dump(*detail), now); !status) {
    return status;
  }
  return transaction.commit();
}

Result<std::vector<Transfer>> SqliteTransferStore::expired(UnixMillis now) {
  std::lock_guard lock(mutex_);
  Result<std::unique_ptr<Statement>> query =
      db_->prepare(std::string("SELECT ") + kTransferColumns +
                   " FROM transfers WHERE state IN ('created', 'receiving') AND expires_at > 0 AND expires_at < ?1"
                   " ORDER BY expires_at, id");
  if (!query) return query.error();
  (*query)->bind(1, static_cast<std::int64_t>(now));
  return collect(**query, "cannot list expired transfers");
}

Result<std::vector<Transfer>> SqliteTransferStore::retained_before(UnixMillis before) {
  std::lock_guard lock(mutex_);
  Result<std::unique_ptr<Statement>> query =
      db_->prepare(std::string("SELECT ") + kTransferColumns +
                   " FROM transfers WHERE state IN ('denied', 'rejected', 'failed') AND updated_at < ?1"
                   " ORDER BY updated_at, id");
  if (!query) return query.error();
  (*query)->bind(1, static_cast<std::int64_t>(before));
  return collect(**query, "cannot list retained transfers");
}

Result<std::vector<AuditEvent>> SqliteTransferStore::audit_events(const std::string& transfer_id) {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit_events";
  if (!transfer_id.empty()) sql += " WHERE transfer_id = ?1";
  sql += " ORDER BY sequence";
  Result<std::unique_ptr<Statement>> query = db_->prepare(sql);
  if (!query) return query.error();
  if (!transfer_id.empty()) (*query)->bind(1, transfer_id);
  std::vector<AuditEvent> events;
  int rc;
  while ((rc = (*query)->step()) == SQLITE_ROW) events.push_back(read_event(**query));
  if (rc != SQLITE_DONE) return db_->error("cannot read the audit log");
  return events;
}

Result<AuditVerification> SqliteTransferStore::verify_audit() {
  std::lock_guard lock(mutex_);
  // One read transaction, so that the chain and its head are one snapshot.
  if (Status status = db_->execute("BEGIN"); !status) return Error{status.message()};
  Result<AuditVerification> result = verify_chain(*db_);
  (void)db_->execute("COMMIT");
  return result;
}

Status SqliteTransferStore::set_synchronous(bool full) {
  if (synchronous_full_ == full) return Status::ok();
  Status status = db_->execute(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  if (status) synchronous_full_ = full;
  return status;
}

Status SqliteTransferStore::migrate() {
  if (Status status = db_->execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !status) {
    return status;
  }
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return status;
  std::int64_t version = 0;
  bool has_row = false;
  {
    Result<std::unique_ptr<Statement>> query = db_->prepare("SELECT version FROM schema_version");
    if (!query) return query.error();
    int rc = (*query)->step();
    if (rc == SQLITE_ROW) {
      version = (*query)->integer(0);
      has_row = true;
    } else if (rc != SQLITE_DONE) {
      return db_->error("cannot read the schema version");
    }
  }
  const auto known = static_cast<std::int64_t>(migrations().size());
  if (version > known) {
    return Error{"storage: " + db_->path() + " has schema version " + std::to_string(version) +
                 ", newer than this airlock knows (" + std::to_string(known) + ")"};
  }
  for (std::int64_t next = version; next < known; ++next) {
    if (Status status = db_->execute(migrations()[static_cast<std::size_t>(next)]); !status) return status;
  }
  if (version != known) {
    std::string sql = has_row ? "UPDATE schema_version SET version = " : "INSERT INTO schema_version VALUES (";
    sql += std::to_string(known);
    if (!has_row) sql += ")";
    if (Status status = db_->execute(sql); !status) return status;
  }
  return transaction.commit();
}

Result<Transfer> SqliteTransferStore::get_locked(const std::string& id) {
  Result<std::unique_ptr<Statement>> query =
      db_->prepare(std::string("SELECT ") + kTransferColumns + " FROM transfers WHERE id = ?1");
  if (!query) return query.error();
  (*query)->bind(1, id);
  int rc = (*query)->step();
  if (rc == SQLITE_ROW) return read_transfer(**query);
  if (rc == SQLITE_DONE) return Error{"not_found: no transfer " + id};
  return db_->error("cannot read transfer " + id);
}

Result<std::vector<Transfer>> SqliteTransferStore::collect(Statement& statement, std::string_view what) {
  std::vector<Transfer> transfers;
  int rc;
  while ((rc = statement.step()) == SQLITE_ROW) transfers.push_back(read_transfer(statement));
  if (rc != SQLITE_DONE) return db_->error(what);
  return transfers;
}

// Appends one event at the head of the chain; the caller holds the write transaction.
Status SqliteTransferStore::append_locked(const std::string& transfer_id, const std::string& actor,
                                          const std::string& action, const std::string& from_state,
                                          const std::string& to_state, const std::string& detail_json, UnixMillis now) {
  AuditEvent event;
  {
    Result<std::unique_ptr<Statement>> head = db_->prepare("SELECT sequence, hash FROM audit_head WHERE id = 1");
    if (!head) return head.error();
    if ((*head)->step() != SQLITE_ROW) return db_->error("cannot read the audit head");
    event.sequence = (*head)->integer(0) + 1;
    event.previous_hash = (*head)->text(1);
  }
  event.at = now;
  event.transfer_id = transfer_id;
  event.actor = actor;
  event.action = action;
  event.from_state = from_state;
  event.to_state = to_state;
  event.detail_json = detail_json;
  event.hash = audit_event_hash(event);
  if (event.hash.empty()) return Error{"storage: SHA-256 failed"};
  {
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO audit_events (sequence, at, transfer_id, actor, action, from_state, to_state, detail_json, "
        "previous_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!insert) return insert.error();
    Statement& statement = **insert;
    statement.bind(1, event.sequence).bind(2, static_cast<std::int64_t>(event.at));
    if (transfer_id.empty()) {
      statement.bind_null(3);
    } else {
      statement.bind(3, transfer_id);
    }
    statement.bind(4, event.actor)
        .bind(5, event.action)
        .bind(6, event.from_state)
        .bind(7, event.to_state)
        .bind(8, event.detail_json)
        .bind(9, event.previous_hash)
        .bind(10, event.hash);
    if (statement.step() != SQLITE_DONE) return db_->error("cannot append to the audit log");
  }
  {
    Result<std::unique_ptr<Statement>> update =
        db_->prepare("UPDATE audit_head SET sequence = ?1, hash = ?2 WHERE id = 1");
    if (!update) return update.error();
    (*update)->bind(1, event.sequence).bind(2, event.hash);
    if ((*update)->step() != SQLITE_DONE) return db_->error("cannot move the audit head");
  }
  return Status::ok();
}

Result<std::unique_ptr<TransferStore>> TransferStore::open(const std::string& path) {
  Result<std::unique_ptr<Database>> db = Database::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) return db.error();
  auto store = std::make_unique<SqliteTransferStore>(std::move(*db));
  if (Status status = store->initialise(); !status) return Error{status.message()};
  return std::unique_ptr<TransferStore>(std::move(store));
}

namespace {

// Opens an existing database read-only and checks that it holds an audit log.
Result<std::unique_ptr<Database>> open_audit_file(const std::string& path) {
  Result<std::unique_ptr<Database>> db = Database::open(path, SQLITE_OPEN_READONLY);
  if (!db) return db;
  if (Status status = (*db)->execute("PRAGMA busy_timeout = 10000"); !status) return Error{status.message()};
  Result<std::unique_ptr<Statement>> table =
      (*db)->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'");
  if (!table) return table.error();
  if ((*table)->step() != SQLITE_ROW) return (*db)->error("cannot read the schema");
  if ((*table)->integer(0) == 0) return Error{"invalid: " + path + " holds no audit log (not an airlock database)"};
  return db;
}

}  // namespace

Result<AuditVerification> verify_audit_file(const std::string& path) {
  Result<std::unique_ptr<Database>> db = open_audit_file(path);
  if (!db) return db.error();
  // One read transaction, so that the chain and its head are one snapshot.
  if (Status status = (*db)->execute("BEGIN"); !status) return Error{status.message()};
  Result<AuditVerification> result = verify_chain(**db);
  (void)(*db)->execute("COMMIT");
  return result;
}

Result<std::vector<AuditEvent>> read_audit_file(const std::string& path, const std::string& transfer_id) {
  Result<std::unique_ptr<Database>> db = open_audit_file(path);
  if (!db) return db.error();
  std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit_events";
  if (!transfer_id.empty()) sql += " WHERE transfer_id = ?1";
  sql += " ORDER BY sequence";
  Result<std::unique_ptr<Statement>> query = (*db)->prepare(sql);
  if (!query) return query.error();
  if (!transfer_id.empty()) (*query)->bind(1, transfer_id);
  std::vector<AuditEvent> events;
  int rc;
  while ((rc = (*query)->step()) == SQLITE_ROW) events.push_back(read_event(**query));
  if (rc != SQLITE_DONE) return (*db)->error("cannot read the audit log");
  return events;
}

}  // namespace airlock::gateway
