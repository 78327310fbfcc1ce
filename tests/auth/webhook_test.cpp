// Webhooks against a local receiver that checks the signature and can fail the first attempts.
#include "airlock/gateway/auth/webhook.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_http_server.h"

namespace airlock::gateway::auth {
namespace {

using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

constexpr std::string_view kSecret = "webhook-secret-0123456789";

UnixMillis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Answers `failures` times with `failure_status` (and Retry-After when set), then 204 to every request whose
// signature verifies, and 401 to any that does not.
class Receiver {
 public:
  explicit Receiver(int failures, int failure_status = 503, std::string retry_after = "")
      : failures_(failures),
        failure_status_(failure_status),
        retry_after_(std::move(retry_after)),
        server_([this](const TestRequest& request) { return handle(request); }) {}

  std::string url() const { return server_.url("/hooks/airlock"); }
  std::vector<TestRequest> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  int verified() const {
    std::lock_guard lock(mutex_);
    return verified_;
  }

 private:
  TestResponse handle(const TestRequest& request) {
    std::lock_guard lock(mutex_);
    received_.push_back(request);
    if (failures_ > 0) {
      --failures_;
      TestResponse response{failure_status_, {}, "try later"};
      if (!retry_after_.empty()) response.headers.emplace_back("Retry-After", retry_after_);
      return response;
    }
    if (!verify_webhook_signature(kSecret, request.header("x-airlock-timestamp"), request.body,
                                  request.header("x-airlock-signature"), now_millis())) {
      return {401, {}, "bad signature"};
    }
    ++verified_;
    return {204, {}, ""};
  }

  mutable std::mutex mutex_;
  int failures_;
  int failure_status_;
  std::string retry_after_;
  std::vector<TestRequest> received_;
  int verified_ = 0;
  TestHttpServer server_;
};

WebhookConfig config_for(const std::string& url) {
  WebhookConfig config;
  config.url = url;
  config.secret = std::string(kSecret);
  config.backoff.initial_delay = std::chrono::seconds(5);
  config.backoff.max_delay = std::chrono::minutes(10);
  config.backoff.max_attempts = 5;
  config.http.allow_http_loopback = true;
  config.http.timeout = std::chrono::seconds(5);
  return config;
}

Delivery escalation() {
  return {"0123456789abcdef0123456789abcdef", "transfer.escalated",
          webhook_body("0123456789abcdef0123456789abcdef", "transfer.escalated", 1'750'000'000'123,
                       R"({"transfer":"t-42","reviewers":["data-approver"]})"),
          0};
}

TEST(Webhook, PostsASignedJsonBodyTheReceiverVerifies) {
  Receiver receiver(0);
  const WebhookSender sender(config_for(receiver.url()));
  const DeliveryResult result = sender.deliver(escalation(), now_millis());
  EXPECT_TRUE(result.delivered) << result.error;
  EXPECT_EQ(result.status, 204);
  EXPECT_FALSE(result.retry_at.has_value());
  ASSERT_EQ(receiver.verified(), 1);
  const TestRequest request = receiver.received().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/hooks/airlock");
  EXPECT_EQ(request.header("content-type"), "application/json");
  EXPECT_EQ(request.header("x-airlock-event"), "transfer.escalated");
  EXPECT_EQ(request.header("x-airlock-delivery"), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(request.header("x-airlock-signature").rfind("sha256=", 0), 0u);
  const auto body = nlohmann::json::parse(request.body);
  EXPECT_EQ(body["event"], "transfer.escalated");
  EXPECT_EQ(body["created_at"], "2025-06-15T15:06:40.123Z");
  EXPECT_EQ(body["data"]["transfer"], "t-42");
}

TEST(Webhook, RetriesWithBackoffUntilTheReceiverAccepts) {
  Receiver receiver(2, 500);
  const WebhookSender sender(config_for(receiver.url()), [] { return 0.5; });
  Delivery delivery = escalation();
  const UnixMillis now = now_millis();
  DeliveryResult first = sender.deliver(delivery, now);
  EXPECT_FALSE(first.delivered);
  EXPECT_EQ(first.error, "HTTP 500");
  EXPECT_EQ(first.attempts, 1);
  ASSERT_TRUE(first.retry_at.has_value());
  EXPECT_EQ(*first.retry_at, now + 3750);  // base 5 s, half of it plus 0.5 of the other half
  delivery.attempts = first.attempts;

  DeliveryResult second = sender.deliver(delivery, now);
  ASSERT_TRUE(second.retry_at.has_value());
  EXPECT_EQ(*second.retry_at, now + 7500);  // base 10 s
  delivery.attempts = second.attempts;

  DeliveryResult third = sender.deliver(delivery, now);
  EXPECT_TRUE(third.delivered) << third.error;
  EXPECT_EQ(third.attempts, 3);
  // The same delivery id and body on every attempt, so the receiver can deduplicate.
  const auto received = receiver.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].header("x-airlock-delivery"), received[2].header("x-airlock-delivery"));
  EXPECT_EQ(received[0].body, received[2].body);
}

TEST(Webhook, GivesUpAfterTheMaximumAttempts) {
  Receiver receiver(100, 500);
  WebhookConfig config = config_for(receiver.url());
  config.backoff.max_attempts = 3;
  const WebhookSender sender(config);
  Delivery delivery = escalation();
  delivery.attempts = 2;
  const DeliveryResult last = sender.deliver(delivery, now_millis());
  EXPECT_FALSE(last.delivered);
  EXPECT_FALSE(last.retry_at.has_value());
  EXPECT_EQ(last.error, "HTTP 500 (giving up after 3 attempts)");
}

TEST(Webhook, WaitsAsLongAsRetryAfterAsks) {
  Receiver receiver(1, 429, "120");
  const WebhookSender sender(config_for(receiver.url()), [] { return 0.0; });
  const UnixMillis now = now_millis();
  const DeliveryResult result = sender.deliver(escalation(), now);
  ASSERT_TRUE(result.retry_at.has_value());
  EXPECT_EQ(*result.retry_at, now + 120'000);
}

TEST(Webhook, RetriesWhenNobodyListens) {
  std::string url;
  {
    Receiver gone(0);
    url = gone.url();
  }
  const WebhookSender sender(config_for(url), [] { return 1.0; });
  const UnixMillis now = now_millis();
  const DeliveryResult result = sender.deliver(escalation(), now);
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("connect"), std::string::npos) << result.error;
  ASSERT_TRUE(result.retry_at.has_value());
  EXPECT_EQ(*result.retry_at, now + 5000);
}

TEST(Webhook, TimesOutASlowReceiver) {
  TestHttpServer slow([](const TestRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return TestResponse{204, {}, ""};
  });
  WebhookConfig config = config_for(slow.url("/hook"));
  config.http.timeout = std::chrono::milliseconds(300);
  const WebhookSender sender(config);
  const auto started = std::chrono::steady_clock::now();
  const DeliveryResult result = sender.deliver(escalation(), now_millis());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1200));
  EXPECT_FALSE(result.delivered);
  EXPECT_NE(result.error.find("timed out after 300 ms"), std::string::npos) << result.error;
  EXPECT_TRUE(result.retry_at.has_value());
}

