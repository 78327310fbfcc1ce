// The JSON API, health, metrics and bearer-token auth of the real gateway, with curl.
#include <gtest/gtest.h>

#include "gateway_process.h"

namespace airlock::testing {
namespace {

class Api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = new GatewayProcess();
    gateway_->start();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_->log();
  }
  // A finished upload by `token`; returns its id.
  std::string upload(const char* token, const std::string& name, const std::string& bytes) {
    HttpResult created = create_upload(*gateway_, token, std::to_string(bytes.size()), metadata(name));
    EXPECT_EQ(created.status, 201) << created.body;
    std::string location = created.header("location");
    HttpResult patched = patch_upload(*gateway_, token, location, 0, write_file(gateway_->root() + "/" + name, bytes));
    EXPECT_EQ(patched.status, 204) << patched.body;
    return location.substr(std::string("/files/").size());
  }
  static GatewayProcess* gateway_;
};
GatewayProcess* Api::gateway_ = nullptr;

TEST_F(Api, HealthNeedsNoToken) {
  HttpResult health = curl({gateway_->url("/healthz")});
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  HttpResult ready = curl({gateway_->url("/readyz")});
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json()["status"], "ready");
  EXPECT_GT(ready.json()["policies"].get<int>(), 0);
}

TEST_F(Api, EverythingElseNeedsAValidToken) {
  for (std::string path : {"/api/v1/transfers", "/metrics", "/files"}) {
    HttpResult anonymous = curl({gateway_->url(path)});
    EXPECT_EQ(anonymous.status, 401) << path;
    EXPECT_EQ(anonymous.json()["error"], "unauthorized") << path;
    EXPECT_FALSE(anonymous.header("www-authenticate").empty()) << path;
    HttpResult wrong = curl({gateway_->url(path), "-H", "Authorization: Bearer not-a-token-of-ours"});
    EXPECT_EQ(wrong.status, 401) << path;
  }
}

TEST_F(Api, ErrorsAreJsonWithCodeAndMessage) {
  HttpResult missing = curl(join(auth(kAliceToken), {gateway_->url("/no/such/thing")}));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("content-type"), "application/json");
  nlohmann::json body = missing.json();
  ASSERT_TRUE(body.is_object()) << missing.body;
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_TRUE(body["message"].is_string());
  HttpResult method = curl(join(auth(kAliceToken), {"-X", "DELETE", gateway_->url("/api/v1/transfers")}));
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.json()["error"], "method_not_allowed");
}

TEST_F(Api, AUserSeesOnlyTheirOwnTransfersAndAReviewerSeesAll) {
  std::string alices = upload(kAliceToken, "alice.csv", "a,b\n1,2\n");
  std::string bobs = upload(kBobToken, "bob.csv", "c,d\n3,4\n");

  auto ids = [](const HttpResult& listed) {
    std::vector<std::string> out;
    nlohmann::json body = listed.json();
    for (const auto& item : body["transfers"]) out.push_back(item["id"]);
    return out;
  };
  HttpResult alice_list = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers")}));
  ASSERT_EQ(alice_list.status, 200) << alice_list.body;
  std::vector<std::string> alice_sees = ids(alice_list);
  EXPECT_NE(std::find(alice_sees.begin(), alice_sees.end(), alices), alice_sees.end());
  EXPECT_EQ(std::find(alice_sees.begin(), alice_sees.end(), bobs), alice_sees.end());
  std::vector<std::string> rita_sees = ids(curl(join(auth(kReviewerToken), {gateway_->url("/api/v1/transfers")})));
  EXPECT_NE(std::find(rita_sees.begin(), rita_sees.end(), alices), rita_sees.end());
  EXPECT_NE(std::find(rita_sees.begin(), rita_sees.end(), bobs), rita_sees.end());

  EXPECT_EQ(curl(join(auth(kBobToken), {gateway_->url("/api/v1/transfers/" + alices)})).status, 404);
  HttpResult reviewed = curl(join(auth(kReviewerToken), {gateway_->url("/api/v1/transfers/" + alices)}));
  EXPECT_EQ(reviewed.status, 200);
  EXPECT_EQ(reviewed.json()["owner"], "alice");
}

TEST_F(Api, GetReturnsTheTransferAndItsDecisionWithMatchedRules) {
  std::string id = upload(kAliceToken, "rates.csv", "region,rate\nnorth,12\n");
  HttpResult got = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers/" + id)}));
  ASSERT_EQ(got.status, 200);
  nlohmann::json transfer = got.json();
  EXPECT_EQ(transfer["filename"], "rates.csv");
  EXPECT_EQ(transfer["workspace"], "ws-test");
  EXPECT_EQ(transfer["datasource"], "ds-test");
  EXPECT_EQ(transfer["state"], "released");
  EXPECT_EQ(transfer["facts"]["file"]["type"], "text/csv");

  HttpResult decision = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers/" + id + "/decision")}));
  ASSERT_EQ(decision.status, 200);
  nlohmann::json body = decision.json();
  EXPECT_EQ(body["decision"]["outcome"], "approve");
  ASSERT_FALSE(body["decision"]["rules"].empty());
  EXPECT_EQ(body["decision"]["rules"][0]["policy"], "ingress");
  EXPECT_EQ(body["decision"]["rules"][0]["rule"], "low_risk_file");
}

