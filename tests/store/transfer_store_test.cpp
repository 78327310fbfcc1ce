#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "airlock/gateway/store.h"
#include "store_test_support.h"

namespace airlock::gateway {
namespace {

using S = TransferState;
using store_test::open_store;
using store_test::to;
using store_test::upload_request;

constexpr UnixMillis kNow = 1'780'000'000'000;

const std::vector<S> kAllStates = {S::kCreated,  S::kReceiving,    S::kInspecting, S::kDecided,   S::kApproved,
                                   S::kReleased, S::kMaterialised, S::kDenied,     S::kEscalated, S::kInReview,
                                   S::kRejected, S::kReturned,     S::kFailed,     S::kRevoked};

// How a transfer reaches each state from created.
std::vector<S> path_to(S state) {
  const std::vector<S> decided = {S::kReceiving, S::kInspecting, S::kDecided};
  auto then = [](std::vector<S> path, std::initializer_list<S> more) {
    path.insert(path.end(), more);
    return path;
  };
  switch (state) {
    case S::kCreated: return {};
    case S::kReceiving: return {S::kReceiving};
    case S::kInspecting: return {S::kReceiving, S::kInspecting};
    case S::kDecided: return decided;
    case S::kApproved: return then(decided, {S::kApproved});
    case S::kReleased: return then(decided, {S::kApproved, S::kReleased});
    case S::kMaterialised: return then(decided, {S::kApproved, S::kReleased, S::kMaterialised});
    case S::kDenied: return {S::kDenied};
    case S::kEscalated: return then(decided, {S::kEscalated});
    case S::kInReview: return then(decided, {S::kEscalated, S::kInReview});
    case S::kRejected: return then(decided, {S::kEscalated, S::kInReview, S::kRejected});
    case S::kReturned: return then(decided, {S::kEscalated, S::kInReview, S::kReturned});
    case S::kFailed: return {S::kFailed};
    case S::kRevoked: return then(decided, {S::kApproved, S::kRevoked});
  }
  return {};
}

Transfer make_transfer_in(TransferStore& store, S state) {
  Result<Transfer> transfer = store.create(upload_request(), kNow);
  EXPECT_TRUE(transfer) << transfer.message();
  for (S step : path_to(state)) {
    Result<Transfer> moved = store.transition(transfer->id, to(step), kNow);
    EXPECT_TRUE(moved) << moved.message();
  }
  return store.get(transfer->id).value();
}

TEST(TransferStore, CreatesATransferWithARandomHexIdAndAnAuditEvent) {
  auto store = open_store(":memory:");
  Result<Transfer> created = store->create(upload_request(), kNow);
  ASSERT_TRUE(created) << created.message();
  EXPECT_EQ(created->id.size(), 32u);
  EXPECT_EQ(created->id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(created->state, S::kCreated);
  EXPECT_EQ(created->offset, 0u);
  EXPECT_EQ(created->length, 1024u);
  EXPECT_EQ(created->created_at, kNow);
  EXPECT_EQ(created->filename, "counts.csv");
  EXPECT_EQ(created->metadata_json, "{}");

  Result<Transfer> second = store->create(upload_request(), kNow);
  ASSERT_TRUE(second);
  EXPECT_NE(second->id, created->id);

  Result<std::vector<AuditEvent>> events = store->audit_events(created->id);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].action, "created");
  EXPECT_EQ((*events)[0].actor, "alice");
  EXPECT_EQ((*events)[0].to_state, "created");
  EXPECT_EQ((*events)[0].previous_hash, kGenesisHash);
  EXPECT_EQ(nlohmann::json::parse((*events)[0].detail_json)["filename"], "counts.csv");
}

TEST(TransferStore, RejectsAnUnknownChannelAndMetadataThatIsNotAnObject) {
  auto store = open_store(":memory:");
  NewTransfer request = upload_request();
  request.channel = "email";
  Result<Transfer> created = store->create(request, kNow);
  ASSERT_FALSE(created);
  EXPECT_TRUE(created.message().starts_with("invalid:")) << created.message();

  request = upload_request();
  request.metadata_json = "[1, 2]";
  created = store->create(request, kNow);
  ASSERT_FALSE(created);
  EXPECT_TRUE(created.message().starts_with("invalid:")) << created.message();
}

TEST(TransferStore, UnknownIdsAreNotFound) {
  auto store = open_store(":memory:");
  Result<Transfer> missing = store->get("0123456789abcdef0123456789abcdef");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.message().starts_with("not_found:")) << missing.message();
  Result<Transfer> moved = store->transition("0123456789abcdef0123456789abcdef", to(S::kReceiving), kNow);
  ASSERT_FALSE(moved);
  EXPECT_TRUE(moved.message().starts_with("not_found:")) << moved.message();
  Status offset = store->advance_offset("0123456789abcdef0123456789abcdef", 0, 10, kNow);
  ASSERT_FALSE(offset);
  EXPECT_TRUE(offset.message().starts_with("not_found:")) << offset.message();
}

