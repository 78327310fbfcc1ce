// Votes on review cases: separation of duties, refusals that change nothing, and how votes close a case.
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

std::string escalation(const std::vector<std::string>& roles, std::uint32_t approvals) {
  return nlohmann::json{{"outcome", "escalate"},
                        {"reviewers", {{"roles", roles}, {"approvals", approvals}}},
                        {"rules", nlohmann::json::array()},
                        {"errors", nlohmann::json::array()},
                        {"policy_set", "abc"},
                        {"reason", "needs a person to look"}}
      .dump();
}

// A transfer by `owner` that the policies escalated to `roles`, `approvals` approvals; in review unless told.
Transfer escalated(TransferStore& store, const std::vector<std::string>& roles, std::uint32_t approvals,
                   bool start = true, const std::string& owner = "alice") {
  Transfer transfer = store.create(upload_request(owner), kNow).value();
  EXPECT_TRUE(store.transition(transfer.id, to(S::kReceiving), kNow));
  EXPECT_TRUE(store.transition(transfer.id, to(S::kInspecting), kNow));
  StateChange decided = to(S::kDecided);
  decided.decision_json = escalation(roles, approvals);
  EXPECT_TRUE(store.transition(transfer.id, decided, kNow));
  EXPECT_TRUE(store.transition(transfer.id, to(S::kEscalated), kNow));
  if (start) {
    Result<ReviewCase> review = store.start_review(transfer.id, "system", kNow + 1);
    EXPECT_TRUE(review) << review.message();
  }
  return store.get(transfer.id).value();
}

Vote approve(std::string comment = {}, Visibility visibility = Visibility::kPublic) {
  return {VoteKind::kApprove, std::move(comment), visibility};
}
Vote reject(std::string comment, Visibility visibility = Visibility::kPublic) {
  return {VoteKind::kReject, std::move(comment), visibility};
}
Vote send_back(std::string comment) { return {VoteKind::kReturn, std::move(comment), Visibility::kPublic}; }

const Actor kAnn{"ann", {"data-approver"}};
const Actor kBob{"bob", {"data-approver"}};
const Actor kCat{"cat", {"output-checker"}};
const Actor kDan{"dan", {"data-approver", "output-checker"}};
const Actor kLead{"gina", {"governance-lead"}};

// Everything a refused call must leave as it was.
struct Snapshot {
  S state;
  std::size_t votes = 0;
  std::size_t cases = 0;
  std::size_t events = 0;
  std::size_t comments = 0;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

Snapshot snapshot(TransferStore& store, const std::string& id) {
  Snapshot snapshot{store.get(id)->state};
  std::vector<ReviewCase> cases = store.review_history(id).value();
  snapshot.cases = cases.size();
  for (const ReviewCase& review : cases) snapshot.votes += review.votes.size();
  snapshot.events = store.audit_events("")->size();
  snapshot.comments = store.comments(id, true)->size();
  return snapshot;
}

void expect_refused(TransferStore& store, const std::string& id, const Actor& voter, const Vote& vote,
                    std::string_view code, std::string_view words) {
  Snapshot before = snapshot(store, id);
  Result<VoteOutcome> outcome = store.vote(id, voter, vote, kNow + 50);
  ASSERT_FALSE(outcome) << voter.user << "'s vote was accepted";
  EXPECT_TRUE(outcome.message().starts_with(std::string(code) + ":")) << outcome.message();
  EXPECT_NE(outcome.message().find(words), std::string::npos) << outcome.message();
  EXPECT_EQ(snapshot(store, id), before) << outcome.message();
}

TEST(ReviewStart, OpensACaseWithTheDecisionsRolesAndApprovals) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"output-checker", "data-approver"}, 3, /*start=*/false);
  std::size_t events = store->audit_events("")->size();
  Result<ReviewCase> review = store->start_review(transfer.id, "system", kNow + 5);
  ASSERT_TRUE(review) << review.message();
  EXPECT_EQ(review->round, 1);
  EXPECT_EQ(review->roles, (std::vector<std::string>{"data-approver", "output-checker"}));
  EXPECT_EQ(review->approvals_required, 3u);
  EXPECT_EQ(review->status, CaseStatus::kOpen);
  EXPECT_EQ(review->opened_at, kNow + 5);
  EXPECT_EQ(review->tally.roles_missing, review->roles);
  EXPECT_EQ(store->get(transfer.id)->state, S::kInReview);

  // One event: the state change, carrying the case.
  std::vector<AuditEvent> all = store->audit_events("").value();
  ASSERT_EQ(all.size(), events + 1);
  EXPECT_EQ(all.back().from_state, "escalated");
  EXPECT_EQ(all.back().to_state, "in_review");
  nlohmann::json detail = nlohmann::json::parse(all.back().detail_json);
  EXPECT_EQ(detail["case"], review->id);
  EXPECT_EQ(detail["approvals"], 3);

  Result<ReviewCase> again = store->start_review(transfer.id, "system", kNow + 6);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.message().starts_with("conflict:")) << again.message();
  Result<ReviewCase> missing = store->start_review(std::string(32, 'f'), "system", kNow);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.message().starts_with("not_found:")) << missing.message();
}

