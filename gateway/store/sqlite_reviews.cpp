// Review cases, votes, comments, resubmission and revocation in the SQLite store (docs/reviews.md).
// Every write is one BEGIN IMMEDIATE transaction holding the change, its audit events and its notifications;
// every check runs before the first write, so a refused call changes nothing.
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "airlock/gateway/reviews.h"
#include "airlock/gateway/store.h"
#include "sqlite_database.h"
#include "sqlite_store.h"

namespace airlock::gateway {

using sqlite::Statement;
using store_internal::dump;
using store_internal::parse_object;
using store_internal::Transaction;

namespace {

constexpr const char* kCaseColumns =
    "id, transfer_id, round, roles_json, approvals_required, status, opened_by, opened_at, closed_at";

constexpr const char* kCommentColumns =
    "m.id, m.transfer_id, m.case_id, c.round, m.author, m.by_requester, m.visibility, m.body, m.at";

std::vector<std::string> sorted_unique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::string join(const std::vector<std::string>& values) {
  std::string text;
  for (const std::string& value : values) {
    if (!text.empty()) text += ", ";
    text += value;
  }
  return text;
}

std::vector<std::string> parse_string_array(const std::string& text) {
  std::vector<std::string> values;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return values;
  for (const nlohmann::json& value : parsed) {
    if (value.is_string()) values.push_back(value.get<std::string>());
  }
  return values;
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    }
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((length == 2 && code < 0x80) || (length == 3 && code < 0x800) || (length == 4 && code < 0x10000) ||
        (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
      return false;
    }
    i += length;
  }
  return true;
}

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// "invalid: ..." unless `text` is non-blank UTF-8 of at most kMaxCommentBytes.
Status check_text(const std::string& text, std::string_view what) {
  if (blank(text)) return Error{"invalid: " + std::string(what) + " is empty"};
  if (text.size() > kMaxCommentBytes) {
    return Error{"invalid: " + std::string(what) + " is " + std::to_string(text.size()) + " bytes long; at most " +
                 std::to_string(kMaxCommentBytes) + " are allowed"};
  }
  if (!valid_utf8(text)) return Error{"invalid: " + std::string(what) + " is not valid UTF-8"};
  return Status::ok();
}

ReviewCase read_case(const Statement& row) {
  ReviewCase review;
  review.id = row.integer(0);
  review.transfer_id = row.text(1);
  review.round = static_cast<std::int32_t>(row.integer(2));
  review.roles = parse_string_array(row.text(3));
  review.approvals_required = static_cast<std::uint32_t>(row.integer(4));
  review.status = parse_case_status(row.text(5)).value_or(CaseStatus::kCancelled);
  review.opened_by = row.text(6);
  review.opened_at = row.integer(7);
  review.closed_at = row.integer(8);
  return review;
}

Comment read_comment(const Statement& row) {
  Comment comment;
  comment.id = row.integer(0);
  comment.transfer_id = row.text(1);
  comment.case_id = row.integer(2);
  comment.round = static_cast<std::int32_t>(row.integer(3));
  comment.author = row.text(4);
  comment.by_requester = row.integer(5) != 0;
  comment.visibility = parse_visibility(row.text(6)).value_or(Visibility::kPrivate);
  comment.text = row.text(7);
  comment.at = row.integer(8);
  return comment;
}

// The roles and approvals a transfer's review requires, from its stored decision's `reviewers`
// ({"roles": [...], "approvals": N}). No decision, or one without reviewers: data-approver, one approval,
// as LANGUAGE.md says for an escalation that names no role. A malformed one is refused, never weakened.
struct Requirement {
  std::vector<std::string> roles;
  std::uint32_t approvals = 1;
};

Result<Requirement> review_requirement(const Transfer& transfer) {
  Requirement requirement;
  nlohmann::json reviewers;
  if (!transfer.decision_json.empty()) {
    nlohmann::json decision = nlohmann::json::parse(transfer.decision_json, nullptr, /*allow_exceptions=*/false);
    if (!decision.is_object()) return Error{"invalid: the decision of transfer " + transfer.id + " is not an object"};
    if (decision.contains("reviewers")) reviewers = decision["reviewers"];
  }
  auto malformed = [&] {
    return Error{"invalid: the decision of transfer " + transfer.id +
                 " names its reviewers in an unknown form (expected {\"roles\": [...], \"approvals\": N})"};
  };
  std::uint64_t approvals = 0;
  if (!reviewers.is_null()) {
    if (!reviewers.is_object()) return malformed();
    if (reviewers.contains("roles")) {
      if (!reviewers["roles"].is_array()) return malformed();
      for (const nlohmann::json& role : reviewers["roles"]) {
        if (!role.is_string() || role.get<std::string>().empty()) return malformed();
        requirement.roles.push_back(role.get<std::string>());
      }
    }
    if (reviewers.contains("approvals")) {
      if (!reviewers["approvals"].is_number_unsigned() && !reviewers["approvals"].is_number_integer()) {
        return malformed();
      }
      if (reviewers["approvals"].is_number_integer() && reviewers["approvals"].get<std::int64_t>() < 0) {
        return malformed();
      }
      approvals = reviewers["approvals"].get<std::uint64_t>();
    }
  }
  requirement.roles = sorted_unique(std::move(requirement.roles));
  if (requirement.roles.empty()) requirement.roles.emplace_back(kDefaultReviewerRole);
  approvals = std::max<std::uint64_t>({approvals, requirement.roles.size(), 1});
  if (approvals > kMaxApprovals) {
    return Error{"invalid: the decision of transfer " + transfer.id + " requires " + std::to_string(approvals) +
                 " approvals; at most " + std::to_string(kMaxApprovals) + " are possible"};
  }
  requirement.approvals = static_cast<std::uint32_t>(approvals);
  return requirement;
}

std::vector<std::string> roles_in_common(const Actor& actor, const std::vector<std::string>& case_roles) {
  std::vector<std::string> common;
  for (const std::string& role : case_roles) {
    if (actor.has_role(role)) common.push_back(role);
  }
  return common;
}

nlohmann::json fills_json(const std::vector<RoleFill>& fills) {
  nlohmann::json object = nlohmann::json::object();
  for (const RoleFill& fill : fills) object[fill.role] = fill.user;
  return object;
}

}  // namespace

