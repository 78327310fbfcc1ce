// The review API (docs/api.md "Reviews", docs/reviews.md): review cases, votes, comments, resubmission,
// revocation, history, previews and reviewer workspaces. Every rule of the workflow is the store's; a handler
// parses the request, calls the store once, maps its error to a status, and answers JSON.
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "preview.h"
#include "service.h"

namespace airlock::gateway::server {
namespace {

using runtime::Error;
using runtime::Result;
using runtime::Status;

constexpr std::string_view kTransfersPrefix = "/api/v1/transfers/";
constexpr std::string_view kSubresources[] = {"review", "votes",   "comments", "resubmit",
                                              "revoke", "history", "preview",  "reviewer-workspace"};

std::string dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::ordered_json json_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  nlohmann::ordered_json value = nlohmann::ordered_json::parse(text, nullptr, false);
  return value.is_discarded() ? nlohmann::ordered_json(nullptr) : value;
}

nlohmann::ordered_json time_or_null(UnixMillis millis) {
  return millis == 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(timestamp_text(millis));
}

bool valid_id(std::string_view id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string join(const std::vector<std::string>& values, std::string_view separator = ", ") {
  std::string text;
  for (const std::string& value : values) {
    if (!text.empty()) text += separator;
    text += value;
  }
  return text;
}

Actor actor_of(const Principal& principal) { return Actor{principal.user, principal.roles}; }

nlohmann::ordered_json fills_json(const std::vector<RoleFill>& fills) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const RoleFill& fill : fills) out.push_back({{"role", fill.role}, {"user", fill.user}});
  return out;
}

// CASE of docs/api.md. `visible_comments`: the comment ids the viewer may read (others show as null).
nlohmann::ordered_json case_json(const ReviewCase& review, const std::set<std::int64_t>* visible_comments) {
  nlohmann::ordered_json votes = nlohmann::ordered_json::array();
  for (const VoteRecord& vote : review.votes) {
    bool shown = vote.comment_id != 0 && (visible_comments == nullptr || visible_comments->count(vote.comment_id) != 0);
    votes.push_back({{"voter", vote.voter},
                     {"roles", vote.roles},
                     {"vote", vote_kind_name(vote.kind)},
                     {"comment_id", shown ? nlohmann::ordered_json(vote.comment_id) : nlohmann::ordered_json(nullptr)},
                     {"at", timestamp_text(vote.at)}});
  }
  return {{"id", review.id},
          {"round", review.round},
          {"status", case_status_name(review.status)},
          {"roles", review.roles},
          {"approvals_required", review.approvals_required},
          {"opened_by", review.opened_by},
          {"opened_at", timestamp_text(review.opened_at)},
          {"closed_at", time_or_null(review.closed_at)},
          {"votes", std::move(votes)},
          {"roles_filled", fills_json(review.tally.roles_filled)},
          {"roles_missing", review.tally.roles_missing},
          {"approvals", review.tally.approvers}};
}

nlohmann::ordered_json comment_json(const Comment& comment) {
  return {{"id", comment.id},
          {"round", comment.round},
          {"author", comment.author},
          {"by_requester", comment.by_requester},
          {"visibility", visibility_name(comment.visibility)},
          {"text", comment.text},
          {"at", timestamp_text(comment.at)}};
}

nlohmann::ordered_json workspace_json(const ReviewerWorkspace& workspace) {
  return {{"requested_by", workspace.requested_by},
          {"requested_at", timestamp_text(workspace.requested_at)},
          {"url", workspace.url},
          {"case_id", workspace.case_id},
          {"round", workspace.round}};
}

nlohmann::ordered_json summary_json(const CaseSummary& summary) {
  return {{"case_id", summary.case_id},
          {"transfer_id", summary.transfer_id},
          {"round", summary.round},
          {"channel", summary.channel},
          {"filename", summary.filename},
          {"workspace", summary.workspace},
          {"datasource", summary.datasource},
          {"requester", summary.requester},
          {"transfer_state", state_name(summary.transfer_state)},
          {"status", case_status_name(summary.status)},
          {"roles_required", summary.roles_required},
          {"roles_filled", fills_json(summary.roles_filled)},
          {"roles_missing", summary.roles_missing},
          {"approvals", summary.approvals},
          {"approvals_required", summary.approvals_required},
          {"opened_at", timestamp_text(summary.opened_at)},
          {"closed_at", time_or_null(summary.closed_at)},
          {"age_seconds", summary.age / 1000},
          {"my_vote", summary.my_vote ? nlohmann::ordered_json(vote_kind_name(*summary.my_vote))
                                      : nlohmann::ordered_json(nullptr)}};
}

