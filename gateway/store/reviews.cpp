// The review workflow's names and its approval rule (reviews.h, docs/reviews.md "The approval rule").
#include "airlock/gateway/reviews.h"

#include <algorithm>
#include <array>
#include <utility>

namespace airlock::gateway {
namespace {

constexpr std::array<std::pair<VoteKind, std::string_view>, 3> kVoteKinds{{
    {VoteKind::kApprove, "approve"},
    {VoteKind::kReject, "reject"},
    {VoteKind::kReturn, "return"},
}};

constexpr std::array<std::pair<Visibility, std::string_view>, 2> kVisibilities{{
    {Visibility::kPublic, "public"},
    {Visibility::kPrivate, "private"},
}};

constexpr std::array<std::pair<CaseStatus, std::string_view>, 5> kCaseStatuses{{
    {CaseStatus::kOpen, "open"},
    {CaseStatus::kApproved, "approved"},
    {CaseStatus::kRejected, "rejected"},
    {CaseStatus::kReturned, "returned"},
    {CaseStatus::kCancelled, "cancelled"},
}};

constexpr std::array<std::pair<DeliveryState, std::string_view>, 3> kDeliveryStates{{
    {DeliveryState::kPending, "pending"},
    {DeliveryState::kDelivered, "delivered"},
    {DeliveryState::kFailed, "failed"},
}};

template <typename Enum, std::size_t kSize>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, kSize>& names, Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "unknown";
}

template <typename Enum, std::size_t kSize>
std::optional<Enum> parse_name(const std::array<std::pair<Enum, std::string_view>, kSize>& names,
                               std::string_view text) {
  for (const auto& [value, name] : names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

// A maximum matching of roles to approvers, found deterministically (see tally_approvals in reviews.h).
class RoleMatching {
 public:
  RoleMatching(const std::vector<std::string>& roles, const std::vector<Actor>& approvers)
      : roles_(roles),
        holds_(approvers.size(), std::vector<bool>(roles.size(), false)),
        filled_by_(roles.size(), kNone) {
    for (std::size_t a = 0; a < approvers.size(); ++a) {
      for (std::size_t r = 0; r < roles.size(); ++r) holds_[a][r] = approvers[a].has_role(roles[r]);
    }
    for (std::size_t a = 0; a < approvers.size(); ++a) {
      if (take_free_role(a)) continue;
      std::vector<bool> visited(roles.size(), false);
      (void)augment(a, visited);
    }
  }

  std::size_t size() const {
    return static_cast<std::size_t>(
        std::count_if(filled_by_.begin(), filled_by_.end(), [](std::size_t a) { return a != kNone; }));
  }
  // The approver index filling role r, or kNone.
  std::size_t filled_by(std::size_t r) const { return filled_by_[r]; }

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

 private:
  bool take_free_role(std::size_t a) {
    for (std::size_t r = 0; r < roles_.size(); ++r) {
      if (holds_[a][r] && filled_by_[r] == kNone) {
        filled_by_[r] = a;
        return true;
      }
    }
    return false;
  }

  // Kuhn's augmenting path: give `a` a role, moving the approver who holds it to another role.
  bool augment(std::size_t a, std::vector<bool>& visited) {
    for (std::size_t r = 0; r < roles_.size(); ++r) {
      if (!holds_[a][r] || visited[r]) continue;
      visited[r] = true;
      if (filled_by_[r] == kNone || augment(filled_by_[r], visited)) {
        filled_by_[r] = a;
        return true;
      }
    }
    return false;
  }

  const std::vector<std::string>& roles_;
  std::vector<std::vector<bool>> holds_;
  std::vector<std::size_t> filled_by_;
};

std::vector<std::string> sorted_unique(std::vector<std::string> roles) {
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
  return roles;
}

std::size_t effective_approvals(const std::vector<std::string>& roles, std::uint32_t approvals_required) {
  return std::max<std::size_t>({approvals_required, roles.size(), 1});
}

}  // namespace

bool Actor::has_role(std::string_view role) const { return std::find(roles.begin(), roles.end(), role) != roles.end(); }

std::string_view vote_kind_name(VoteKind kind) { return name_of(kVoteKinds, kind); }
std::optional<VoteKind> parse_vote_kind(std::string_view name) { return parse_name(kVoteKinds, name); }
std::string_view visibility_name(Visibility visibility) { return name_of(kVisibilities, visibility); }
std::optional<Visibility> parse_visibility(std::string_view name) { return parse_name(kVisibilities, name); }
std::string_view case_status_name(CaseStatus status) { return name_of(kCaseStatuses, status); }
std::optional<CaseStatus> parse_case_status(std::string_view name) { return parse_name(kCaseStatuses, name); }
std::string_view delivery_state_name(DeliveryState state) { return name_of(kDeliveryStates, state); }

ApprovalTally tally_approvals(const std::vector<std::string>& roles_given, std::uint32_t approvals_required,
                              const std::vector<Actor>& approvers) {
  const std::vector<std::string> roles = sorted_unique(roles_given);
  RoleMatching matching(roles, approvers);
  ApprovalTally tally;
  for (std::size_t r = 0; r < roles.size(); ++r) {
    std::size_t a = matching.filled_by(r);
    if (a == RoleMatching::kNone) {
      tally.roles_missing.push_back(roles[r]);
    } else {
      tally.roles_filled.push_back({roles[r], approvers[a].user});
    }
  }
  std::vector<std::string> users;
  for (const Actor& approver : approvers) users.push_back(approver.user);
  tally.approvers = sorted_unique(std::move(users)).size();
  tally.complete = tally.roles_missing.empty() && tally.approvers >= effective_approvals(roles, approvals_required);
  return tally;
}

bool approval_counts(const std::vector<std::string>& roles_given, std::uint32_t approvals_required,
                     const std::vector<Actor>& approvers, const Actor& candidate) {
  const std::vector<std::string> roles = sorted_unique(roles_given);
  if (std::none_of(roles.begin(), roles.end(), [&](const std::string& role) { return candidate.has_role(role); })) {
    return false;
  }
  if (std::any_of(approvers.begin(), approvers.end(), [&](const Actor& a) { return a.user == candidate.user; })) {
    return false;
  }
  std::vector<Actor> after = approvers;
  after.push_back(candidate);
  RoleMatching matching(roles, after);
  // Approvers that no role assignment needs may only use the approvals beyond the roles.
  const std::size_t unassigned = after.size() - matching.size();
  return unassigned <= effective_approvals(roles, approvals_required) - roles.size();
}

}  // namespace airlock::gateway
