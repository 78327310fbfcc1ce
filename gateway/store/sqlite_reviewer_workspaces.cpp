// Reviewer workspaces in the SQLite store (docs/reviews.md, "Reviewer workspaces"), and the batch read of the
// latest review of many transfers that the transfer list shows.
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "airlock/gateway/reviews.h"
#include "airlock/gateway/store.h"
#include "sqlite_database.h"
#include "sqlite_store.h"

namespace airlock::gateway {

using sqlite::Statement;
using store_internal::dump;
using store_internal::Transaction;

namespace store_internal {

const char* reviewer_workspaces_migration() {
  return R"sql(
CREATE TABLE IF NOT EXISTS reviewer_workspaces (
  case_id INTEGER PRIMARY KEY REFERENCES review_cases (id),
  transfer_id TEXT NOT NULL REFERENCES transfers (id),
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  url TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS reviewer_workspaces_by_transfer ON reviewer_workspaces (transfer_id, case_id);
)sql";
}

}  // namespace store_internal

namespace {

std::vector<std::string> string_array(const std::string& text) {
  std::vector<std::string> values;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return values;
  for (const nlohmann::json& value : parsed) {
    if (value.is_string()) values.push_back(value.get<std::string>());
  }
  return values;
}

// Columns: case_id, transfer_id, round, requested_by, requested_at, url.
constexpr const char* kWorkspaceSelect =
    "SELECT w.case_id, w.transfer_id, c.round, w.requested_by, w.requested_at, w.url "
    "FROM reviewer_workspaces w JOIN review_cases c ON c.id = w.case_id ";

ReviewerWorkspace read_workspace(const Statement& row) {
  ReviewerWorkspace workspace;
  workspace.case_id = row.integer(0);
  workspace.transfer_id = row.text(1);
  workspace.round = static_cast<std::int32_t>(row.integer(2));
  workspace.requested_by = row.text(3);
  workspace.requested_at = row.integer(4);
  workspace.url = row.text(5);
  return workspace;
}

}  // namespace

Result<TransferStore::WorkspaceRequest> SqliteTransferStore::request_reviewer_workspace(const std::string& transfer_id,
                                                                                        const Actor& reviewer,
                                                                                        const std::string& url,
                                                                                        UnixMillis now) {
  if (reviewer.user.empty()) return Error{"invalid: a reviewer workspace needs the reviewer's user id"};
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  Result<Transfer> transfer = get_locked(transfer_id);
  if (!transfer) return transfer.error();
  Result<std::optional<ReviewCase>> open = open_case_of_locked(transfer_id);
  if (!open) return open.error();
  if (!*open || transfer->state != TransferState::kInReview) {
    return Error{"conflict: transfer " + transfer_id + " is " + std::string(state_name(transfer->state)) +
                 "; a reviewer workspace is only for a transfer in review"};
  }
  const ReviewCase& review = **open;
  if (reviewer.user == transfer->owner) {
    return Error{"forbidden: " + reviewer.user + " requested transfer " + transfer_id +
                 " and cannot ask for a reviewer workspace on it"};
  }
  bool listed = false;
  for (const std::string& role : review.roles) listed = listed || reviewer.has_role(role);
  if (!listed) {
    std::string roles;
    for (const std::string& role : review.roles) roles += (roles.empty() ? "" : ", ") + role;
    return Error{"forbidden: " + reviewer.user + " holds none of the roles the review of transfer " + transfer_id +
                 " lists (" + roles + ")"};
  }
  {
    Result<std::unique_ptr<Statement>> query = db_->prepare(std::string(kWorkspaceSelect) + "WHERE w.case_id = ?1");
    if (!query) return query.error();
    (*query)->bind(1, review.id);
    int rc = (*query)->step();
    if (rc == SQLITE_ROW) return WorkspaceRequest{read_workspace(**query), false};
    if (rc != SQLITE_DONE) return db_->error("cannot read the reviewer workspace of transfer " + transfer_id);
  }
  {
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO reviewer_workspaces (case_id, transfer_id, requested_by, requested_at, url) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert) return insert.error();
    (*insert)
        ->bind(1, review.id)
        .bind(2, transfer_id)
        .bind(3, reviewer.user)
        .bind(4, static_cast<std::int64_t>(now))
        .bind(5, url);
    if ((*insert)->step() != SQLITE_DONE) {
      return db_->error("cannot record the reviewer workspace of transfer " + transfer_id);
    }
  }
  const std::string state(state_name(transfer->state));
  nlohmann::json detail = {{"case", review.id}, {"round", review.round}, {"url", url}};
  if (Status status =
          append_locked(transfer_id, reviewer.user, "reviewer_workspace_requested", state, state, dump(detail), now);
      !status) {
    return Error{status.message()};
  }
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return WorkspaceRequest{{transfer_id, review.id, review.round, reviewer.user, now, url}, true};
}