// --- Reading cases -----------------------------------------------------------------------------------

Status SqliteTransferStore::load_votes_locked(ReviewCase& review) {
  Result<std::unique_ptr<Statement>> query = db_->prepare(
      "SELECT voter, roles_json, vote, coalesce(comment_id, 0), at FROM review_votes WHERE case_id = ?1 ORDER BY seq");
  if (!query) return query.error();
  (*query)->bind(1, review.id);
  review.votes.clear();
  std::vector<Actor> approvers;
  int rc;
  while ((rc = (*query)->step()) == SQLITE_ROW) {
    VoteRecord record;
    record.voter = (*query)->text(0);
    record.roles = parse_string_array((*query)->text(1));
    record.kind = parse_vote_kind((*query)->text(2)).value_or(VoteKind::kReject);
    record.comment_id = (*query)->integer(3);
    record.at = (*query)->integer(4);
    if (record.kind == VoteKind::kApprove) approvers.push_back({record.voter, record.roles});
    review.votes.push_back(std::move(record));
  }
  if (rc != SQLITE_DONE) return db_->error("cannot read the votes of case " + std::to_string(review.id));
  review.tally = tally_approvals(review.roles, review.approvals_required, approvers);
  return Status::ok();
}

Result<ReviewCase> SqliteTransferStore::case_locked(std::int64_t case_id) {
  ReviewCase review;
  {
    Result<std::unique_ptr<Statement>> query =
        db_->prepare(std::string("SELECT ") + kCaseColumns + " FROM review_cases WHERE id = ?1");
    if (!query) return query.error();
    (*query)->bind(1, case_id);
    int rc = (*query)->step();
    if (rc == SQLITE_DONE) return Error{"not_found: no review case " + std::to_string(case_id)};
    if (rc != SQLITE_ROW) return db_->error("cannot read review case " + std::to_string(case_id));
    review = read_case(**query);
  }
  if (Status status = load_votes_locked(review); !status) return Error{status.message()};
  return review;
}

