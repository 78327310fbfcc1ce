// The review API of the real gateway, with curl: cases opened by escalations, votes with the separation of
// duties, comments, returns and resubmissions, revocation, history, previews and reviewer workspaces.
// The standard policies escalate a CSV holding NHS numbers to information-governance and data-approver,
// requiring 2 approvals.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "gateway_process.h"

namespace airlock::testing {
namespace {

constexpr const char* kRita = "rita-token-0123456789abcdef";    // data-approver
constexpr const char* kRob = "rob-token-0123456789abcdef";      // data-approver
constexpr const char* kIvy = "ivy-token-0123456789abcdef";      // information-governance
constexpr const char* kDan = "dan-token-0123456789abcdef";      // data-approver and information-governance
constexpr const char* kGwen = "gwen-token-0123456789abcdef";    // governance-lead
constexpr const char* kOscar = "oscar-token-0123456789abcdef";  // output-checker
constexpr const char* kPat = "pat-token-0123456789abcdef";      // platform-admin

const std::string kNhsCsv = "patient,nhs_number,count\n1,9434765919,12\n2,5738563913,8\n3,4809865347,15\n";

std::string review_config() {
  return R"(
limits: {max_upload_size: 1 GiB, idle_timeout: 30s}
log: {level: info, format: json}
reviews:
  workspace_url: "https://workspaces.example.org/review/{transfer}?datasource={datasource}"
tokens:
  - {token: alice-token-0123456789abcdef, user: alice, roles: [researcher]}
  - {token: bob-token-0123456789abcdef, user: bob, roles: [researcher]}
  - {token: rita-token-0123456789abcdef, user: rita, roles: [data-approver]}
  - {token: rob-token-0123456789abcdef, user: rob, roles: [data-approver]}
  - {token: ivy-token-0123456789abcdef, user: ivy, roles: [information-governance]}
  - {token: dan-token-0123456789abcdef, user: dan, roles: [data-approver, information-governance]}
  - {token: gwen-token-0123456789abcdef, user: gwen, roles: [governance-lead]}
  - {token: oscar-token-0123456789abcdef, user: oscar, roles: [output-checker]}
  - {token: pat-token-0123456789abcdef, user: pat, roles: [platform-admin]}
)";
}

class ReviewsApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = new GatewayProcess(review_config());
    gateway_->start();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_->log();
  }

  static HttpResult call(const char* token, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& content_type = "application/json") {
    std::vector<std::string> args = join(auth(token), {"-X", method, gateway_->url(path)});
    if (!body.empty()) args = join(args, {"-H", "Content-Type: " + content_type, "--data-binary", body});
    return curl(args);
  }
  static HttpResult get(const char* token, const std::string& path) { return call(token, "GET", path); }
  static HttpResult post(const char* token, const std::string& path, const nlohmann::json& body) {
    return call(token, "POST", path, body.dump());
  }
  static std::string transfer_path(const std::string& id, const std::string& sub = "") {
    return "/api/v1/transfers/" + id + (sub.empty() ? "" : "/" + sub);
  }
  static HttpResult vote(const char* token, const std::string& id, const std::string& kind,
                         const std::string& comment = "", const std::string& visibility = "public") {
    nlohmann::json body{{"vote", kind}, {"visibility", visibility}};
    if (!comment.empty()) body["comment"] = comment;
    return post(token, transfer_path(id, "votes"), body);
  }
  static nlohmann::json transfer(const char* token, const std::string& id) {
    return get(token, transfer_path(id)).json();
  }

  // A finished upload by alice; returns its id.
  static std::string upload(const std::string& name, const std::string& bytes, const std::string& type = "text/csv",
                            const std::string& workspace = "ws-test", const char* token = kAliceToken) {
    HttpResult created =
        create_upload(*gateway_, token, std::to_string(bytes.size()), metadata(name, type, workspace, "ds-test"));
    EXPECT_EQ(created.status, 201) << created.body;
    std::string location = created.header("location");
    HttpResult patched =
        patch_upload(*gateway_, token, location, 0, write_file(gateway_->root() + "/upload-" + name, bytes));
    EXPECT_EQ(patched.status, 204) << patched.body;
    return location.substr(std::string("/files/").size());
  }
  static std::string released_path(const std::string& id, const std::string& name) {
    return gateway_->data_dir() + "/released/ds-test/" + id + "/" + name;
  }
  static std::vector<std::string> actions(const char* token, const std::string& id) {
    std::vector<std::string> out;
    const nlohmann::json history = get(token, transfer_path(id, "history")).json();
    for (const auto& event : history["events"]) out.push_back(event["action"]);
    return out;
  }

  static GatewayProcess* gateway_;
};
GatewayProcess* ReviewsApi::gateway_ = nullptr;