// Every pair of states, through the store: allowed edges move and are audited; the rest are conflicts
// that change nothing.
TEST(TransferStore, EnforcesEveryTransitionOfTheLifecycle) {
  auto store = open_store(":memory:");
  int allowed = 0;
  for (S from : kAllStates) {
    for (S target : kAllStates) {
      Transfer transfer = make_transfer_in(*store, from);
      ASSERT_EQ(transfer.state, from);
      std::size_t events_before = store->audit_events(transfer.id)->size();
      StateChange change = to(target, "bob");
      change.reason = "because";
      change.retryable = true;
      Result<Transfer> moved = store->transition(transfer.id, change, kNow + 5);
      // A non-retryable failure (how path_to reaches failed) stays failed.
      bool expected = transition_allowed(from, target) && from != S::kFailed;
      std::string label = std::string(state_name(from)) + " -> " + std::string(state_name(target));
      if (expected) {
        ++allowed;
        ASSERT_TRUE(moved) << label << ": " << moved.message();
        EXPECT_EQ(moved->state, target) << label;
        EXPECT_EQ(moved->reason, "because") << label;
        EXPECT_EQ(moved->updated_at, kNow + 5) << label;
        std::vector<AuditEvent> events = store->audit_events(transfer.id).value();
        ASSERT_EQ(events.size(), events_before + 1) << label;
        EXPECT_EQ(events.back().action, "state");
        EXPECT_EQ(events.back().actor, "bob");
        EXPECT_EQ(events.back().from_state, state_name(from));
        EXPECT_EQ(events.back().to_state, state_name(target));
      } else {
        ASSERT_FALSE(moved) << label;
        EXPECT_TRUE(moved.message().starts_with("conflict:")) << label << ": " << moved.message();
        EXPECT_EQ(store->get(transfer.id)->state, from) << label;
        EXPECT_EQ(store->audit_events(transfer.id)->size(), events_before) << label;
      }
    }
  }
  EXPECT_EQ(allowed, 29);  // the 30 edges less failed -> receiving, which needs a retryable failure
  Result<AuditVerification> verification = store->verify_audit();
  ASSERT_TRUE(verification);
  EXPECT_TRUE(verification->intact) << verification->problem;
}

TEST(TransferStore, OnlyARetryableFailureGoesBackToReceiving) {
  auto store = open_store(":memory:");
  Transfer transfer = make_transfer_in(*store, S::kReceiving);
  StateChange fail = to(S::kFailed);
  fail.reason = "disk full";
  fail.retryable = true;
  Result<Transfer> failed = store->transition(transfer.id, fail, kNow);
  ASSERT_TRUE(failed);
  EXPECT_TRUE(failed->retryable);
  EXPECT_EQ(failed->reason, "disk full");
  Result<Transfer> retried = store->transition(transfer.id, to(S::kReceiving), kNow);
  ASSERT_TRUE(retried) << retried.message();
  EXPECT_FALSE(retried->retryable);

  fail.retryable = false;
  fail.reason = "malformed archive";
  ASSERT_TRUE(store->transition(transfer.id, fail, kNow));
  Result<Transfer> again = store->transition(transfer.id, to(S::kReceiving), kNow);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.message().starts_with("conflict:")) << again.message();
}

