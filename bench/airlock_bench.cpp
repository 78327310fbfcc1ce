// airlock_bench: Google Benchmark suite for the evaluator and the compiler, over the workloads of
// workloads.h. See bench/README.md.
//
//   airlock_bench [google-benchmark flags]      run the benchmarks, then print a summary with ratios
//   airlock_bench --mix                          print each workload's outcome mix and exit
//   airlock_bench --write-workloads DIR          write workloads, facts and Airlock's decisions for the peers
//   --workloads=W1,W2-10,...                     (before the others) only these workloads
//
// A counting global operator new (this binary only) gives allocations per decision and the compiler's
// peak and retained heap.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/decision.h"
#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/facts.h"
#include "workloads.h"

// ---------------------------------------------------------------------------------------------------
// Allocation accounting. Thread-local so that counting costs no shared cache line in the 2-thread runs.

namespace {
thread_local std::uint64_t t_allocations = 0;
thread_local std::int64_t t_live_bytes = 0;
thread_local std::int64_t t_peak_bytes = 0;

void* counted_alloc(std::size_t size, std::size_t alignment) {
  void* p = alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__
                ? std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)
                : std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  ++t_allocations;
  t_live_bytes += static_cast<std::int64_t>(malloc_usable_size(p));
  t_peak_bytes = std::max(t_peak_bytes, t_live_bytes);
  return p;
}
void counted_free(void* p) {
  if (p == nullptr) return;
  t_live_bytes -= static_cast<std::int64_t>(malloc_usable_size(p));
  std::free(p);
}
}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size, 0); }
void* operator new[](std::size_t size) { return counted_alloc(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_alloc(size, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted_alloc(size, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }

namespace {

using airlock::bench::Workload;
namespace runtime = airlock::runtime;
namespace compiler = airlock::compiler;

constexpr std::uint64_t kSeed = 20261129;
constexpr std::size_t kW1Transfers = 100'000;
constexpr std::size_t kW23Transfers = 10'000;

// --transfers=N: generate N transfers per workload instead of the defaults above (0: the defaults). A
// small N keeps every transfer's facts in the CPU's caches; the defaults do not, as a gateway's do not.
std::size_t& transfers_override() {
  static std::size_t n = 0;
  return n;
}
std::size_t transfers_or(std::size_t fallback) {
  return transfers_override() != 0 ? transfers_override() : fallback;
}
const std::vector<std::size_t> kW2Sizes = {10, 100, 1000, 10000};

std::string policies_dir() {
  if (const char* dir = std::getenv("AIRLOCK_POLICIES")) return dir;
  return std::string(AIRLOCK_SOURCE_DIR) + "/policies";
}

struct Prepared {
  Workload workload;
  std::shared_ptr<const runtime::Program> program;
  std::vector<runtime::Facts> facts;
  double compile_seconds = 0;
};

// Generates, compiles and parses one workload; exits on any failure (a broken workload is not a benchmark).
Prepared prepare(Workload workload) {
  Prepared prepared;
  const auto start = std::chrono::steady_clock::now();
  compiler::CompiledPolicySet compiled = compiler::compile_policy_set(workload.policies);
  prepared.compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!compiled.ok() || workload.policies.empty()) {
    std::fprintf(stderr, "airlock_bench: %s does not compile\n", workload.name.c_str());
    for (const auto& d : compiled.diagnostics) std::fprintf(stderr, "%s\n", d.render().c_str());
    std::exit(1);
  }
  prepared.program = compiled.program;
  prepared.facts.reserve(workload.facts.size());
  for (const std::string& text : workload.facts) {
    auto facts = runtime::Facts::from_json(text);
    if (!facts.is_ok()) {
      std::fprintf(stderr, "airlock_bench: %s: %s\n%s\n", workload.name.c_str(), facts.message().c_str(), text.c_str());
      std::exit(1);
    }
    prepared.facts.push_back(std::move(facts).value());
  }
  prepared.workload = std::move(workload);
  return prepared;
}

// The workloads this run uses: all, or those named by --workloads (set once in main, before any use).
std::vector<std::string>& selected_names() {
  static std::vector<std::string> names = {"W1", "W2-10", "W2-100", "W2-1000", "W2-10000", "W3"};
  return names;
}
const std::vector<std::string>& workload_names() { return selected_names(); }

Workload make_workload(const std::string& name) {
  if (name == "W1") return airlock::bench::make_w1(policies_dir(), transfers_or(kW1Transfers), kSeed);
  if (name == "W3") return airlock::bench::make_w3(transfers_or(kW23Transfers), kSeed);
  for (std::size_t size : kW2Sizes) {
    if (name == "W2-" + std::to_string(size)) {
      return airlock::bench::make_w2(size, transfers_or(kW23Transfers), kSeed);
    }
  }
  std::fprintf(stderr, "airlock_bench: unknown workload %s (W1, W2-10, W2-100, W2-1000, W2-10000, W3)\n", name.c_str());
  std::exit(2);
}

// The selected workloads, built once on first use.
std::map<std::string, Prepared>& workloads() {
  static std::map<std::string, Prepared> all = [] {
    std::map<std::string, Prepared> out;
    for (const std::string& name : workload_names()) out.emplace(name, prepare(make_workload(name)));
    return out;
  }();
  return all;
}

std::size_t rule_count(const runtime::Program& program) {
  std::size_t rules = 0;
  for (const runtime::Policy& policy : program.policies) rules += policy.rules.size();
  return rules;
}

// ---------------------------------------------------------------------------------------------------
// Benchmarks.

// How a benchmark calls the evaluator.
enum class Call : std::uint8_t {
  kReused,   // evaluate(program, facts, scratch, decision): one scratch and one Decision per thread, as a
             // serving thread keeps them
  kFresh,    // evaluate(program, facts): a new scratch and a new Decision for every decision (one-off callers)
  kOutcome,  // evaluate_outcome(program, facts, scratch): the outcome, rules and reviewers, without the strings
};

// ns per decision over the pre-parsed facts, cycling through the transfers.
void BM_Evaluate(benchmark::State& state, const std::string& name, Call call) {
  const Prepared& prepared = workloads().at(name);
  const runtime::Program& program = *prepared.program;
  const std::vector<runtime::Facts>& facts = prepared.facts;
  // Each thread starts at a different transfer so two threads do not judge the same facts in lockstep.
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (facts.size() / 2 + 7) % facts.size();
  runtime::EvaluationScratch scratch;
  runtime::Decision decision;
  const std::uint64_t allocations_before = t_allocations;
  for (auto _ : state) {
    switch (call) {
      case Call::kReused: runtime::evaluate(program, facts[i], scratch, decision); break;
      case Call::kFresh: decision = runtime::evaluate(program, facts[i]); break;
      case Call::kOutcome: {
        runtime::OutcomeSummary summary = runtime::evaluate_outcome(program, facts[i], scratch);
        benchmark::DoNotOptimize(summary);
        break;
      }
    }
    benchmark::DoNotOptimize(decision);
    if (++i == facts.size()) i = 0;
  }
  const double allocations = static_cast<double>(t_allocations - allocations_before);
  state.counters["allocs"] =
      benchmark::Counter(allocations / static_cast<double>(state.iterations()), benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::to_string(rule_count(program)) + " rules");
}

// Compile time of a policy set, and the heap it takes: at peak while compiling, and retained by the
// Program once the compiler's intermediate state is gone.
void BM_Compile(benchmark::State& state, const std::string& name) {
  const Workload& workload = workloads().at(name).workload;
  std::int64_t peak = 0;
  std::int64_t held = 0;
  for (auto _ : state) {
    const std::int64_t live_before = t_live_bytes;
    t_peak_bytes = t_live_bytes;
    std::shared_ptr<const runtime::Program> program;
    {
      compiler::CompiledPolicySet compiled = compiler::compile_policy_set(workload.policies);
      program = compiled.program;
    }
    peak = t_peak_bytes - live_before;
    held = t_live_bytes - live_before;
    benchmark::DoNotOptimize(program);
    state.PauseTiming();
    program.reset();
    state.ResumeTiming();
  }
  state.counters["peak_MiB"] = static_cast<double>(peak) / (1 << 20);
  state.counters["held_MiB"] = static_cast<double>(held) / (1 << 20);
  state.SetLabel(std::to_string(rule_count(*workloads().at(name).program)) + " rules");
}

// Parsing the facts JSON, for context: what the gateway pays before evaluating.
void BM_ParseFacts(benchmark::State& state, const std::string& name) {
  const std::vector<std::string>& texts = workloads().at(name).workload.facts;
  std::size_t i = 0;
  for (auto _ : state) {
    auto facts = runtime::Facts::from_json(texts[i]);
    benchmark::DoNotOptimize(facts);
    if (++i == texts.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void register_benchmarks() {
  for (const std::string& name : workload_names()) {
    struct Variant {
      const char* prefix;
      Call call;
      int threads;
    };
    for (const Variant& v : {Variant{"evaluate/", Call::kReused, 1}, Variant{"evaluate/", Call::kReused, 2},
                             Variant{"evaluate_fresh/", Call::kFresh, 1}, Variant{"outcome/", Call::kOutcome, 1}}) {
      benchmark::RegisterBenchmark((v.prefix + name).c_str(), BM_Evaluate, name, v.call)
          ->Threads(v.threads)
          ->UseRealTime();
    }
  }
  for (const std::string name : {"W1", "W2-10", "W2-10000", "W3"}) {
    if (!workloads().contains(name)) continue;
    benchmark::RegisterBenchmark(("compile/" + name).c_str(), BM_Compile, name)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(name == "W2-10000" ? 3 : 20);
  }
  if (workloads().contains("W1")) benchmark::RegisterBenchmark("parse_facts/W1", BM_ParseFacts, std::string("W1"));
}

// ---------------------------------------------------------------------------------------------------
// The summary: one line per workload with the medians, and the ratios the goals are stated in.

struct Row {
  double ns_1 = 0;          // median real ns per decision, one thread
  double ns_fresh = 0;      // the same with a new scratch and Decision per decision
  double ns_outcome = 0;    // evaluate_outcome(): the same judgement without the Decision's strings
  double per_second_2 = 0;  // decisions per second with two threads (wall clock)
  double allocs = 0;
  double compile_ms = 0;
  double peak_mib = 0;
  double held_mib = 0;
};

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      // With repetitions, keep the median; without, the single run.
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      const std::string name = run.run_name.function_name;
      const std::string workload = name.substr(name.find('/') + 1);
      Row& row = rows_[workload];
      auto counter = [&](const char* key) {
        auto it = run.counters.find(key);
        return it == run.counters.end() ? 0.0 : static_cast<double>(it->second.value);
      };
      if (name.starts_with("evaluate_fresh/")) {
        row.ns_fresh = run.GetAdjustedRealTime();
      } else if (name.starts_with("outcome/")) {
        row.ns_outcome = run.GetAdjustedRealTime();
      } else if (name.starts_with("evaluate/")) {
        if (run.threads == 1) {
          row.ns_1 = run.GetAdjustedRealTime();
          row.allocs = counter("allocs");
        } else {
          row.per_second_2 = counter("items_per_second");
        }
      } else if (name.starts_with("compile/")) {
        row.compile_ms = run.GetAdjustedRealTime();
        row.peak_mib = counter("peak_MiB");
        row.held_mib = counter("held_MiB");
      }
    }
  }

  void print_summary() const {
    std::printf("\nSummary (medians; ns per decision on one thread; decisions/s with 2 threads)\n");
    std::printf("%-10s %8s %12s %12s %12s %14s %10s %9s %12s %10s %10s\n", "workload", "rules", "ns/decision",
                "fresh ns", "outcome ns", "2-thread/s", "allocs", "vs W2-10", "compile ms", "peak MiB", "held MiB");
    const auto base = rows_.find("W2-10");
    for (const std::string& name : workload_names()) {
      auto it = rows_.find(name);
      if (it == rows_.end()) continue;
      const Row& row = it->second;
      char ratio[32] = "-";
      if (base != rows_.end() && base->second.ns_1 > 0 && row.ns_1 > 0) {
        std::snprintf(ratio, sizeof ratio, "%.2fx", row.ns_1 / base->second.ns_1);
      }
      char compile[32] = "-", peak[32] = "-", held[32] = "-";
      if (row.compile_ms > 0) {
        std::snprintf(compile, sizeof compile, "%.1f", row.compile_ms);
        std::snprintf(peak, sizeof peak, "%.1f", row.peak_mib);
        std::snprintf(held, sizeof held, "%.1f", row.held_mib);
      }
      std::printf("%-10s %8zu %12.1f %12.1f %12.1f %14.0f %10.1f %9s %12s %10s %10s\n", name.c_str(),
                  rule_count(*workloads().at(name).program), row.ns_1, row.ns_fresh, row.ns_outcome, row.per_second_2,
                  row.allocs,
                  ratio, compile, peak, held);
    }
    auto goal = [](const char* what, bool met, const std::string& detail) {
      std::printf("  %-4s %s (%s)\n", met ? "ok" : "MISS", what, detail.c_str());
    };
    std::printf("\nGoals\n");
    auto row = [&](const char* name) -> const Row* {
      auto it = rows_.find(name);
      return it == rows_.end() || it->second.ns_1 == 0 ? nullptr : &it->second;
    };
    char buffer[128];
    if (const Row* w1 = row("W1")) {
      std::snprintf(buffer, sizeof buffer, "%.0f ns", w1->ns_1);
      goal("W1 <= 300 ns per decision", w1->ns_1 <= 300, buffer);
    }
    if (const Row* big = row("W2-10000")) {
      std::snprintf(buffer, sizeof buffer, "%.0f ns", big->ns_1);
      goal("W2-10000 <= 1 us per decision", big->ns_1 <= 1000, buffer);
      if (const Row* small = row("W2-10")) {
        std::snprintf(buffer, sizeof buffer, "%.2fx", big->ns_1 / small->ns_1);
        goal("W2-10000 within 3x of W2-10", big->ns_1 <= 3 * small->ns_1, buffer);
      }
    }
    auto it = rows_.find("W2-10000");
    if (it != rows_.end() && it->second.compile_ms > 0) {
      std::snprintf(buffer, sizeof buffer, "%.0f ms", it->second.compile_ms);
      goal("compile W2-10000 < 2 s", it->second.compile_ms < 2000, buffer);
      std::snprintf(buffer, sizeof buffer, "peak %.1f MiB, held %.1f MiB", it->second.peak_mib, it->second.held_mib);
      goal("memory of W2-10000 < 64 MiB", it->second.peak_mib < 64, buffer);
    }
  }

 private:
  std::map<std::string, Row> rows_;
};

// ---------------------------------------------------------------------------------------------------
// --mix and --write-workloads.

struct Mix {
  std::size_t approve = 0, deny = 0, escalate = 0, with_errors = 0;
};

Mix outcome_mix(const Prepared& prepared) {
  Mix mix;
  for (const runtime::Facts& facts : prepared.facts) {
    const runtime::Decision decision = runtime::evaluate(*prepared.program, facts);
    switch (decision.outcome) {
      case runtime::Outcome::kApprove: ++mix.approve; break;
      case runtime::Outcome::kDeny: ++mix.deny; break;
      case runtime::Outcome::kEscalate: ++mix.escalate; break;
    }
    if (!decision.errors.empty()) ++mix.with_errors;
  }
  return mix;
}

void print_mix() {
  std::printf("%-10s %8s %10s %9s %9s %9s %8s %11s\n", "workload", "rules", "transfers", "approve", "deny", "escalate",
              "errors", "compile ms");
  for (const std::string& name : workload_names()) {
    const Prepared& prepared = workloads().at(name);
    const Mix mix = outcome_mix(prepared);
    const double n = static_cast<double>(prepared.facts.size()) / 100.0;
    std::printf("%-10s %8zu %10zu %8.1f%% %8.1f%% %8.1f%% %8zu %11.1f\n", name.c_str(), rule_count(*prepared.program),
                prepared.facts.size(), static_cast<double>(mix.approve) / n, static_cast<double>(mix.deny) / n,
                static_cast<double>(mix.escalate) / n, mix.with_errors, prepared.compile_seconds * 1000);
  }
  std::fflush(stdout);
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

// For each workload: policies/*.policy, spec.json (W2, W3), facts.jsonl, decisions.jsonl (Airlock's).
int write_workloads(const std::filesystem::path& dir) {
  for (const std::string& name : workload_names()) {
    const Prepared& prepared = workloads().at(name);
    const std::filesystem::path out = dir / name;
    std::filesystem::create_directories(out / "policies");
    bool ok = true;
    for (const compiler::SourceFile& file : prepared.workload.policies) {
      ok = ok && write_file(out / "policies" / std::filesystem::path(file.path).filename(), file.text);
    }
    if (!prepared.workload.peer_spec.empty()) ok = ok && write_file(out / "spec.json", prepared.workload.peer_spec);
    std::string facts, decisions;
    for (std::size_t i = 0; i < prepared.facts.size(); ++i) {
      facts += prepared.workload.facts[i] + "\n";
      const runtime::Decision decision = runtime::evaluate(*prepared.program, prepared.facts[i]);
      nlohmann::json line = {{"outcome", runtime::outcome_name(decision.outcome)}};
      std::vector<std::string> rules;
      for (const runtime::MatchedRule& rule : decision.rules) rules.push_back(rule.policy + "." + rule.rule);
      std::sort(rules.begin(), rules.end());
      line["rules"] = rules;
      line["errors"] = decision.errors.size();
      decisions += line.dump() + "\n";
    }
    ok = ok && write_file(out / "facts.jsonl", facts) && write_file(out / "decisions.jsonl", decisions);
    if (!ok) {
      std::fprintf(stderr, "airlock_bench: cannot write %s\n", out.c_str());
      return 1;
    }
    std::printf("wrote %s (%zu transfers)\n", out.c_str(), prepared.facts.size());
  }
  return 0;
}

bool has_flag(const std::vector<char*>& args, const std::string& prefix) {
  return std::any_of(args.begin(), args.end(), [&](const char* a) { return std::string(a).starts_with(prefix); });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("--workloads=")) {
      selected_names().clear();
      std::string list = arg.substr(12);
      for (std::size_t start = 0; start <= list.size();) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        if (comma > start) selected_names().push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (arg.starts_with("--transfers=")) {
      transfers_override() = std::stoul(arg.substr(12));
    } else {
      args.push_back(argv[i]);
    }
  }
  argc = static_cast<int>(args.size());
  argv = args.data();
  if (argc >= 2 && std::string(argv[1]) == "--mix") {
    print_mix();
    return 0;
  }
  if (argc >= 3 && std::string(argv[1]) == "--write-workloads") return write_workloads(argv[2]);

  // Defaults: medians of 5 repetitions, aggregates only. Any of these flags on the command line wins.
  static std::string repetitions = "--benchmark_repetitions=5";
  static std::string aggregates = "--benchmark_report_aggregates_only=true";
  static std::string min_time = "--benchmark_min_time=0.3";
  if (!has_flag(args, "--benchmark_repetitions")) args.push_back(repetitions.data());
  if (!has_flag(args, "--benchmark_report_aggregates_only") && !has_flag(args, "--benchmark_display_aggregates_only")) {
    args.push_back(aggregates.data());
  }
  if (!has_flag(args, "--benchmark_min_time")) args.push_back(min_time.data());
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;

  print_mix();  // builds every workload before any timing starts
  std::printf("\n");
  register_benchmarks();
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
