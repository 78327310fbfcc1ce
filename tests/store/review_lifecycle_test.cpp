// The review around the votes: returned -> resubmitted -> a fresh case, comments, revocation, and cases
// closed by a transfer leaving in_review some other way.
#include <gtest/gtest.h>
#include <sqlite3.h>

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

std::string escalation(const std::vector<std::string>& roles, std::uint32_t approvals) {
  return nlohmann::json{{"outcome", "escalate"}, {"reviewers", {{"roles", roles}, {"approvals", approvals}}}}.dump();
}

// Decides (escalating) a transfer that is inspecting, and opens its review.
void decide_and_review(TransferStore& store, const std::string& id, const std::vector<std::string>& roles,
                       std::uint32_t approvals) {
  StateChange decided = to(S::kDecided);
  decided.decision_json = escalation(roles, approvals);
  ASSERT_TRUE(store.transition(id, decided, kNow));
  ASSERT_TRUE(store.transition(id, to(S::kEscalated), kNow));
  Result<ReviewCase> review = store.start_review(id, "system", kNow);
  ASSERT_TRUE(review) << review.message();
}

Transfer in_review(TransferStore& store, const std::vector<std::string>& roles, std::uint32_t approvals) {
  Transfer transfer = store.create(upload_request("alice"), kNow).value();
  EXPECT_TRUE(store.transition(transfer.id, to(S::kReceiving), kNow));
  EXPECT_TRUE(store.advance_offset(transfer.id, 0, 1024, kNow));
  EXPECT_TRUE(store.transition(transfer.id, to(S::kInspecting), kNow));
  decide_and_review(store, transfer.id, roles, approvals);
  return store.get(transfer.id).value();
}

Transfer approved(TransferStore& store) {
  Transfer transfer = in_review(store, {"data-approver"}, 1);
  EXPECT_TRUE(store.vote(transfer.id, {"ann", {"data-approver"}}, {VoteKind::kApprove, "", Visibility::kPublic}, kNow));
  return store.get(transfer.id).value();
}

const Actor kAlice{"alice", {"researcher"}};
const Actor kAnn{"ann", {"data-approver"}};
const Actor kBob{"bob", {"data-approver"}};
const Actor kLead{"gina", {"governance-lead"}};

TEST(ReviewResubmission, NewFilesGetAsLongToArriveAsTheFirstOnes) {
  auto store = open_store(":memory:");
  NewTransfer request = upload_request("alice");
  request.expires_at = kNow + 1000;  // a 1 s window from creation
  Transfer transfer = store->create(request, kNow).value();
  ASSERT_TRUE(store->transition(transfer.id, to(S::kReceiving), kNow));
  ASSERT_TRUE(store->advance_offset(transfer.id, 0, 1024, kNow));
  ASSERT_TRUE(store->transition(transfer.id, to(S::kInspecting), kNow));
  decide_and_review(*store, transfer.id, {"data-approver"}, 1);
  ASSERT_TRUE(store->vote(transfer.id, kAnn, {VoteKind::kReturn, "add the codebook", Visibility::kPublic}, kNow));

  const UnixMillis later = kNow + 86'400'000;  // resubmitted a day later
  Result<Transfer> resubmitted = store->resubmit(transfer.id, kAlice, /*replace_files=*/true, later);
  ASSERT_TRUE(resubmitted) << resubmitted.message();
  EXPECT_EQ(resubmitted->expires_at, later + 1000);
  EXPECT_TRUE(store->expired(later + 999)->empty());
  EXPECT_EQ(store->expired(later + 1001)->size(), 1u);
}

