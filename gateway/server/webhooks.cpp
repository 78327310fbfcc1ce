#include "webhooks.h"

#include <algorithm>
#include <chrono>

#include "service.h"

namespace airlock::gateway::server {
namespace {

constexpr std::size_t kBatch = 10;                        // deliveries claimed per pass
constexpr std::chrono::milliseconds kPollInterval{1000};  // how often the outbox is looked at

}  // namespace

std::unique_ptr<WebhookLoop> WebhookLoop::start(const std::vector<WebhookTargetConfig>& webhooks, TransferStore& store,
                                                const Log& log) {
  std::vector<NotificationTarget> targets;
  for (const WebhookTargetConfig& webhook : webhooks) targets.push_back({webhook.name, webhook.events});
  store.set_notification_targets(std::move(targets));
  if (webhooks.empty()) return nullptr;

  std::unique_ptr<WebhookLoop> loop(new WebhookLoop(store, log));
  std::chrono::milliseconds longest{0};
  for (const WebhookTargetConfig& webhook : webhooks) {
    auth::WebhookConfig config;
    config.url = webhook.url;
    config.secret = webhook.secret;
    config.backoff.initial_delay = webhook.retry_delay;
    config.backoff.max_delay = webhook.max_retry_delay;
    config.backoff.max_attempts = static_cast<int>(webhook.max_attempts);
    config.http.timeout = webhook.timeout;
    config.http.ca_file = webhook.ca_file;
    config.http.allow_http_loopback = true;  // the configuration allows http only to a loopback host
    config.http.max_response_bytes = 64u << 10;
    longest = std::max<std::chrono::milliseconds>(longest, webhook.timeout);
    loop->targets_.emplace(webhook.name, Target{webhook, std::make_unique<auth::WebhookSender>(std::move(config))});
  }
  // A claimed delivery stays hidden from other replicas while this one may still be sending the batch.
  loop->lease_ = std::max<UnixMillis>(60'000, static_cast<UnixMillis>(kBatch) * longest.count() + 30'000);
  loop->thread_ = std::thread([raw = loop.get()] { raw->run(); });
  log.info("webhook sender started", {{"webhooks", webhooks.size()}});
  return loop;
}

WebhookLoop::~WebhookLoop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookLoop::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void WebhookLoop::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    woken_ = false;
    lock.unlock();
    run_once(now_millis());
    lock.lock();
    if (stop_) break;
    wake_.wait_for(lock, kPollInterval, [this] { return stop_ || woken_; });
  }
}

void WebhookLoop::run_once(UnixMillis now) {
  while (true) {
    Result<std::vector<Notification>> due = store_.due_deliveries(now, kBatch, lease_);
    if (!due) {
      log_.error("reading the webhook outbox failed", {{"error", due.message()}});
      return;
    }
    for (const Notification& notification : *due) {
      auto target = targets_.find(notification.target);
      if (target == targets_.end()) {
        // Enqueued for a webhook this gateway is no longer configured with.
        std::string error = "no webhook named `" + notification.target + "` is configured";
        if (Status status = store_.mark_failed(notification.id, error, now_millis()); !status) {
          log_.error("recording a webhook failure failed",
                     {{"delivery", notification.id}, {"error", status.message()}});
        }
        log_.warn("webhook delivery failed", {{"delivery", notification.id}, {"error", error}});
        continue;
      }
      auth::Delivery delivery;
      delivery.id = std::to_string(notification.id);
      delivery.event = "transfer." + notification.event;
      delivery.body =
          auth::webhook_body(delivery.id, delivery.event, notification.created_at, notification.payload_json);
      delivery.attempts = std::max(0, notification.attempts - 1);  // due_deliveries counted this attempt already
      UnixMillis sent_at = now_millis();
      auth::DeliveryResult result = target->second.sender->deliver(delivery, sent_at);
      UnixMillis done_at = now_millis();
      Status recorded = Status::ok();
      if (result.delivered) {
        recorded = store_.mark_delivered(notification.id, done_at);
        log_.info("webhook delivered", {{"delivery", notification.id},
                                        {"webhook", notification.target},
                                        {"event", notification.event},
                                        {"transfer", notification.transfer_id},
                                        {"attempts", notification.attempts}});
      } else if (result.retry_at) {
        recorded = store_.mark_retry(notification.id, *result.retry_at, result.error, done_at);
        log_.warn("webhook delivery will be retried", {{"delivery", notification.id},
                                                       {"webhook", notification.target},
                                                       {"error", result.error},
                                                       {"attempts", notification.attempts},
                                                       {"retry_in_ms", *result.retry_at - done_at}});
      } else {
        recorded = store_.mark_failed(notification.id, result.error, done_at);
        log_.error("webhook delivery failed", {{"delivery", notification.id},
                                               {"webhook", notification.target},
                                               {"error", result.error},
                                               {"attempts", notification.attempts}});
      }
      if (!recorded) {
        // Another replica's lease may have run out and it finished the delivery first; nothing is lost.
        log_.warn("recording a webhook delivery failed",
                  {{"delivery", notification.id}, {"error", recorded.message()}});
      }
    }
    if (due->size() < kBatch) return;
    now = now_millis();
  }
}

}  // namespace airlock::gateway::server