TEST(ReviewStart, WithoutReviewersInTheDecisionOneDataApproverReviews) {
  auto store = open_store(":memory:");
  Transfer transfer = store->create(upload_request(), kNow).value();
  for (S step : {S::kReceiving, S::kInspecting, S::kDecided, S::kEscalated}) {
    ASSERT_TRUE(store->transition(transfer.id, to(step), kNow));
  }
  Result<ReviewCase> review = store->start_review(transfer.id, "system", kNow);
  ASSERT_TRUE(review) << review.message();
  EXPECT_EQ(review->roles, (std::vector<std::string>{"data-approver"}));
  EXPECT_EQ(review->approvals_required, 1u);
}

TEST(ReviewStart, AMalformedOrImpossibleRequirementIsRefusedNotWeakened) {
  auto store = open_store(":memory:");
  for (const std::string& decision :
       {std::string(R"({"outcome": "escalate", "reviewers": ["data-approver"]})"),
        std::string(R"({"reviewers": {"roles": ["a", 7], "approvals": 1}})"),
        std::string(R"({"reviewers": {"roles": ["a"], "approvals": -2}})"), escalation({"a"}, 21)}) {
    Transfer transfer = store->create(upload_request(), kNow).value();
    for (S step : {S::kReceiving, S::kInspecting}) ASSERT_TRUE(store->transition(transfer.id, to(step), kNow));
    StateChange decided = to(S::kDecided);
    decided.decision_json = decision;
    ASSERT_TRUE(store->transition(transfer.id, decided, kNow));
    ASSERT_TRUE(store->transition(transfer.id, to(S::kEscalated), kNow));
    std::size_t events = store->audit_events("")->size();
    Result<ReviewCase> review = store->start_review(transfer.id, "system", kNow);
    ASSERT_FALSE(review) << decision;
    EXPECT_TRUE(review.message().starts_with("invalid:")) << review.message();
    EXPECT_EQ(store->get(transfer.id)->state, S::kEscalated);
    EXPECT_EQ(store->audit_events("")->size(), events);
    EXPECT_TRUE(store->review_history(transfer.id)->empty());
  }
}

TEST(ReviewVote, EachRoleByADifferentPersonAndNDistinctApproversApprove) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver", "output-checker"}, 3);

  Result<VoteOutcome> first = store->vote(transfer.id, kAnn, approve("fine by me"), kNow + 10);
  ASSERT_TRUE(first) << first.message();
  EXPECT_FALSE(first->decided);
  EXPECT_EQ(first->transfer.state, S::kInReview);
  EXPECT_EQ(first->review.tally.roles_filled, (std::vector<RoleFill>{{"data-approver", "ann"}}));
  EXPECT_EQ(first->review.tally.roles_missing, (std::vector<std::string>{"output-checker"}));

  Result<VoteOutcome> second = store->vote(transfer.id, kBob, approve(), kNow + 20);
  ASSERT_TRUE(second) << second.message();
  EXPECT_FALSE(second->decided);  // two approvals, but nobody has filled output-checker
  EXPECT_EQ(second->review.tally.approvers, 2u);

  Result<VoteOutcome> third = store->vote(transfer.id, kCat, approve(), kNow + 30);
  ASSERT_TRUE(third) << third.message();
  EXPECT_TRUE(third->decided);
  EXPECT_EQ(third->transfer.state, S::kApproved);
  EXPECT_EQ(third->review.status, CaseStatus::kApproved);
  EXPECT_EQ(third->review.closed_at, kNow + 30);
  EXPECT_EQ(third->review.votes.size(), 3u);
  EXPECT_EQ(third->review.tally.roles_filled,
            (std::vector<RoleFill>{{"data-approver", "ann"}, {"output-checker", "cat"}}));

  // Audit: three votes, then the state change naming the approvers; the chain is intact.
  std::vector<AuditEvent> events = store->audit_events(transfer.id).value();
  ASSERT_GE(events.size(), 4u);
  const AuditEvent& decided = events.back();
  EXPECT_EQ(decided.action, "state");
  EXPECT_EQ(decided.actor, "cat");
  EXPECT_EQ(decided.from_state, "in_review");
  EXPECT_EQ(decided.to_state, "approved");
  nlohmann::json detail = nlohmann::json::parse(decided.detail_json);
  EXPECT_EQ(detail["approvers"], (std::vector<std::string>{"ann", "bob", "cat"}));
  EXPECT_EQ(detail["roles_filled"]["output-checker"], "cat");
  EXPECT_EQ(detail["case_status"], "approved");
  for (std::size_t i = events.size() - 4; i < events.size() - 1; ++i) {
    EXPECT_EQ(events[i].action, "vote");
    EXPECT_EQ(events[i].from_state, "in_review");
    EXPECT_EQ(nlohmann::json::parse(events[i].detail_json)["vote"], "approve");
  }
  EXPECT_EQ(nlohmann::json::parse(events[events.size() - 4].detail_json)["comment"]["text"], "fine by me");
  EXPECT_TRUE(store->verify_audit()->intact);
}

