// Reviewers voting at the same time, each through their own connection (as gateway replicas would):
// the last needed approval is won exactly once, and the loser's vote is not recorded.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "airlock/gateway/reviews.h"
#include "airlock/gateway/store.h"
#include "store_test_support.h"

namespace airlock::gateway {
namespace {

using S = TransferState;
using store_test::open_store;
using store_test::to;
using store_test::upload_request;

constexpr UnixMillis kNow = 1'780'000'000'000;

TEST(ReviewConcurrency, TwoReviewersRacingForTheLastApprovalMakeExactlyOneDecision) {
  store_test::TempDir dir;
  const std::string path = dir.file("airlock.db");
  auto setup = open_store(path);
  setup->set_notification_targets({{"reviewers-channel", {}}});
  constexpr int kTransfers = 12;
  std::vector<std::string> ids;
  for (int i = 0; i < kTransfers; ++i) {
    Transfer transfer = setup->create(upload_request(), kNow).value();
    for (S step : {S::kReceiving, S::kInspecting}) ASSERT_TRUE(setup->transition(transfer.id, to(step), kNow));
    StateChange decided = to(S::kDecided);
    decided.decision_json = R"({"reviewers": {"roles": ["data-approver"], "approvals": 2}})";
    ASSERT_TRUE(setup->transition(transfer.id, decided, kNow));
    ASSERT_TRUE(setup->transition(transfer.id, to(S::kEscalated), kNow));
    ASSERT_TRUE(setup->start_review(transfer.id, "system", kNow));
    ASSERT_TRUE(setup->vote(transfer.id, {"ann", {"data-approver"}}, {}, kNow));  // one of two approvals
    ids.push_back(transfer.id);
  }

  std::vector<std::atomic<int>> wins(kTransfers);
  std::atomic<int> unexpected{0};
  std::barrier start(2);
  std::vector<std::thread> threads;
  for (const std::string reviewer : {"bob", "cat"}) {
    threads.emplace_back([&, reviewer] {
      auto store = open_store(path);
      store->set_notification_targets({{"reviewers-channel", {}}});  // as every replica is configured
      for (int i = 0; i < kTransfers; ++i) {
        start.arrive_and_wait();  // both vote on transfer i together
        Result<VoteOutcome> outcome =
            store->vote(ids[static_cast<std::size_t>(i)], {reviewer, {"data-approver"}}, {}, kNow + 1);
        if (outcome && outcome->decided) {
          ++wins[static_cast<std::size_t>(i)];
        } else if (outcome || !outcome.message().starts_with("conflict:")) {
          ++unexpected;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  for (int i = 0; i < kTransfers; ++i) {
    const std::string& id = ids[static_cast<std::size_t>(i)];
    EXPECT_EQ(wins[static_cast<std::size_t>(i)].load(), 1) << "transfer " << i;
    EXPECT_EQ(setup->get(id)->state, S::kApproved);
    ReviewCase review = setup->current_case(id).value();
    EXPECT_EQ(review.votes.size(), 2u);  // ann and the winner; the loser's vote was not recorded
    int approvals = 0;
    int votes = 0;
    const std::vector<AuditEvent> events = setup->audit_events(id).value();
    for (const AuditEvent& event : events) {
      if (event.action == "state" && event.to_state == "approved") ++approvals;
      if (event.action == "vote") ++votes;
    }
    EXPECT_EQ(approvals, 1);
    EXPECT_EQ(votes, 2);
  }
  // One "escalated" and one "decided" notification per transfer.
  std::vector<Notification> due = setup->due_deliveries(kNow + 10, 1000).value();
  EXPECT_EQ(due.size(), 2u * kTransfers);
  Result<AuditVerification> verification = setup->verify_audit();
  ASSERT_TRUE(verification);
  EXPECT_TRUE(verification->intact) << verification->problem;
}

}  // namespace
}  // namespace airlock::gateway
