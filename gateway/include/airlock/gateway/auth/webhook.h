// Webhook notifications (escalation, each review decision, revoke): a signed JSON POST per attempt, and the
// retry policy. The delivery state (the outbox) is the store's; the server's outbox loop calls deliver()
// for each due delivery and stores what it returns, so a restart loses nothing.
//
// Each request carries:
//   Content-Type: application/json
//   X-Airlock-Event: transfer.escalated            (the event name)
//   X-Airlock-Delivery: <delivery id>              (the same on every attempt: receivers deduplicate on it)
//   X-Airlock-Timestamp: 1718000000                (Unix seconds when this attempt was sent)
//   X-Airlock-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// The timestamp is inside the signed material, so a captured request replayed later than the receiver's
// tolerance (verify_webhook_signature: 5 minutes) is refused, and it cannot be re-dated without the secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/gateway/auth/http_client.h"
#include "airlock/gateway/auth/identity.h"

namespace airlock::gateway::auth {

// Exponential backoff with full jitter: the wait before attempt n+1 (after n failed attempts) is uniform in
// [base/2, base] where base = min(max_delay, initial_delay * 2^(n-1)). After max_attempts failures: give up.
struct BackoffPolicy {
  std::chrono::milliseconds initial_delay{5000};
  std::chrono::milliseconds max_delay{std::chrono::hours(1)};
  int max_attempts = 10;
  // When the next attempt is due after `failed_attempts` failures (>= 1), or nullopt when it is time to give
  // up. `random_unit` is uniform in [0, 1) (injected so tests are deterministic).
  std::optional<UnixMillis> next_attempt(int failed_attempts, UnixMillis now, double random_unit) const;
};

struct WebhookConfig {
  std::string url;
  std::string secret;  // HMAC key; at least 16 bytes
  BackoffPolicy backoff;
  HttpClientOptions http;  // timeout per attempt, CA file, loopback http in tests
};

// One notification: what the outbox keeps.
struct Delivery {
  std::string id;     // unique per notification, e.g. 32 hex characters
  std::string event;  // "transfer.escalated", "transfer.decided", "transfer.revoked"
  std::string body;   // the JSON document sent, unchanged on every attempt
  int attempts = 0;   // attempts already made (failed) before this one
};

struct DeliveryResult {
  bool delivered = false;
  std::optional<UnixMillis> retry_at;  // set when not delivered and attempts remain
  int status = 0;                      // HTTP status, 0 when no response
  std::string error;                   // why not delivered ("HTTP 503", "connect: Connection refused")
  int attempts = 0;                    // attempts made in total, this one included
};

// Thread-safe. The random source for jitter is injected; by default it uses RAND_bytes.
class WebhookSender {
 public:
  explicit WebhookSender(WebhookConfig config, std::function<double()> random_unit = {});
  // One attempt. A 2xx status is delivered; anything else (another status, a transport error) is retried
  // per the backoff policy; a 429 or 503 with Retry-After (seconds) is not retried sooner than it asks.
  DeliveryResult deliver(const Delivery& delivery, UnixMillis now) const;

  // The signature header's value for that timestamp (Unix seconds) and body.
  static std::string signature(std::string_view secret, std::int64_t timestamp, std::string_view body);

 private:
  WebhookConfig config_;
  std::function<double()> random_unit_;
  HttpClient http_;
};

// For receivers (and the tests): the signature must match and the timestamp be within `tolerance` of now.
bool verify_webhook_signature(std::string_view secret, std::string_view timestamp_header, std::string_view body,
                              std::string_view signature_header, UnixMillis now,
                              std::chrono::seconds tolerance = std::chrono::seconds(300));

// The body of a notification: {"id", "event", "created_at" (RFC 3339), "data": <data_json>}. data_json must be
// a JSON document (an object with the transfer's id, state, reviewers, ...); an invalid one becomes null.
std::string webhook_body(std::string_view delivery_id, std::string_view event, UnixMillis created_at,
                         std::string_view data_json);

}  // namespace airlock::gateway::auth