// "2 approvals: one data-approver, one output-checker".
std::string waiting_text(const ReviewCase& review) {
  std::size_t approvals = review.tally.approvers;
  std::size_t remaining = review.approvals_required > approvals ? review.approvals_required - approvals : 0;
  if (remaining == 0) return "";
  std::vector<std::string> parts;
  for (const std::string& role : review.tally.roles_missing) parts.push_back("one " + role);
  std::size_t extra = remaining > parts.size() ? remaining - parts.size() : 0;
  if (extra > 0) {
    std::string who = "any listed role (" + join(review.roles) + ")";
    parts.push_back(parts.empty() ? (extra == 1 ? "one approver of " : std::to_string(extra) + " approvers of ") + who
                                  : std::to_string(extra) + " more of " + who);
  }
  return std::to_string(remaining) + (remaining == 1 ? " approval: " : " approvals: ") + join(parts);
}

// The store's error codes as statuses: "not_found:" 404, "invalid:" 400, "forbidden:" 403, "conflict:" 409.
struct StoreErrorStatus {
  unsigned status;
  std::string_view code;
};
StoreErrorStatus status_of(const std::string& message) {
  if (message.starts_with("not_found:")) return {404, "not_found"};
  if (message.starts_with("invalid:")) return {400, "invalid"};
  if (message.starts_with("forbidden:")) return {403, "forbidden"};
  if (message.starts_with("conflict:")) return {409, "conflict"};
  return {500, "internal"};
}

// Who the viewer is to a transfer.
struct Access {
  bool owner = false;
  bool reviewer = false;   // holds a role one of its cases lists, or voted on it (never the owner)
  bool oversight = false;  // a governance lead (not the owner)
  bool visible = false;    // may see it at all (owner, reviewer, oversight, or a reviewer role: docs/api.md)
  bool may_inspect() const { return owner || reviewer || oversight; }  // history and preview
};

Access access_to(const Transfer& transfer, const std::vector<ReviewCase>& cases, const Principal& principal) {
  Access access;
  access.owner = transfer.owner == principal.user;
  if (!access.owner) {
    Actor actor = actor_of(principal);
    for (const ReviewCase& review : cases) {
      for (const std::string& role : review.roles) access.reviewer = access.reviewer || actor.has_role(role);
      for (const VoteRecord& vote : review.votes) access.reviewer = access.reviewer || vote.voter == principal.user;
    }
    access.oversight = actor.has_role(kGovernanceLeadRole);
  }
  access.visible = access.may_inspect() || principal.is_reviewer();
  return access;
}

}  // namespace

void add_review_fields(nlohmann::ordered_json& out, const Transfer& transfer, const TransferReview* review) {
  const ReviewCase* latest = review != nullptr && review->latest ? &*review->latest : nullptr;
  if (latest == nullptr) {
    out["review"] = nullptr;
  } else {
    out["review"] = {{"case_id", latest->id},
                     {"round", latest->round},
                     {"status", case_status_name(latest->status)},
                     {"roles_required", latest->roles},
                     {"roles_filled", fills_json(latest->tally.roles_filled)},
                     {"roles_missing", latest->tally.roles_missing},
                     {"approvals", latest->tally.approvers},
                     {"approvals_required", latest->approvals_required}};
  }
  std::vector<std::string> deciders;
  if (latest != nullptr) {
    for (const VoteRecord& vote : latest->votes) {
      if (latest->status == CaseStatus::kApproved && vote.kind == VoteKind::kApprove) deciders.push_back(vote.voter);
      if ((latest->status == CaseStatus::kRejected && vote.kind == VoteKind::kReject) ||
          (latest->status == CaseStatus::kReturned && vote.kind == VoteKind::kReturn)) {
        deciders = {vote.voter};
      }
    }
  }
  out["reviewed_by"] = join(deciders);
  std::string waiting;
  if (transfer.state == TransferState::kInReview && latest != nullptr && latest->status == CaseStatus::kOpen) {
    waiting = waiting_text(*latest);
  } else if (transfer.state == TransferState::kReturned) {
    waiting = "your changes (returned)";
  } else if (transfer.state == TransferState::kEscalated) {
    waiting = "the review to open";
  }
  out["waiting_for"] = waiting;
  out["reviewer_workspace"] =
      review != nullptr && review->workspace ? workspace_json(*review->workspace) : nlohmann::ordered_json(nullptr);
}