TEST_F(Api, ListFiltersByStateAndRejectsUnknownStates) {
  upload(kAliceToken, "filtered.csv", "k,v\n1,2\n");
  HttpResult released = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers?state=released&limit=50")}));
  ASSERT_EQ(released.status, 200);
  nlohmann::json body = released.json();
  ASSERT_FALSE(body["transfers"].empty());
  for (const auto& item : body["transfers"]) EXPECT_EQ(item["state"], "released");
  HttpResult bad = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers?state=sideways")}));
  EXPECT_EQ(bad.status, 400);
}

TEST_F(Api, AnUndecidedTransferHasNoDecisionYet) {
  HttpResult created = create_upload(*gateway_, kAliceToken, "10", metadata("pending.csv"));
  std::string id = created.header("location").substr(std::string("/files/").size());
  HttpResult decision = curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers/" + id + "/decision")}));
  EXPECT_EQ(decision.status, 404);
  EXPECT_EQ(decision.json()["error"], "no_decision");
}

TEST_F(Api, MetricsCountUploadsBytesAndDecisions) {
  upload(kAliceToken, "metered.csv", "m,n\n5,6\n");
  HttpResult metrics = curl(join(auth(kAliceToken), {gateway_->url("/metrics")}));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(metrics.body.find("airlock_uploads_created_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("airlock_upload_bytes_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("airlock_decisions_total{outcome=\"approve\",stage=\"final\"} "), std::string::npos);
  EXPECT_NE(metrics.body.find("airlock_http_request_duration_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_EQ(metrics.body.find("airlock_uploads_created_total 0\n"), std::string::npos);
  // The upload is done: nothing waits for the inspection threads, and no side lane is open, of the 4 that two
  // inspection threads allow.
  EXPECT_NE(metrics.body.find("\nairlock_inspection_queued_bytes 0\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("\nairlock_inspection_side_lanes_open 0\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("\nairlock_inspection_side_lanes_max 4\n"), std::string::npos);
}

TEST(GatewayServer, StopsGracefullyOnSigterm) {
  GatewayProcess gateway;
  gateway.start();
  ASSERT_EQ(curl({gateway.url("/healthz")}).status, 200);
  gateway.kill(SIGTERM);
  EXPECT_EQ(gateway.exit_status(), 0) << gateway.log();
  EXPECT_NE(gateway.log().find("\"msg\":\"stopped\""), std::string::npos) << gateway.log();
}

// Each network thread runs a loop of its own and keeps the connections it is given: a new connection goes
// to the thread with the fewest. /metrics shows the open connections of each thread.
TEST(GatewayServer, SpreadsConnectionsOverItsNetworkThreadsAndStopsWithThemOpen) {
  GatewayProcess gateway(test_config("threads: 3\n"));
  gateway.start();
  // The open connections of threads 0, 1 and 2, the request's own among them; empty when a line is missing.
  auto connections = [&] {
    HttpResult result = curl(join(auth(kAliceToken), {gateway.url("/metrics")}));
    std::vector<int> counts;
    for (int thread = 0; thread < 3; ++thread) {
      std::string name = "airlock_connections_open{thread=\"" + std::to_string(thread) + "\"} ";
      std::size_t at = result.body.find(name);
      if (at == std::string::npos) return std::vector<int>{};
      counts.push_back(std::stoi(result.body.substr(at + name.size())));
    }
    EXPECT_EQ(result.body.find("airlock_connections_open{thread=\"3\"}"), std::string::npos);
    return counts;
  };
  ASSERT_EQ(connections(), (std::vector<int>{1, 0, 0})) << gateway.log();

  // Two idle connections and the request's: one on each thread.
  auto first = std::make_unique<RawClient>(gateway.address());
  RawClient second(gateway.address());
  ASSERT_TRUE(first->connected() && second.connected());
  EXPECT_TRUE(eventually([&] { return connections() == std::vector<int>{1, 1, 1}; })) << gateway.log();

  // The first closes: its thread is free again, and the request takes it.
  first.reset();
  std::vector<int> after;
  EXPECT_TRUE(eventually([&] {
    after = connections();
    return after.size() == 3 && after[0] + after[1] + after[2] == 2 &&
           *std::max_element(after.begin(), after.end()) == 1;
  })) << ::testing::PrintToString(after);

  // SIGTERM with a connection still open on another thread: every thread's loop ends.
  gateway.kill(SIGTERM);
  EXPECT_EQ(gateway.exit_status(), 0) << gateway.log();
  EXPECT_NE(gateway.log().find("\"msg\":\"stopped\""), std::string::npos) << gateway.log();
}

TEST(GatewayServer, BadConfigurationIsAnErrorThatNamesTheKey) {
  char pattern[] = "/tmp/airlock-config-test-XXXXXX";
  std::string root = ::mkdtemp(pattern);
  write_file(root + "/bad.yaml", "limits:\n  idle_timeout: forever\n");
  auto [output, code] = run_command(std::string(AIRLOCK_BINARY) + " serve --config " + root + "/bad.yaml 2>&1");
  EXPECT_EQ(code, 1);
  EXPECT_NE(output.find("limits.idle_timeout"), std::string::npos) << output;
  std::filesystem::remove_all(root);
}

TEST(GatewayServer, WithoutTokensItGeneratesALocalOne) {
  GatewayProcess gateway("log: {level: info}\n");
  gateway.start();
  std::string token = read_text(gateway.data_dir() + "/local-token");
  ASSERT_GT(token.size(), 20u);
  token.pop_back();
  EXPECT_EQ(curl({gateway.url("/api/v1/transfers"), "-H", "Authorization: Bearer " + token}).status, 200);
}

}  // namespace
}  // namespace airlock::testing
