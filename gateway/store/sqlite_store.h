// The SQLite TransferStore, shared by the files that implement it: sqlite_store.cpp (transfers, the
// lifecycle, the audit chain, the schema), sqlite_reviews.cpp (review cases, votes, comments, revocation)
// and sqlite_outbox.cpp (the notification outbox). Not a public header.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/store.h"
#include "sqlite_database.h"

namespace airlock::gateway {
namespace store_internal {

inline constexpr const char* kTransferColumns =
    "id, channel, owner, workspace, datasource, project, filename, declared_type, justification, total_length, "
    "byte_offset, state, reason, retryable, decision_json, facts_json, sha256, metadata_json, created_at, "
    "updated_at, expires_at";

Transfer read_transfer(const sqlite::Statement& row);
// --- data sources and imports: the schema step that adds their tables (sqlite_registry.cpp).
const char* registry_migration();
// --- reviewer workspaces: the schema step that adds their table (sqlite_reviewer_workspaces.cpp).
const char* reviewer_workspaces_migration();
// Parses a JSON object (or "" as {}); "invalid: WHAT must be a JSON object" for anything else.
Result<nlohmann::json> parse_object(const std::string& text, std::string_view what);
// Compact JSON with sorted keys; invalid UTF-8 replaced.
std::string dump(const nlohmann::json& json);

// BEGIN IMMEDIATE takes the write lock at once (waiting up to busy_timeout), so the state read
// inside is the state the update replaces. Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite::Database& db) : db_(db) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (open_) (void)db_.execute("ROLLBACK");
  }
  Status begin() {
    Status status = db_.execute("BEGIN IMMEDIATE");
    open_ = status.is_ok();
    return status;
  }
  Status commit() {
    Status status = db_.execute("COMMIT");
    if (status) open_ = false;
    return status;
  }

 private:
  sqlite::Database& db_;
  bool open_ = false;
};

}  // namespace store_internal