Result<ReviewerWorkspace> SqliteTransferStore::reviewer_workspace(const std::string& transfer_id) {
  std::lock_guard lock(mutex_);
  Result<std::unique_ptr<Statement>> query = db_->prepare(
      std::string(kWorkspaceSelect) +
      "WHERE w.case_id = (SELECT id FROM review_cases WHERE transfer_id = ?1 ORDER BY round DESC LIMIT 1)");
  if (!query) return query.error();
  (*query)->bind(1, transfer_id);
  int rc = (*query)->step();
  if (rc == SQLITE_ROW) return read_workspace(**query);
  if (rc != SQLITE_DONE) return db_->error("cannot read the reviewer workspace of transfer " + transfer_id);
  return Error{"not_found: no reviewer workspace was requested for the current review of transfer " + transfer_id};
}

Result<std::map<std::string, TransferReview>> SqliteTransferStore::transfer_reviews(
    const std::vector<std::string>& transfer_ids) {
  std::map<std::string, TransferReview> reviews;
  if (transfer_ids.empty()) return reviews;
  const std::string ids = dump(nlohmann::json(transfer_ids));
  std::lock_guard lock(mutex_);
  // One snapshot for the three reads.
  if (Status status = db_->execute("BEGIN"); !status) return Error{status.message()};
  Result<std::map<std::string, TransferReview>> result = [&]() -> Result<std::map<std::string, TransferReview>> {
    std::map<std::int64_t, ReviewCase*> by_case;
    {
      Result<std::unique_ptr<Statement>> query = db_->prepare(
          "SELECT c.id, c.transfer_id, c.round, c.roles_json, c.approvals_required, c.status, c.opened_by, "
          "c.opened_at, c.closed_at FROM review_cases c "
          "WHERE c.transfer_id IN (SELECT value FROM json_each(?1)) "
          "AND c.round = (SELECT max(round) FROM review_cases m WHERE m.transfer_id = c.transfer_id)");
      if (!query) return query.error();
      (*query)->bind(1, ids);
      int rc;
      while ((rc = (*query)->step()) == SQLITE_ROW) {
        ReviewCase review;
        review.id = (*query)->integer(0);
        review.transfer_id = (*query)->text(1);
        review.round = static_cast<std::int32_t>((*query)->integer(2));
        review.roles = string_array((*query)->text(3));
        review.approvals_required = static_cast<std::uint32_t>((*query)->integer(4));
        review.status = parse_case_status((*query)->text(5)).value_or(CaseStatus::kCancelled);
        review.opened_by = (*query)->text(6);
        review.opened_at = (*query)->integer(7);
        review.closed_at = (*query)->integer(8);
        const std::string transfer_id = review.transfer_id;
        reviews[transfer_id].latest = std::move(review);
      }
      if (rc != SQLITE_DONE) return db_->error("cannot read the reviews of the transfers");
    }
    if (reviews.empty()) return reviews;
    std::vector<std::int64_t> case_ids;
    for (auto& [id, review] : reviews) {
      by_case[review.latest->id] = &*review.latest;
      case_ids.push_back(review.latest->id);
    }
    const std::string cases = dump(nlohmann::json(case_ids));
    std::map<std::int64_t, std::vector<Actor>> approvers;
    {
      Result<std::unique_ptr<Statement>> query = db_->prepare(
          "SELECT case_id, voter, roles_json, vote, coalesce(comment_id, 0), at FROM review_votes "
          "WHERE case_id IN (SELECT value FROM json_each(?1)) ORDER BY case_id, seq");
      if (!query) return query.error();
      (*query)->bind(1, cases);
      int rc;
      while ((rc = (*query)->step()) == SQLITE_ROW) {
        auto it = by_case.find((*query)->integer(0));
        if (it == by_case.end()) continue;
        VoteRecord record;
        record.voter = (*query)->text(1);
        record.roles = string_array((*query)->text(2));
        record.kind = parse_vote_kind((*query)->text(3)).value_or(VoteKind::kReject);
        record.comment_id = (*query)->integer(4);
        record.at = (*query)->integer(5);
        if (record.kind == VoteKind::kApprove) approvers[it->first].push_back({record.voter, record.roles});
        it->second->votes.push_back(std::move(record));
      }
      if (rc != SQLITE_DONE) return db_->error("cannot read the votes of the transfers' reviews");
    }
    for (auto& [case_id, review] : by_case) {
      review->tally = tally_approvals(review->roles, review->approvals_required, approvers[case_id]);
    }
    {
      Result<std::unique_ptr<Statement>> query =
          db_->prepare(std::string(kWorkspaceSelect) + "WHERE w.case_id IN (SELECT value FROM json_each(?1))");
      if (!query) return query.error();
      (*query)->bind(1, cases);
      int rc;
      while ((rc = (*query)->step()) == SQLITE_ROW) {
        ReviewerWorkspace workspace = read_workspace(**query);
        const std::string transfer_id = workspace.transfer_id;
        reviews[transfer_id].workspace = std::move(workspace);
      }
      if (rc != SQLITE_DONE) return db_->error("cannot read the reviewer workspaces of the transfers");
    }
    return reviews;
  }();
  (void)db_->execute("COMMIT");
  return result;
}

}  // namespace airlock::gateway
