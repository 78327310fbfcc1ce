// Review notifications from the real gateway to a local HTTP receiver: signed with HMAC-SHA256, retried after
// failures, and delivered after a SIGKILL and a restart (the outbox is in the state store).
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <cstring>
#include <mutex>

#include "../auth/test_http_server.h"
#include "gateway_process.h"

namespace airlock::testing {
namespace {

using gateway::auth::testing::TestHttpServer;
using gateway::auth::testing::TestRequest;
using gateway::auth::testing::TestResponse;

constexpr const char* kSecret = "webhook-secret-0123456789abcdef";
constexpr const char* kRita = "rita-token-0123456789abcdef";  // data-approver
constexpr const char* kIvy = "ivy-token-0123456789abcdef";    // information-governance

const std::string kNhsCsv = "patient,nhs_number,count\n1,9434765919,12\n2,5738563913,8\n3,4809865347,15\n";

// The signature as a receiver computes it, independently of the gateway's code: HMAC-SHA256 over
// "TIMESTAMP.BODY" with the shared secret, in lower-case hex.
std::string expected_signature(const std::string& timestamp, const std::string& body) {
  std::string material = timestamp + "." + body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(std::strlen(kSecret)),
       reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest, &size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex = "sha256=";
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

// Records every request; answers 503 while `failing` says so (for the first `fail_first` requests, or until
// told otherwise), else 204 when the signature verifies and 401 when it does not.
class Receiver {
 public:
  explicit Receiver(int fail_first = 0)
      : fail_first_(fail_first), server_([this](const TestRequest& r) { return handle(r); }) {}

  std::string url() const { return server_.url("/hooks/airlock"); }
  void set_failing(bool failing) {
    std::lock_guard lock(mutex_);
    failing_ = failing;
  }
  std::vector<TestRequest> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<TestRequest> accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  // The accepted requests whose body's data.transfer.id is `id` and event is `event`.
  std::vector<nlohmann::json> accepted_for(const std::string& id, const std::string& event) const {
    std::vector<nlohmann::json> out;
    for (const TestRequest& request : accepted()) {
      nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
      if (body.is_object() && body["event"] == event && body["data"]["transfer"]["id"] == id) out.push_back(body);
    }
    return out;
  }

 private:
  TestResponse handle(const TestRequest& request) {
    std::lock_guard lock(mutex_);
    received_.push_back(request);
    if (failing_ || fail_first_ > 0) {
      if (fail_first_ > 0) --fail_first_;
      return {503, {}, "not now"};
    }
    if (request.header("x-airlock-signature") !=
        expected_signature(request.header("x-airlock-timestamp"), request.body)) {
      return {401, {}, "bad signature"};
    }
    accepted_.push_back(request);
    return {204, {}, ""};
  }

  mutable std::mutex mutex_;
  int fail_first_;
  bool failing_ = false;
  std::vector<TestRequest> received_;
  std::vector<TestRequest> accepted_;
  TestHttpServer server_;
};

std::string config_for(const std::string& url, const std::string& events = "") {
  return R"(
log: {level: info, format: json}
tokens:
  - {token: alice-token-0123456789abcdef, user: alice, roles: [researcher]}
  - {token: rita-token-0123456789abcdef, user: rita, roles: [data-approver]}
  - {token: ivy-token-0123456789abcdef, user: ivy, roles: [information-governance]}
webhooks:
  - name: reviewers
    url: ")" +
         url + R"("
    secret: ")" +
         std::string(kSecret) + R"("
    timeout: 5s
    max_attempts: 5
    retry_delay: 1s
    max_retry_delay: 2s
)" + (events.empty() ? "" : "    events: " + events + "\n");
}

std::string upload_nhs_csv(const GatewayProcess& gateway) {
  HttpResult created = create_upload(gateway, kAliceToken, std::to_string(kNhsCsv.size()), metadata("cohort.csv"));
  EXPECT_EQ(created.status, 201) << created.body;
  std::string location = created.header("location");
  HttpResult patched =
      patch_upload(gateway, kAliceToken, location, 0, write_file(gateway.root() + "/cohort.csv", kNhsCsv));
  EXPECT_EQ(patched.status, 204) << patched.body;
  EXPECT_EQ(patched.header("airlock-transfer-state"), "in_review");
  return location.substr(std::string("/files/").size());
}

HttpResult approve(const GatewayProcess& gateway, const char* token, const std::string& id) {
  return curl(join(auth(token), {"-X", "POST", gateway.url("/api/v1/transfers/" + id + "/votes"), "-H",
                                 "Content-Type: application/json", "--data-binary", R"({"vote":"approve"})"}));
}

TEST(WebhookDelivery, EscalatedAndDecidedEventsArriveSigned) {
  Receiver receiver;
  GatewayProcess gateway(config_for(receiver.url()));
  gateway.start();
  std::string id = upload_nhs_csv(gateway);

  ASSERT_TRUE(eventually([&] { return !receiver.accepted_for(id, "transfer.escalated").empty(); })) << gateway.log();
  nlohmann::json escalated = receiver.accepted_for(id, "transfer.escalated").front();
  EXPECT_EQ(escalated["data"]["transfer"]["requester"], "alice");
  EXPECT_EQ(escalated["data"]["case"]["roles"], nlohmann::json({"data-approver", "information-governance"}));
  EXPECT_EQ(escalated["data"]["case"]["approvals_required"], 2);
  for (const TestRequest& request : receiver.accepted()) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/hooks/airlock");
    EXPECT_EQ(request.header("content-type"), "application/json");
    EXPECT_FALSE(request.header("x-airlock-delivery").empty());
  }