TEST(ReviewResubmission, AReturnedTransferComesBackAsAFreshCaseAndOldVotesDoNotCount) {
  auto store = open_store(":memory:");
  Transfer transfer = in_review(*store, {"data-approver"}, 2);
  ASSERT_TRUE(store->vote(transfer.id, kAnn, {VoteKind::kApprove, "", Visibility::kPublic}, kNow));
  ASSERT_TRUE(store->vote(transfer.id, kBob, {VoteKind::kReturn, "round the counts", Visibility::kPublic}, kNow));
  ASSERT_EQ(store->get(transfer.id)->state, S::kReturned);

  // Only the requester resubmits, and only a returned transfer.
  Result<Transfer> stranger = store->resubmit(transfer.id, kAnn, true, kNow);
  ASSERT_FALSE(stranger);
  EXPECT_TRUE(stranger.message().starts_with("forbidden:")) << stranger.message();
  ASSERT_TRUE(store->add_comment(transfer.id, kAlice, "rounded to the nearest 5", Visibility::kPublic, kNow + 1));
  Result<Transfer> resubmitted = store->resubmit(transfer.id, kAlice, /*replace_files=*/true, kNow + 2);
  ASSERT_TRUE(resubmitted) << resubmitted.message();
  EXPECT_EQ(resubmitted->state, S::kReceiving);
  EXPECT_EQ(resubmitted->offset, 0u);  // new files: bytes start again
  Result<Transfer> twice = store->resubmit(transfer.id, kAlice, true, kNow + 3);
  ASSERT_FALSE(twice);
  EXPECT_TRUE(twice.message().starts_with("conflict:")) << twice.message();

  ASSERT_TRUE(store->set_length(transfer.id, 10, kNow));
  ASSERT_TRUE(store->advance_offset(transfer.id, 0, 10, kNow));
  ASSERT_TRUE(store->transition(transfer.id, to(S::kInspecting), kNow));
  decide_and_review(*store, transfer.id, {"data-approver"}, 2);

  ReviewCase round2 = store->current_case(transfer.id).value();
  EXPECT_EQ(round2.round, 2);
  EXPECT_EQ(round2.status, CaseStatus::kOpen);
  EXPECT_TRUE(round2.votes.empty());
  EXPECT_EQ(round2.tally.approvers, 0u);
  // ann approved round 1; she may vote again in round 2, and one approval is not yet enough.
  Result<VoteOutcome> again = store->vote(transfer.id, kAnn, {VoteKind::kApprove, "", Visibility::kPublic}, kNow + 4);
  ASSERT_TRUE(again) << again.message();
  EXPECT_FALSE(again->decided);
  Result<VoteOutcome> done = store->vote(transfer.id, kBob, {VoteKind::kApprove, "", Visibility::kPublic}, kNow + 5);
  ASSERT_TRUE(done) << done.message();
  EXPECT_EQ(done->transfer.state, S::kApproved);

  std::vector<ReviewCase> history = store->review_history(transfer.id).value();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].status, CaseStatus::kReturned);
  EXPECT_EQ(history[0].votes.size(), 2u);  // kept
  EXPECT_EQ(history[1].status, CaseStatus::kApproved);
  std::vector<Comment> comments = store->comments(transfer.id, false).value();
  ASSERT_EQ(comments.size(), 2u);
  EXPECT_EQ(comments[1].author, "alice");
  EXPECT_TRUE(comments[1].by_requester);
  EXPECT_EQ(comments[1].round, 1);
  EXPECT_TRUE(store->verify_audit()->intact);
}

TEST(ReviewResubmission, TheSameFilesCanBeJudgedAgain) {
  auto store = open_store(":memory:");
  Transfer transfer = in_review(*store, {"data-approver"}, 1);
  ASSERT_TRUE(store->vote(transfer.id, kAnn, {VoteKind::kReturn, "justify", Visibility::kPublic}, kNow));
  Result<Transfer> resubmitted = store->resubmit(transfer.id, kAlice, /*replace_files=*/false, kNow);
  ASSERT_TRUE(resubmitted) << resubmitted.message();
  EXPECT_EQ(resubmitted->state, S::kInspecting);
  EXPECT_EQ(resubmitted->offset, 1024u);
  AuditEvent event = store->audit_events(transfer.id)->back();
  EXPECT_EQ(event.actor, "alice");
  EXPECT_EQ(event.from_state, "returned");
  EXPECT_EQ(event.to_state, "inspecting");
  EXPECT_EQ(nlohmann::json::parse(event.detail_json)["replace_files"], false);
}

