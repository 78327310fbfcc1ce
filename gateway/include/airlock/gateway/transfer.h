// A transfer and its lifecycle (DESIGN.md "The transfer lifecycle").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::gateway {

enum class TransferState : std::uint8_t {
  kCreated,       // registered; no bytes yet
  kReceiving,     // bytes arriving (tus PATCH)
  kInspecting,    // all bytes in; inspectors finishing (archive listing, scan verdict)
  kDecided,       // the policy decision is stored; moves on at once to approved/denied/escalated
  kApproved,
  kReleased,      // bytes moved from quarantine to the released area
  kMaterialised,  // k8s-sync made it visible in the workspace
  kDenied,
  kEscalated,
  kInReview,
  kRejected,
  kReturned,      // back to the requester with comments
  kFailed,        // with a reason; `retryable` says whether a retry may help
  kRevoked,
};

std::string_view state_name(TransferState state);  // "created", "in_review", ...
std::optional<TransferState> parse_state(std::string_view name);

// Whether the lifecycle allows `from` -> `to`. Any state may go to kFailed; terminal states
// (denied, rejected, failed, revoked, materialised is not terminal: it may be revoked) stay put.
bool transition_allowed(TransferState from, TransferState to);
// Denied, rejected and revoked: no transition leaves them. (Failed is final unless the failure is
// retryable, when it may go back to receiving; the store checks `Transfer::retryable` for that edge.)
bool is_terminal(TransferState state);

// Milliseconds since the Unix epoch. The store never reads a clock: callers pass the time.
using UnixMillis = std::int64_t;

struct Transfer {
  std::string id;           // server-generated, 32 lower-case hex characters
  std::string channel;      // upload | import | egress
  std::string owner;        // the requester's user id
  std::string workspace;
  std::string datasource;
  std::string project;
  std::string filename;     // as the client declared it (never used as a path)
  std::string declared_type;
  std::string justification;
  std::optional<std::uint64_t> length;  // total bytes; nullopt while deferred (tus creation-defer-length)
  std::uint64_t offset = 0;             // bytes durably received
  TransferState state = TransferState::kCreated;
  std::string reason;          // why it is in its state (a denial's reason, a failure's cause)
  bool retryable = false;      // for kFailed
  std::string decision_json;   // the latest Decision::to_json(), empty before the decision
  std::string facts_json;      // the facts the decision was made on
  std::string sha256;          // of the whole file, once received
  std::string metadata_json;   // the client's Upload-Metadata as a JSON object of strings
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
  UnixMillis expires_at = 0;   // an unfinished upload past this is cleaned up (tus expiration); 0 = never
};

struct AuditEvent {
  std::int64_t sequence = 0;   // 1, 2, 3, ... across the whole log
  UnixMillis at = 0;
  std::string transfer_id;     // empty for events about no transfer
  std::string actor;           // user id, or "system"
  std::string action;          // "created", "state", "offset"? (no: offsets are not audited), "decision", ...
  std::string from_state;
  std::string to_state;
  std::string detail_json;     // an object with the event's particulars
  std::string previous_hash;   // hash of the event before (64 zeros for the first)
  std::string hash;            // SHA-256 over previous_hash and this event's fields (see audit.md)
};

}  // namespace airlock::gateway
