// `airlock import`: pulls every object of an Import data source, inspects and judges each file with the
// compiled policies, writes ro-crate-metadata.json, and releases the whole import atomically only when it is
// approved. See docs/import.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/import/datasource.h"
#include "airlock/gateway/import/sources.h"
#include "airlock/runtime/decision.h"

namespace airlock::gateway::import {

struct ImportOptions {
  DataSource datasource;
  std::string credentials_dir;  // files named by the connections' credential keys
  std::string policies_dir = "policies";
  std::string output_dir;  // the PVC mount
  std::string clamd;       // clamd address (unix path or host:port); empty: scan.result "skipped"
  FetchOptions fetch;      // CA file, timeouts, size cap per object
  std::uint64_t max_total_bytes = std::uint64_t{1} << 40;
  std::string gateway_url;                    // report to POST /api/v1/imports; empty: no report
  std::string gateway_token_file;             // bearer token for the report
  std::string run_id;                         // 32 lower-case hex; empty: random
  std::function<void(std::string_view)> log;  // progress lines; may be empty
};

enum class ImportOutcome { kApproved, kEscalated, kDenied, kFailed };
std::string_view import_outcome_name(ImportOutcome outcome);  // approved, escalated, denied, failed
// 0 approved and released, 3 escalated (kept for review), 4 denied, 1 failed.
int import_exit_code(ImportOutcome outcome);

struct ImportedFile {
  std::string object;      // "table patients" / "file gm/a.csv"
  std::string connection;  // its connection's name
  std::string name;        // the file name in the crate
  std::string source_url;  // without credentials
  std::uint64_t size = 0;
  std::string sha256;
  std::string type;           // sniffed
  std::string declared_type;  // what the source said (Content-Type), text/csv for tables
  runtime::Decision decision;
  std::string facts_json;
};

struct ImportResult {
  ImportOutcome outcome = ImportOutcome::kFailed;
  std::string run_id;
  std::string reason;  // one line for people
  std::vector<ImportedFile> files;
  runtime::Decision decision;  // the combined decision (deny > escalate > approve)
  std::string policy_set;
  std::string location;  // where the bytes are now: released dir, quarantine/<run>, or "" when discarded
  std::string started_at;
  std::string finished_at;
  std::string report_json;  // the summary posted to the gateway (docs/import.md)
  std::vector<std::string> warnings;
};

// The combined outcome of per-file decisions: deny if any denies, else escalate if any escalates (reviewer roles
// merged, approvals the largest asked), else approve. No decision at all: escalate.
runtime::Decision combine_decisions(const std::vector<runtime::Decision>& decisions);

ImportResult run_import(const ImportOptions& options);

// Releases an escalated import after reviewers approved it (`airlock import --release RUN`, run by k8s-sync's
// release Job): renames output_dir/quarantine/RUN to output_dir/released atomically, as an approved run is
// released. Idempotent: when the quarantine is gone and released/ro-crate-metadata.json is that run's, it succeeds.
runtime::Status release_quarantined(const std::string& output_dir, const std::string& run_id);

// Deletes an escalated import that reviewers rejected or returned, once its retention is over (`airlock import
// --discard RUN`, run by k8s-sync's discard Job): removes output_dir/quarantine/RUN. Idempotent: a run already
// gone succeeds. Never touches the released area.
runtime::Status discard_quarantined(const std::string& output_dir, const std::string& run_id);

}  // namespace airlock::gateway::import