Result<std::optional<ReviewCase>> SqliteTransferStore::open_case_of_locked(const std::string& transfer_id) {
  std::int64_t case_id = 0;
  {
    Result<std::unique_ptr<Statement>> query =
        db_->prepare("SELECT id FROM review_cases WHERE transfer_id = ?1 AND status = 'open'");
    if (!query) return query.error();
    (*query)->bind(1, transfer_id);
    int rc = (*query)->step();
    if (rc == SQLITE_DONE) return std::optional<ReviewCase>();
    if (rc != SQLITE_ROW) return db_->error("cannot read the review of transfer " + transfer_id);
    case_id = (*query)->integer(0);
  }
  Result<ReviewCase> review = case_locked(case_id);
  if (!review) return review.error();
  return std::optional<ReviewCase>(std::move(*review));
}

Result<std::vector<ReviewCase>> SqliteTransferStore::cases_locked(const std::string& transfer_id) {
  std::vector<ReviewCase> cases;
  {
    Result<std::unique_ptr<Statement>> query = db_->prepare(std::string("SELECT ") + kCaseColumns +
                                                            " FROM review_cases WHERE transfer_id = ?1 ORDER BY round");
    if (!query) return query.error();
    (*query)->bind(1, transfer_id);
    int rc;
    while ((rc = (*query)->step()) == SQLITE_ROW) cases.push_back(read_case(**query));
    if (rc != SQLITE_DONE) return db_->error("cannot read the reviews of transfer " + transfer_id);
  }
  for (ReviewCase& review : cases) {
    if (Status status = load_votes_locked(review); !status) return Error{status.message()};
  }
  return cases;
}

Result<ReviewCase> SqliteTransferStore::open_case_locked(const Transfer& transfer, const std::string& actor,
                                                         UnixMillis now) {
  Result<Requirement> requirement = review_requirement(transfer);
  if (!requirement) return requirement.error();
  std::int64_t round = 1;
  {
    Result<std::unique_ptr<Statement>> query =
        db_->prepare("SELECT coalesce(max(round), 0) + 1 FROM review_cases WHERE transfer_id = ?1");
    if (!query) return query.error();
    (*query)->bind(1, transfer.id);
    if ((*query)->step() != SQLITE_ROW) return db_->error("cannot number the review of transfer " + transfer.id);
    round = (*query)->integer(0);
  }
  {
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO review_cases (transfer_id, round, roles_json, approvals_required, status, opened_by, opened_at) "
        "VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6)");
    if (!insert) return insert.error();
    (*insert)
        ->bind(1, transfer.id)
        .bind(2, round)
        .bind(3, dump(requirement->roles))
        .bind(4, static_cast<std::int64_t>(requirement->approvals))
        .bind(5, actor)
        .bind(6, static_cast<std::int64_t>(now));
    if ((*insert)->step() != SQLITE_DONE) return db_->error("cannot open the review of transfer " + transfer.id);
  }
  return case_locked(sqlite3_last_insert_rowid(db_->handle()));
}

Result<bool> SqliteTransferStore::is_reviewer_of_locked(const Transfer& transfer, const Actor& actor) {
  if (actor.user.empty() || actor.user == transfer.owner) return false;
  Result<std::vector<ReviewCase>> cases = cases_locked(transfer.id);
  if (!cases) return cases.error();
  for (const ReviewCase& review : *cases) {
    if (!roles_in_common(actor, review.roles).empty()) return true;
    for (const VoteRecord& record : review.votes) {
      if (record.voter == actor.user) return true;
    }
  }
  return false;
}

// --- Writing -------------------------------------------------------------------------------------------

