// A work queue keyed by object ("namespace/name"), as client-go's rate-limited queue: a key is held at most once,
// never handed to two workers at the same time, retried with per-key exponential backoff, and all retries together
// are held to an overall rate (token bucket). Time comes from the injected clock; pop() never blocks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "airlock/k8s/clock.h"

namespace airlock::k8s {

struct WorkQueueOptions {
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{300'000};
  double queries_per_second = 10.0;  // overall rate of retries
  int burst = 100;
};

class WorkQueue {
 public:
  WorkQueue(const Clock& clock, WorkQueueOptions options);

  // Ready now (deduplicated; a key being processed is marked dirty and comes back after done()).
  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  // Retry after max(per-key backoff, overall rate); each call doubles the key's backoff.
  void add_rate_limited(const std::string& key);
  // The key succeeded: reset its backoff.
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  // A key whose time has come and that no worker holds; the caller must call done(key).
  std::optional<std::string> pop();
  void done(const std::string& key);

  // When the next delayed key becomes ready (nullopt: none waiting).
  std::optional<TimePoint> next_ready_time() const;
  std::size_t size() const;  // ready + delayed keys
  // Blocks (real time) until a key may be ready or `max_wait` passed or shut_down(); for the production loop.
  void wait(std::chrono::milliseconds max_wait);
  void shut_down();

 private:
  void add_at_locked(const std::string& key, TimePoint at);
  void promote_locked(TimePoint now);

  const Clock& clock_;
  WorkQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> ready_set_;
  std::multimap<TimePoint, std::string> ready_order_;  // ready keys in the order they became ready
  std::map<std::string, TimePoint> waiting_;           // delayed keys -> earliest time
  std::set<std::string> processing_;
  std::set<std::string> dirty_;  // added while processing
  std::map<std::string, int> failures_;
  double tokens_;
  TimePoint bucket_time_;
  bool shut_down_ = false;
};

}  // namespace airlock::k8s