TEST(ReviewVote, TheRequesterNeverVotesOnTheirOwnTransfer) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver"}, 1, true, "ann");
  expect_refused(*store, transfer.id, kAnn, approve(), "forbidden", "requested transfer");
  expect_refused(*store, transfer.id, kAnn, reject("no"), "forbidden", "requested transfer");
  EXPECT_TRUE(store->vote(transfer.id, kBob, approve(), kNow));
}

TEST(ReviewVote, AVoterMustHoldARoleTheCaseLists) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver"}, 1);
  expect_refused(*store, transfer.id, kCat, approve(), "forbidden", "none of the roles this review requires");
  // A governance lead has no override: the case lists data-approver only.
  expect_refused(*store, transfer.id, kLead, approve(), "forbidden", "data-approver");
  expect_refused(*store, transfer.id, Actor{"nobody", {}}, reject("no"), "forbidden", "none of the roles");
}

TEST(ReviewVote, OnePersonVotesOncePerCase) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver"}, 2);
  ASSERT_TRUE(store->vote(transfer.id, kAnn, approve(), kNow));
  expect_refused(*store, transfer.id, kAnn, approve(), "forbidden", "already voted (approve)");
  expect_refused(*store, transfer.id, kAnn, reject("changed my mind"), "forbidden", "one vote per person");
  expect_refused(*store, transfer.id, kAnn, send_back("fix it"), "forbidden", "already voted");
  // The same person with a different set of roles is still the same person.
  expect_refused(*store, transfer.id, Actor{"ann", {"data-approver", "output-checker"}}, approve(), "forbidden",
                 "already voted");
}

TEST(ReviewVote, OnePersonHoldingTwoRequiredRolesFillsOnlyOne) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver", "output-checker"}, 2);
  Result<VoteOutcome> first = store->vote(transfer.id, kDan, approve(), kNow);
  ASSERT_TRUE(first) << first.message();
  EXPECT_FALSE(first->decided);
  EXPECT_EQ(first->review.tally.roles_filled.size(), 1u);
  // dan again, as the second approval: refused.
  expect_refused(*store, transfer.id, kDan, approve(), "forbidden", "already voted");
  // bob (data-approver only) completes it: dan moves to output-checker.
  Result<VoteOutcome> second = store->vote(transfer.id, kBob, approve(), kNow + 1);
  ASSERT_TRUE(second) << second.message();
  EXPECT_TRUE(second->decided);
  EXPECT_EQ(second->review.tally.roles_filled,
            (std::vector<RoleFill>{{"data-approver", "bob"}, {"output-checker", "dan"}}));
}

TEST(ReviewVote, AnApprovalThatCannotCountIsRefusedWithWhatIsMissing) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver", "output-checker"}, 2);
  ASSERT_TRUE(store->vote(transfer.id, kAnn, approve(), kNow));
  expect_refused(*store, transfer.id, kBob, approve(), "forbidden", "still needs output-checker");
  // bob may still reject or return: those need only a listed role.
  Result<VoteOutcome> rejected = store->vote(transfer.id, kBob, reject("identifiers in column 3"), kNow + 1);
  ASSERT_TRUE(rejected) << rejected.message();
  EXPECT_EQ(rejected->transfer.state, S::kRejected);
}

TEST(ReviewVote, VotesOnAClosedCaseOrATransferNotInReviewConflict) {
  auto store = open_store(":memory:");
  Transfer approved = escalated(*store, {"data-approver"}, 1);
  ASSERT_TRUE(store->vote(approved.id, kAnn, approve(), kNow)->decided);
  expect_refused(*store, approved.id, kBob, approve(), "conflict", "is closed (approved)");
  expect_refused(*store, approved.id, kBob, reject("late"), "conflict", "takes no more votes");

  Transfer rejected = escalated(*store, {"data-approver"}, 2);
  ASSERT_TRUE(store->vote(rejected.id, kAnn, reject("no"), kNow)->decided);
  expect_refused(*store, rejected.id, kBob, approve(), "conflict", "closed (rejected)");

  Transfer waiting = escalated(*store, {"data-approver"}, 1, /*start=*/false);
  expect_refused(*store, waiting.id, kAnn, approve(), "conflict", "not in review (it is escalated)");

  Result<VoteOutcome> unknown = store->vote(std::string(32, '0'), kAnn, approve(), kNow);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.message().starts_with("not_found:")) << unknown.message();
}

