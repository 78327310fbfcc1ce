#include "airlock/gateway/transfer.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

namespace airlock::gateway {
namespace {

using S = TransferState;

const std::vector<S> kAllStates = {S::kCreated,  S::kReceiving,    S::kInspecting, S::kDecided,   S::kApproved,
                                   S::kReleased, S::kMaterialised, S::kDenied,     S::kEscalated, S::kInReview,
                                   S::kRejected, S::kReturned,     S::kFailed,     S::kRevoked};

// The lifecycle of DESIGN.md, written out edge by edge (independently of the implementation's switch).
const std::set<std::pair<S, S>> kAllowed = {
    {S::kCreated, S::kReceiving},
    {S::kCreated, S::kDenied},
    {S::kReceiving, S::kInspecting},
    {S::kReceiving, S::kDenied},
    {S::kInspecting, S::kDecided},
    {S::kDecided, S::kApproved},
    {S::kDecided, S::kDenied},
    {S::kDecided, S::kEscalated},
    {S::kEscalated, S::kInReview},
    {S::kInReview, S::kApproved},
    {S::kInReview, S::kRejected},
    {S::kInReview, S::kReturned},
    {S::kReturned, S::kReceiving},
    {S::kReturned, S::kInspecting},
    {S::kApproved, S::kReleased},
    {S::kReleased, S::kMaterialised},
    {S::kApproved, S::kRevoked},
    {S::kReleased, S::kRevoked},
    {S::kMaterialised, S::kRevoked},
    {S::kFailed, S::kReceiving},
    // Every state that is not final may fail.
    {S::kCreated, S::kFailed},
    {S::kReceiving, S::kFailed},
    {S::kInspecting, S::kFailed},
    {S::kDecided, S::kFailed},
    {S::kApproved, S::kFailed},
    {S::kReleased, S::kFailed},
    {S::kMaterialised, S::kFailed},
    {S::kEscalated, S::kFailed},
    {S::kInReview, S::kFailed},
    {S::kReturned, S::kFailed},
};

TEST(TransferState, EveryNameRoundTrips) {
  std::set<std::string_view> names;
  for (S state : kAllStates) {
    std::string_view name = state_name(state);
    names.insert(name);
    ASSERT_EQ(parse_state(name), state) << name;
  }
  EXPECT_EQ(names.size(), kAllStates.size());
  EXPECT_EQ(state_name(S::kInReview), "in_review");
  EXPECT_EQ(state_name(S::kMaterialised), "materialised");
}

TEST(TransferState, UnknownNamesDoNotParse) {
  EXPECT_EQ(parse_state("In_Review"), std::nullopt);
  EXPECT_EQ(parse_state(""), std::nullopt);
  EXPECT_EQ(parse_state("unknown"), std::nullopt);
}

TEST(TransferLifecycle, AllowsExactlyTheEdgesOfTheDesign) {
  for (S from : kAllStates) {
    for (S to : kAllStates) {
      bool expected = kAllowed.count({from, to}) > 0;
      EXPECT_EQ(transition_allowed(from, to), expected) << state_name(from) << " -> " << state_name(to);
    }
  }
}

TEST(TransferLifecycle, FinalStatesHaveNoWayOut) {
  for (S state : {S::kDenied, S::kRejected, S::kRevoked}) {
    EXPECT_TRUE(is_terminal(state)) << state_name(state);
    for (S to : kAllStates)
      EXPECT_FALSE(transition_allowed(state, to)) << state_name(state) << " -> " << state_name(to);
  }
  EXPECT_FALSE(is_terminal(S::kMaterialised));  // it may still be revoked
  EXPECT_FALSE(is_terminal(S::kFailed));        // a retryable failure goes back to receiving
}

TEST(TransferLifecycle, NoStateMovesToItself) {
  for (S state : kAllStates) EXPECT_FALSE(transition_allowed(state, state)) << state_name(state);
}

TEST(TransferLifecycle, NothingSkipsTheDecision) {
  EXPECT_FALSE(transition_allowed(S::kReceiving, S::kApproved));
  EXPECT_FALSE(transition_allowed(S::kInspecting, S::kApproved));
  EXPECT_FALSE(transition_allowed(S::kEscalated, S::kApproved));
  EXPECT_FALSE(transition_allowed(S::kCreated, S::kReleased));
  EXPECT_FALSE(transition_allowed(S::kDenied, S::kReleased));
}

}  // namespace
}  // namespace airlock::gateway
