// The notification outbox: deliveries enqueued with the events that cause them, claimed with a lease,
// retried, failed or delivered, and kept across a restart.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
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

std::string escalate_and_review(TransferStore& store, std::uint32_t approvals = 1) {
  Transfer transfer = store.create(upload_request("alice"), kNow).value();
  EXPECT_TRUE(store.transition(transfer.id, to(S::kReceiving), kNow));
  EXPECT_TRUE(store.transition(transfer.id, to(S::kInspecting), kNow));
  StateChange decided = to(S::kDecided);
  decided.decision_json =
      nlohmann::json{{"reviewers", {{"roles", {"data-approver"}}, {"approvals", approvals}}}}.dump();
  EXPECT_TRUE(store.transition(transfer.id, decided, kNow));
  EXPECT_TRUE(store.transition(transfer.id, to(S::kEscalated), kNow));
  EXPECT_TRUE(store.start_review(transfer.id, "system", kNow + 1));
  return transfer.id;
}

const Actor kAnn{"ann", {"data-approver"}};
const Actor kLead{"gina", {"governance-lead"}};

TEST(Outbox, EachEventIsEnqueuedForEveryTargetThatWantsIt) {
  auto store = open_store(":memory:");
  store->set_notification_targets({{"teams", {}}, {"email-bridge", {"escalated"}}, {"", {}}});
  std::string id = escalate_and_review(*store);
  std::vector<Notification> due = store->due_deliveries(kNow + 1, 100).value();
  ASSERT_EQ(due.size(), 2u);  // teams and the email bridge; the nameless target is ignored
  EXPECT_EQ(due[0].target, "teams");
  EXPECT_EQ(due[1].target, "email-bridge");
  for (const Notification& notification : due) {
    EXPECT_EQ(notification.event, "escalated");
    EXPECT_EQ(notification.transfer_id, id);
    EXPECT_EQ(notification.attempts, 1);
    nlohmann::json payload = nlohmann::json::parse(notification.payload_json);
    EXPECT_EQ(payload["event"], "escalated");
    EXPECT_EQ(payload["transfer"]["id"], id);
    EXPECT_EQ(payload["transfer"]["requester"], "alice");
    EXPECT_EQ(payload["transfer"]["workspace"], "ws-cardio");
    EXPECT_EQ(payload["case"]["roles"], (std::vector<std::string>{"data-approver"}));
    EXPECT_EQ(payload["case"]["approvals_required"], 1);
    EXPECT_EQ(payload["at"], kNow + 1);
  }

  // The decision goes only to teams; the reason travels, a private comment does not.
  ASSERT_TRUE(store->vote(id, kAnn, {VoteKind::kApprove, "secret note", Visibility::kPrivate}, kNow + 2));
  due = store->due_deliveries(kNow + 2, 100).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].target, "teams");
  EXPECT_EQ(due[0].event, "decided");
  EXPECT_EQ(due[0].payload_json.find("secret note"), std::string::npos);
  nlohmann::json payload = nlohmann::json::parse(due[0].payload_json);
  EXPECT_EQ(payload["outcome"], "approved");
  EXPECT_EQ(payload["actor"], "ann");
  EXPECT_EQ(payload["transfer"]["state"], "approved");

  ASSERT_TRUE(store->revoke(id, kLead, "consent withdrawn", kNow + 3));
  due = store->due_deliveries(kNow + 3, 100).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event, "revoked");
  EXPECT_EQ(nlohmann::json::parse(due[0].payload_json)["reason"], "consent withdrawn");
}

TEST(Outbox, RefusedOrRolledBackChangesEnqueueNothing) {
  auto store = open_store(":memory:");
  store->set_notification_targets({{"teams", {}}});
  std::string id = escalate_and_review(*store, 2);
  ASSERT_EQ(store->due_deliveries(kNow + 1, 100)->size(), 1u);                // the escalation
  EXPECT_FALSE(store->vote(id, {"alice", {"data-approver"}}, {}, kNow + 2));  // the requester
  ASSERT_TRUE(store->vote(id, kAnn, {}, kNow + 2));                           // counts, but does not decide
  EXPECT_FALSE(store->revoke(id, kLead, "not yet approved", kNow + 2));
  EXPECT_TRUE(store->due_deliveries(kNow + 1000, 100)->empty());
}

TEST(Outbox, NoTargetsNoDeliveries) {
  auto store = open_store(":memory:");
  escalate_and_review(*store);
  EXPECT_TRUE(store->due_deliveries(kNow + 10, 100)->empty());
}

