// The state store: transfers, their lifecycle, and the hash-chained audit log, in SQLite (WAL).
// Every state change is one transaction that also appends its audit event.
// Thread-safe: one TransferStore may be used from every thread of the gateway.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/reviews.h"
#include "airlock/gateway/transfer.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway {

using runtime::Error;
using runtime::Result;
using runtime::Status;

struct NewTransfer {
  std::string channel;
  std::string owner;
  std::string workspace;
  std::string datasource;
  std::string project;
  std::string filename;
  std::string declared_type;
  std::string justification;
  std::optional<std::uint64_t> length;
  std::string metadata_json = "{}";
  UnixMillis expires_at = 0;
};

struct TransferFilter {
  std::optional<std::string> owner;  // only this user's transfers
  std::optional<TransferState> state;
  std::optional<std::string> workspace;
  std::optional<std::string> datasource;
  std::optional<std::string> datasource_namespace;  // only data sources registered in this namespace
  std::size_t limit = 100;
  std::string after_id;  // paging: transfers created after this one (ordered by creation, then id)
};

struct StateChange {
  TransferState to;
  std::string actor;                         // user id or "system"
  std::string reason;                        // stored on the transfer and in the event
  bool retryable = false;                    // for kFailed
  std::optional<std::string> decision_json;  // stored when present
  std::optional<std::string> facts_json;     // stored when present
  std::optional<std::string> sha256;         // stored when present
  std::string detail_json = "{}";            // extra particulars for the audit event
};

struct AuditVerification {
  bool intact = true;
  std::int64_t events = 0;              // events checked
  std::int64_t first_broken = 0;        // sequence of the first event whose hash or link is wrong; 0 if intact
  std::string problem;                  // "event 42: hash does not match its contents", "event 43: ..."
};

// --- data sources and imports
// A data source registered with the gateway (by k8s-sync for uploads, or by an import report).
struct DataSourceRecord {
  std::string ns;
  std::string name;
  std::string type;  // Import | Uploaded
  std::string project;
  std::string display_name;
  std::string pvc_namespace;
  std::string pvc;
  std::string registered_by;  // the user (k8s-sync's token) or "import report"
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

// An import run as `airlock import` reports it (docs/import.md, "The report to the gateway").
struct ImportRecord {
  std::string run_id;  // 32 lower-case hex; the transfer's id
  std::string ns;
  std::string datasource;
  std::string project;
  std::string outcome;  // approved | escalated | denied | failed
  std::string reason;
  std::string location;  // where the importer left the bytes (its PVC path), "" when discarded
  std::string policy_set;
  std::string decision_json;  // the combined runtime::Decision JSON; "" when the import failed
  std::uint64_t total_size = 0;
  std::uint64_t files = 0;
  std::string report_json;  // the whole report, kept as sent
  std::string reporter;     // who posted it
  UnixMillis reported_at = 0;
};

// --- reviewer workspaces
// A reviewer asked for a workspace in which to examine a transfer under review (k8s-sync materialises it).
// One per case: asking again on the same case returns the first request.
struct ReviewerWorkspace {
  std::string transfer_id;
  std::int64_t case_id = 0;
  std::int32_t round = 0;
  std::string requested_by;
  UnixMillis requested_at = 0;
  std::string url;  // from the server's reviews.workspace_url template; may be empty
};

// What the TRANSFER JSON shows about a transfer's review: its latest case (with its votes) and that case's
// reviewer workspace, when there are.
struct TransferReview {
  std::optional<ReviewCase> latest;
  std::optional<ReviewerWorkspace> workspace;
};
// --- end reviewer workspaces

// Error messages that callers map to HTTP statuses start with one of these codes and a colon:
// "not_found: ...", "conflict: ..." (a stale offset or a transition the lifecycle forbids),
// "invalid: ...", "storage: ..." (SQLite or disk failures).
class TransferStore {
 public:
  virtual ~TransferStore() = default;

  // Opens (creating if needed) the database at `path` with WAL, foreign keys, busy timeout, and
  // migrates its schema. ":memory:" is allowed for tests.
  static Result<std::unique_ptr<TransferStore>> open(const std::string& path);

  virtual Result<Transfer> create(const NewTransfer& transfer, UnixMillis now) = 0;  // audit "created"
  virtual Result<Transfer> get(const std::string& id) = 0;
  virtual Result<std::vector<Transfer>> list(const TransferFilter& filter) = 0;

  // Records that bytes [0, new_offset) are durably stored, only if the stored offset is still
  // `expected_offset` ("conflict" otherwise). Not audited (offsets move with every chunk).
  // Only while the transfer is receiving ("conflict" in any other state); "invalid" past a known length.
  virtual Status advance_offset(const std::string& id, std::uint64_t expected_offset, std::uint64_t new_offset,
                                UnixMillis now) = 0;
  // Sets a deferred length once (tus Upload-Length on a later PATCH).
  virtual Status set_length(const std::string& id, std::uint64_t length, UnixMillis now) = 0;

