// The streaming inspectors alone, without the network or the disk: MiB/s of each inspector and of the whole
// InspectionPipeline over one file, fed in 256 KiB chunks as the gateway feeds them. Rates are per second of
// this thread's CPU time (as `openssl speed` reports), so a busy machine does not skew them; and the pipeline
// with a side lane on a second thread (a table's parser, or the identifier scanner of other text), in wall time.
// Built and run by scripts/bench-gateway.sh (`inspect` step); usage: inspect_throughput FILE [NAME]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "airlock/gateway/inspect/identifiers.h"
#include "airlock/gateway/inspect/inspection_executor.h"
#include "airlock/gateway/inspect/pipeline.h"
#include "airlock/gateway/inspect/table.h"

namespace {

using airlock::gateway::inspect::IdentifierScanner;
using airlock::gateway::inspect::InspectionExecutor;
using airlock::gateway::inspect::InspectionOptions;
using airlock::gateway::inspect::InspectionPipeline;
using airlock::gateway::inspect::TableInspector;

constexpr std::size_t kChunk = 256u << 10;

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// MiB per second of `now()` (seconds) spent in `feed`, over the file in chunks as the gateway feeds them.
template <class Now, class Feed>
double rate(const std::string& path, std::uint64_t size, Now now, Feed feed) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buffer(kChunk);
  double seconds = 0;
  while (true) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    double start = now();
    feed(std::span<const char>(buffer.data(), n));
    seconds += now() - start;
  }
  return static_cast<double>(size) / seconds / (1 << 20);
}

template <class Feed>
double mib_per_second(const std::string& path, std::uint64_t size, Feed feed) {
  return rate(path, size, cpu_seconds, feed);
}

// The same over wall-clock time.
template <class Feed>
double wall_mib_per_second(const std::string& path, std::uint64_t size, Feed feed) {
  auto wall_seconds = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  return rate(path, size, wall_seconds, feed);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: inspect_throughput FILE [NAME]\n");
    return 2;
  }
  std::string path = argv[1];
  std::string name = argc > 2 ? argv[2] : path;
  std::uint64_t size = 0;
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    size = static_cast<std::uint64_t>(in.tellg());
  }
  IdentifierScanner identifiers;
  double id_rate = mib_per_second(path, size, [&](std::span<const char> c) { identifiers.update(c); });
  identifiers.finish();
  TableInspector table(',');
  double table_rate = mib_per_second(path, size, [&](std::span<const char> c) { table.update(c); });
  table.finish();
  InspectionOptions options;
  options.declared = {name, "", size};
  InspectionPipeline pipeline(options);
  double pipeline_rate = mib_per_second(path, size, [&](std::span<const char> c) { (void)pipeline.update(c); });
  double finish_start = cpu_seconds();
  (void)pipeline.finish(path);
  double finish_ms = (cpu_seconds() - finish_start) * 1000;
  const auto& report = pipeline.report();
  // The same pipeline with a side lane beside the hash (two threads, as the gateway runs it with
  // inspection_threads: 2): wall time, since two threads share the work.
  InspectionExecutor executor({.threads = 2});
  InspectionOptions lane_options;
  lane_options.declared = {name, "", size};
  lane_options.side_lane = executor.side_lane_function();
  InspectionPipeline lanes(lane_options);
  double lanes_rate = wall_mib_per_second(path, size, [&](std::span<const char> c) { (void)lanes.update(c); });
  (void)lanes.finish(path);
  std::printf(
      "identifiers %.0f MiB/s, table %.0f MiB/s, pipeline %.0f MiB/s (finish %.1f ms), pipeline with a "
      "side lane %.0f MiB/s (wall): type %s, text %d, table %d (%lld rows), nhs %lld\n",
      id_rate, table_rate, pipeline_rate, finish_ms, lanes_rate, report.type.c_str(), report.text ? 1 : 0,
      report.table.is_table ? 1 : 0, static_cast<long long>(report.table.rows),
      static_cast<long long>(report.identifiers.nhs_numbers));
  return 0;
}