TEST_F(ReviewsApi, AnEscalatedCsvWithNhsNumbersOpensACaseAtOnce) {
  std::string id = upload("cohort.csv", kNhsCsv);
  nlohmann::json got = transfer(kAliceToken, id);
  EXPECT_EQ(got["state"], "in_review") << got.dump();
  ASSERT_TRUE(got["review"].is_object()) << got.dump();
  EXPECT_EQ(got["review"]["status"], "open");
  EXPECT_EQ(got["review"]["round"], 1);
  EXPECT_EQ(got["review"]["roles_required"], nlohmann::json({"data-approver", "information-governance"}));
  EXPECT_EQ(got["review"]["approvals_required"], 2);
  EXPECT_EQ(got["review"]["approvals"], 0);
  EXPECT_EQ(got["waiting_for"], "2 approvals: one data-approver, one information-governance");
  EXPECT_EQ(got["reviewed_by"], "");
  EXPECT_TRUE(got["reviewer_workspace"].is_null());

  // The list carries the same review fields.
  HttpResult listed = get(kAliceToken, "/api/v1/transfers?state=in_review&limit=1000");
  ASSERT_EQ(listed.status, 200) << listed.body;
  bool found = false;
  const nlohmann::json list = listed.json();
  for (const auto& item : list["transfers"]) {
    if (item["id"] != id) continue;
    found = true;
    EXPECT_EQ(item["review"]["case_id"], got["review"]["case_id"]);
    EXPECT_EQ(item["waiting_for"], got["waiting_for"]);
  }
  EXPECT_TRUE(found);

  HttpResult review = get(kRita, transfer_path(id, "review"));
  ASSERT_EQ(review.status, 200) << review.body;
  nlohmann::json body = review.json();
  EXPECT_EQ(body["case"]["status"], "open");
  EXPECT_EQ(body["decision"]["outcome"], "escalate");
  EXPECT_GT(body["facts"]["content"]["nhs_numbers"].get<int>(), 0);
  EXPECT_TRUE(body["can_vote"]);
  EXPECT_TRUE(body["can_approve"]);
  EXPECT_EQ(body["cannot_vote_because"], "");
  EXPECT_FALSE(body["can_revoke"]);
  HttpResult own = get(kAliceToken, transfer_path(id, "review"));
  EXPECT_FALSE(own.json()["can_vote"]);
  EXPECT_NE(own.json()["cannot_vote_because"].get<std::string>().find("you requested"), std::string::npos);
}

TEST_F(ReviewsApi, TwoDistinctApproversReleaseTheFile) {
  std::string id = upload("two-approvers.csv", kNhsCsv);
  HttpResult first = vote(kRita, id, "approve", "aggregates only");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_FALSE(first.json()["decided"]);
  EXPECT_EQ(first.json()["case"]["approvals"], 1);
  EXPECT_EQ(first.json()["transfer"]["state"], "in_review");
  EXPECT_EQ(first.json()["transfer"]["waiting_for"], "1 approval: one information-governance");
  EXPECT_FALSE(std::filesystem::exists(released_path(id, "two-approvers.csv")));

  HttpResult second = vote(kIvy, id, "approve");
  ASSERT_EQ(second.status, 200) << second.body;
  nlohmann::json body = second.json();
  EXPECT_TRUE(body["decided"]);
  EXPECT_EQ(body["case"]["status"], "approved");
  EXPECT_EQ(body["transfer"]["state"], "released");
  EXPECT_EQ(body["transfer"]["reviewed_by"], "rita, ivy");
  EXPECT_EQ(body["transfer"]["waiting_for"], "");
  EXPECT_EQ(body["case"]["roles_filled"],
            nlohmann::json::parse(
                R"([{"role":"data-approver","user":"rita"},{"role":"information-governance","user":"ivy"}])"));
  std::string released = released_path(id, "two-approvers.csv");
  ASSERT_TRUE(std::filesystem::exists(released));
  EXPECT_EQ(read_text(released), kNhsCsv);

  // The history is the audit trail, in order.
  std::vector<std::string> trail = actions(kAliceToken, id);
  auto position = [&](const std::string& action, std::size_t from = 0) {
    auto it = std::find(trail.begin() + static_cast<std::ptrdiff_t>(from), trail.end(), action);
    return static_cast<std::size_t>(it - trail.begin());
  };
  ASSERT_LT(position("created"), trail.size());
  std::size_t first_vote = position("vote");
  ASSERT_LT(first_vote, trail.size());
  EXPECT_LT(position("vote", first_vote + 1), trail.size());
  nlohmann::json events = get(kIvy, transfer_path(id, "history")).json()["events"];
  std::vector<std::string> states;
  for (const auto& event : events) {
    if (event["action"] == "state") states.push_back(event["to"]);
    EXPECT_TRUE(event["detail"].is_object() || event["detail"].is_null());
  }
  for (std::string state : {"receiving", "inspecting", "decided", "escalated", "in_review", "approved", "released"}) {
    EXPECT_NE(std::find(states.begin(), states.end(), state), states.end()) << state;
  }
}

