#include "airlock/gateway/auth/webhook.h"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "airlock/gateway/auth/crypto.h"

namespace airlock::gateway::auth {
namespace {

double random_unit_from_openssl() {
  std::uint64_t bits = 0;
  const std::string bytes = random_bytes(sizeof bits);
  for (unsigned char c : bytes) bits = (bits << 8) | c;
  return static_cast<double>(bits >> 11) / static_cast<double>(1ull << 53);  // 53 random bits in [0, 1)
}

std::string rfc3339_millis(UnixMillis at) {
  const std::time_t seconds = static_cast<std::time_t>(at / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(at % 1000));
  return buffer;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<UnixMillis> BackoffPolicy::next_attempt(int failed_attempts, UnixMillis now, double random_unit) const {
  if (failed_attempts >= max_attempts) return std::nullopt;
  const double initial = static_cast<double>(initial_delay.count());
  const double cap = static_cast<double>(max_delay.count());
  const double base = std::min(cap, initial * std::pow(2.0, std::max(0, failed_attempts - 1)));
  const double unit = std::clamp(random_unit, 0.0, 1.0);
  const double delay = base / 2 + unit * (base / 2);  // "equal jitter": never shorter than half the base
  return now + static_cast<UnixMillis>(delay);
}

WebhookSender::WebhookSender(WebhookConfig config, std::function<double()> random_unit)
    : config_(std::move(config)),
      random_unit_(random_unit ? std::move(random_unit) : std::function<double()>(random_unit_from_openssl)),
      http_(config_.http) {}

std::string WebhookSender::signature(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  const std::string material = std::to_string(timestamp) + "." + std::string(body);
  return "sha256=" + hex_encode(hmac_sha256(secret, material));
}

DeliveryResult WebhookSender::deliver(const Delivery& delivery, UnixMillis now) const {
  DeliveryResult result;
  result.attempts = delivery.attempts + 1;
  const std::int64_t timestamp = now / 1000;
  HttpRequest request{"POST", config_.url, {}, delivery.body};
  request.headers = {
      {"Content-Type", "application/json"},
      {"X-Airlock-Event", delivery.event},
      {"X-Airlock-Delivery", delivery.id},
      {"X-Airlock-Timestamp", std::to_string(timestamp)},
      {"X-Airlock-Signature", signature(config_.secret, timestamp, delivery.body)},
  };
  UnixMillis not_before = 0;
  auto response = http_.send(request);
  if (!response) {
    result.error = response.message();
  } else {
    result.status = response->status;
    if (response->status >= 200 && response->status < 300) {
      result.delivered = true;
      return result;
    }
    result.error = "HTTP " + std::to_string(response->status);
    if (response->status == 429 || response->status == 503) {
      if (const auto seconds = parse_int(response->header("Retry-After")); seconds && *seconds >= 0) {
        not_before = now + std::min<std::int64_t>(*seconds, 86400) * 1000;
      }
    }
  }
  result.retry_at = config_.backoff.next_attempt(result.attempts, now, random_unit_());
  if (result.retry_at && *result.retry_at < not_before) result.retry_at = not_before;
  if (!result.retry_at) result.error += " (giving up after " + std::to_string(result.attempts) + " attempts)";
  return result;
}

bool verify_webhook_signature(std::string_view secret, std::string_view timestamp_header, std::string_view body,
                              std::string_view signature_header, UnixMillis now, std::chrono::seconds tolerance) {
  const auto timestamp = parse_int(timestamp_header);
  if (!timestamp) return false;
  const std::int64_t age = now / 1000 - *timestamp;
  if (age > tolerance.count() || -age > tolerance.count()) return false;
  return constant_time_equals(WebhookSender::signature(secret, *timestamp, body), signature_header);
}

std::string webhook_body(std::string_view delivery_id, std::string_view event, UnixMillis created_at,
                         std::string_view data_json) {
  nlohmann::json data = nlohmann::json::parse(data_json, nullptr, false);
  if (data.is_discarded()) data = nullptr;
  const nlohmann::json body = {
      {"id", delivery_id}, {"event", event}, {"created_at", rfc3339_millis(created_at)}, {"data", data}};
  return body.dump();
}

}  // namespace airlock::gateway::auth