// One request to the review API.
class ReviewsApi {
 public:
  ReviewsApi(Service& service, const RequestHeader& header, const Principal& principal)
      : service_(service),
        header_(header),
        principal_(principal),
        version_(header.version()),
        keep_alive_(wants_keep_alive(header)) {}

  std::optional<Response> route(const std::string& body) {
    std::string_view path = target_path(header_.target());
    http::verb method = header_.method();
    if (path == "/api/v1/cases" || path == "/api/v1/cases/") {
      if (method != http::verb::get) return not_allowed("GET");
      return list_cases();
    }
    if (!path.starts_with(kTransfersPrefix)) return std::nullopt;
    std::string_view rest = path.substr(kTransfersPrefix.size());
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view id = rest.substr(0, slash);
    std::string_view sub = rest.substr(slash + 1);
    if (std::find(std::begin(kSubresources), std::end(kSubresources), sub) == std::end(kSubresources)) {
      return std::nullopt;
    }
    // The method first: a wrong one is 405 whatever the transfer.
    bool get_only = sub == "review" || sub == "history" || sub == "preview";
    bool post_only = sub == "votes" || sub == "resubmit" || sub == "revoke";
    if (get_only && method != http::verb::get) return not_allowed("GET");
    if (post_only && method != http::verb::post) return not_allowed("POST");
    if ((sub == "comments" || sub == "reviewer-workspace") && method != http::verb::get && method != http::verb::post) {
      return not_allowed("GET, POST");
    }
    if (!valid_id(id)) return error(404, "not_found", "no such transfer");
    id_ = std::string(id);

    // The body is checked before anything is read, so a malformed request changes and reveals nothing.
    nlohmann::json request;
    if (method == http::verb::post) {
      static const std::map<std::string_view, std::vector<std::string>> kFields = {
          {"votes", {"vote", "comment", "visibility"}},
          {"comments", {"text", "visibility"}},
          {"resubmit", {"replace_files"}},
          {"revoke", {"reason"}},
          {"reviewer-workspace", {}}};
      std::variant<nlohmann::json, Response> parsed = parse_body(body, kFields.at(sub));
      if (Response* bad = std::get_if<Response>(&parsed)) return std::move(*bad);
      request = std::move(std::get<nlohmann::json>(parsed));
    }

    Result<Transfer> transfer = service_.store_->get(id_);
    if (!transfer) return store_error(transfer.message());
    Result<std::vector<ReviewCase>> cases = service_.store_->review_history(id_);
    if (!cases) return store_error(cases.message());
    Access access = access_to(*transfer, *cases, principal_);
    // A transfer the viewer may not see is as unknown as one that does not exist.
    if (!access.visible) return error(404, "not_found", "no such transfer");

    if (sub == "review") return review(*transfer, *cases, access);
    if (sub == "votes") return vote(request);
    if (sub == "comments") return method == http::verb::get ? comments() : comment(request);
    if (sub == "resubmit") return resubmit(request);
    if (sub == "revoke") return revoke(*transfer, request);
    if (sub == "history") return history(*transfer, *cases, access);
    if (sub == "preview") return preview(*transfer, access);
    return method == http::verb::get ? workspace() : request_workspace(*transfer);
  }