TEST_F(ReviewsApi, RefusedVotesChangeNothing) {
  std::string id = upload("refusals.csv", kNhsCsv);
  auto snapshot = [&] {
    nlohmann::json review = get(kRita, transfer_path(id, "review")).json();
    return std::make_pair(review["case"], review["transfer"]["updated_at"]);
  };
  auto before = snapshot();

  HttpResult self = vote(kAliceToken, id, "approve");
  EXPECT_EQ(self.status, 403) << self.body;
  EXPECT_EQ(self.json()["error"], "forbidden");
  HttpResult unlisted = vote(kGwen, id, "approve");  // a governance lead, but the case does not list the role
  EXPECT_EQ(unlisted.status, 403) << unlisted.body;
  EXPECT_EQ(unlisted.json()["error"], "forbidden");
  HttpResult admin = vote(kPat, id, "reject", "no");
  EXPECT_EQ(admin.status, 403) << admin.body;
  HttpResult stranger = vote(kOscar, id, "approve");  // may not even see the transfer
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  HttpResult blank_reject = vote(kRita, id, "reject");
  EXPECT_EQ(blank_reject.status, 400) << blank_reject.body;
  EXPECT_EQ(blank_reject.json()["error"], "invalid");
  HttpResult private_return = vote(kRita, id, "return", "fix it", "private");
  EXPECT_EQ(private_return.status, 400) << private_return.body;
  EXPECT_EQ(snapshot(), before);

  ASSERT_EQ(vote(kRita, id, "approve").status, 200);
  auto after_first = snapshot();
  HttpResult twice = vote(kRita, id, "reject", "changed my mind");
  EXPECT_EQ(twice.status, 403) << twice.body;
  EXPECT_EQ(twice.json()["error"], "forbidden");
  // Rob holds only data-approver, which rita fills: his approval could not count.
  HttpResult cannot_count = vote(kRob, id, "approve");
  EXPECT_EQ(cannot_count.status, 403) << cannot_count.body;
  EXPECT_NE(cannot_count.json()["message"].get<std::string>().find("information-governance"), std::string::npos);
  HttpResult rob_view = get(kRob, transfer_path(id, "review"));
  EXPECT_TRUE(rob_view.json()["can_vote"]);
  EXPECT_FALSE(rob_view.json()["can_approve"]);
  EXPECT_EQ(snapshot(), after_first);
  EXPECT_EQ(transfer(kAliceToken, id)["state"], "in_review");
}

TEST_F(ReviewsApi, ARejectClosesTheCaseAndLaterVotesConflict) {
  std::string id = upload("rejected.csv", kNhsCsv);
  HttpResult rejected = vote(kRita, id, "reject", "identifiable at practice level");
  ASSERT_EQ(rejected.status, 200) << rejected.body;
  EXPECT_TRUE(rejected.json()["decided"]);
  nlohmann::json got = transfer(kAliceToken, id);
  EXPECT_EQ(got["state"], "rejected");
  EXPECT_EQ(got["reason"], "rejected in review: identifiable at practice level");
  EXPECT_EQ(got["reviewed_by"], "rita");
  EXPECT_EQ(got["review"]["status"], "rejected");

  nlohmann::json before = get(kRita, transfer_path(id, "review")).json()["case"];
  HttpResult late = vote(kIvy, id, "approve");
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_EQ(late.json()["error"], "conflict");
  EXPECT_EQ(get(kRita, transfer_path(id, "review")).json()["case"], before);
  EXPECT_FALSE(std::filesystem::exists(released_path(id, "rejected.csv")));
}