  ASSERT_EQ(approve(gateway, kRita, id).status, 200);
  ASSERT_EQ(approve(gateway, kIvy, id).status, 200);
  ASSERT_TRUE(eventually([&] { return !receiver.accepted_for(id, "transfer.decided").empty(); })) << gateway.log();
  nlohmann::json decided = receiver.accepted_for(id, "transfer.decided").front();
  EXPECT_EQ(decided["data"]["outcome"], "approved");
  EXPECT_EQ(decided["data"]["actor"], "ivy");
  // Nothing arrived with a signature the receiver could not verify.
  EXPECT_EQ(receiver.received().size(), receiver.accepted().size());
}

TEST(WebhookDelivery, AReceiverThatFailsTwiceGetsItOnTheThirdTry) {
  Receiver receiver(2);
  GatewayProcess gateway(config_for(receiver.url(), "[escalated]"));
  gateway.start();
  std::string id = upload_nhs_csv(gateway);

  ASSERT_TRUE(eventually([&] { return !receiver.accepted_for(id, "transfer.escalated").empty(); })) << gateway.log();
  std::vector<TestRequest> received = receiver.received();
  ASSERT_EQ(received.size(), 3u);
  // The same delivery every time, with the same body; only the timestamp and signature are per attempt.
  EXPECT_EQ(received[0].header("x-airlock-delivery"), received[2].header("x-airlock-delivery"));
  EXPECT_EQ(received[1].header("x-airlock-delivery"), received[2].header("x-airlock-delivery"));
  EXPECT_EQ(received[0].body, received[2].body);
  EXPECT_EQ(receiver.accepted().size(), 1u);

  // Only the events the webhook asked for: a decision sends nothing to it.
  ASSERT_EQ(approve(gateway, kRita, id).status, 200);
  ASSERT_EQ(approve(gateway, kIvy, id).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(receiver.received().size(), 3u);
}

TEST(WebhookDelivery, APendingDeliverySurvivesSigkillAndArrivesAfterTheRestart) {
  Receiver receiver;
  receiver.set_failing(true);
  GatewayProcess gateway(config_for(receiver.url(), "[escalated]"));
  gateway.start();
  std::string id = upload_nhs_csv(gateway);
  // A first attempt failed and its retry is recorded: the delivery is pending in the outbox.
  ASSERT_TRUE(eventually([&] { return gateway.log().find("webhook delivery will be retried") != std::string::npos; }))
      << gateway.log();
  gateway.kill(SIGKILL);
  std::string delivery = receiver.received().front().header("x-airlock-delivery");
  std::size_t before = receiver.received().size();

  receiver.set_failing(false);
  gateway.start();
  ASSERT_TRUE(eventually([&] { return !receiver.accepted_for(id, "transfer.escalated").empty(); })) << gateway.log();
  EXPECT_GT(receiver.received().size(), before);
  ASSERT_EQ(receiver.accepted().size(), 1u);
  EXPECT_EQ(receiver.accepted().front().header("x-airlock-delivery"), delivery);
}

}  // namespace
}  // namespace airlock::testing
