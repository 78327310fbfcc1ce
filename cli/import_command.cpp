// `airlock import`: what the import Job runs. Reads the data source, pulls its objects, inspects and judges
// them, and releases the import only when it is approved. Exit codes: 0 approved and released, 3 escalated
// (kept for review), 4 denied, 1 failed, 2 bad command line. See docs/import.md.
#ifdef AIRLOCK_WITH_IMPORT
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>

#include "airlock/gateway/import/importer.h"
#include "command.h"
#include "io.h"

#ifdef AIRLOCK_WITH_K8S
#include "airlock/k8s/client.h"
#endif

namespace airlock::cli {
namespace {

using gateway::import::DataSource;
using runtime::Error;
using runtime::Result;

std::optional<std::string> environment(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// A data source NAME never holds '/' or a dot-extension of a file; anything else is a file.
bool looks_like_file(const std::string& value) {
  return value == "-" || value.find('/') != std::string::npos || value.ends_with(".json") || value.ends_with(".yaml") ||
         value.ends_with(".yml");
}

Result<std::uint64_t> parse_size(const std::string& text) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return Error{"not a size: " + text};
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  while (unit.starts_with(" ")) unit.remove_prefix(1);
  std::uint64_t scale = 1;
  if (unit == "KiB")
    scale = 1ull << 10;
  else if (unit == "MiB")
    scale = 1ull << 20;
  else if (unit == "GiB")
    scale = 1ull << 30;
  else if (unit == "TiB")
    scale = 1ull << 40;
  else if (!unit.empty() && unit != "B")
    return Error{"unknown size unit in " + text + " (B, KiB, MiB, GiB, TiB)"};
  return value * scale;
}

Result<DataSource> read_from_file(const std::string& path, Console& console) {
  Result<std::string> text = read_input(path, console.in);
  if (!text) return text.error();
  return gateway::import::parse_datasource(*text, input_name(path));
}

Result<DataSource> read_from_cluster(const std::string& name, const std::string& ns) {
#ifdef AIRLOCK_WITH_K8S
  Result<k8s::ClusterConfig> config = k8s::load_in_cluster_config(environment);
  if (!config) return Error{"reading data source " + name + " from the API server: " + config.message()};
  k8s::KubeClient client(*config);
  k8s::ApiResponse response = client.get(k8s::resources::data_source().object_path(ns, name));
  if (!response.ok()) return Error{"reading data source " + ns + "/" + name + ": " + response.describe()};
  return gateway::import::parse_datasource_json(response.body.dump(), ns + "/" + name);
#else
  (void)ns;
  return Error{"this airlock was built without the Kubernetes client: pass --datasource-file FILE (not " + name + ")"};
#endif
}

std::string default_namespace() {
  if (auto key = environment("AIRLOCK_DATASOURCE"); key && key->find('/') != std::string::npos) {
    return key->substr(0, key->find('/'));
  }
  std::ifstream in("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
  std::string ns;
  if (in && std::getline(in, ns) && !ns.empty()) return ns;
  return "jupyterhub";
}

int run_import(const CommandSpec& spec, const ParsedArguments& arguments, Console& console) {
  // k8s-sync's Jobs for an escalated import in quarantine: release it after the reviewers' approval, or delete it
  // once a rejection's retention is over.
  for (const bool release : {true, false}) {
    const char* flag = release ? "--release" : "--discard";
    if (!arguments.has(flag)) continue;
    if (!arguments.has("--output")) return usage_error(spec, "--output DIR is required", console);
    const std::string output = arguments.value("--output");
    const std::string run = arguments.value(flag);
    runtime::Status done =
        release ? gateway::import::release_quarantined(output, run) : gateway::import::discard_quarantined(output, run);
    if (!done) {
      console.err << "error: " << done.message() << "\n";
      return 1;
    }
    console.err << (release ? "released import " : "discarded import ") << run
                << (release ? " to " + output + "/released\n" : " from " + output + "/quarantine\n");
    return 0;
  }
  std::string datasource_argument = arguments.value("--datasource");
  std::string datasource_file = arguments.value("--datasource-file");
  if (datasource_argument.empty() == datasource_file.empty()) {
    return usage_error(spec, "give exactly one of --datasource NAME|FILE and --datasource-file FILE", console);
  }
  if (!arguments.has("--output")) return usage_error(spec, "--output DIR is required", console);
  if (datasource_file.empty() && looks_like_file(datasource_argument)) datasource_file = datasource_argument;

  gateway::import::ImportOptions options;
  if (!datasource_file.empty()) {
    Result<DataSource> source = read_from_file(datasource_file, console);
    if (!source) {
      console.err << "error: " << source.message() << "\n";
      return kExitFailure;
    }
    options.datasource = std::move(*source);
  } else {
    std::string ns = arguments.has("--namespace") ? arguments.value("--namespace") : default_namespace();
    Result<DataSource> source = read_from_cluster(datasource_argument, ns);
    if (!source) {
      console.err << "error: " << source.message() << "\n";
      return kExitFailure;
    }
    options.datasource = std::move(*source);
  }
  if (arguments.has("--namespace") && options.datasource.ns.empty())
    options.datasource.ns = arguments.value("--namespace");
  options.credentials_dir = arguments.value("--credentials");
  if (arguments.has("--policies")) options.policies_dir = arguments.value("--policies");
  options.output_dir = arguments.value("--output");
  options.fetch.ca_file = arguments.value("--ca-file");
  options.clamd = arguments.value("--clamd");
  options.gateway_url = arguments.value("--gateway");
  options.gateway_token_file = arguments.value("--token-file");
  options.run_id = arguments.value("--run-id");
  if (!options.run_id.empty()) {
    bool valid =
        options.run_id.size() == 32 && options.run_id.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!valid) return usage_error(spec, "--run-id must be 32 lower-case hex characters", console);
  }
  if (arguments.has("--max-object-size")) {
    Result<std::uint64_t> size = parse_size(arguments.value("--max-object-size"));
    if (!size) return usage_error(spec, "--max-object-size: " + size.message(), console);
    options.fetch.max_bytes = *size;
  }
  if (arguments.has("--timeout")) {
    Result<std::uint64_t> seconds = parse_size(arguments.value("--timeout"));
    if (!seconds || *seconds == 0) return usage_error(spec, "--timeout takes a number of seconds", console);
    options.fetch.idle_timeout = std::chrono::seconds(*seconds);
    options.fetch.connect_timeout = std::chrono::seconds(*seconds);
  }
  bool quiet = arguments.has("--quiet");
  options.log = [&console, quiet](std::string_view line) {
    if (!quiet) console.err << line << "\n";
  };

  gateway::import::ImportResult result = gateway::import::run_import(options);
  for (const std::string& warning : result.warnings) console.err << "warning: " << warning << "\n";
  if (arguments.has("--json")) {
    console.out << result.report_json << "\n";
  } else {
    console.out << "import " << result.run_id << " of " << options.datasource.name << ": " << result.reason << "\n";
  }
  return gateway::import::import_exit_code(result.outcome);
}

}  // namespace

CommandSpec import_command() {
  return CommandSpec{
      .name = "import",
      .summary = "import a data source's objects (what the import Job runs): fetch, inspect, judge, release",
      .synopsis =
          "airlock import --datasource NAME|FILE [--namespace NS] --output DIR [--credentials DIR] "
          "[--policies DIR]",
      .description =
          "Reads an AnalyticsWorkspaceDataSource (a YAML or JSON file, or by NAME from the API server with the\n"
          "Pod's service account), pulls each of its objects from its connection (https, a PostgreSQL table as\n"
          "CSV, an S3 object), streams it through the same inspectors and policies as uploads, and writes\n"
          "ro-crate-metadata.json. Only an approved import is released, atomically, to DIR/released; an\n"
          "escalated one is kept in DIR/quarantine/RUN-ID for review; a denied or failed one leaves nothing.\n"
          "Exit codes: 0 approved and released, 3 escalated, 4 denied, 1 failed, 2 bad command line.\n",
      .flags = {{.name = "--datasource",
                 .value_name = "NAME|FILE",
                 .help = "the data source: a name (read from the API server) or a file (has '/' or .json/.yaml)"},
                {.name = "--datasource-file",
                 .value_name = "FILE",
                 .help = "the data source as YAML or JSON (- for stdin)"},
                {.name = "--namespace", .value_name = "NS", .help = "the data source's namespace (the Pod's)"},
                {.name = "--credentials",
                 .value_name = "DIR",
                 .help = "the mounted credentials Secret: files named by the connections' credential keys"},
                {.name = "--policies", .value_name = "DIR", .help = "the policies to judge by (policies)"},
                {.name = "--output", .value_name = "DIR", .help = "the data source's volume (the PVC mount)"},
                {.name = "--ca-file", .value_name = "FILE", .help = "CA bundle for https and S3 (system CAs)"},
                {.name = "--clamd", .value_name = "ADDR", .help = "clamd socket or host:port (no scan)"},
                {.name = "--gateway", .value_name = "URL", .help = "report the outcome to the gateway at URL"},
                {.name = "--token-file", .value_name = "FILE", .help = "bearer token for the gateway report"},
                {.name = "--max-object-size", .value_name = "SIZE", .help = "largest object (100 GiB)"},
                {.name = "--timeout", .value_name = "SECONDS", .help = "connect and idle timeout (30 / 60)"},
                {.name = "--run-id", .value_name = "ID", .help = "32 hex characters naming this run (random)"},
                {.name = "--json", .value_name = "", .help = "print the report (docs/import.md) instead of a line"},
                {.name = "--quiet", .value_name = "", .help = "no progress lines on stderr"},
                {.name = "--release",
                 .value_name = "RUN",
                 .help = "release DIR/quarantine/RUN to DIR/released (an escalated import approved in review)"},
                {.name = "--discard",
                 .value_name = "RUN",
                 .help = "delete DIR/quarantine/RUN (an escalated import rejected or returned in review)"}},
      .max_positionals = 0,
      .examples = {"airlock import --datasource /etc/airlock/import/datasource.json --credentials /etc/airlock/import "
                   "--output /data",
                   "airlock import --datasource example-data-source-1 --namespace jupyterhub --output /data "
                   "--gateway http://airlock-gateway:8080 --token-file /var/run/airlock/token"},
      .run = run_import,
  };
}

}  // namespace airlock::cli

#endif  // AIRLOCK_WITH_IMPORT