TEST_F(ReviewsApi, AReturnedTransferResubmittedWithNewFilesOpensTheNextRound) {
  std::string id = upload("returned.csv", kNhsCsv);
  ASSERT_EQ(vote(kRita, id, "approve").status, 200);
  HttpResult returned = vote(kIvy, id, "return", "please drop the patient column");
  ASSERT_EQ(returned.status, 200) << returned.body;
  nlohmann::json got = transfer(kAliceToken, id);
  EXPECT_EQ(got["state"], "returned");
  EXPECT_EQ(got["waiting_for"], "your changes (returned)");
  EXPECT_EQ(got["reviewed_by"], "ivy");
  HttpResult own_review = get(kAliceToken, transfer_path(id, "review"));
  EXPECT_TRUE(own_review.json()["can_resubmit"]);
  ASSERT_EQ(own_review.json()["comments"].size(), 1u);
  EXPECT_EQ(own_review.json()["comments"][0]["text"], "please drop the patient column");

  // The requester answers in public; a private comment is not theirs to make.
  HttpResult answer = post(kAliceToken, transfer_path(id, "comments"), {{"text", "done, sending again"}});
  ASSERT_EQ(answer.status, 201) << answer.body;
  EXPECT_TRUE(answer.json()["by_requester"]);
  EXPECT_EQ(post(kAliceToken, transfer_path(id, "comments"), {{"text", "psst"}, {"visibility", "private"}}).status,
            403);
  EXPECT_EQ(post(kBobToken, transfer_path(id, "comments"), {{"text", "hello"}}).status, 404);
  EXPECT_EQ(post(kRita, transfer_path(id, "resubmit"), {{"replace_files", true}}).status, 403);
  EXPECT_EQ(post(kAliceToken, transfer_path(id, "resubmit"), nlohmann::json::object()).status, 400);

  HttpResult resubmitted = post(kAliceToken, transfer_path(id, "resubmit"), {{"replace_files", true}});
  ASSERT_EQ(resubmitted.status, 200) << resubmitted.body;
  EXPECT_EQ(resubmitted.json()["state"], "receiving");
  EXPECT_EQ(resubmitted.json()["offset"], 0);
  EXPECT_EQ(post(kAliceToken, transfer_path(id, "resubmit"), {{"replace_files", true}}).status, 409);

  // The new bytes go through tus to the same upload, from offset 0.
  HttpResult head = curl(join(auth(kAliceToken), {"-I", gateway_->url("/files/" + id), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(head.header("upload-offset"), "0");
  const std::string second = "nhs_number,count\n9434765919,12\n5738563913,8\n";
  HttpResult patched =
      patch_upload(*gateway_, kAliceToken, "/files/" + id, 0, write_file(gateway_->root() + "/returned-2.csv", second),
                   {"-H", "Upload-Length: " + std::to_string(second.size())});
  ASSERT_EQ(patched.status, 204) << patched.body;
  EXPECT_EQ(patched.header("airlock-transfer-state"), "in_review");

  HttpResult review = get(kRita, transfer_path(id, "review"));
  ASSERT_EQ(review.status, 200) << review.body;
  nlohmann::json body = review.json();
  ASSERT_EQ(body["rounds"].size(), 2u);
  EXPECT_EQ(body["rounds"][0]["status"], "returned");
  EXPECT_EQ(body["case"]["round"], 2);
  EXPECT_EQ(body["case"]["status"], "open");
  EXPECT_TRUE(body["case"]["votes"].empty());
  EXPECT_TRUE(body["can_vote"]);  // rita voted in round 1; round 2 is a new case
  ASSERT_EQ(vote(kRita, id, "approve").status, 200);
  HttpResult decided = vote(kIvy, id, "approve");
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(decided.json()["transfer"]["state"], "released");
  EXPECT_EQ(read_text(released_path(id, "returned.csv")), second);
}

TEST_F(ReviewsApi, AResubmissionOfTheSameFilesIsJudgedAgain) {
  std::string id = upload("same-files.csv", kNhsCsv);
  ASSERT_EQ(vote(kIvy, id, "return", "is the count column rounded?").status, 200);
  ASSERT_EQ(post(kAliceToken, transfer_path(id, "comments"), {{"text", "yes, to the nearest 5"}}).status, 201);
  HttpResult resubmitted = post(kAliceToken, transfer_path(id, "resubmit"), {{"replace_files", false}});
  ASSERT_EQ(resubmitted.status, 200) << resubmitted.body;
  EXPECT_EQ(resubmitted.json()["state"], "in_review");
  EXPECT_EQ(resubmitted.json()["review"]["round"], 2);
  EXPECT_EQ(resubmitted.json()["review"]["status"], "open");
}

TEST_F(ReviewsApi, PrivateCommentsNeverReachTheRequester) {
  std::string id = upload("private.csv", kNhsCsv);
  const std::string secret = "row 2 matches a patient in the linked cohort";
  HttpResult private_comment =
      post(kRita, transfer_path(id, "comments"), {{"text", secret}, {"visibility", "private"}});
  ASSERT_EQ(private_comment.status, 201) << private_comment.body;
  EXPECT_EQ(private_comment.json()["visibility"], "private");
  ASSERT_EQ(post(kRita, transfer_path(id, "comments"), {{"text", "checking the counts"}}).status, 201);
  ASSERT_EQ(vote(kIvy, id, "reject", "re-identification risk: " + secret, "private").status, 200);

  for (std::string sub : {"review", "comments", "history"}) {
    HttpResult own = get(kAliceToken, transfer_path(id, sub));
    ASSERT_EQ(own.status, 200) << sub << own.body;
    EXPECT_EQ(own.body.find(secret), std::string::npos) << sub << ": " << own.body;
  }
  EXPECT_EQ(get(kAliceToken, transfer_path(id)).body.find(secret), std::string::npos);
  nlohmann::json own = get(kAliceToken, transfer_path(id, "review")).json();
  ASSERT_EQ(own["comments"].size(), 1u);
  EXPECT_EQ(own["comments"][0]["text"], "checking the counts");
  EXPECT_EQ(own["transfer"]["reason"], "rejected in review");

  nlohmann::json reviewer = get(kRita, transfer_path(id, "review")).json();
  EXPECT_EQ(reviewer["comments"].size(), 3u);
  EXPECT_NE(get(kIvy, transfer_path(id, "history")).body.find(secret), std::string::npos);
}

TEST_F(ReviewsApi, OnlyAGovernanceLeadRevokesAndTheReleasedBytesGo) {
  std::string id = upload("released.csv", "region,rate\nnorth,12\nsouth,9\n");
  ASSERT_EQ(transfer(kAliceToken, id)["state"], "released");
  std::string released = released_path(id, "released.csv");
  ASSERT_TRUE(std::filesystem::exists(released));

  EXPECT_EQ(post(kRita, transfer_path(id, "revoke"), {{"reason", "not mine to revoke"}}).status, 403);
  EXPECT_EQ(post(kAliceToken, transfer_path(id, "revoke"), {{"reason", "oops"}}).status, 403);
  EXPECT_EQ(post(kGwen, transfer_path(id, "revoke"), {{"reason", "  "}}).status, 400);
  EXPECT_EQ(post(kGwen, transfer_path(id, "revoke"), nlohmann::json::object()).status, 400);
  EXPECT_EQ(transfer(kAliceToken, id)["state"], "released");
  EXPECT_TRUE(std::filesystem::exists(released));
  EXPECT_TRUE(get(kGwen, transfer_path(id, "review")).json()["can_revoke"]);

  HttpResult revoked = post(kGwen, transfer_path(id, "revoke"), {{"reason", "the data sharing agreement ended"}});
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(revoked.json()["state"], "revoked");
  EXPECT_EQ(revoked.json()["reason"], "the data sharing agreement ended");
  EXPECT_FALSE(std::filesystem::exists(released));
  std::vector<std::string> trail = actions(kAliceToken, id);
  EXPECT_NE(std::find(trail.begin(), trail.end(), "bytes_deleted"), trail.end());
  EXPECT_EQ(post(kGwen, transfer_path(id, "revoke"), {{"reason", "again"}}).status, 409);
}

TEST_F(ReviewsApi, CasesListFiltersOrdersAndPages) {
  std::string a1 = upload("list-1.csv", kNhsCsv, "text/csv", "ws-list-a");
  std::string a2 = upload("list-2.csv", kNhsCsv, "text/csv", "ws-list-a");
  std::string b1 = upload("list-3.csv", kNhsCsv, "text/csv", "ws-list-b");
  auto ids = [](const HttpResult& result) {
    std::vector<std::string> out;
    const nlohmann::json body = result.json();
    for (const auto& item : body["cases"]) out.push_back(item["transfer_id"]);
    return out;
  };
  HttpResult queue = get(kRita, "/api/v1/cases?workspace=ws-list-a");
  ASSERT_EQ(queue.status, 200) << queue.body;
  EXPECT_EQ(ids(queue), (std::vector<std::string>{a1, a2}));
  nlohmann::json first = queue.json()["cases"][0];
  EXPECT_EQ(first["filename"], "list-1.csv");
  EXPECT_EQ(first["requester"], "alice");
  EXPECT_EQ(first["status"], "open");
  EXPECT_EQ(first["transfer_state"], "in_review");
  EXPECT_EQ(first["roles_missing"], nlohmann::json({"data-approver", "information-governance"}));
  EXPECT_TRUE(first["my_vote"].is_null());
  EXPECT_TRUE(first["closed_at"].is_null());
  EXPECT_GE(first["age_seconds"].get<int>(), 0);

  EXPECT_EQ(ids(get(kRita, "/api/v1/cases?workspace=ws-list-a&order=newest")), (std::vector<std::string>{a2, a1}));
  HttpResult page = get(kRita, "/api/v1/cases?workspace=ws-list-a&limit=1");
  EXPECT_EQ(ids(page), (std::vector<std::string>{a1}));
  ASSERT_TRUE(page.json()["next"].is_number());
  HttpResult next = get(kRita, "/api/v1/cases?workspace=ws-list-a&limit=1&after=" +
                                   std::to_string(page.json()["next"].get<std::int64_t>()));
  EXPECT_EQ(ids(next), (std::vector<std::string>{a2}));
  EXPECT_EQ(ids(get(kRita, "/api/v1/cases?workspace=ws-list-b&role=information-governance")),
            (std::vector<std::string>{b1}));
  EXPECT_TRUE(ids(get(kRita, "/api/v1/cases?workspace=ws-list-b&role=output-checker")).empty());

  ASSERT_EQ(vote(kRita, a1, "approve").status, 200);
  EXPECT_EQ(ids(get(kRita, "/api/v1/cases?view=to_review&workspace=ws-list-a")), (std::vector<std::string>{a2}));
  HttpResult open = get(kRita, "/api/v1/cases?view=open&workspace=ws-list-a");
  EXPECT_EQ(ids(open), (std::vector<std::string>{a1, a2}));
  EXPECT_EQ(open.json()["cases"][0]["my_vote"], "approve");
  EXPECT_TRUE(ids(get(kRita, "/api/v1/cases?view=closed&workspace=ws-list-a")).empty());
  ASSERT_EQ(vote(kDan, a2, "reject", "no").status, 200);
  EXPECT_EQ(ids(get(kRita, "/api/v1/cases?view=closed&workspace=ws-list-a")), (std::vector<std::string>{a2}));
  EXPECT_EQ(ids(get(kRita, "/api/v1/cases?view=all&workspace=ws-list-a")), (std::vector<std::string>{a1, a2}));

  // The requester has nothing to review; a bad parameter is named.
  EXPECT_TRUE(ids(get(kAliceToken, "/api/v1/cases?view=all&workspace=ws-list-a")).empty());
  HttpResult bad = get(kRita, "/api/v1/cases?view=mine");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.json()["message"].get<std::string>().find("view"), std::string::npos);
  EXPECT_EQ(get(kRita, "/api/v1/cases?limit=0").status, 400);
  EXPECT_EQ(get(kRita, "/api/v1/cases?after=999999999").status, 400);
}

TEST_F(ReviewsApi, PreviewsShowTablesTextAndArchivesAsJson) {
  std::string csv =
      upload("preview.csv", "name,nhs_number\n\"<script>alert(1)</script>\",9434765919\n\"a, b\",5738563913\n");
  HttpResult table = get(kRita, transfer_path(csv, "preview"));
  ASSERT_EQ(table.status, 200) << table.body;
  EXPECT_EQ(table.header("content-type"), "application/json");
  nlohmann::json body = table.json();
  EXPECT_EQ(body["kind"], "table");
  EXPECT_EQ(body["header"], nlohmann::json({"name", "nhs_number"}));
  ASSERT_EQ(body["rows"].size(), 2u);
  EXPECT_EQ(body["rows"][0][0], "<script>alert(1)</script>");
  EXPECT_EQ(body["rows"][1][0], "a, b");
  EXPECT_FALSE(body["truncated"]);
  EXPECT_EQ(get(kBobToken, transfer_path(csv, "preview")).status, 404);
  EXPECT_EQ(get(kPat, transfer_path(csv, "preview")).status, 403);  // sees transfers, reviews none of this
  EXPECT_EQ(get(kAliceToken, transfer_path(csv, "preview")).status, 200);

  // Many rows: the first 20.
  std::string many = "k,v\n";
  for (int i = 0; i < 100; ++i) many += std::to_string(i) + ",9434765919\n";
  nlohmann::json long_table = get(kRita, transfer_path(upload("many.csv", many), "preview")).json();
  EXPECT_EQ(long_table["rows"].size(), 20u);
  EXPECT_TRUE(long_table["truncated"]);

  // Text with an email address (escalated to a data approver): the first 50 lines.
  std::string text;
  for (int i = 1; i <= 60; ++i) text += "line " + std::to_string(i) + " contact jane.doe@example.org\n";
  std::string notes = upload("notes.txt", text, "text/plain");
  HttpResult lines = get(kRita, transfer_path(notes, "preview"));
  ASSERT_EQ(lines.status, 200) << lines.body;
  EXPECT_EQ(lines.json()["kind"], "text");
  ASSERT_EQ(lines.json()["lines"].size(), 50u);
  EXPECT_EQ(lines.json()["lines"][0], "line 1 contact jane.doe@example.org");
  EXPECT_TRUE(lines.json()["truncated"]);

  // A zip: its entries from the headers.
  std::string dir = gateway_->root() + "/zip";
  std::filesystem::create_directories(dir + "/tables");
  write_file(dir + "/tables/a.csv", "x,y\n1,2\n");
  write_file(dir + "/readme.txt", "hello\n");
  auto [output, status] = run_command("cd " + shell_quote(dir) + " && zip -q -r ../bundle.zip tables readme.txt 2>&1");
  ASSERT_EQ(status, 0) << output;
  std::string zip = upload("bundle.zip", read_text(gateway_->root() + "/bundle.zip"), "application/zip");
  HttpResult listing = get(kAliceToken, transfer_path(zip, "preview"));
  ASSERT_EQ(listing.status, 200) << listing.body;
  EXPECT_EQ(listing.json()["kind"], "archive");
  std::vector<std::string> names;
  const nlohmann::json listed = listing.json();
  for (const auto& entry : listed["entries"]) {
    names.push_back(entry["name"]);
    EXPECT_FALSE(entry["encrypted"]);
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "tables/a.csv"), names.end()) << listing.body;
  EXPECT_NE(std::find(names.begin(), names.end(), "readme.txt"), names.end()) << listing.body;
}

TEST_F(ReviewsApi, AReviewerAsksForAWorkspaceOncePerCase) {
  std::string id = upload("workspace.csv", kNhsCsv);
  EXPECT_EQ(get(kRita, transfer_path(id, "reviewer-workspace")).status, 404);
  EXPECT_EQ(post(kAliceToken, transfer_path(id, "reviewer-workspace"), nlohmann::json::object()).status, 403);
  HttpResult requested = post(kRita, transfer_path(id, "reviewer-workspace"), nlohmann::json::object());
  ASSERT_EQ(requested.status, 201) << requested.body;
  EXPECT_EQ(requested.json()["requested_by"], "rita");
  EXPECT_EQ(requested.json()["url"], "https://workspaces.example.org/review/" + id + "?datasource=ds-test");
  HttpResult again = post(kIvy, transfer_path(id, "reviewer-workspace"), nlohmann::json::object());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["requested_by"], "rita");
  EXPECT_EQ(again.json()["requested_at"], requested.json()["requested_at"]);
  HttpResult got = get(kAliceToken, transfer_path(id, "reviewer-workspace"));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(transfer(kRita, id)["reviewer_workspace"]["requested_by"], "rita");
  std::vector<std::string> trail = actions(kRita, id);
  EXPECT_EQ(std::count(trail.begin(), trail.end(), "reviewer_workspace_requested"), 1);
}

