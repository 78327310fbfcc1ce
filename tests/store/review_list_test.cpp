// list_cases(): the cases a reviewer may act on or has acted on, filtered, ordered by age, paged.
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

// A transfer by `owner` in `workspace`, in review from `opened` for `roles` with `approvals` approvals.
std::string in_review(TransferStore& store, const std::string& owner, const std::string& workspace,
                      const std::vector<std::string>& roles, std::uint32_t approvals, UnixMillis opened) {
  NewTransfer request = upload_request(owner);
  request.workspace = workspace;
  request.filename = workspace + "-" + std::to_string(opened) + ".csv";
  Transfer transfer = store.create(request, opened).value();
  EXPECT_TRUE(store.transition(transfer.id, to(S::kReceiving), opened));
  EXPECT_TRUE(store.transition(transfer.id, to(S::kInspecting), opened));
  StateChange decided = to(S::kDecided);
  decided.decision_json =
      nlohmann::json{{"outcome", "escalate"}, {"reviewers", {{"roles", roles}, {"approvals", approvals}}}}.dump();
  EXPECT_TRUE(store.transition(transfer.id, decided, opened));
  EXPECT_TRUE(store.transition(transfer.id, to(S::kEscalated), opened));
  EXPECT_TRUE(store.start_review(transfer.id, "system", opened));
  return transfer.id;
}

std::vector<std::string> ids(const Result<std::vector<CaseSummary>>& cases) {
  EXPECT_TRUE(cases) << cases.message();
  std::vector<std::string> result;
  if (!cases) return result;
  for (const CaseSummary& summary : *cases) result.push_back(summary.transfer_id);
  return result;
}

const Actor kAnn{"ann", {"data-approver"}};
const Actor kCat{"cat", {"output-checker"}};
const Actor kLead{"gina", {"governance-lead"}};

class ReviewList : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(":memory:");
    // Opened in this order (oldest first): a, b, c, d, e.
    a_ = in_review(*store_, "alice", "ws-cardio", {"data-approver"}, 1, kNow + 100);
    b_ = in_review(*store_, "ann", "ws-cardio", {"data-approver"}, 1, kNow + 200);  // ann's own
    c_ = in_review(*store_, "alice", "ws-onco", {"data-approver", "output-checker"}, 2, kNow + 300);
    d_ = in_review(*store_, "alice", "ws-onco", {"output-checker"}, 1, kNow + 400);
    e_ = in_review(*store_, "bob", "ws-cardio", {"data-approver"}, 2, kNow + 500);
  }

  std::unique_ptr<TransferStore> store_;
  std::string a_, b_, c_, d_, e_;
};

TEST_F(ReviewList, ToReviewShowsOpenCasesTheReviewerMayVoteOnOldestFirst) {
  // Not ann's own transfer (b), not a case that lists only output-checker (d).
  EXPECT_EQ(ids(store_->list_cases(kAnn, {}, kNow + 1000)), (std::vector<std::string>{a_, c_, e_}));
  EXPECT_EQ(ids(store_->list_cases(kCat, {}, kNow + 1000)), (std::vector<std::string>{c_, d_}));
  // A governance lead is listed in no case, so has nothing to review.
  EXPECT_TRUE(ids(store_->list_cases(kLead, {}, kNow + 1000)).empty());

  std::vector<CaseSummary> cases = store_->list_cases(kAnn, {}, kNow + 1000).value();
  ASSERT_EQ(cases.size(), 3u);
  const CaseSummary& c = cases[1];
  EXPECT_EQ(c.filename, "ws-onco-" + std::to_string(kNow + 300) + ".csv");
  EXPECT_EQ(c.workspace, "ws-onco");
  EXPECT_EQ(c.requester, "alice");
  EXPECT_EQ(c.channel, "upload");
  EXPECT_EQ(c.status, CaseStatus::kOpen);
  EXPECT_EQ(c.transfer_state, S::kInReview);
  EXPECT_EQ(c.roles_required, (std::vector<std::string>{"data-approver", "output-checker"}));
  EXPECT_EQ(c.roles_missing, c.roles_required);
  EXPECT_EQ(c.approvals, 0u);
  EXPECT_EQ(c.approvals_required, 2u);
  EXPECT_EQ(c.age, 700);
  EXPECT_EQ(c.my_vote, std::nullopt);
}

TEST_F(ReviewList, AVoteMovesACaseFromToReviewToOpenWithTheVoteShown) {
  ASSERT_TRUE(store_->vote(e_, kAnn, {VoteKind::kApprove, "", Visibility::kPublic}, kNow + 600));
  EXPECT_EQ(ids(store_->list_cases(kAnn, {}, kNow + 1000)), (std::vector<std::string>{a_, c_}));
  std::vector<CaseSummary> open = store_->list_cases(kAnn, {.view = CaseView::kOpen}, kNow + 1000).value();
  ASSERT_EQ(ids(open), (std::vector<std::string>{a_, c_, e_}));
  EXPECT_EQ(open[2].my_vote, VoteKind::kApprove);
  EXPECT_EQ(open[2].approvals, 1u);
  EXPECT_EQ(open[2].roles_filled, (std::vector<RoleFill>{{"data-approver", "ann"}}));
}