Result<ReviewCase> SqliteTransferStore::start_review(const std::string& transfer_id, const std::string& actor,
                                                     UnixMillis now) {
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  StateChange change;
  change.to = TransferState::kInReview;
  change.actor = actor;
  change.reason = "review opened";
  Result<Transfer> moved =
      transition_locked(transfer_id, change, nlohmann::json::object(), now, TransferState::kEscalated);
  if (!moved) return moved.error();
  Result<std::optional<ReviewCase>> review = open_case_of_locked(transfer_id);
  if (!review) return review.error();
  if (!*review) return Error{"storage: the review of transfer " + transfer_id + " did not open"};
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return std::move(**review);
}

Result<Comment> SqliteTransferStore::insert_comment_locked(const Transfer& transfer, std::int64_t case_id,
                                                           std::int32_t round, const std::string& author,
                                                           Visibility visibility, const std::string& text,
                                                           UnixMillis now) {
  Comment comment;
  comment.transfer_id = transfer.id;
  comment.case_id = case_id;
  comment.round = round;
  comment.author = author;
  comment.by_requester = author == transfer.owner;
  comment.visibility = visibility;
  comment.text = text;
  comment.at = now;
  Result<std::unique_ptr<Statement>> insert = db_->prepare(
      "INSERT INTO review_comments (transfer_id, case_id, author, by_requester, visibility, body, at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!insert) return insert.error();
  (*insert)
      ->bind(1, transfer.id)
      .bind(2, case_id)
      .bind(3, author)
      .bind(4, static_cast<std::int64_t>(comment.by_requester))
      .bind(5, visibility_name(visibility))
      .bind(6, text)
      .bind(7, static_cast<std::int64_t>(now));
  if ((*insert)->step() != SQLITE_DONE) return db_->error("cannot store a comment on transfer " + transfer.id);
  comment.id = sqlite3_last_insert_rowid(db_->handle());
  return comment;
}

Result<VoteOutcome> SqliteTransferStore::vote(const std::string& transfer_id, const Actor& voter, const Vote& vote,
                                              UnixMillis now) {
  // The input first: nothing below this block can be refused for its form.
  if (voter.user.empty()) return Error{"invalid: a vote needs the voter's user id"};
  const std::string kind(vote_kind_name(vote.kind));
  if (vote.kind != VoteKind::kApprove && blank(vote.comment)) {
    return Error{vote.kind == VoteKind::kReturn
                     ? "invalid: a return needs a comment that tells the requester what to change"
                     : "invalid: a rejection needs a comment that says why"};
  }
  if (!vote.comment.empty()) {
    if (Status status = check_text(vote.comment, "the comment"); !status) return Error{status.message()};
  }
  if (vote.kind == VoteKind::kReturn && vote.visibility != Visibility::kPublic) {
    return Error{"invalid: a return's comment goes to the requester, so it must be public"};
  }

  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  Result<Transfer> transfer = get_locked(transfer_id);
  if (!transfer) return transfer.error();
  Result<std::optional<ReviewCase>> open = open_case_of_locked(transfer_id);
  if (!open) return open.error();
  if (!*open || transfer->state != TransferState::kInReview) {
    Result<std::vector<ReviewCase>> cases = cases_locked(transfer_id);
    if (!cases) return cases.error();
    if (cases->empty()) {
      return Error{"conflict: transfer " + transfer_id + " is not in review (it is " +
                   std::string(state_name(transfer->state)) + ")"};
    }
    return Error{"conflict: round " + std::to_string(cases->back().round) + " of the review of transfer " +
                 transfer_id + " is closed (" + std::string(case_status_name(cases->back().status)) +
                 "); it takes no more votes"};
  }
  ReviewCase& review = **open;

  // Separation of duties.
  if (voter.user == transfer->owner) {
    return Error{"forbidden: " + voter.user + " requested transfer " + transfer_id + " and may not vote on it"};
  }
  const std::vector<std::string> roles = roles_in_common(voter, review.roles);
  if (roles.empty()) {
    return Error{"forbidden: " + voter.user + " holds none of the roles this review requires (" + join(review.roles) +
                 ")"};
  }
  for (const VoteRecord& record : review.votes) {
    if (record.voter == voter.user) {
      return Error{"forbidden: " + voter.user + " has already voted (" + std::string(vote_kind_name(record.kind)) +
                   ") in round " + std::to_string(review.round) + " of the review of transfer " + transfer_id +
                   "; one vote per person"};
    }
  }
  if (vote.kind == VoteKind::kApprove) {
    std::vector<Actor> approvers;
    for (const VoteRecord& record : review.votes) {
      if (record.kind == VoteKind::kApprove) approvers.push_back({record.voter, record.roles});
    }
    if (!approval_counts(review.roles, review.approvals_required, approvers, Actor{voter.user, roles})) {
      return Error{"forbidden: " + voter.user + "'s approval cannot count: the roles they hold (" + join(roles) +
                   ") are filled by other approvers, and the review still needs " + join(review.tally.roles_missing) +
                   ", each from a different person"};
    }
  }

  // The vote, its comment and its audit event.
  nlohmann::json detail = {{"case", review.id}, {"round", review.round}, {"vote", kind}, {"roles", roles}};
  std::int64_t comment_id = 0;
  if (!vote.comment.empty()) {
    Result<Comment> comment =
        insert_comment_locked(*transfer, review.id, review.round, voter.user, vote.visibility, vote.comment, now);
    if (!comment) return comment.error();
    comment_id = comment->id;
    detail["comment"] = {{"id", comment->id}, {"visibility", visibility_name(vote.visibility)}, {"text", vote.comment}};
  }
  {
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO review_votes (case_id, voter, seq, roles_json, vote, comment_id, at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!insert) return insert.error();
    Statement& statement = **insert;
    statement.bind(1, review.id)
        .bind(2, voter.user)
        .bind(3, static_cast<std::int64_t>(review.votes.size() + 1))
        .bind(4, dump(roles))
        .bind(5, kind)
        .bind(7, static_cast<std::int64_t>(now));
    if (comment_id != 0) {
      statement.bind(6, comment_id);
    } else {
      statement.bind_null(6);
    }
    if (statement.step() != SQLITE_DONE) return db_->error("cannot record the vote on transfer " + transfer_id);
  }
  const std::string state(state_name(TransferState::kInReview));
  if (Status status = append_locked(transfer_id, voter.user, "vote", state, state, dump(detail), now); !status) {
    return Error{status.message()};
  }
  if (Status status = load_votes_locked(review); !status) return Error{status.message()};

  // Does the vote close the case?
  std::optional<CaseStatus> close_as;
  StateChange change;
  change.actor = voter.user;
  nlohmann::json closing = {{"vote", kind}};
  const bool public_comment = !vote.comment.empty() && vote.visibility == Visibility::kPublic;
  if (vote.kind == VoteKind::kReject) {
    close_as = CaseStatus::kRejected;
    change.to = TransferState::kRejected;
    change.reason = public_comment ? "rejected in review: " + vote.comment : "rejected in review";
  } else if (vote.kind == VoteKind::kReturn) {
    close_as = CaseStatus::kReturned;
    change.to = TransferState::kReturned;
    change.reason = "returned for changes: " + vote.comment;
  } else if (review.tally.complete) {
    close_as = CaseStatus::kApproved;
    change.to = TransferState::kApproved;
    change.reason = "approved in review";
    std::vector<std::string> approvers;
    for (const VoteRecord& record : review.votes) {
      if (record.kind == VoteKind::kApprove) approvers.push_back(record.voter);
    }
    closing["approvers"] = approvers;
    closing["roles_filled"] = fills_json(review.tally.roles_filled);
  }
  VoteOutcome outcome;
  if (close_as) {
    Result<Transfer> moved =
        transition_locked(transfer_id, change, std::move(closing), now, TransferState::kInReview, close_as);
    if (!moved) return moved.error();
    outcome.transfer = std::move(*moved);
    outcome.decided = true;
    Result<ReviewCase> closed = case_locked(review.id);
    if (!closed) return closed.error();
    outcome.review = std::move(*closed);
  } else {
    outcome.transfer = std::move(*transfer);
    outcome.review = std::move(review);
  }
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return outcome;
}

Result<Comment> SqliteTransferStore::add_comment(const std::string& transfer_id, const Actor& author,
                                                 const std::string& text, Visibility visibility, UnixMillis now) {
  if (author.user.empty()) return Error{"invalid: a comment needs its author's user id"};
  if (Status status = check_text(text, "the comment"); !status) return Error{status.message()};

  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  Result<Transfer> transfer = get_locked(transfer_id);
  if (!transfer) return transfer.error();
  Result<std::vector<ReviewCase>> cases = cases_locked(transfer_id);
  if (!cases) return cases.error();
  if (cases->empty()) {
    return Error{"conflict: transfer " + transfer_id + " has not been in review; comments belong to a review"};
  }
  if (author.user == transfer->owner) {
    if (visibility != Visibility::kPublic) {
      return Error{"forbidden: the requester's comments are public (private comments are for reviewers)"};
    }
  } else {
    Result<bool> reviewer = is_reviewer_of_locked(*transfer, author);
    if (!reviewer) return reviewer.error();
    if (!*reviewer) {
      return Error{"forbidden: " + author.user + " is neither the requester nor a reviewer of transfer " + transfer_id};
    }
  }
  const ReviewCase& latest = cases->back();
  Result<Comment> comment =
      insert_comment_locked(*transfer, latest.id, latest.round, author.user, visibility, text, now);
  if (!comment) return comment;
  nlohmann::json detail = {
      {"comment", {{"id", comment->id}, {"visibility", visibility_name(visibility)}, {"text", text}}},
      {"case", latest.id},
      {"round", latest.round}};
  const std::string state(state_name(transfer->state));
  if (Status status = append_locked(transfer_id, author.user, "comment", state, state, dump(detail), now); !status) {
    return Error{status.message()};
  }
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return comment;
}

Result<std::vector<Comment>> SqliteTransferStore::comments_locked(const std::string& transfer_id,
                                                                  bool include_private) {
  Result<Transfer> transfer = get_locked(transfer_id);
  if (!transfer) return transfer.error();
  Result<std::unique_ptr<Statement>> query =
      db_->prepare(std::string("SELECT ") + kCommentColumns +
                   " FROM review_comments m JOIN review_cases c ON c.id = m.case_id"
                   " WHERE m.transfer_id = ?1 AND (?2 OR m.visibility = 'public') ORDER BY m.id");
  if (!query) return query.error();
  (*query)->bind(1, transfer_id).bind(2, static_cast<std::int64_t>(include_private));
  std::vector<Comment> comments;
  int rc;
  while ((rc = (*query)->step()) == SQLITE_ROW) comments.push_back(read_comment(**query));
  if (rc != SQLITE_DONE) return db_->error("cannot read the comments on transfer " + transfer_id);
  return comments;
}

Result<std::vector<Comment>> SqliteTransferStore::comments(const std::string& transfer_id, bool include_private) {
  std::lock_guard lock(mutex_);
  return comments_locked(transfer_id, include_private);
}

Result<std::vector<Comment>> SqliteTransferStore::comments_visible_to(const std::string& transfer_id,
                                                                      const Actor& viewer) {
  std::lock_guard lock(mutex_);
  // One snapshot for the check and the read.
  if (Status status = db_->execute("BEGIN"); !status) return Error{status.message()};
  auto read = [&]() -> Result<std::vector<Comment>> {
    Result<Transfer> transfer = get_locked(transfer_id);
    if (!transfer) return transfer.error();
    Result<bool> reviewer = is_reviewer_of_locked(*transfer, viewer);
    if (!reviewer) return reviewer.error();
    const bool governance = viewer.user != transfer->owner && viewer.has_role(kGovernanceLeadRole);
    return comments_locked(transfer_id, *reviewer || governance);
  };
  Result<std::vector<Comment>> result = read();
  (void)db_->execute("COMMIT");
  return result;
}

Result<Transfer> SqliteTransferStore::resubmit(const std::string& transfer_id, const Actor& requester,
                                               bool replace_files, UnixMillis now) {
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  Result<Transfer> transfer = get_locked(transfer_id);
  if (!transfer) return transfer;
  if (requester.user != transfer->owner) {
    return Error{"forbidden: only the requester of transfer " + transfer_id + " may resubmit it"};
  }
  if (transfer->state != TransferState::kReturned) {
    return Error{"conflict: transfer " + transfer_id + " is " + std::string(state_name(transfer->state)) +
                 "; only a returned transfer can be resubmitted"};
  }
  StateChange change;
  change.to = replace_files ? TransferState::kReceiving : TransferState::kInspecting;
  change.actor = requester.user;
  change.reason = replace_files ? "resubmitted with new files" : "resubmitted with the same files";
  Result<Transfer> moved =
      transition_locked(transfer_id, change, {{"replace_files", replace_files}}, now, TransferState::kReturned);
  if (!moved) return moved;
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return moved;
}

Result<Transfer> SqliteTransferStore::revoke(const std::string& transfer_id, const Actor& actor,
                                             const std::string& reason, UnixMillis now) {
  if (actor.user.empty()) return Error{"invalid: a revocation needs the actor's user id"};
  if (Status status = check_text(reason, "the reason for revoking"); !status) return Error{status.message()};
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  Result<Transfer> transfer = get_locked(transfer_id);
  if (!transfer) return transfer;
  if (!actor.has_role(kGovernanceLeadRole)) {
    return Error{"forbidden: only a governance lead may revoke a transfer, and " + actor.user + " is not one"};
  }
  const TransferState from = transfer->state;
  if (from != TransferState::kApproved && from != TransferState::kReleased && from != TransferState::kMaterialised) {
    return Error{"conflict: transfer " + transfer_id + " is " + std::string(state_name(from)) +
                 "; only an approved, released or materialised transfer can be revoked"};
  }
  StateChange change;
  change.to = TransferState::kRevoked;
  change.actor = actor.user;
  change.reason = reason;
  Result<Transfer> moved = transition_locked(transfer_id, change, nlohmann::json::object(), now, from);
  if (!moved) return moved;
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return moved;
}

// --- Queries -------------------------------------------------------------------------------------------

Result<ReviewCase> SqliteTransferStore::current_case(const std::string& transfer_id) {
  Result<std::vector<ReviewCase>> cases = review_history(transfer_id);
  if (!cases) return cases.error();
  if (cases->empty()) return Error{"not_found: transfer " + transfer_id + " has never been in review"};
  return std::move(cases->back());
}

Result<std::vector<ReviewCase>> SqliteTransferStore::review_history(const std::string& transfer_id) {
  std::lock_guard lock(mutex_);
  if (Status status = db_->execute("BEGIN"); !status) return Error{status.message()};
  Result<std::vector<ReviewCase>> cases = [&]() -> Result<std::vector<ReviewCase>> {
    Result<Transfer> transfer = get_locked(transfer_id);
    if (!transfer) return transfer.error();
    return cases_locked(transfer_id);
  }();
  (void)db_->execute("COMMIT");
  return cases;
}

Result<std::vector<CaseSummary>> SqliteTransferStore::list_cases(const Actor& reviewer, const CaseFilter& filter,
                                                                 UnixMillis now) {
  if (reviewer.user.empty()) return Error{"invalid: listing cases needs the reviewer's user id"};
  // ?1 the reviewer, ?2 their roles (a JSON array), ?3 workspace, ?4 role, ?5 the paging cursor, ?6 the limit.
  const std::string eligible =
      "(t.owner <> ?1 AND EXISTS (SELECT 1 FROM json_each(c.roles_json) r "
      "WHERE r.value IN (SELECT value FROM json_each(?2))))";
  const std::string voted = "EXISTS (SELECT 1 FROM review_votes v WHERE v.case_id = c.id AND v.voter = ?1)";
  std::string where;
  switch (filter.view) {
    case CaseView::kToReview: where = "c.status = 'open' AND " + eligible + " AND NOT " + voted; break;
    case CaseView::kOpen: where = "c.status = 'open' AND (" + eligible + " OR " + voted + ")"; break;
    case CaseView::kClosed: where = "c.status <> 'open' AND (" + eligible + " OR " + voted + ")"; break;
    case CaseView::kAll: where = "(" + eligible + " OR " + voted + ")"; break;
  }
  const bool newest = filter.order == CaseOrder::kNewestFirst;
  std::string sql =
      "SELECT c.id, c.transfer_id, c.round, c.roles_json, c.approvals_required, c.status, c.opened_by, c.opened_at, "
      "c.closed_at, t.channel, t.filename, t.workspace, t.datasource, t.owner, t.state, "
      "(SELECT v.vote FROM review_votes v WHERE v.case_id = c.id AND v.voter = ?1) "
      "FROM review_cases c JOIN transfers t ON t.id = c.transfer_id WHERE " +
      where;
  if (filter.workspace) sql += " AND t.workspace = ?3";
  if (filter.role) sql += " AND EXISTS (SELECT 1 FROM json_each(c.roles_json) r WHERE r.value = ?4)";
  if (filter.after_case != 0) {
    sql += newest ? " AND (c.opened_at, c.id) < (SELECT opened_at, id FROM review_cases WHERE id = ?5)"
                  : " AND (c.opened_at, c.id) > (SELECT opened_at, id FROM review_cases WHERE id = ?5)";
  }
  sql += newest ? " ORDER BY c.opened_at DESC, c.id DESC" : " ORDER BY c.opened_at, c.id";
  sql += " LIMIT ?6";

  std::lock_guard lock(mutex_);
  if (Status status = db_->execute("BEGIN"); !status) return Error{status.message()};
  Result<std::vector<CaseSummary>> result = [&]() -> Result<std::vector<CaseSummary>> {
    if (filter.after_case != 0) {
      Result<ReviewCase> cursor = case_locked(filter.after_case);
      if (!cursor) return Error{"invalid: unknown paging cursor " + std::to_string(filter.after_case)};
    }
    std::vector<ReviewCase> cases;
    std::vector<CaseSummary> summaries;
    {
      Result<std::unique_ptr<Statement>> query = db_->prepare(sql);
      if (!query) return query.error();
      Statement& statement = **query;
      statement.bind(1, reviewer.user).bind(2, dump(reviewer.roles));
      if (filter.workspace) statement.bind(3, *filter.workspace);
      if (filter.role) statement.bind(4, *filter.role);
      if (filter.after_case != 0) statement.bind(5, filter.after_case);
      statement.bind(6, static_cast<std::int64_t>(std::min(filter.limit, kMaxCaseListLimit)));
      int rc;
      while ((rc = statement.step()) == SQLITE_ROW) {
        cases.push_back(read_case(statement));
        CaseSummary summary;
        summary.channel = statement.text(9);
        summary.filename = statement.text(10);
        summary.workspace = statement.text(11);
        summary.datasource = statement.text(12);
        summary.requester = statement.text(13);
        summary.transfer_state = parse_state(statement.text(14)).value_or(TransferState::kFailed);
        if (!statement.is_null(15)) summary.my_vote = parse_vote_kind(statement.text(15));
        summaries.push_back(std::move(summary));
      }
      if (rc != SQLITE_DONE) return db_->error("cannot list review cases");
    }
    for (std::size_t i = 0; i < cases.size(); ++i) {
      ReviewCase& review = cases[i];
      if (Status status = load_votes_locked(review); !status) return Error{status.message()};
      CaseSummary& summary = summaries[i];
      summary.case_id = review.id;
      summary.transfer_id = review.transfer_id;
      summary.round = review.round;
      summary.status = review.status;
      summary.roles_required = review.roles;
      summary.roles_filled = review.tally.roles_filled;
      summary.roles_missing = review.tally.roles_missing;
      summary.approvals = static_cast<std::uint32_t>(review.tally.approvers);
      summary.approvals_required = review.approvals_required;
      summary.opened_at = review.opened_at;
      summary.closed_at = review.closed_at;
      summary.age = std::max<UnixMillis>(0, (review.closed_at != 0 ? review.closed_at : now) - review.opened_at);
    }
    return summaries;
  }();
  (void)db_->execute("COMMIT");
  return result;
}

}  // namespace airlock::gateway