class SqliteTransferStore final : public TransferStore {
 public:
  explicit SqliteTransferStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}

  Status initialise();

  Result<Transfer> create(const NewTransfer& request, UnixMillis now) override;
  Result<Transfer> get(const std::string& id) override;
  Result<std::vector<Transfer>> list(const TransferFilter& filter) override;
  Status advance_offset(const std::string& id, std::uint64_t expected_offset, std::uint64_t new_offset,
                        UnixMillis now) override;
  Status set_length(const std::string& id, std::uint64_t length, UnixMillis now) override;
  Result<Transfer> transition(const std::string& id, const StateChange& change, UnixMillis now,
                              std::optional<TransferState> expected_from) override;
  Status append_event(const std::string& transfer_id, const std::string& actor, const std::string& action,
                      const std::string& detail_json, UnixMillis now) override;
  Result<std::vector<Transfer>> expired(UnixMillis now) override;
  Result<std::vector<Transfer>> retained_before(UnixMillis before) override;
  Result<std::vector<AuditEvent>> audit_events(const std::string& transfer_id) override;
  Result<AuditVerification> verify_audit() override;

  // Reviews (sqlite_reviews.cpp).
  Result<ReviewCase> start_review(const std::string& transfer_id, const std::string& actor, UnixMillis now) override;
  Result<VoteOutcome> vote(const std::string& transfer_id, const Actor& voter, const Vote& vote,
                           UnixMillis now) override;
  Result<Comment> add_comment(const std::string& transfer_id, const Actor& author, const std::string& text,
                              Visibility visibility, UnixMillis now) override;
  Result<std::vector<Comment>> comments(const std::string& transfer_id, bool include_private) override;
  Result<std::vector<Comment>> comments_visible_to(const std::string& transfer_id, const Actor& viewer) override;
  Result<Transfer> resubmit(const std::string& transfer_id, const Actor& requester, bool replace_files,
                            UnixMillis now) override;
  Result<Transfer> revoke(const std::string& transfer_id, const Actor& actor, const std::string& reason,
                          UnixMillis now) override;
  Result<ReviewCase> current_case(const std::string& transfer_id) override;
  Result<std::vector<ReviewCase>> review_history(const std::string& transfer_id) override;
  Result<std::vector<CaseSummary>> list_cases(const Actor& reviewer, const CaseFilter& filter, UnixMillis now) override;

  // Notification outbox (sqlite_outbox.cpp).
  void set_notification_targets(std::vector<NotificationTarget> targets) override;
  Result<std::vector<std::int64_t>> enqueue_notification(const std::string& event, const std::string& transfer_id,
                                                         const std::string& payload_json, UnixMillis now) override;
  Result<std::vector<Notification>> due_deliveries(UnixMillis now, std::size_t limit, UnixMillis lease) override;
  Status mark_delivered(std::int64_t id, UnixMillis now) override;
  Status mark_retry(std::int64_t id, UnixMillis next_attempt_at, const std::string& error, UnixMillis now) override;
  Status mark_failed(std::int64_t id, const std::string& error, UnixMillis now) override;
  Result<Notification> notification(std::int64_t id) override;

  // --- data sources and imports (sqlite_registry.cpp)
  Result<DataSourceRecord> register_datasource(const DataSourceRecord& registration, const std::string& actor,
                                               UnixMillis now) override;
  Result<DataSourceRecord> datasource(const std::string& ns, const std::string& name) override;
  Result<std::vector<DataSourceRecord>> datasources(const std::string& ns) override;
  Result<bool> accepts_uploads(const std::string& name) override;
  Result<Transfer> record_import(const ImportRecord& record, UnixMillis now) override;
  Result<ImportRecord> import_record(const std::string& run_id) override;

  // --- reviewer workspaces (sqlite_reviewer_workspaces.cpp)
  Result<WorkspaceRequest> request_reviewer_workspace(const std::string& transfer_id, const Actor& reviewer,
                                                      const std::string& url, UnixMillis now) override;
  Result<ReviewerWorkspace> reviewer_workspace(const std::string& transfer_id) override;
  Result<std::map<std::string, TransferReview>> transfer_reviews(const std::vector<std::string>& transfer_ids) override;
  // --- end reviewer workspaces

 private:
  static constexpr std::size_t kMaxListLimit = 1000;

  // Everything below runs with mutex_ held; the *_locked writers inside the caller's transaction.
  Status set_synchronous(bool full);
  Status migrate();
  Result<Transfer> get_locked(const std::string& id);
  Result<std::vector<Transfer>> collect(sqlite::Statement& statement, std::string_view what);
  Status append_locked(const std::string& transfer_id, const std::string& actor, const std::string& action,
                       const std::string& from_state, const std::string& to_state, const std::string& detail_json,
                       UnixMillis now);
  // The checked state change of transition(), with its review side effects: entering in_review opens a case
  // and enqueues "escalated"; leaving it closes the open case as `close_as` (kCancelled when not given) and,
  // for approved/rejected/returned, enqueues "decided"; entering revoked enqueues "revoked". `detail` is the
  // audit event's detail, already parsed.
  Result<Transfer> transition_locked(const std::string& id, const StateChange& change, nlohmann::json detail,
                                     UnixMillis now, std::optional<TransferState> expected_from,
                                     std::optional<CaseStatus> close_as = std::nullopt);

  // Reviews.
  Result<ReviewCase> open_case_locked(const Transfer& transfer, const std::string& actor, UnixMillis now);
  Result<std::optional<ReviewCase>> open_case_of_locked(const std::string& transfer_id);
  Result<std::vector<ReviewCase>> cases_locked(const std::string& transfer_id);
  Result<ReviewCase> case_locked(std::int64_t case_id);
  Status load_votes_locked(ReviewCase& review);
  Result<Comment> insert_comment_locked(const Transfer& transfer, std::int64_t case_id, std::int32_t round,
                                        const std::string& author, Visibility visibility, const std::string& text,
                                        UnixMillis now);
  Result<std::vector<Comment>> comments_locked(const std::string& transfer_id, bool include_private);
  // Whether `actor` is a reviewer of the transfer: not its requester, and holding a role one of its cases lists.
  Result<bool> is_reviewer_of_locked(const Transfer& transfer, const Actor& actor);

  // Notifications: one pending delivery per target that wants `event`.
  Result<std::vector<std::int64_t>> enqueue_locked(std::string_view event, const std::string& transfer_id,
                                                   const std::string& payload_json, UnixMillis now);
  Result<Notification> notification_locked(std::int64_t id);
  Status finish_delivery(std::int64_t id, DeliveryState state, std::optional<UnixMillis> next_attempt_at,
                         const std::string& error, UnixMillis now);

  std::mutex mutex_;
  std::unique_ptr<sqlite::Database> db_;
  bool synchronous_full_ = true;
  std::vector<NotificationTarget> notification_targets_;
};

}  // namespace airlock::gateway