TEST(TransferStore, ExpectedFromGuardsAgainstARaceOnTheSameTransfer) {
  auto store = open_store(":memory:");
  Transfer transfer = make_transfer_in(*store, S::kInReview);
  Result<Transfer> approved = store->transition(transfer.id, to(S::kApproved, "carol"), kNow, S::kInReview);
  ASSERT_TRUE(approved) << approved.message();
  // A second reviewer who saw it in review too: in_review -> rejected is an allowed edge, but not from approved.
  Result<Transfer> rejected = store->transition(transfer.id, to(S::kRejected, "dave"), kNow, S::kInReview);
  ASSERT_FALSE(rejected);
  EXPECT_TRUE(rejected.message().starts_with("conflict:")) << rejected.message();
  EXPECT_NE(rejected.message().find("approved"), std::string::npos) << rejected.message();
  // Without the guard, approved -> revoked is allowed; with a wrong guard it is not.
  EXPECT_FALSE(store->transition(transfer.id, to(S::kRevoked), kNow, S::kReleased));
  EXPECT_TRUE(store->transition(transfer.id, to(S::kRevoked), kNow, S::kApproved));
}

TEST(TransferStore, StoresTheDecisionFactsAndHashWithTheStateChange) {
  auto store = open_store(":memory:");
  Transfer transfer = make_transfer_in(*store, S::kInspecting);
  StateChange decided = to(S::kDecided);
  decided.decision_json = R"({"outcome": "escalate", "reviewers": ["data-approver"]})";
  decided.facts_json = R"({"file": {"size": 10}})";
  decided.sha256 = std::string(64, 'a');
  decided.detail_json = R"({"policy_hash": "abc"})";
  Result<Transfer> moved = store->transition(transfer.id, decided, kNow);
  ASSERT_TRUE(moved) << moved.message();
  EXPECT_EQ(nlohmann::json::parse(moved->decision_json)["outcome"], "escalate");
  EXPECT_EQ(moved->facts_json, R"({"file": {"size": 10}})");
  EXPECT_EQ(moved->sha256, std::string(64, 'a'));
  // Later changes without them keep them.
  moved = store->transition(transfer.id, to(S::kEscalated), kNow);
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->sha256, std::string(64, 'a'));
  EXPECT_FALSE(moved->decision_json.empty());

  std::vector<AuditEvent> events = store->audit_events(transfer.id).value();
  nlohmann::json detail = nlohmann::json::parse(events[events.size() - 2].detail_json);
  EXPECT_EQ(detail["policy_hash"], "abc");
  EXPECT_EQ(detail["decision"]["outcome"], "escalate");
  EXPECT_EQ(detail["sha256"], std::string(64, 'a'));

  StateChange bad = to(S::kInReview);
  bad.detail_json = "not json";
  Result<Transfer> refused = store->transition(transfer.id, bad, kNow);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.message().starts_with("invalid:")) << refused.message();
  EXPECT_EQ(store->get(transfer.id)->state, S::kEscalated);
}

TEST(TransferStore, ReturnedTransfersStartTheirBytesAgain) {
  auto store = open_store(":memory:");
  Transfer transfer = make_transfer_in(*store, S::kReceiving);
  ASSERT_TRUE(store->advance_offset(transfer.id, 0, 1024, kNow));
  for (S step : {S::kInspecting, S::kDecided, S::kEscalated, S::kInReview, S::kReturned}) {
    ASSERT_TRUE(store->transition(transfer.id, to(step), kNow));
  }
  Result<Transfer> resubmitted = store->transition(transfer.id, to(S::kReceiving, "alice"), kNow);
  ASSERT_TRUE(resubmitted) << resubmitted.message();
  EXPECT_EQ(resubmitted->offset, 0u);
  EXPECT_EQ(resubmitted->length, std::nullopt);
  EXPECT_TRUE(store->set_length(transfer.id, 2048, kNow));
  EXPECT_TRUE(store->advance_offset(transfer.id, 0, 2048, kNow));
}