TEST(ReviewComments, RequesterPublicOnlyReviewersEitherOthersNone) {
  auto store = open_store(":memory:");
  Transfer before = store->create(upload_request("alice"), kNow).value();
  Result<Comment> early = store->add_comment(before.id, kAnn, "hello", Visibility::kPublic, kNow);
  ASSERT_FALSE(early);
  EXPECT_TRUE(early.message().starts_with("conflict:")) << early.message();

  Transfer transfer = in_review(*store, {"data-approver"}, 1);
  std::size_t events = store->audit_events("")->size();
  Result<Comment> question = store->add_comment(transfer.id, kAnn, "what is column 4?", Visibility::kPublic, kNow);
  ASSERT_TRUE(question) << question.message();
  EXPECT_FALSE(question->by_requester);
  Result<Comment> note = store->add_comment(transfer.id, kBob, "ask for the codebook", Visibility::kPrivate, kNow);
  ASSERT_TRUE(note) << note.message();
  Result<Comment> answer = store->add_comment(transfer.id, kAlice, "age band", Visibility::kPublic, kNow);
  ASSERT_TRUE(answer) << answer.message();
  EXPECT_TRUE(answer->by_requester);
  EXPECT_EQ(store->audit_events("")->size(), events + 3);
  AuditEvent last = store->audit_events(transfer.id)->back();
  EXPECT_EQ(last.action, "comment");
  EXPECT_EQ(last.actor, "alice");
  EXPECT_EQ(nlohmann::json::parse(last.detail_json)["comment"]["text"], "age band");

  Result<Comment> hidden = store->add_comment(transfer.id, kAlice, "psst", Visibility::kPrivate, kNow);
  ASSERT_FALSE(hidden);
  EXPECT_TRUE(hidden.message().starts_with("forbidden:")) << hidden.message();
  Result<Comment> stranger =
      store->add_comment(transfer.id, {"eve", {"output-checker"}}, "hi", Visibility::kPublic, kNow);
  ASSERT_FALSE(stranger);
  EXPECT_TRUE(stranger.message().starts_with("forbidden:")) << stranger.message();
  Result<Comment> empty = store->add_comment(transfer.id, kAnn, " ", Visibility::kPublic, kNow);
  ASSERT_FALSE(empty);
  EXPECT_TRUE(empty.message().starts_with("invalid:")) << empty.message();
  EXPECT_EQ(store->audit_events("")->size(), events + 3);

  EXPECT_EQ(store->comments(transfer.id, true)->size(), 3u);
  std::vector<Comment> public_only = store->comments(transfer.id, false).value();
  ASSERT_EQ(public_only.size(), 2u);
  EXPECT_EQ(public_only[0].text, "what is column 4?");
  EXPECT_EQ(public_only[1].text, "age band");
  Result<std::vector<Comment>> unknown = store->comments(std::string(32, 'a'), true);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.message().starts_with("not_found:")) << unknown.message();
}

TEST(ReviewRevoke, AGovernanceLeadRevokesApprovedReleasedOrMaterialisedTransfers) {
  auto store = open_store(":memory:");
  Transfer first = approved(*store);
  Result<Transfer> revoked = store->revoke(first.id, kLead, "consent withdrawn", kNow + 9);
  ASSERT_TRUE(revoked) << revoked.message();
  EXPECT_EQ(revoked->state, S::kRevoked);
  EXPECT_EQ(revoked->reason, "consent withdrawn");
  AuditEvent event = store->audit_events(first.id)->back();
  EXPECT_EQ(event.actor, "gina");
  EXPECT_EQ(event.from_state, "approved");
  EXPECT_EQ(event.to_state, "revoked");
  // The case stays approved in the history: revocation is a later act.
  EXPECT_EQ(store->current_case(first.id)->status, CaseStatus::kApproved);

  Transfer released = approved(*store);
  ASSERT_TRUE(store->transition(released.id, to(S::kReleased), kNow));
  EXPECT_TRUE(store->revoke(released.id, kLead, "wrong project", kNow));
  Transfer materialised = approved(*store);
  ASSERT_TRUE(store->transition(materialised.id, to(S::kReleased), kNow));
  ASSERT_TRUE(store->transition(materialised.id, to(S::kMaterialised), kNow));
  EXPECT_TRUE(store->revoke(materialised.id, kLead, "wrong project", kNow));
  // Without review: an auto-approved transfer can be revoked too.
  Transfer automatic = store->create(upload_request(), kNow).value();
  for (S step : {S::kReceiving, S::kInspecting, S::kDecided, S::kApproved}) {
    ASSERT_TRUE(store->transition(automatic.id, to(step), kNow));
  }
  EXPECT_TRUE(store->revoke(automatic.id, kLead, "policy bug", kNow));
}

