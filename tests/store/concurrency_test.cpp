// Several threads, each with its own connection (as several gateway processes would have), or all
// sharing one store: conflicts have exactly one winner, and the audit chain stays whole.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "airlock/gateway/store.h"
#include "store_test_support.h"

namespace airlock::gateway {
namespace {

using S = TransferState;
using store_test::open_store;
using store_test::to;
using store_test::upload_request;

constexpr int kThreads = 8;
constexpr UnixMillis kNow = 1'780'000'000'000;

TEST(StoreConcurrency, OffsetsAdvancedFromEightConnectionsLoseNoByte) {
  store_test::TempDir dir;
  const std::string path = dir.file("airlock.db");
  auto setup = open_store(path);
  NewTransfer request = upload_request();
  request.length = std::nullopt;
  Transfer transfer = setup->create(request, kNow).value();
  ASSERT_TRUE(setup->transition(transfer.id, to(S::kReceiving), kNow));

  constexpr std::uint64_t kTarget = 400;
  std::atomic<std::uint64_t> wins{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto store = open_store(path);
      while (true) {
        Result<Transfer> current = store->get(transfer.id);
        if (!current) {
          ++unexpected;
          return;
        }
        if (current->offset >= kTarget) return;
        Status advanced = store->advance_offset(transfer.id, current->offset, current->offset + 1, kNow);
        if (advanced) {
          ++wins;
        } else if (!advanced.message().starts_with("conflict:")) {
          ++unexpected;
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(wins.load(), kTarget);  // each step of one byte was won exactly once
  EXPECT_EQ(setup->get(transfer.id)->offset, kTarget);
}

TEST(StoreConcurrency, ExactlyOneOfEightReviewersWinsEachDecision) {
  store_test::TempDir dir;
  const std::string path = dir.file("airlock.db");
  auto setup = open_store(path);
  constexpr int kTransfers = 20;
  std::vector<std::string> ids;
  for (int i = 0; i < kTransfers; ++i) {
    Transfer transfer = setup->create(upload_request(), kNow).value();
    for (S step : {S::kReceiving, S::kInspecting, S::kDecided, S::kEscalated, S::kInReview}) {
      ASSERT_TRUE(setup->transition(transfer.id, to(step), kNow));
    }
    ids.push_back(transfer.id);
  }
  std::size_t events_before = setup->audit_events("")->size();

  std::vector<std::atomic<int>> winners(kTransfers);
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto store = open_store(path);
      for (int i = 0; i < kTransfers; ++i) {
        // Half approve, half reject: whoever commits first decides, the others see a conflict.
        S verdict = t % 2 == 0 ? S::kApproved : S::kRejected;
        Result<Transfer> moved = store->transition(ids[static_cast<std::size_t>(i)],
                                                   to(verdict, "reviewer-" + std::to_string(t)), kNow, S::kInReview);
        if (moved) {
          ++winners[static_cast<std::size_t>(i)];
        } else if (!moved.message().starts_with("conflict:")) {
          ++unexpected;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  for (int i = 0; i < kTransfers; ++i) EXPECT_EQ(winners[static_cast<std::size_t>(i)].load(), 1) << "transfer " << i;
  std::vector<AuditEvent> events = setup->audit_events("").value();
  EXPECT_EQ(events.size(), events_before + kTransfers);
  for (const std::string& id : ids) {
    std::vector<AuditEvent> own = setup->audit_events(id).value();
    ASSERT_FALSE(own.empty());
    EXPECT_EQ(own.back().from_state, "in_review");
    EXPECT_EQ(own.back().to_state, state_name(setup->get(id)->state));
  }
  Result<AuditVerification> verification = setup->verify_audit();
  ASSERT_TRUE(verification);
  EXPECT_TRUE(verification->intact) << verification->problem;
}

TEST(StoreConcurrency, EventsAppendedFromManyThreadsFormOneUnbrokenChain) {
  store_test::TempDir dir;
  const std::string path = dir.file("airlock.db");
  auto shared = open_store(path);
  Transfer transfer = shared->create(upload_request(), kNow).value();
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Even threads share the one store (its mutex), odd ones open their own connection.
      std::unique_ptr<TransferStore> own = t % 2 == 1 ? open_store(path) : nullptr;
      TransferStore& store = own ? *own : *shared;
      for (int i = 0; i < kPerThread; ++i) {
        std::string detail = R"({"thread": )" + std::to_string(t) + R"(, "i": )" + std::to_string(i) + "}";
        if (!store.append_event(transfer.id, "t" + std::to_string(t), "comment", detail, kNow + i)) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<AuditEvent> events = shared->audit_events("").value();
  ASSERT_EQ(events.size(), 1u + kThreads * kPerThread);
  std::set<std::string> details;
  for (const AuditEvent& event : events) details.insert(event.detail_json);
  EXPECT_EQ(details.size(), events.size());  // none lost, none doubled
  Result<AuditVerification> verification = shared->verify_audit();
  ASSERT_TRUE(verification);
  EXPECT_TRUE(verification->intact) << verification->problem;
  EXPECT_EQ(verification->events, static_cast<std::int64_t>(events.size()));
}

}  // namespace
}  // namespace airlock::gateway
