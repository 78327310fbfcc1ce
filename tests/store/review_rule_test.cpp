// The approval rule of reviews.h, checked exhaustively on small cases against brute-force definitions:
// a case approves iff every listed role is filled by a different approver holding it and there are at least
// N distinct approvers; an approval is accepted iff it can be part of a set of N approvers that approves.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "airlock/gateway/reviews.h"

namespace airlock::gateway {
namespace {

const std::vector<std::string> kUniverse = {"a", "b", "c"};

std::vector<std::string> subset(unsigned mask) {
  std::vector<std::string> roles;
  for (std::size_t i = 0; i < kUniverse.size(); ++i) {
    if (mask & (1u << i)) roles.push_back(kUniverse[i]);
  }
  return roles;
}

// Whether every role can be given to a different approver who holds it (tries every assignment).
bool every_role_filled(const std::vector<std::string>& roles, const std::vector<Actor>& approvers) {
  std::vector<bool> used(approvers.size(), false);
  std::function<bool(std::size_t)> fill = [&](std::size_t r) {
    if (r == roles.size()) return true;
    for (std::size_t a = 0; a < approvers.size(); ++a) {
      if (used[a] || !approvers[a].has_role(roles[r])) continue;
      used[a] = true;
      if (fill(r + 1)) return true;
      used[a] = false;
    }
    return false;
  };
  return fill(0);
}

bool approves(const std::vector<std::string>& roles, std::size_t n, const std::vector<Actor>& approvers) {
  return approvers.size() >= n && every_role_filled(roles, approvers);
}

// Whether some set of exactly n approvers that approves contains `approvers` (newcomers may hold any one
// role; they are tried as combinations, since their order does not matter).
bool completable_to_exactly(const std::vector<std::string>& roles, std::size_t n, std::vector<Actor>& approvers,
                            std::size_t first_role = 0) {
  if (approvers.size() > n) return false;
  if (approvers.size() == n) return every_role_filled(roles, approvers);
  for (std::size_t r = first_role; r < roles.size(); ++r) {
    approvers.push_back({"newcomer", {roles[r]}});
    const bool found = completable_to_exactly(roles, n, approvers, r);
    approvers.pop_back();
    if (found) return true;
  }
  return false;
}

// Every sequence of up to five voters, each holding any set of roles (also roles the case does not list),
// with the approvals accepted so far; counts the approvals checked.
void explore(const std::vector<std::string>& roles, unsigned role_mask, std::size_t n, std::vector<Actor>& accepted,
             int step, int& checked) {
  if (step == 5) return;
  for (unsigned held = 0; held < 8; ++held) {
    Actor voter{"voter-" + std::to_string(step), subset(held)};
    std::vector<Actor> with = accepted;
    with.push_back(voter);
    const bool expected = (held & role_mask) != 0 && completable_to_exactly(roles, n, with);
    const bool counts = approval_counts(roles, static_cast<std::uint32_t>(n), accepted, voter);
    ASSERT_EQ(counts, expected) << "roles mask " << role_mask << ", N " << n << ", step " << step << ", held " << held;
    ++checked;
    if (!counts) continue;  // what may follow a refusal is explored from the same approvals by this loop
    accepted.push_back(voter);
    ApprovalTally tally = tally_approvals(roles, static_cast<std::uint32_t>(n), accepted);
    ASSERT_EQ(tally.complete, approves(roles, n, accepted));
    ASSERT_EQ(tally.approvers, accepted.size());
    // The reported assignment is a real one: distinct people, each holding the role they fill.
    std::set<std::string> people;
    std::set<std::string> covered;
    for (const RoleFill& fill : tally.roles_filled) {
      ASSERT_TRUE(people.insert(fill.user).second) << fill.user << " fills two roles";
      auto holder = std::find_if(accepted.begin(), accepted.end(), [&](const Actor& a) { return a.user == fill.user; });
      ASSERT_NE(holder, accepted.end());
      ASSERT_TRUE(holder->has_role(fill.role));
      covered.insert(fill.role);
    }
    for (const std::string& missing : tally.roles_missing) covered.insert(missing);
    ASSERT_EQ(covered.size(), roles.size());
    ASSERT_EQ(tally.roles_filled.size() + tally.roles_missing.size(), roles.size());
    if (tally.complete) {
      EXPECT_EQ(accepted.size(), n);  // never more approvals than the decision requires
    } else {
      // Never stuck: a new holder of any missing role is accepted (of any role, once every role is filled).
      const std::vector<std::string>& wanted = tally.roles_missing.empty() ? roles : tally.roles_missing;
      ASSERT_LT(accepted.size(), n);
      for (const std::string& role : wanted) {
        EXPECT_TRUE(approval_counts(roles, static_cast<std::uint32_t>(n), accepted, Actor{"fresh", {role}}));
      }
      explore(roles, role_mask, n, accepted, step + 1, checked);
    }
    accepted.pop_back();
  }
}

TEST(ApprovalRule, MatchesItsBruteForceDefinitionOnEverySmallCase) {
  int checked = 0;
  for (unsigned role_mask = 1; role_mask < 8; ++role_mask) {
    const std::vector<std::string> roles = subset(role_mask);
    for (std::size_t n = roles.size(); n <= roles.size() + 2; ++n) {
      std::vector<Actor> accepted;
      explore(roles, role_mask, n, accepted, 0, checked);
    }
  }
  EXPECT_GT(checked, 30000);  // 34,056 approvals checked
}

TEST(ApprovalRule, MovesAnEarlierApproverToLetALaterOneFillARole) {
  // ann holds both roles and took "a"; bob holds only "a": ann moves to "b", and two people approve.
  std::vector<Actor> approvers = {{"ann", {"a", "b"}}};
  Actor bob{"bob", {"a"}};
  ASSERT_TRUE(approval_counts({"a", "b"}, 2, approvers, bob));
  approvers.push_back(bob);
  ApprovalTally tally = tally_approvals({"a", "b"}, 2, approvers);
  EXPECT_TRUE(tally.complete);
  EXPECT_EQ(tally.roles_filled, (std::vector<RoleFill>{{"a", "bob"}, {"b", "ann"}}));
}

TEST(ApprovalRule, OnePersonHoldingTwoRolesFillsOnlyOne) {
  ApprovalTally tally = tally_approvals({"a", "b"}, 2, {{"ann", {"a", "b"}}});
  EXPECT_FALSE(tally.complete);
  EXPECT_EQ(tally.roles_filled, (std::vector<RoleFill>{{"a", "ann"}}));
  EXPECT_EQ(tally.roles_missing, (std::vector<std::string>{"b"}));
  EXPECT_EQ(tally.approvers, 1u);
}

TEST(ApprovalRule, RefusesAnApprovalThatWouldLeaveTooFewSlotsForTheMissingRoles) {
  // Two roles, three approvals: one extra approval beyond the roles is allowed, a second is not.
  std::vector<Actor> approvers = {{"ann", {"a"}}, {"bob", {"a"}}};
  EXPECT_FALSE(tally_approvals({"a", "b"}, 3, approvers).complete);
  EXPECT_FALSE(approval_counts({"a", "b"}, 3, approvers, Actor{"cat", {"a"}}));
  EXPECT_TRUE(approval_counts({"a", "b"}, 3, approvers, Actor{"cat", {"b"}}));
  EXPECT_FALSE(approval_counts({"a", "b"}, 3, approvers, Actor{"cat", {"z"}}));  // no listed role
  EXPECT_FALSE(approval_counts({"a", "b"}, 3, approvers, Actor{"ann", {"b"}}));  // already approved
}

TEST(ApprovalRule, NeedsNDistinctApproversEvenWhenOneRoleIsListed) {
  std::vector<Actor> approvers = {{"ann", {"data-approver"}}};
  EXPECT_FALSE(tally_approvals({"data-approver"}, 2, approvers).complete);
  approvers.push_back({"bob", {"data-approver"}});
  EXPECT_TRUE(tally_approvals({"data-approver"}, 2, approvers).complete);
}

TEST(ReviewNames, RoundTripEveryName) {
  for (VoteKind kind : {VoteKind::kApprove, VoteKind::kReject, VoteKind::kReturn}) {
    EXPECT_EQ(parse_vote_kind(vote_kind_name(kind)), kind);
  }
  for (Visibility visibility : {Visibility::kPublic, Visibility::kPrivate}) {
    EXPECT_EQ(parse_visibility(visibility_name(visibility)), visibility);
  }
  for (CaseStatus status : {CaseStatus::kOpen, CaseStatus::kApproved, CaseStatus::kRejected, CaseStatus::kReturned,
                            CaseStatus::kCancelled}) {
    EXPECT_EQ(parse_case_status(case_status_name(status)), status);
  }
  EXPECT_EQ(parse_vote_kind("approved"), std::nullopt);
  EXPECT_EQ(parse_visibility("secret"), std::nullopt);
  EXPECT_EQ(delivery_state_name(DeliveryState::kFailed), "failed");
}

}  // namespace
}  // namespace airlock::gateway