TEST(ReviewRevoke, OthersAndOtherStatesAreRefusedAndNothingChanges) {
  auto store = open_store(":memory:");
  Transfer transfer = approved(*store);
  std::size_t events = store->audit_events("")->size();
  for (const Actor& actor : {kAnn, Actor{"root", {"platform-admin"}}, Actor{"alice", {"researcher"}}}) {
    Result<Transfer> refused = store->revoke(transfer.id, actor, "because", kNow);
    ASSERT_FALSE(refused) << actor.user;
    EXPECT_TRUE(refused.message().starts_with("forbidden:")) << refused.message();
  }
  Result<Transfer> no_reason = store->revoke(transfer.id, kLead, "", kNow);
  ASSERT_FALSE(no_reason);
  EXPECT_TRUE(no_reason.message().starts_with("invalid:")) << no_reason.message();
  EXPECT_EQ(store->get(transfer.id)->state, S::kApproved);
  EXPECT_EQ(store->audit_events("")->size(), events);

  Transfer reviewing = in_review(*store, {"data-approver"}, 1);
  Result<Transfer> early = store->revoke(reviewing.id, kLead, "stop", kNow);
  ASSERT_FALSE(early);
  EXPECT_TRUE(early.message().starts_with("conflict:")) << early.message();
  ASSERT_TRUE(store->revoke(transfer.id, kLead, "done", kNow));
  Result<Transfer> twice = store->revoke(transfer.id, kLead, "again", kNow);
  ASSERT_FALSE(twice);
  EXPECT_TRUE(twice.message().starts_with("conflict:")) << twice.message();
  Result<Transfer> unknown = store->revoke(std::string(32, 'b'), kLead, "x", kNow);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.message().starts_with("not_found:")) << unknown.message();
}

TEST(ReviewCase, LeavingInReviewOtherThanByAVoteCancelsTheCase) {
  auto store = open_store(":memory:");
  Transfer transfer = in_review(*store, {"data-approver"}, 1);
  StateChange failure = to(S::kFailed);
  failure.reason = "quarantine volume lost";
  ASSERT_TRUE(store->transition(transfer.id, failure, kNow));
  ReviewCase review = store->current_case(transfer.id).value();
  EXPECT_EQ(review.status, CaseStatus::kCancelled);
  EXPECT_EQ(review.closed_at, kNow);
  Result<VoteOutcome> late = store->vote(transfer.id, kAnn, {VoteKind::kApprove, "", Visibility::kPublic}, kNow);
  ASSERT_FALSE(late);
  EXPECT_TRUE(late.message().starts_with("conflict:")) << late.message();

  // transition() into in_review opens a case too, so no path leaves a transfer in review without one.
  Transfer direct = store->create(upload_request(), kNow).value();
  for (S step : {S::kReceiving, S::kInspecting, S::kDecided, S::kEscalated, S::kInReview}) {
    ASSERT_TRUE(store->transition(direct.id, to(step), kNow));
  }
  EXPECT_EQ(store->current_case(direct.id)->status, CaseStatus::kOpen);
  Result<ReviewCase> none = store->current_case(store->create(upload_request(), kNow)->id);
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.message().starts_with("not_found:")) << none.message();
}

TEST(ReviewSchema, ADatabaseFromBeforeReviewsGainsACaseForEachTransferInReview) {
  store_test::TempDir dir;
  const std::string path = dir.file("airlock.db");
  std::string id;
  {
    auto store = open_store(path);
    id = in_review(*store, {"data-approver", "output-checker"}, 3).id;
  }
  {
    // Turn the file back into a version-1 database: no review tables.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db,
                          "DROP TABLE review_votes; DROP TABLE review_comments; DROP TABLE review_cases;"
                          "DROP TABLE notification_outbox; UPDATE schema_version SET version = 1;",
                          nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  auto store = open_store(path);
  ReviewCase review = store->current_case(id).value();
  EXPECT_EQ(review.status, CaseStatus::kOpen);
  EXPECT_EQ(review.roles, (std::vector<std::string>{"data-approver", "output-checker"}));
  EXPECT_EQ(review.approvals_required, 3u);
  EXPECT_TRUE(store->vote(id, kAnn, {VoteKind::kApprove, "", Visibility::kPublic}, kNow));
  EXPECT_TRUE(store->verify_audit()->intact);
}

}  // namespace
}  // namespace airlock::gateway