  // Moves the transfer to change.to if the lifecycle allows it from its current state (and, when
  // `expected_from` is given, only from that state), appending the audit event in the same transaction.
  virtual Result<Transfer> transition(const std::string& id, const StateChange& change, UnixMillis now,
                                      std::optional<TransferState> expected_from = std::nullopt) = 0;

  // Appends an audit event that is not a state change (e.g. "downloaded", "comment").
  virtual Status append_event(const std::string& transfer_id, const std::string& actor, const std::string& action,
                              const std::string& detail_json, UnixMillis now) = 0;

  // Unfinished transfers (created/receiving) whose expires_at is before `now`.
  virtual Result<std::vector<Transfer>> expired(UnixMillis now) = 0;
  // Denied/rejected/failed transfers last changed before `before` whose bytes may now be deleted.
  virtual Result<std::vector<Transfer>> retained_before(UnixMillis before) = 0;

  virtual Result<std::vector<AuditEvent>> audit_events(const std::string& transfer_id) = 0;  // empty id: all
  virtual Result<AuditVerification> verify_audit() = 0;

  // --- Reviews (docs/reviews.md). Errors: "not_found:", "invalid:" (bad input), "forbidden:" (separation of
  // duties: the requester voting, a role the case does not list, a second vote, an approval that cannot
  // count, a revocation by someone who is not a governance lead), "conflict:" (the case or transfer is not
  // in a state that allows it). A refused call changes nothing.

  // escalated -> in_review, opening the case (round 1, or one more than the last) with the roles and
  // approvals of the stored decision's `reviewers`, and enqueuing the "escalated" notifications; one
  // transaction. transition() to in_review does the same; this returns the case.
  virtual Result<ReviewCase> start_review(const std::string& transfer_id, const std::string& actor, UnixMillis now) = 0;
  // Casts `voter`'s vote on the open case. A reject closes it (in_review -> rejected), a return sends the
  // transfer back to its requester (in_review -> returned), and the approval that completes the rule of
  // reviews.h approves it (in_review -> approved; the server then releases). Each is one transaction with
  // its audit events and, when the case closes, the "decided" notifications.
  virtual Result<VoteOutcome> vote(const std::string& transfer_id, const Actor& voter, const Vote& vote,
                                   UnixMillis now) = 0;
  // A comment on a transfer that has been in review: by its requester (public only) or by a reviewer who
  // holds a role one of its cases lists (public or private). Audited as "comment".
  virtual Result<Comment> add_comment(const std::string& transfer_id, const Actor& author, const std::string& text,
                                      Visibility visibility, UnixMillis now) = 0;
  // Every comment on the transfer, oldest first; private ones only when `include_private`.
  virtual Result<std::vector<Comment>> comments(const std::string& transfer_id, bool include_private) = 0;
  // The comments `viewer` may read: private ones only for a reviewer of the transfer (not its requester).
  virtual Result<std::vector<Comment>> comments_visible_to(const std::string& transfer_id, const Actor& viewer) = 0;
  // The requester of a returned transfer sends it again: returned -> receiving (new files: offset, length
  // and hash reset) or, with `replace_files` false, returned -> inspecting (the same files judged again).
  // The next escalation opens a new case.
  virtual Result<Transfer> resubmit(const std::string& transfer_id, const Actor& requester, bool replace_files,
                                    UnixMillis now) = 0;
  // A governance lead revokes an approved, released or materialised transfer (-> revoked, with the reason),
  // enqueuing the "revoked" notifications.
  virtual Result<Transfer> revoke(const std::string& transfer_id, const Actor& actor, const std::string& reason,
                                  UnixMillis now) = 0;
  // The transfer's latest case ("not_found" if it never was in review), and every case, oldest first.
  virtual Result<ReviewCase> current_case(const std::string& transfer_id) = 0;
  virtual Result<std::vector<ReviewCase>> review_history(const std::string& transfer_id) = 0;
  // The cases `reviewer` may act on or has acted on (CaseFilter in reviews.h); `now` computes their age.
  virtual Result<std::vector<CaseSummary>> list_cases(const Actor& reviewer, const CaseFilter& filter,
                                                      UnixMillis now) = 0;

