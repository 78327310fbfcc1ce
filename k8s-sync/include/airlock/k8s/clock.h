// Time for the controller: injected so that the work queue, the lease and condition timestamps are deterministic in
// tests.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace airlock::k8s {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start) {}
  TimePoint now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void advance(std::chrono::nanoseconds step) {
    std::lock_guard lock(mutex_);
    now_ += std::chrono::duration_cast<TimePoint::duration>(step);
  }

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
};

// "2026-01-02T03:04:05Z" (Kubernetes Time) and "2026-01-02T03:04:05.000000Z" (MicroTime).
std::string format_time(TimePoint time);
std::string format_micro_time(TimePoint time);
// Parses either form; false when the text is not an RFC 3339 UTC time.
bool parse_time(const std::string& text, TimePoint& out);

}  // namespace airlock::k8s