TEST(TransferStore, AdvancesOffsetsOnlyFromTheExpectedOffset) {
  auto store = open_store(":memory:");
  Transfer transfer = make_transfer_in(*store, S::kCreated);
  Status early = store->advance_offset(transfer.id, 0, 10, kNow);
  ASSERT_FALSE(early);
  EXPECT_TRUE(early.message().starts_with("conflict:")) << early.message();

  ASSERT_TRUE(store->transition(transfer.id, to(S::kReceiving), kNow));
  std::size_t events = store->audit_events("")->size();
  ASSERT_TRUE(store->advance_offset(transfer.id, 0, 100, kNow + 1));
  ASSERT_TRUE(store->advance_offset(transfer.id, 100, 600, kNow + 2));
  Status stale = store->advance_offset(transfer.id, 100, 700, kNow + 3);
  ASSERT_FALSE(stale);
  EXPECT_TRUE(stale.message().starts_with("conflict:")) << stale.message();
  Status backwards = store->advance_offset(transfer.id, 600, 500, kNow + 3);
  ASSERT_FALSE(backwards);
  EXPECT_TRUE(backwards.message().starts_with("invalid:")) << backwards.message();
  Status past_end = store->advance_offset(transfer.id, 600, 1025, kNow + 3);
  ASSERT_FALSE(past_end);
  EXPECT_TRUE(past_end.message().starts_with("invalid:")) << past_end.message();

  Transfer stored = store->get(transfer.id).value();
  EXPECT_EQ(stored.offset, 600u);
  EXPECT_EQ(stored.updated_at, kNow + 2);
  EXPECT_EQ(store->audit_events("")->size(), events);  // offsets are not audited
}

TEST(TransferStore, SetsADeferredLengthOnce) {
  auto store = open_store(":memory:");
  NewTransfer request = upload_request();
  request.length = std::nullopt;
  Transfer transfer = store->create(request, kNow).value();
  EXPECT_EQ(transfer.length, std::nullopt);
  ASSERT_TRUE(store->transition(transfer.id, to(S::kReceiving), kNow));
  ASSERT_TRUE(store->advance_offset(transfer.id, 0, 50, kNow));
  Status too_short = store->set_length(transfer.id, 40, kNow);
  ASSERT_FALSE(too_short);
  EXPECT_TRUE(too_short.message().starts_with("invalid:"));
  ASSERT_TRUE(store->set_length(transfer.id, 80, kNow));
  EXPECT_EQ(store->get(transfer.id)->length, 80u);
  EXPECT_TRUE(store->set_length(transfer.id, 80, kNow));  // the same again is fine
  Status changed = store->set_length(transfer.id, 90, kNow);
  ASSERT_FALSE(changed);
  EXPECT_TRUE(changed.message().starts_with("conflict:")) << changed.message();
}

TEST(TransferStore, ListsWithFiltersAndKeysetPaging) {
  auto store = open_store(":memory:");
  std::vector<std::string> alice_ids;
  for (int i = 0; i < 7; ++i) {
    NewTransfer request = upload_request(i % 2 == 0 ? "alice" : "bob");
    request.workspace = i < 4 ? "ws-a" : "ws-b";
    Transfer created = store->create(request, kNow + i).value();
    if (i % 2 == 0) alice_ids.push_back(created.id);
    if (i == 2) {
      ASSERT_TRUE(store->transition(created.id, to(S::kReceiving), kNow));
    }
  }
  TransferFilter filter;
  filter.owner = "alice";
  filter.limit = 3;
  std::vector<std::string> seen;
  while (true) {
    Result<std::vector<Transfer>> page = store->list(filter);
    ASSERT_TRUE(page) << page.message();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3u);
    for (const Transfer& transfer : *page) {
      EXPECT_EQ(transfer.owner, "alice");
      seen.push_back(transfer.id);
    }
    filter.after_id = page->back().id;
  }
  EXPECT_EQ(seen, alice_ids);  // creation order, nothing twice, nothing missed

  TransferFilter by_state;
  by_state.state = S::kReceiving;
  EXPECT_EQ(store->list(by_state)->size(), 1u);
  TransferFilter by_workspace;
  by_workspace.workspace = "ws-b";
  by_workspace.owner = "bob";
  EXPECT_EQ(store->list(by_workspace)->size(), 1u);  // bob's are 1, 3 and 5; only 5 is in ws-b
  TransferFilter unknown_cursor;
  unknown_cursor.after_id = "ffffffffffffffffffffffffffffffff";
  Result<std::vector<Transfer>> refused = store->list(unknown_cursor);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.message().starts_with("invalid:"));
}