  // --- Notification outbox (docs/reviews.md, "Notifications").
  // Which webhooks get which events; set once at start-up (until then nothing is enqueued).
  virtual void set_notification_targets(std::vector<NotificationTarget> targets) = 0;
  // Enqueues `event` for every target that wants it, in its own transaction; returns the delivery ids.
  // The review methods enqueue their own events inside their transactions.
  virtual Result<std::vector<std::int64_t>> enqueue_notification(const std::string& event,
                                                                 const std::string& transfer_id,
                                                                 const std::string& payload_json, UnixMillis now) = 0;
  // Claims up to `limit` pending deliveries due at `now` (oldest first): counts the attempt and hides each
  // from other callers until now + lease, so replicas sharing the database do not send one twice at once.
  // A delivery whose sender dies is claimed again when its lease ends (delivery is at least once).
  virtual Result<std::vector<Notification>> due_deliveries(UnixMillis now, std::size_t limit,
                                                           UnixMillis lease = 60'000) = 0;
  virtual Status mark_delivered(std::int64_t id, UnixMillis now) = 0;
  // Still pending: tried again at `next_attempt_at`.
  virtual Status mark_retry(std::int64_t id, UnixMillis next_attempt_at, const std::string& error, UnixMillis now) = 0;
  // Given up: kept, with the error, for an operator.
  virtual Status mark_failed(std::int64_t id, const std::string& error, UnixMillis now) = 0;
  virtual Result<Notification> notification(std::int64_t id) = 0;

  // --- data sources and imports (docs/api.md "Data sources and imports"). Errors: "invalid:", "not_found:",
  // "conflict:". Data sources are registered by k8s-sync (PUT /api/v1/datasources/NS/NAME); an import report
  // (POST /api/v1/imports) registers its data source as type Import when it is not registered yet.

  // Registers or updates a data source (keyed by namespace and name); idempotent: the same registration again
  // changes nothing and appends no audit event. A change is audited as "datasource_registered" (no transfer).
  virtual Result<DataSourceRecord> register_datasource(const DataSourceRecord& registration, const std::string& actor,
                                                       UnixMillis now) = 0;
  virtual Result<DataSourceRecord> datasource(const std::string& ns, const std::string& name) = 0;
  // The registrations in `ns` (every namespace when empty), ordered by namespace and name.
  virtual Result<std::vector<DataSourceRecord>> datasources(const std::string& ns) = 0;
  // Whether a data source called `name` is registered with type Uploaded in any namespace.
  virtual Result<bool> accepts_uploads(const std::string& name) = 0;
  // Records an import run as a transfer of channel "import" whose id is the run id, in one transaction with its
  // audit events: approved -> released (the importer released it), denied, failed, or escalated -> in_review
  // (a case opens, as for an upload). The same run reported again returns the stored transfer unchanged
  // ("conflict:" when it names another data source).
  virtual Result<Transfer> record_import(const ImportRecord& record, UnixMillis now) = 0;
  // The stored report of an import run ("not_found:" for another transfer).
  virtual Result<ImportRecord> import_record(const std::string& run_id) = 0;

  // --- reviewer workspaces (docs/reviews.md "Reviewer workspaces"). A reviewer of the transfer's open case
  // (not its requester, holding a role the case lists) asks for a workspace: recorded with the case and
  // audited as "reviewer_workspace_requested", in one transaction. "conflict:" when the transfer has no open
  // case, "forbidden:" for anyone else. Asking again on the same case returns the first request unchanged
  // (`created` false) and appends nothing.
  struct WorkspaceRequest {
    ReviewerWorkspace workspace;
    bool created = false;
  };
  virtual Result<WorkspaceRequest> request_reviewer_workspace(const std::string& transfer_id, const Actor& reviewer,
                                                              const std::string& url, UnixMillis now) = 0;
  // The workspace requested for the transfer's latest case ("not_found:" when none was).
  virtual Result<ReviewerWorkspace> reviewer_workspace(const std::string& transfer_id) = 0;
  // The latest case (with its votes and tally) and its workspace for each of `transfer_ids`, in a fixed number
  // of queries however many there are (for transfer lists); transfers never reviewed are left out of the map.
  virtual Result<std::map<std::string, TransferReview>> transfer_reviews(
      const std::vector<std::string>& transfer_ids) = 0;
  // --- end reviewer workspaces
};

// The hash of the event before the first one.
inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

// SHA-256 (lower-case hex) over event.previous_hash and the event's fields, each as a netstring
// (docs/audit.md defines it so that an auditor can recompute it). Ignores event.hash.
std::string audit_event_hash(const AuditEvent& event);

// Verifies the audit chain of a database file without opening it for writing (`airlock audit verify`).
Result<AuditVerification> verify_audit_file(const std::string& path);
// Reads the audit events of a database file read-only, in sequence order (`airlock audit list`);
// an empty `transfer_id` reads them all.
Result<std::vector<AuditEvent>> read_audit_file(const std::string& path, const std::string& transfer_id = {});

}  // namespace airlock::gateway
