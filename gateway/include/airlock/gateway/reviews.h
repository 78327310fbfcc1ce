// The review workflow's data and rules (docs/reviews.md): a case per escalated transfer, votes, comments,
// revocation, the cases a reviewer may act on, and the notification outbox. The store methods that use
// these types are in store.h; the approval rule itself is a pure function here, so it can be tested alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/transfer.h"

namespace airlock::gateway {

// The role a decision escalates to when it names none (LANGUAGE.md), and the role that may revoke.
inline constexpr std::string_view kDefaultReviewerRole = "data-approver";
inline constexpr std::string_view kGovernanceLeadRole = "governance-lead";
inline constexpr std::uint32_t kMaxApprovals = 20;       // as the policy language allows
inline constexpr std::size_t kMaxCommentBytes = 10'000;  // a comment or a revocation reason
inline constexpr std::size_t kMaxCaseListLimit = 1000;

// Who acts: a user id and the roles their token carries at the time of the request.
struct Actor {
  std::string user;
  std::vector<std::string> roles;
  bool has_role(std::string_view role) const;
};

enum class VoteKind : std::uint8_t { kApprove, kReject, kReturn };
std::string_view vote_kind_name(VoteKind kind);  // "approve", "reject", "return"
std::optional<VoteKind> parse_vote_kind(std::string_view name);

// Public comments are shown to the requester; private ones only to reviewers.
enum class Visibility : std::uint8_t { kPublic, kPrivate };
std::string_view visibility_name(Visibility visibility);  // "public", "private"
std::optional<Visibility> parse_visibility(std::string_view name);

struct Vote {
  VoteKind kind = VoteKind::kApprove;
  std::string comment;                          // optional for approve; required for reject and return
  Visibility visibility = Visibility::kPublic;  // a return's comment must be public (it goes to the requester)
};

// kCancelled: the transfer left in_review other than by a vote (it failed, or a direct transition()).
enum class CaseStatus : std::uint8_t { kOpen, kApproved, kRejected, kReturned, kCancelled };
std::string_view case_status_name(CaseStatus status);  // "open", "approved", ...
std::optional<CaseStatus> parse_case_status(std::string_view name);

// A listed role and the approver who fills it.
struct RoleFill {
  std::string role;
  std::string user;
  friend bool operator==(const RoleFill&, const RoleFill&) = default;
};

struct VoteRecord {
  std::string voter;
  std::vector<std::string> roles;  // the voter's roles that the case lists, when the vote was cast (sorted)
  VoteKind kind = VoteKind::kApprove;
  std::int64_t comment_id = 0;  // 0: the vote carried no comment
  UnixMillis at = 0;
};

// The approval rule (docs/reviews.md, "The approval rule"). A case with roles R and N required approvals
// (N >= |R|) is approved when its approvers can fill every role of R, each role by a different person
// (a matching of roles to approvers, each approver holding the role they fill), and there are at least N
// distinct approvers. An approval is accepted only when it can still count: after it, the approvers that
// no role assignment needs must not outnumber the approvals beyond the roles (N - |R|). So an approved case
// has exactly N approvers, and a case never gets stuck: a holder of any missing role can always approve.
struct ApprovalTally {
  std::vector<RoleFill> roles_filled;      // in the order of the sorted roles
  std::vector<std::string> roles_missing;  // sorted
  std::size_t approvers = 0;               // distinct approvers
  bool complete = false;
};
// `approvers` in the order their approvals were cast; each holds at least one role of `roles`.
// The assignment is deterministic: approvers in order, each taking the first free role (sorted) it holds,
// re-routing earlier approvers only when that lets a later one fill a role (augmenting paths).
ApprovalTally tally_approvals(const std::vector<std::string>& roles, std::uint32_t approvals_required,
                              const std::vector<Actor>& approvers);
// Whether `candidate` approving would be accepted under the rule above (they must hold a listed role).
bool approval_counts(const std::vector<std::string>& roles, std::uint32_t approvals_required,
                     const std::vector<Actor>& approvers, const Actor& candidate);

// One round of review of one transfer. A returned and resubmitted transfer gets a new case (round + 1):
// the votes of earlier rounds are kept but do not count.
struct ReviewCase {
  std::int64_t id = 0;
  std::string transfer_id;
  std::int32_t round = 1;
  std::vector<std::string> roles;        // sorted, unique
  std::uint32_t approvals_required = 1;  // >= roles.size()
  CaseStatus status = CaseStatus::kOpen;
  std::string opened_by;
  UnixMillis opened_at = 0;
  UnixMillis closed_at = 0;       // 0 while open
  std::vector<VoteRecord> votes;  // in the order cast
  ApprovalTally tally;            // of the approve votes
};

struct Comment {
  std::int64_t id = 0;
  std::string transfer_id;
  std::int64_t case_id = 0;  // the round it was written in
  std::int32_t round = 0;
  std::string author;
  bool by_requester = false;
  Visibility visibility = Visibility::kPublic;
  std::string text;
  UnixMillis at = 0;
};

// What a vote did: the case and transfer after it. `decided` when the vote closed the case.
struct VoteOutcome {
  ReviewCase review;
  Transfer transfer;
  bool decided = false;
};

// Which cases list_cases() returns. Every view shows only cases the reviewer may act on (they hold a role
// the case lists and did not request the transfer) or has acted on (voted).
enum class CaseView : std::uint8_t {
  kToReview,  // open, the reviewer may vote, and has not voted yet
  kOpen,      // open
  kClosed,    // approved, rejected, returned or cancelled
  kAll,
};
enum class CaseOrder : std::uint8_t { kOldestFirst, kNewestFirst };  // by when the case opened

struct CaseFilter {
  CaseView view = CaseView::kToReview;
  std::optional<std::string> workspace;
  std::optional<std::string> role;  // only cases that list this role
  CaseOrder order = CaseOrder::kOldestFirst;
  std::size_t limit = 100;      // at most kMaxCaseListLimit
  std::int64_t after_case = 0;  // paging: the last case id of the previous page (0: the first page)
};

struct CaseSummary {
  std::int64_t case_id = 0;
  std::string transfer_id;
  std::int32_t round = 1;
  std::string channel;
  std::string filename;
  std::string workspace;
  std::string datasource;
  std::string requester;
  TransferState transfer_state = TransferState::kInReview;
  CaseStatus status = CaseStatus::kOpen;
  std::vector<std::string> roles_required;
  std::vector<RoleFill> roles_filled;
  std::vector<std::string> roles_missing;
  std::uint32_t approvals = 0;  // distinct approvers so far
  std::uint32_t approvals_required = 1;
  UnixMillis opened_at = 0;
  UnixMillis closed_at = 0;
  UnixMillis age = 0;               // milliseconds open: (closed_at, or now) - opened_at
  std::optional<VoteKind> my_vote;  // the listing reviewer's vote on this case, if any
};

// Notifications (webhooks). Which webhooks exist is the server's configuration; the store keeps one
// delivery per (event, target), enqueued in the same transaction as the event, so a restart loses none.
inline constexpr std::string_view kEventEscalated = "escalated";  // a review case opened
inline constexpr std::string_view kEventDecided = "decided";      // a case approved, rejected or returned
inline constexpr std::string_view kEventRevoked = "revoked";

struct NotificationTarget {
  std::string name;                 // the webhook's name in the server's configuration (or its URL)
  std::vector<std::string> events;  // the events it wants; empty: every event
};

enum class DeliveryState : std::uint8_t { kPending, kDelivered, kFailed };
std::string_view delivery_state_name(DeliveryState state);  // "pending", "delivered", "failed"

struct Notification {
  std::int64_t id = 0;  // unique: send it with the delivery so receivers can drop duplicates
  std::string event;
  std::string transfer_id;  // empty for an event about no transfer
  std::string target;
  std::string payload_json;
  DeliveryState state = DeliveryState::kPending;
  std::int32_t attempts = 0;  // deliveries started (claimed by due_deliveries)
  UnixMillis next_attempt_at = 0;
  std::string last_error;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

}  // namespace airlock::gateway
