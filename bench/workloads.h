// Deterministic, seeded workloads shared by the benchmarks, the peer engines and the differential tests.
// A workload is a policy set (as source files) plus generated transfers (as facts JSON), and a
// language-neutral description of the same rules so other engines can evaluate identical logic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"

namespace airlock::bench {

struct Workload {
  std::string name;                               // "W1", "W2-1000", "W3"
  std::vector<compiler::SourceFile> policies;     // Airlock policy source
  std::vector<std::string> facts;                 // one facts JSON object per transfer
  // The same rules for other engines (JSON): see bench/README.md for the format. Empty for W1.
  std::string peer_spec;
};

// W1: the standard policies/ library (read from `policies_dir`) over `transfers` generated transfers
// that mix all three outcomes.
Workload make_w1(const std::string& policies_dir, std::size_t transfers, std::uint64_t seed);

// W2: a generated policy set of about `rules` rules, shaped as deployments grow: per-workspace approve
// rules, per-destination egress rules, and about 20 global deny/escalate rules.
Workload make_w2(std::size_t rules, std::size_t transfers, std::uint64_t seed);

// W3: expression-heavy rules: regexes, string functions, list macros over 100 archive entries.
Workload make_w3(std::size_t transfers, std::uint64_t seed);

}  // namespace airlock::bench