TEST(ReviewVote, BadInputIsInvalidAndChangesNothing) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver"}, 1);
  expect_refused(*store, transfer.id, Actor{"", {"data-approver"}}, approve(), "invalid", "user id");
  expect_refused(*store, transfer.id, kAnn, reject(""), "invalid", "needs a comment");
  expect_refused(*store, transfer.id, kAnn, reject("  \n"), "invalid", "needs a comment");
  expect_refused(*store, transfer.id, kAnn, send_back(""), "invalid", "what to change");
  expect_refused(*store, transfer.id, kAnn, {VoteKind::kReturn, "fix it", Visibility::kPrivate}, "invalid",
                 "must be public");
  expect_refused(*store, transfer.id, kAnn, approve(std::string(kMaxCommentBytes + 1, 'x')), "invalid", "at most");
  expect_refused(*store, transfer.id, kAnn, approve("bad \xC3\x28 byte"), "invalid", "UTF-8");
  expect_refused(*store, transfer.id, kAnn, approve("\xED\xA0\x80 surrogate"), "invalid", "UTF-8");
  EXPECT_TRUE(store->vote(transfer.id, kAnn, approve("caf\xC3\xA9 \xF0\x9F\x91\x8D"), kNow));
}

TEST(ReviewVote, ARejectionClosesTheCaseWithItsReason) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver"}, 2);
  ASSERT_TRUE(store->vote(transfer.id, kAnn, approve(), kNow));
  Result<VoteOutcome> outcome = store->vote(transfer.id, kBob, reject("row-level data"), kNow + 1);
  ASSERT_TRUE(outcome) << outcome.message();
  EXPECT_TRUE(outcome->decided);
  EXPECT_EQ(outcome->transfer.state, S::kRejected);
  EXPECT_EQ(outcome->transfer.reason, "rejected in review: row-level data");
  EXPECT_EQ(outcome->review.status, CaseStatus::kRejected);

  // A private reason stays out of what the requester sees.
  Transfer secret = escalated(*store, {"data-approver"}, 1);
  outcome = store->vote(secret.id, kBob, reject("looks like re-identification", Visibility::kPrivate), kNow);
  ASSERT_TRUE(outcome) << outcome.message();
  EXPECT_EQ(outcome->transfer.reason, "rejected in review");
  EXPECT_TRUE(store->comments(secret.id, false)->empty());
  ASSERT_EQ(store->comments(secret.id, true)->size(), 1u);
}

TEST(ReviewVote, AReturnGoesBackToTheRequesterWithAPublicComment) {
  auto store = open_store(":memory:");
  Transfer transfer = escalated(*store, {"data-approver"}, 2);
  ASSERT_TRUE(store->vote(transfer.id, kAnn, approve("private note", Visibility::kPrivate), kNow));
  Result<VoteOutcome> outcome = store->vote(transfer.id, kBob, send_back("suppress counts under 10"), kNow + 1);
  ASSERT_TRUE(outcome) << outcome.message();
  EXPECT_EQ(outcome->transfer.state, S::kReturned);
  EXPECT_EQ(outcome->review.status, CaseStatus::kReturned);
  EXPECT_EQ(outcome->transfer.reason, "returned for changes: suppress counts under 10");

  std::vector<Comment> seen_by_requester = store->comments_visible_to(transfer.id, Actor{"alice", {}}).value();
  ASSERT_EQ(seen_by_requester.size(), 1u);
  EXPECT_EQ(seen_by_requester[0].text, "suppress counts under 10");
  EXPECT_EQ(seen_by_requester[0].author, "bob");
  EXPECT_EQ(seen_by_requester[0].round, 1);
  EXPECT_EQ(store->comments_visible_to(transfer.id, kCat)->size(), 1u);   // not a reviewer of this transfer
  EXPECT_EQ(store->comments_visible_to(transfer.id, kAnn)->size(), 2u);   // a reviewer
  EXPECT_EQ(store->comments_visible_to(transfer.id, kLead)->size(), 2u);  // governance oversees
  // The vote links to its comment.
  ReviewCase review = store->current_case(transfer.id).value();
  ASSERT_EQ(review.votes.size(), 2u);
  EXPECT_EQ(review.votes[1].kind, VoteKind::kReturn);
  EXPECT_EQ(review.votes[1].comment_id, seen_by_requester[0].id);
}

}  // namespace
}  // namespace airlock::gateway