TEST(WebhookSignature, CoversTheTimestampAndTheBody) {
  const UnixMillis now = 1'750'000'000'000;
  const std::string body = R"({"event":"transfer.revoked"})";
  const std::string signature = WebhookSender::signature(kSecret, 1'750'000'000, body);
  EXPECT_EQ(signature, "sha256=" + std::string(signature.substr(7)));
  EXPECT_EQ(signature.size(), 7u + 64u);
  EXPECT_TRUE(verify_webhook_signature(kSecret, "1750000000", body, signature, now));
  EXPECT_FALSE(verify_webhook_signature(kSecret, "1750000000", body + " ", signature, now));      // body changed
  EXPECT_FALSE(verify_webhook_signature(kSecret, "1750000001", body, signature, now));            // re-dated
  EXPECT_FALSE(verify_webhook_signature("another-secret", "1750000000", body, signature, now));   // wrong key
  EXPECT_FALSE(verify_webhook_signature(kSecret, "1750000000", body, signature, now + 301'000));  // replayed late
  EXPECT_FALSE(verify_webhook_signature(kSecret, "17e8", body, signature, now));
}

TEST(BackoffPolicy, DoublesUpToTheCapWithJitterInTheUpperHalf) {
  BackoffPolicy policy;
  policy.initial_delay = std::chrono::seconds(10);
  policy.max_delay = std::chrono::seconds(60);
  policy.max_attempts = 6;
  EXPECT_EQ(policy.next_attempt(1, 0, 0.0), 5'000);
  EXPECT_EQ(policy.next_attempt(1, 0, 0.999), 9'995);
  EXPECT_EQ(policy.next_attempt(2, 0, 0.0), 10'000);
  EXPECT_EQ(policy.next_attempt(3, 1000, 0.0), 21'000);
  EXPECT_EQ(policy.next_attempt(4, 0, 1.0), 60'000);  // 80 s capped at 60 s
  EXPECT_EQ(policy.next_attempt(5, 0, 0.0), 30'000);
  EXPECT_FALSE(policy.next_attempt(6, 0, 0.5).has_value());
}

}  // namespace
}  // namespace airlock::gateway::auth