TEST_F(ReviewsApi, MethodsAndBodiesAreChecked) {
  std::string id = upload("methods.csv", kNhsCsv);
  HttpResult wrong = get(kRita, transfer_path(id, "votes"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "POST");
  EXPECT_EQ(call(kRita, "DELETE", transfer_path(id, "review")).header("allow"), "GET");
  EXPECT_EQ(call(kRita, "PUT", "/api/v1/cases").status, 405);

  HttpResult broken = call(kRita, "POST", transfer_path(id, "votes"), "{\"vote\": ");
  EXPECT_EQ(broken.status, 400);
  EXPECT_EQ(broken.json()["error"], "invalid");
  EXPECT_NE(broken.json()["message"].get<std::string>().find("not valid JSON"), std::string::npos);
  HttpResult unknown = post(kRita, transfer_path(id, "votes"), {{"vote", "approve"}, {"weight", 2}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.json()["message"].get<std::string>().find("weight"), std::string::npos);
  EXPECT_EQ(post(kRita, transfer_path(id, "votes"), {{"vote", "maybe"}}).status, 400);
  EXPECT_EQ(post(kRita, transfer_path(id, "votes"), {{"vote", 1}}).status, 400);
  EXPECT_EQ(post(kRita, transfer_path(id, "votes"), nlohmann::json::array()).status, 400);
  EXPECT_EQ(call(kRita, "POST", transfer_path(id, "votes"), "vote=approve", "application/x-www-form-urlencoded").status,
            415);
  EXPECT_EQ(vote(kRita, "ffffffffffffffffffffffffffffffff", "approve").status, 404);
  EXPECT_EQ(get(kRita, transfer_path(id, "review")).json()["case"]["votes"].size(), 0u);
}

}  // namespace
}  // namespace airlock::testing