TEST_F(ReviewList, ClosedAndAllViewsKeepTheHistory) {
  ASSERT_TRUE(store_->vote(a_, kAnn, {VoteKind::kApprove, "", Visibility::kPublic}, kNow + 700));
  ASSERT_TRUE(store_->vote(d_, kCat, {VoteKind::kReject, "no", Visibility::kPublic}, kNow + 800));
  std::vector<CaseSummary> closed = store_->list_cases(kAnn, {.view = CaseView::kClosed}, kNow + 5000).value();
  ASSERT_EQ(ids(closed), (std::vector<std::string>{a_}));
  EXPECT_EQ(closed[0].status, CaseStatus::kApproved);
  EXPECT_EQ(closed[0].transfer_state, S::kApproved);
  EXPECT_EQ(closed[0].age, 600);  // closed at +700, opened at +100: the clock stops when it closes
  EXPECT_EQ(ids(store_->list_cases(kCat, {.view = CaseView::kClosed}, kNow)), (std::vector<std::string>{d_}));
  EXPECT_EQ(ids(store_->list_cases(kAnn, {.view = CaseView::kAll}, kNow)), (std::vector<std::string>{a_, c_, e_}));
  // Someone who holds a role but is the requester never sees their own transfer, in any view.
  for (CaseView view : {CaseView::kToReview, CaseView::kOpen, CaseView::kClosed, CaseView::kAll}) {
    for (const std::string& id : ids(store_->list_cases(kAnn, {.view = view}, kNow))) EXPECT_NE(id, b_);
  }
}

TEST_F(ReviewList, FiltersByWorkspaceAndRoleAndSortsNewestFirst) {
  EXPECT_EQ(ids(store_->list_cases(kAnn, {.workspace = "ws-cardio"}, kNow)), (std::vector<std::string>{a_, e_}));
  EXPECT_EQ(ids(store_->list_cases(kAnn, {.workspace = "ws-none"}, kNow)), (std::vector<std::string>{}));
  Actor both{"dan", {"data-approver", "output-checker"}};
  EXPECT_EQ(ids(store_->list_cases(both, {}, kNow)), (std::vector<std::string>{a_, b_, c_, d_, e_}));
  EXPECT_EQ(ids(store_->list_cases(both, {.role = "output-checker"}, kNow)), (std::vector<std::string>{c_, d_}));
  EXPECT_EQ(ids(store_->list_cases(both, {.workspace = "ws-onco", .role = "data-approver"}, kNow)),
            (std::vector<std::string>{c_}));
  EXPECT_EQ(ids(store_->list_cases(both, {.order = CaseOrder::kNewestFirst}, kNow)),
            (std::vector<std::string>{e_, d_, c_, b_, a_}));
}

TEST_F(ReviewList, PagesWithACursorInEitherOrder) {
  Actor both{"dan", {"data-approver", "output-checker"}};
  std::vector<CaseSummary> first = store_->list_cases(both, {.limit = 2}, kNow).value();
  ASSERT_EQ(ids(first), (std::vector<std::string>{a_, b_}));
  std::vector<CaseSummary> second =
      store_->list_cases(both, {.limit = 2, .after_case = first[1].case_id}, kNow).value();
  ASSERT_EQ(ids(second), (std::vector<std::string>{c_, d_}));
  EXPECT_EQ(ids(store_->list_cases(both, {.limit = 2, .after_case = second[1].case_id}, kNow)),
            (std::vector<std::string>{e_}));

  std::vector<CaseSummary> newest =
      store_->list_cases(both, {.order = CaseOrder::kNewestFirst, .limit = 3}, kNow).value();
  ASSERT_EQ(ids(newest), (std::vector<std::string>{e_, d_, c_}));
  EXPECT_EQ(ids(store_->list_cases(both, {.order = CaseOrder::kNewestFirst, .after_case = newest[2].case_id}, kNow)),
            (std::vector<std::string>{b_, a_}));

  Result<std::vector<CaseSummary>> bad = store_->list_cases(both, {.after_case = 999999}, kNow);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.message().starts_with("invalid:")) << bad.message();
  Result<std::vector<CaseSummary>> nobody = store_->list_cases(Actor{"", {"data-approver"}}, {}, kNow);
  ASSERT_FALSE(nobody);
  EXPECT_TRUE(nobody.message().starts_with("invalid:")) << nobody.message();
}

TEST_F(ReviewList, AResubmittedTransferIsListedOnceForItsOpenRound) {
  ASSERT_TRUE(store_->vote(a_, kAnn, {VoteKind::kReturn, "redo", Visibility::kPublic}, kNow + 600));
  ASSERT_TRUE(store_->resubmit(a_, {"alice", {}}, false, kNow + 700));
  StateChange decided = to(S::kDecided);
  decided.decision_json = R"({"outcome": "escalate", "reviewers": {"roles": ["data-approver"], "approvals": 1}})";
  ASSERT_TRUE(store_->transition(a_, decided, kNow + 800));
  ASSERT_TRUE(store_->transition(a_, to(S::kEscalated), kNow + 800));
  ASSERT_TRUE(store_->start_review(a_, "system", kNow + 900));
  // Round 2 is new and open; ann voted in round 1 only, so she may review it, now after c and e.
  std::vector<CaseSummary> cases = store_->list_cases(kAnn, {}, kNow + 1000).value();
  ASSERT_EQ(ids(cases), (std::vector<std::string>{c_, e_, a_}));
  EXPECT_EQ(cases[2].round, 2);
  EXPECT_EQ(cases[2].my_vote, std::nullopt);
  std::vector<CaseSummary> all = store_->list_cases(kAnn, {.view = CaseView::kAll}, kNow + 1000).value();
  EXPECT_EQ(ids(all), (std::vector<std::string>{a_, c_, e_, a_}));
  EXPECT_EQ(all[0].my_vote, VoteKind::kReturn);
}

}  // namespace
}  // namespace airlock::gateway