 private:
  Response error(unsigned status, std::string_view code, const std::string& message) const {
    return error_response(status, code, message, version_, keep_alive_);
  }
  Response not_allowed(std::string_view allow) const {
    Response response = error(405, "method_not_allowed", "use " + std::string(allow));
    response.set(http::field::allow, std::string(allow));
    return response;
  }
  Response ok(unsigned status, const nlohmann::ordered_json& body) const {
    return json_response(status, dump(body), version_, keep_alive_);
  }
  Response store_error(const std::string& message) const {
    StoreErrorStatus mapped = status_of(message);
    if (mapped.status == 500) {
      service_.log_.error("store error", {{"transfer", id_}, {"error", message}});
      return error(500, "internal", "the gateway could not complete the request; try again later");
    }
    return error(mapped.status, mapped.code, message);
  }

  // A JSON object with only `known` fields; an empty body is {}.
  std::variant<nlohmann::json, Response> parse_body(const std::string& body, const std::vector<std::string>& known) {
    auto type = header_.find(http::field::content_type);
    if (type != header_.end()) {
      std::string_view value = type->value();
      value = value.substr(0, value.find(';'));
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (!value.empty() && value != "application/json") {
        return error(415, "unsupported_media_type", "send the body as Content-Type: application/json");
      }
    }
    if (std::all_of(body.begin(), body.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; })) {
      return nlohmann::json::object();
    }
    nlohmann::json parsed;
    try {
      parsed = nlohmann::json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
      return error(400, "invalid", "the body is not valid JSON: " + std::string(e.what()));
    }
    if (!parsed.is_object()) return error(400, "invalid", "the body must be a JSON object");
    for (const auto& [key, value] : parsed.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return error(400, "invalid",
                     "unknown field `" + key + "`" +
                         (known.empty() ? std::string(" (this request takes no fields)")
                                        : " (known fields: " + join(known) + ")"));
      }
    }
    return parsed;
  }

  // A string field: absent gives `fallback`; another type is an error naming the field.
  std::optional<Response> string_field(const nlohmann::json& request, const std::string& name, bool required,
                                       std::string& out) const {
    if (!request.contains(name)) {
      if (required) return error(400, "invalid", "the field `" + name + "` is required");
      return std::nullopt;
    }
    if (!request[name].is_string()) return error(400, "invalid", "the field `" + name + "` must be a string");
    out = request[name].get<std::string>();
    return std::nullopt;
  }
  std::optional<Response> visibility_field(const nlohmann::json& request, Visibility& out) const {
    std::string text = "public";
    if (std::optional<Response> bad = string_field(request, "visibility", false, text)) return bad;
    std::optional<Visibility> visibility = parse_visibility(text);
    if (!visibility) return error(400, "invalid", "`visibility` must be \"public\" or \"private\"");
    out = *visibility;
    return std::nullopt;
  }

  // The TRANSFER JSON with its review fields, as GET /api/v1/transfers/ID gives it.
  Result<nlohmann::ordered_json> transfer_body(const Transfer& transfer) {
    Result<std::map<std::string, TransferReview>> reviews = service_.store_->transfer_reviews({transfer.id});
    if (!reviews) return reviews.error();
    nlohmann::ordered_json out = transfer_json(transfer, true);
    auto found = reviews->find(transfer.id);
    add_review_fields(out, transfer, found == reviews->end() ? nullptr : &found->second);
    return out;
  }
  Response transfer_response(unsigned status, const Transfer& transfer) {
    Result<nlohmann::ordered_json> body = transfer_body(transfer);
    if (!body) return store_error(body.message());
    return ok(status, *body);
  }

  void wake_webhooks() {
    if (service_.webhooks_) service_.webhooks_->wake();
  }

  // GET /api/v1/cases
  Response list_cases() {
    std::string_view target = header_.target();
    CaseFilter filter;
    std::string view = query_parameter(target, "view");
    if (view.empty() || view == "to_review") {
      filter.view = CaseView::kToReview;
    } else if (view == "open") {
      filter.view = CaseView::kOpen;
    } else if (view == "closed") {
      filter.view = CaseView::kClosed;
    } else if (view == "all") {
      filter.view = CaseView::kAll;
    } else {
      return error(400, "invalid", "`view` must be to_review, open, closed or all");
    }
    std::string order = query_parameter(target, "order");
    if (order.empty() || order == "oldest") {
      filter.order = CaseOrder::kOldestFirst;
    } else if (order == "newest") {
      filter.order = CaseOrder::kNewestFirst;
    } else {
      return error(400, "invalid", "`order` must be oldest or newest");
    }
    if (std::string workspace = query_parameter(target, "workspace"); !workspace.empty()) filter.workspace = workspace;
    if (std::string role = query_parameter(target, "role"); !role.empty()) filter.role = role;
    auto number = [](const std::string& text) -> std::optional<std::int64_t> {
      std::int64_t value = 0;
      auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (text.empty() || problem != std::errc() || end != text.data() + text.size()) return std::nullopt;
      return value;
    };
    if (std::string limit = query_parameter(target, "limit"); !limit.empty()) {
      std::optional<std::int64_t> value = number(limit);
      if (!value || *value < 1 || *value > static_cast<std::int64_t>(kMaxCaseListLimit)) {
        return error(400, "invalid", "`limit` must be between 1 and " + std::to_string(kMaxCaseListLimit));
      }
      filter.limit = static_cast<std::size_t>(*value);
    }
    if (std::string after = query_parameter(target, "after"); !after.empty()) {
      std::optional<std::int64_t> value = number(after);
      if (!value || *value < 1) return error(400, "invalid", "`after` must be a case id (the `next` of a page)");
      filter.after_case = *value;
    }
    Result<std::vector<CaseSummary>> cases = service_.store_->list_cases(actor_of(principal_), filter, now_millis());
    if (!cases) return store_error(cases.message());
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const CaseSummary& summary : *cases) items.push_back(summary_json(summary));
    nlohmann::ordered_json body{{"cases", std::move(items)}};
    body["next"] = cases->size() == filter.limit && !cases->empty() ? nlohmann::ordered_json(cases->back().case_id)
                                                                    : nlohmann::ordered_json(nullptr);
    return ok(200, body);
  }

  // GET /api/v1/transfers/ID/review
  Response review(const Transfer& transfer, const std::vector<ReviewCase>& cases, const Access& access) {
    Result<std::vector<Comment>> comments = service_.store_->comments_visible_to(transfer.id, actor_of(principal_));
    if (!comments) return store_error(comments.message());
    std::set<std::int64_t> visible;
    nlohmann::ordered_json comment_items = nlohmann::ordered_json::array();
    for (const Comment& comment : *comments) {
      visible.insert(comment.id);
      comment_items.push_back(comment_json(comment));
    }
    Result<std::map<std::string, TransferReview>> reviews = service_.store_->transfer_reviews({transfer.id});
    if (!reviews) return store_error(reviews.message());
    const TransferReview* summary = reviews->count(transfer.id) != 0 ? &reviews->at(transfer.id) : nullptr;
    nlohmann::ordered_json transfer_out = transfer_json(transfer, false);
    add_review_fields(transfer_out, transfer, summary);

    const ReviewCase* latest = cases.empty() ? nullptr : &cases.back();
    nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
    for (const ReviewCase& review : cases) rounds.push_back(case_json(review, &visible));

    Actor me = actor_of(principal_);
    std::string cannot_vote;
    bool listed = false;
    const VoteRecord* my_vote = nullptr;
    if (latest != nullptr) {
      for (const std::string& role : latest->roles) listed = listed || me.has_role(role);
      for (const VoteRecord& vote : latest->votes) {
        if (vote.voter == me.user) my_vote = &vote;
      }
    }
    if (latest == nullptr || latest->status != CaseStatus::kOpen || transfer.state != TransferState::kInReview) {
      cannot_vote = latest == nullptr || latest->status == CaseStatus::kOpen
                        ? "the transfer is not in review (it is " + std::string(state_name(transfer.state)) + ")"
                        : "round " + std::to_string(latest->round) + " of the review is closed (" +
                              std::string(case_status_name(latest->status)) + ")";
    } else if (access.owner) {
      cannot_vote = "you requested this transfer; its reviewers decide";
    } else if (!listed) {
      cannot_vote = "you hold none of the roles this review needs (" + join(latest->roles) + ")";
    } else if (my_vote != nullptr) {
      cannot_vote = "you voted already (" + std::string(vote_kind_name(my_vote->kind)) + ")";
    }
    bool can_vote = cannot_vote.empty();
    bool can_approve = false;
    std::string cannot_approve;
    if (can_vote) {
      std::vector<Actor> approvers;
      for (const VoteRecord& vote : latest->votes) {
        if (vote.kind == VoteKind::kApprove) approvers.push_back({vote.voter, vote.roles});
      }
      can_approve = approval_counts(latest->roles, latest->approvals_required, approvers, me);
      if (!can_approve) {
        cannot_approve = "the roles you hold are filled by other approvers; the review still needs " +
                         join(latest->tally.roles_missing);
      }
    } else {
      cannot_approve = cannot_vote;
    }
    bool revocable = transfer.state == TransferState::kApproved || transfer.state == TransferState::kReleased ||
                     transfer.state == TransferState::kMaterialised;

    nlohmann::ordered_json body{
        {"transfer", std::move(transfer_out)},
        {"decision", json_or_null(transfer.decision_json)},
        {"facts", json_or_null(transfer.facts_json)},
        {"case", latest != nullptr ? case_json(*latest, &visible) : nlohmann::ordered_json(nullptr)},
        {"rounds", std::move(rounds)},
        {"comments", std::move(comment_items)},
        {"can_vote", can_vote},
        {"cannot_vote_because", cannot_vote},
        {"can_approve", can_approve},
        {"cannot_approve_because", cannot_approve},
        {"can_comment", !cases.empty() && (access.owner || access.reviewer)},
        {"can_resubmit", access.owner && transfer.state == TransferState::kReturned},
        {"can_revoke", access.oversight && revocable},
        {"reviewer_workspace", summary != nullptr && summary->workspace ? workspace_json(*summary->workspace)
                                                                        : nlohmann::ordered_json(nullptr)},
    };
    return ok(200, body);
  }

  // POST /api/v1/transfers/ID/votes
  Response vote(const nlohmann::json& request) {
    std::string kind_text;
    Vote vote;
    if (std::optional<Response> bad = string_field(request, "vote", true, kind_text)) return std::move(*bad);
    std::optional<VoteKind> kind = parse_vote_kind(kind_text);
    if (!kind) return error(400, "invalid", "`vote` must be \"approve\", \"reject\" or \"return\"");
    vote.kind = *kind;
    if (std::optional<Response> bad = string_field(request, "comment", false, vote.comment)) return std::move(*bad);
    if (std::optional<Response> bad = visibility_field(request, vote.visibility)) return std::move(*bad);

    Result<VoteOutcome> outcome = service_.store_->vote(id_, actor_of(principal_), vote, now_millis());
    if (!outcome) return store_error(outcome.message());
    Transfer transfer = outcome->transfer;
    nlohmann::ordered_json release_error = nullptr;
    if (outcome->decided) {
      wake_webhooks();
      service_.log_.info("review decided", {{"transfer", id_},
                                            {"case", outcome->review.id},
                                            {"status", case_status_name(outcome->review.status)},
                                            {"by", principal_.user}});
      // An approved import stays approved: its bytes sit on the data source's volume, which only k8s-sync's
      // release Job can reach (docs/import.md). Uploads are released here.
      if (transfer.state == TransferState::kApproved && transfer.channel == "upload") {
        Result<Transfer> released = service_.release_approved(transfer);
        if (released) {
          transfer = *released;
        } else {
          // The approval stands; the bytes stay in quarantine and the transfer approved until released.
          service_.log_.error("releasing an approved transfer failed",
                              {{"transfer", id_}, {"error", released.message()}});
          release_error = "the transfer was approved but releasing it failed; the gateway tries again";
        }
      }
    }
    Result<nlohmann::ordered_json> transfer_out = transfer_body(transfer);
    if (!transfer_out) return store_error(transfer_out.message());
    nlohmann::ordered_json body{
        {"case", case_json(outcome->review, nullptr)}, {"transfer", *transfer_out}, {"decided", outcome->decided}};
    if (!release_error.is_null()) body["release_error"] = release_error;
    return ok(200, body);
  }

  // GET /api/v1/transfers/ID/comments
  Response comments() {
    Result<std::vector<Comment>> comments = service_.store_->comments_visible_to(id_, actor_of(principal_));
    if (!comments) return store_error(comments.message());
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const Comment& comment : *comments) items.push_back(comment_json(comment));
    return ok(200, {{"comments", std::move(items)}});
  }

  // POST /api/v1/transfers/ID/comments
  Response comment(const nlohmann::json& request) {
    std::string text;
    Visibility visibility = Visibility::kPublic;
    if (std::optional<Response> bad = string_field(request, "text", true, text)) return std::move(*bad);
    if (std::optional<Response> bad = visibility_field(request, visibility)) return std::move(*bad);
    Result<Comment> comment = service_.store_->add_comment(id_, actor_of(principal_), text, visibility, now_millis());
    if (!comment) return store_error(comment.message());
    return ok(201, comment_json(*comment));
  }

  // POST /api/v1/transfers/ID/resubmit
  Response resubmit(const nlohmann::json& request) {
    if (!request.contains("replace_files")) {
      return error(400, "invalid",
                   "the field `replace_files` is required: true to upload new files, false to judge the same ones "
                   "again");
    }
    if (!request["replace_files"].is_boolean()) return error(400, "invalid", "`replace_files` must be true or false");
    bool replace_files = request["replace_files"].get<bool>();
    Result<Transfer> resubmitted = service_.store_->resubmit(id_, actor_of(principal_), replace_files, now_millis());
    if (!resubmitted) return store_error(resubmitted.message());
    service_.log_.info("transfer resubmitted", {{"transfer", id_}, {"replace_files", replace_files}});
    if (replace_files) {
      // The upload starts again from byte 0 through tus (PATCH /files/ID); whatever the inspectors held goes.
      service_.drop_state(id_);
      return transfer_response(200, *resubmitted);
    }
    // The same bytes are inspected and judged again, as for a new upload; an escalation opens the next round.
    std::shared_ptr<UploadState> state = service_.state_for(id_);
    std::unique_lock lock(state->busy);
    Transfer transfer = *resubmitted;
    Status prepared = service_.prepare_pipeline(transfer, *state);
    Result<Transfer> decided =
        prepared ? service_.complete(transfer, principal_, *state) : Result<Transfer>(Error{prepared.message()});
    lock.unlock();
    if (!decided) {
      service_.fail(id_, "judging the resubmitted transfer failed: " + decided.message(), false);
      return error(500, "internal", "the transfer was resubmitted but could not be judged; it failed safely");
    }
    return transfer_response(200, *decided);
  }

  // POST /api/v1/transfers/ID/revoke
  Response revoke(const Transfer& before, const nlohmann::json& request) {
    std::string reason;
    if (std::optional<Response> bad = string_field(request, "reason", true, reason)) return std::move(*bad);
    Result<Transfer> revoked = service_.store_->revoke(id_, actor_of(principal_), reason, now_millis());
    if (!revoked) return store_error(revoked.message());
    wake_webhooks();
    service_.log_.info("transfer revoked", {{"transfer", id_}, {"by", principal_.user}});
    // The released copy goes at once (what k8s-sync materialised is k8s-sync's to remove); bytes still in
    // quarantine (approved, not yet released) go too.
    std::string released =
        service_.config_.data_dir + "/released/" + safe_name(before.datasource, "default") + "/" + id_;
    std::error_code problem;
    bool had_released = std::filesystem::exists(released, problem);
    if (had_released) std::filesystem::remove_all(released, problem);
    Status removed = service_.files_->remove(id_);
    if (problem || !removed) {
      service_.log_.error("deleting revoked bytes failed",
                          {{"transfer", id_}, {"error", problem ? problem.message() : removed.message()}});
    } else if (Status audited = service_.store_->append_event(
                   id_, principal_.user, "bytes_deleted",
                   dump({{"reason", "revoked"}, {"released_copy", had_released}}), now_millis());
               !audited) {
      service_.log_.error("auditing a deletion failed", {{"transfer", id_}, {"error", audited.message()}});
    }
    return transfer_response(200, *revoked);
  }

  // GET /api/v1/transfers/ID/history
  Response history(const Transfer& transfer, const std::vector<ReviewCase>& cases, const Access& access) {
    (void)cases;
    if (!access.may_inspect()) {
      return error(403, "forbidden",
                   "only the requester and the reviewers of transfer " + transfer.id + " may read its history");
    }
    // Private comments never reach the requester (nor anyone who may not read them: comments_visible_to's rule).
    bool include_private = !access.owner && (access.reviewer || access.oversight);
    Result<std::vector<AuditEvent>> events = service_.store_->audit_events(transfer.id);
    if (!events) return store_error(events.message());
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const AuditEvent& event : *events) {
      nlohmann::ordered_json detail = json_or_null(event.detail_json);
      if (!include_private && detail.is_object() && detail.contains("comment") && detail["comment"].is_object() &&
          detail["comment"].value("visibility", "") == "private") {
        if (event.action == "comment") continue;
        detail.erase("comment");
      }
      items.push_back({{"sequence", event.sequence},
                       {"at", timestamp_text(event.at)},
                       {"actor", event.actor},
                       {"action", event.action},
                       {"from", event.from_state},
                       {"to", event.to_state},
                       {"detail", std::move(detail)}});
    }
    return ok(200, {{"events", std::move(items)}});
  }

  // GET /api/v1/transfers/ID/preview
  Response preview(const Transfer& transfer, const Access& access) {
    if (!access.may_inspect()) {
      return error(403, "forbidden",
                   "only the requester and the reviewers of transfer " + transfer.id + " may preview it");
    }
    const std::string& root = service_.config_.data_dir;
    std::vector<std::string> candidates = {service_.files_->quarantine_path(transfer.id),
                                           root + "/released/" + safe_name(transfer.datasource, "default") + "/" +
                                               transfer.id + "/" + safe_name(transfer.filename),
                                           root + "/denied/" + transfer.id + "/data"};
    std::uint64_t stored = transfer.state == TransferState::kCreated || transfer.state == TransferState::kReceiving
                               ? transfer.offset
                               : std::numeric_limits<std::uint64_t>::max();
    nlohmann::json facts = nlohmann::json::parse(transfer.facts_json, nullptr, false);
    std::string sniffed;
    if (facts.is_object() && facts.contains("file") && facts["file"].is_object()) {
      sniffed = facts["file"].value("type", "");
    }
    for (const std::string& path : candidates) {
      struct stat info {};
      if (path.empty() || ::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
      return ok(200, preview_file(path, stored, sniffed, transfer.declared_type, transfer.filename));
    }
    nlohmann::ordered_json none{
        {"kind", "none"},
        {"truncated", false},
        {"header", nlohmann::ordered_json::array()},
        {"rows", nlohmann::ordered_json::array()},
        {"lines", nlohmann::ordered_json::array()},
        {"entries", nlohmann::ordered_json::array()},
        {"note", "no bytes are stored for this transfer (it is " + std::string(state_name(transfer.state)) + ")"}};
    return ok(200, none);
  }

  // GET /api/v1/transfers/ID/reviewer-workspace
  Response workspace() {
    Result<ReviewerWorkspace> workspace = service_.store_->reviewer_workspace(id_);
    if (!workspace) return store_error(workspace.message());
    return ok(200, workspace_json(*workspace));
  }

  // POST /api/v1/transfers/ID/reviewer-workspace
  Response request_workspace(const Transfer& transfer) {
    std::string url = service_.config_.reviews.workspace_url;
    auto replace = [&](std::string_view name, const std::string& value) {
      for (std::size_t at = url.find(name); at != std::string::npos; at = url.find(name, at + value.size())) {
        url.replace(at, name.size(), value);
      }
    };
    replace("{transfer}", transfer.id);
    replace("{datasource}", transfer.datasource);
    Result<TransferStore::WorkspaceRequest> requested =
        service_.store_->request_reviewer_workspace(id_, actor_of(principal_), url, now_millis());
    if (!requested) return store_error(requested.message());
    if (requested->created) {
      service_.log_.info("reviewer workspace requested", {{"transfer", id_}, {"by", principal_.user}});
    }
    return ok(requested->created ? 201 : 200, workspace_json(requested->workspace));
  }

  Service& service_;
  const RequestHeader& header_;
  const Principal& principal_;
  unsigned version_;
  bool keep_alive_;
  std::string id_;
};

std::optional<Response> Service::handle_reviews(const RequestHeader& header, const std::string& body,
                                                const Principal& principal) {
  return ReviewsApi(*this, header, principal).route(body);
}

}  // namespace airlock::gateway::server