TEST(Outbox, AClaimHidesADeliveryUntilItsLeaseEnds) {
  auto store = open_store(":memory:");
  store->set_notification_targets({{"teams", {}}});
  std::vector<std::int64_t> ids = store->enqueue_notification("policy_reloaded", "", R"({"files": 3})", kNow).value();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_TRUE(store->due_deliveries(kNow - 1, 10)->empty());  // not due before it was enqueued
  std::vector<Notification> claimed = store->due_deliveries(kNow, 10, 30'000).value();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, ids[0]);
  EXPECT_EQ(claimed[0].transfer_id, "");
  EXPECT_EQ(claimed[0].next_attempt_at, kNow + 30'000);
  EXPECT_TRUE(store->due_deliveries(kNow + 29'999, 10)->empty());  // another replica does not see it
  // The sender died: after the lease it is claimed again, as a second attempt.
  claimed = store->due_deliveries(kNow + 30'000, 10).value();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].attempts, 2);
}

TEST(Outbox, RetryFailAndDeliverMoveADeliveryOnce) {
  auto store = open_store(":memory:");
  store->set_notification_targets({{"teams", {}}});
  std::int64_t id = store->enqueue_notification("escalated", "", "{}", kNow)->at(0);
  ASSERT_EQ(store->due_deliveries(kNow, 10)->size(), 1u);
  ASSERT_TRUE(store->mark_retry(id, kNow + 5'000, "HTTP 503 from teams", kNow + 1));
  Notification retrying = store->notification(id).value();
  EXPECT_EQ(retrying.state, DeliveryState::kPending);
  EXPECT_EQ(retrying.last_error, "HTTP 503 from teams");
  EXPECT_EQ(retrying.next_attempt_at, kNow + 5'000);
  EXPECT_TRUE(store->due_deliveries(kNow + 4'999, 10)->empty());
  ASSERT_EQ(store->due_deliveries(kNow + 5'000, 10)->size(), 1u);
  ASSERT_TRUE(store->mark_delivered(id, kNow + 5'001));
  Notification delivered = store->notification(id).value();
  EXPECT_EQ(delivered.state, DeliveryState::kDelivered);
  EXPECT_EQ(delivered.attempts, 2);
  EXPECT_EQ(delivered.last_error, "HTTP 503 from teams");  // kept for the record
  EXPECT_TRUE(store->due_deliveries(kNow + 100'000, 10)->empty());
  Status again = store->mark_failed(id, "late", kNow + 6'000);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.message().starts_with("conflict:")) << again.message();

  std::int64_t doomed = store->enqueue_notification("escalated", "", "{}", kNow)->at(0);
  ASSERT_TRUE(store->mark_failed(doomed, std::string(5000, 'x'), kNow + 1));
  Notification failed = store->notification(doomed).value();
  EXPECT_EQ(failed.state, DeliveryState::kFailed);
  EXPECT_LT(failed.last_error.size(), 2100u);  // a long error (an HTML page) is clipped
  EXPECT_TRUE(store->due_deliveries(kNow + 100'000, 10)->empty());

  Status unknown = store->mark_delivered(424242, kNow);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.message().starts_with("not_found:")) << unknown.message();
}

TEST(Outbox, BadInputIsInvalid) {
  auto store = open_store(":memory:");
  store->set_notification_targets({{"teams", {}}});
  Result<std::vector<std::int64_t>> no_event = store->enqueue_notification("", "", "{}", kNow);
  ASSERT_FALSE(no_event);
  EXPECT_TRUE(no_event.message().starts_with("invalid:")) << no_event.message();
  Result<std::vector<std::int64_t>> not_object = store->enqueue_notification("x", "", "[1]", kNow);
  ASSERT_FALSE(not_object);
  EXPECT_TRUE(not_object.message().starts_with("invalid:")) << not_object.message();
  Result<std::vector<std::int64_t>> no_transfer = store->enqueue_notification("x", std::string(32, 'c'), "{}", kNow);
  ASSERT_FALSE(no_transfer);
  EXPECT_TRUE(no_transfer.message().starts_with("not_found:")) << no_transfer.message();
  Result<std::vector<Notification>> negative = store->due_deliveries(kNow, 10, -1);
  ASSERT_FALSE(negative);
  EXPECT_TRUE(negative.message().starts_with("invalid:")) << negative.message();
}

TEST(Outbox, ARestartLosesNoDelivery) {
  store_test::TempDir dir;
  const std::string path = dir.file("airlock.db");
  std::string id;
  std::int64_t claimed_id = 0;
  {
    auto store = open_store(path);
    store->set_notification_targets({{"teams", {}}});
    id = escalate_and_review(*store);
    ASSERT_TRUE(store->vote(id, kAnn, {}, kNow + 2));
    // One delivery was being sent when the gateway stopped: claimed, never marked.
    std::vector<Notification> claimed = store->due_deliveries(kNow + 2, 1, 60'000).value();
    ASSERT_EQ(claimed.size(), 1u);
    claimed_id = claimed[0].id;
  }
  auto reopened = open_store(path);
  std::vector<Notification> due = reopened->due_deliveries(kNow + 3, 100).value();
  ASSERT_EQ(due.size(), 1u);  // the decision; the claimed escalation waits for its lease
  EXPECT_EQ(due[0].event, "decided");
  EXPECT_EQ(due[0].transfer_id, id);
  due = reopened->due_deliveries(kNow + 2 + 60'000, 100).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, claimed_id);
  EXPECT_EQ(due[0].event, "escalated");
  EXPECT_EQ(due[0].attempts, 2);
  // The review itself survived too.
  EXPECT_EQ(reopened->current_case(id)->status, CaseStatus::kApproved);
  EXPECT_TRUE(reopened->verify_audit()->intact);
}

}  // namespace
}  // namespace airlock::gateway