TEST(TransferStore, FindsExpiredUploadsAndRetainedDenials) {
  auto store = open_store(":memory:");
  NewTransfer expiring = upload_request();
  expiring.expires_at = kNow + 1000;
  Transfer stale = store->create(expiring, kNow).value();
  Transfer never = store->create(upload_request(), kNow).value();  // expires_at 0: never
  Transfer finished = store->create(expiring, kNow).value();
  for (S step : {S::kReceiving, S::kInspecting}) ASSERT_TRUE(store->transition(finished.id, to(step), kNow));

  std::vector<Transfer> expired = store->expired(kNow + 2000).value();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, stale.id);
  EXPECT_TRUE(store->expired(kNow + 500)->empty());
  (void)never;

  Transfer denied = make_transfer_in(*store, S::kDenied);  // changed at kNow
  Transfer rejected = make_transfer_in(*store, S::kRejected);
  Transfer approved = make_transfer_in(*store, S::kApproved);
  std::vector<Transfer> retained = store->retained_before(kNow + 1).value();
  std::set<std::string> ids;
  for (const Transfer& transfer : retained) ids.insert(transfer.id);
  EXPECT_EQ(ids, (std::set<std::string>{denied.id, rejected.id}));
  EXPECT_TRUE(store->retained_before(kNow)->empty());
  (void)approved;
}

TEST(TransferStore, AppendsEventsThatAreNotStateChanges) {
  auto store = open_store(":memory:");
  Transfer transfer = make_transfer_in(*store, S::kReleased);
  ASSERT_TRUE(store->append_event(transfer.id, "carol", "downloaded", R"({"bytes": 10})", kNow));
  ASSERT_TRUE(store->append_event("", "system", "policies_loaded", R"({"hash": "abc"})", kNow));
  Status bad = store->append_event(transfer.id, "carol", "comment", "[]", kNow);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.message().starts_with("invalid:"));
  Status missing = store->append_event("0123456789abcdef0123456789abcdef", "carol", "comment", "{}", kNow);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.message().starts_with("not_found:"));

  std::vector<AuditEvent> events = store->audit_events(transfer.id).value();
  EXPECT_EQ(events.back().action, "downloaded");
  EXPECT_EQ(events.back().from_state, "released");
  EXPECT_EQ(events.back().to_state, "released");
  std::vector<AuditEvent> all = store->audit_events("").value();
  EXPECT_EQ(all.back().action, "policies_loaded");
  EXPECT_EQ(all.back().transfer_id, "");
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].sequence, static_cast<std::int64_t>(i + 1));
    if (i > 0) {
      EXPECT_EQ(all[i].previous_hash, all[i - 1].hash);
    }
  }
  EXPECT_TRUE(store->verify_audit()->intact);
}

TEST(TransferStore, ReopensAFileWithItsSchemaAndData) {
  store_test::TempDir dir;
  std::string path = dir.file("airlock.db");
  std::string id;
  {
    auto store = open_store(path);
    id = make_transfer_in(*store, S::kDecided).id;
  }
  auto store = open_store(path);
  EXPECT_EQ(store->get(id)->state, S::kDecided);
  EXPECT_EQ(store->audit_events(id)->size(), 4u);
  EXPECT_TRUE(store->verify_audit()->intact);
}

}  // namespace
}  // namespace airlock::gateway
