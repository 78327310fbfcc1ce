// Counters and histograms for /metrics (Prometheus text format 0.0.4). Lock-free on the hot path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace airlock::gateway::server {

class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void observe(double seconds);
  void write(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size()> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

// The inspection threads' load, read when /metrics is scraped (InspectionExecutor).
struct InspectionLoad {
  std::size_t queued_bytes = 0;      // handed to the inspection threads and not yet inspected
  std::size_t side_lanes_open = 0;   // uploads' content inspectors running beside their hash
  std::size_t side_lanes_bound = 0;  // past it, uploads inspect their text in their own turn
};

class Metrics {
 public:
  enum class Stage : std::uint8_t { kEarly, kFinal };

  void upload_created() { uploads_created_.fetch_add(1, std::memory_order_relaxed); }
  void upload_completed() { uploads_completed_.fetch_add(1, std::memory_order_relaxed); }
  void upload_failed() { uploads_failed_.fetch_add(1, std::memory_order_relaxed); }
  void bytes_received(std::uint64_t n) { bytes_received_.fetch_add(n, std::memory_order_relaxed); }
  void bytes_released(std::uint64_t n) { bytes_released_.fetch_add(n, std::memory_order_relaxed); }
  void uploads_in_flight(int delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }
  // outcome: "approve", "deny", "escalate".
  void decision(std::string_view outcome, Stage stage, double seconds);
  void request(unsigned status, double seconds);
  void inspection(double seconds) { inspection_seconds_.observe(seconds); }

  // Open client connections by network thread (each connection stays on the thread it was given).
  static constexpr std::size_t kMaxNetworkThreads = 64;
  void set_network_threads(std::size_t n) { network_threads_.store(n < kMaxNetworkThreads ? n : kMaxNetworkThreads); }
  std::size_t network_threads() const { return network_threads_.load(); }
  void connection_opened(std::size_t thread) { connections_[thread].fetch_add(1, std::memory_order_relaxed); }
  void connection_closed(std::size_t thread) { connections_[thread].fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t connections(std::size_t thread) const { return connections_[thread].load(std::memory_order_relaxed); }

  std::string prometheus_text(const InspectionLoad& inspection = {}) const;

 private:
  std::atomic<std::uint64_t> uploads_created_{0};
  std::atomic<std::uint64_t> uploads_completed_{0};
  std::atomic<std::uint64_t> uploads_failed_{0};
  std::atomic<std::uint64_t> bytes_received_{0};
  std::atomic<std::uint64_t> bytes_released_{0};
  std::atomic<std::int64_t> in_flight_{0};
  // [outcome][stage]
  std::array<std::array<std::atomic<std::uint64_t>, 2>, 3> decisions_{};
  // by status class 1xx..5xx
  std::array<std::atomic<std::uint64_t>, 6> requests_{};
  std::atomic<std::size_t> network_threads_{0};
  std::array<std::atomic<std::int64_t>, kMaxNetworkThreads> connections_{};
  Histogram request_seconds_;
  Histogram decision_seconds_;
  Histogram inspection_seconds_;
};

}  // namespace airlock::gateway::server