namespace airlock::testing {
namespace {

// An approval whose release fails (the data source's released folder cannot be made) leaves the transfer
// approved, never released half-way; the cleanup timer releases it once the folder can be made.
TEST(ReviewRelease, AFailedReleaseAfterTheLastApprovalIsRetriedByTheCleanupTimer) {
  GatewayProcess gateway(review_config() + "cleanup_interval: 1s\n");
  gateway.start();
  const std::string bytes = kNhsCsv;
  HttpResult created =
      create_upload(gateway, kAliceToken, std::to_string(bytes.size()), metadata("c.csv", "text/csv", "ws-test", "ds-stuck"));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string location = created.header("location");
  ASSERT_EQ(patch_upload(gateway, kAliceToken, location, 0, write_file(gateway.root() + "/c.csv", bytes)).status, 204);
  std::string id = location.substr(std::string("/files/").size());

  // A plain file where the data source's released folder goes.
  std::filesystem::create_directories(gateway.data_dir() + "/released");
  write_file(gateway.data_dir() + "/released/ds-stuck", "in the way");
  auto vote = [&](const char* token) {
    return curl(join(auth(token), {"-X", "POST", gateway.url("/api/v1/transfers/" + id + "/votes"), "-H",
                                   "Content-Type: application/json", "--data-binary", R"({"vote":"approve"})"}));
  };
  ASSERT_EQ(vote(kRita).status, 200);
  vote(kIvy);  // decides the case; the release fails
  auto state = [&] {
    return curl(join(auth(kAliceToken), {gateway.url("/api/v1/transfers/" + id)})).json()["state"];
  };
  EXPECT_EQ(state(), "approved") << gateway.log();
  EXPECT_FALSE(std::filesystem::exists(gateway.data_dir() + "/released/ds-stuck/" + id));

  std::filesystem::remove(gateway.data_dir() + "/released/ds-stuck");
  EXPECT_TRUE(eventually([&] { return state() == "released"; }, std::chrono::seconds(20))) << gateway.log();
  EXPECT_EQ(read_text(gateway.data_dir() + "/released/ds-stuck/" + id + "/c.csv"), bytes);
}

}  // namespace
}  // namespace airlock::testing
