// The webhook sender: a background thread that claims due deliveries from the store's outbox, POSTs each to
// its webhook with an HMAC-SHA256 signature (auth/webhook.h), and records the outcome: delivered, retried with
// exponential backoff, or failed after the webhook's max_attempts. The outbox lives in the state store, so a
// restart loses nothing; delivery is at least once (receivers drop duplicates by X-Airlock-Delivery).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "airlock/gateway/auth/webhook.h"
#include "airlock/gateway/config.h"
#include "airlock/gateway/store.h"

namespace airlock::gateway::server {

class Log;

class WebhookLoop {
 public:
  // Tells the store which webhooks want which events, then starts the thread (none without webhooks).
  static std::unique_ptr<WebhookLoop> start(const std::vector<WebhookTargetConfig>& webhooks, TransferStore& store,
                                            const Log& log);
  // Stops the thread; a delivery in flight finishes first (at most its timeout).
  ~WebhookLoop();
  WebhookLoop(const WebhookLoop&) = delete;
  WebhookLoop& operator=(const WebhookLoop&) = delete;

  // Something was enqueued: look at the outbox now rather than at the next poll.
  void wake();
  // One pass over the due deliveries (the thread calls it; public for clarity of what a pass does).
  void run_once(UnixMillis now);

 private:
  struct Target {
    WebhookTargetConfig config;
    std::unique_ptr<auth::WebhookSender> sender;
  };
  WebhookLoop(TransferStore& store, const Log& log) : store_(store), log_(log) {}
  void run();

  TransferStore& store_;
  const Log& log_;
  std::map<std::string, Target, std::less<>> targets_;
  UnixMillis lease_ = 60'000;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace airlock::gateway::server
