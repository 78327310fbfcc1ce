#include "metrics.h"

#include <cstdio>

namespace airlock::gateway::server {
namespace {

constexpr std::string_view kOutcomes[] = {"approve", "deny", "escalate"};
constexpr std::string_view kStages[] = {"early", "final"};

void line(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  out += name;
  if (!labels.empty()) {
    out += "{";
    out += labels;
    out += "}";
  }
  out += " " + std::to_string(value) + "\n";
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += " ";
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " ";
  out += type;
  out += "\n";
}

std::string format_bound(double bound) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", bound);
  return text;
}

}  // namespace

void Histogram::observe(double seconds) {
  if (seconds < 0) seconds = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::write(std::string& out, std::string_view name, std::string_view labels) const {
  std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    line(out, std::string(name) + "_bucket", prefix + "le=\"" + format_bound(kBounds[i]) + "\"",
         buckets_[i].load(std::memory_order_relaxed));
  }
  std::uint64_t count = count_.load(std::memory_order_relaxed);
  line(out, std::string(name) + "_bucket", prefix + "le=\"+Inf\"", count);
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  out += std::string(name) + "_sum" + (labels.empty() ? "" : "{" + std::string(labels) + "}") + " " + sum + "\n";
  line(out, std::string(name) + "_count", labels, count);
}

void Metrics::decision(std::string_view outcome, Stage stage, double seconds) {
  for (std::size_t i = 0; i < 3; ++i) {
    if (kOutcomes[i] == outcome) decisions_[i][static_cast<std::size_t>(stage)].fetch_add(1, std::memory_order_relaxed);
  }
  decision_seconds_.observe(seconds);
}

void Metrics::request(unsigned status, double seconds) {
  std::size_t klass = status / 100;
  if (klass < requests_.size()) requests_[klass].fetch_add(1, std::memory_order_relaxed);
  request_seconds_.observe(seconds);
}

std::string Metrics::prometheus_text(const InspectionLoad& inspection) const {
  std::string out;
  header(out, "airlock_uploads_created_total", "counter", "Uploads created (tus creation).");
  line(out, "airlock_uploads_created_total", "", uploads_created_.load());
  header(out, "airlock_uploads_completed_total", "counter", "Uploads whose last byte arrived.");
  line(out, "airlock_uploads_completed_total", "", uploads_completed_.load());
  header(out, "airlock_uploads_failed_total", "counter", "Uploads that failed (an error, expiry or termination).");
  line(out, "airlock_uploads_failed_total", "", uploads_failed_.load());
  header(out, "airlock_uploads_in_flight", "gauge", "Upload requests receiving bytes now.");
  out += "airlock_uploads_in_flight " + std::to_string(in_flight_.load()) + "\n";
  header(out, "airlock_upload_bytes_total", "counter", "Bytes received and stored in quarantine.");
  line(out, "airlock_upload_bytes_total", "", bytes_received_.load());
  header(out, "airlock_released_bytes_total", "counter", "Bytes released to data sources.");
  line(out, "airlock_released_bytes_total", "", bytes_released_.load());
  header(out, "airlock_decisions_total", "counter", "Policy decisions by outcome and stage (early or final).");
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t s = 0; s < 2; ++s) {
      line(out, "airlock_decisions_total",
           "outcome=\"" + std::string(kOutcomes[i]) + "\",stage=\"" + std::string(kStages[s]) + "\"",
           decisions_[i][s].load());
    }
  }
  if (network_threads() > 0) {
    header(out, "airlock_connections_open", "gauge",
           "Open client connections by network thread (a connection stays on one thread).");
    for (std::size_t thread = 0; thread < network_threads(); ++thread) {
      out += "airlock_connections_open{thread=\"" + std::to_string(thread) + "\"} " +
             std::to_string(connections(thread)) + "\n";
    }
  }
  header(out, "airlock_inspection_queued_bytes", "gauge",
         "Bytes handed to the inspection threads and not yet inspected (limits.max_inspection_queue).");
  out += "airlock_inspection_queued_bytes " + std::to_string(inspection.queued_bytes) + "\n";
  header(out, "airlock_inspection_side_lanes_open", "gauge",
         "Side lanes open: uploads' text inspectors running beside their hash.");
  out += "airlock_inspection_side_lanes_open " + std::to_string(inspection.side_lanes_open) + "\n";
  header(out, "airlock_inspection_side_lanes_max", "gauge",
         "Side lanes open at most (twice inspection_threads); past it uploads inspect text in their own turn.");
  out += "airlock_inspection_side_lanes_max " + std::to_string(inspection.side_lanes_bound) + "\n";
  header(out, "airlock_http_requests_total", "counter", "HTTP requests by status class.");
  for (std::size_t klass = 1; klass < requests_.size(); ++klass) {
    line(out, "airlock_http_requests_total", "code=\"" + std::to_string(klass) + "xx\"", requests_[klass].load());
  }
  header(out, "airlock_http_request_duration_seconds", "histogram", "Time from request headers to response.");
  request_seconds_.write(out, "airlock_http_request_duration_seconds", "");
  header(out, "airlock_decision_duration_seconds", "histogram", "Time to evaluate the policies for one decision.");
  decision_seconds_.write(out, "airlock_decision_duration_seconds", "");
  header(out, "airlock_inspection_finish_duration_seconds", "histogram",
         "Time to finish inspecting a file after its last byte (archive listing, malware verdict).");
  inspection_seconds_.write(out, "airlock_inspection_finish_duration_seconds", "");
  return out;
}

}  // namespace airlock::gateway::server
