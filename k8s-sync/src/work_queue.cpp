#include "airlock/k8s/work_queue.h"

#include <algorithm>
#include <cmath>

namespace airlock::k8s {

WorkQueue::WorkQueue(const Clock& clock, WorkQueueOptions options)
    : clock_(clock), options_(options), tokens_(options.burst), bucket_time_(clock.now()) {}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  add_at_locked(key, clock_.now());
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  add_at_locked(key, clock_.now() + delay);
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::lock_guard lock(mutex_);
  TimePoint now = clock_.now();
  int failures = failures_[key]++;
  double backoff_ms = static_cast<double>(options_.base_delay.count()) * std::pow(2.0, std::min(failures, 40));
  backoff_ms = std::min(backoff_ms, static_cast<double>(options_.max_delay.count()));
  // Token bucket: refill since the last reservation, then reserve one token (possibly in the future).
  double elapsed = std::chrono::duration<double>(now - bucket_time_).count();
  tokens_ = std::min(static_cast<double>(options_.burst), tokens_ + elapsed * options_.queries_per_second);
  bucket_time_ = now;
  tokens_ -= 1.0;
  double bucket_ms = tokens_ >= 0 ? 0.0 : -tokens_ / options_.queries_per_second * 1000.0;
  auto delay = std::chrono::microseconds(static_cast<std::int64_t>(std::max(backoff_ms, bucket_ms) * 1000.0));
  add_at_locked(key, now + delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = failures_.find(key);
  return found == failures_.end() ? 0 : found->second;
}

void WorkQueue::add_at_locked(const std::string& key, TimePoint at) {
  if (shut_down_) return;
  TimePoint now = clock_.now();
  if (at <= now) {
    waiting_.erase(key);
    if (processing_.count(key) != 0) {
      dirty_.insert(key);
    } else if (ready_set_.insert(key).second) {
      ready_order_.emplace(now, key);
    }
  } else {
    auto [it, inserted] = waiting_.emplace(key, at);
    if (!inserted) it->second = std::min(it->second, at);
  }
  changed_.notify_all();
}

void WorkQueue::promote_locked(TimePoint now) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second <= now) {
      std::string key = it->first;
      it = waiting_.erase(it);
      if (processing_.count(key) != 0) {
        dirty_.insert(key);
      } else if (ready_set_.insert(key).second) {
        ready_order_.emplace(now, key);
      }
    } else {
      ++it;
    }
  }
}

std::optional<std::string> WorkQueue::pop() {
  std::lock_guard lock(mutex_);
  promote_locked(clock_.now());
  for (auto it = ready_order_.begin(); it != ready_order_.end(); ++it) {
    if (processing_.count(it->second) != 0) continue;
    std::string key = it->second;
    ready_order_.erase(it);
    ready_set_.erase(key);
    processing_.insert(key);
    return key;
  }
  return std::nullopt;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (dirty_.erase(key) != 0 && ready_set_.insert(key).second) ready_order_.emplace(clock_.now(), key);
  changed_.notify_all();
}

std::optional<TimePoint> WorkQueue::next_ready_time() const {
  std::lock_guard lock(mutex_);
  if (!ready_set_.empty()) return clock_.now();
  std::optional<TimePoint> earliest;
  for (const auto& [key, at] : waiting_) {
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

std::size_t WorkQueue::size() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> keys = ready_set_;
  for (const auto& [key, at] : waiting_) keys.insert(key);
  keys.insert(dirty_.begin(), dirty_.end());
  return keys.size();
}

void WorkQueue::wait(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  if (shut_down_ || !ready_set_.empty()) return;
  auto wait_for = max_wait;
  TimePoint now = clock_.now();
  for (const auto& [key, at] : waiting_) {
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(at - now) + std::chrono::milliseconds(1);
    wait_for = std::max(std::chrono::milliseconds(0), std::min(wait_for, until));
  }
  changed_.wait_for(lock, wait_for);
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mutex_);
  shut_down_ = true;
  changed_.notify_all();
}

}  // namespace airlock::k8s
