// `airlock serve`: the gateway (HTTP, tus uploads, the transfer API). Built when the gateway library is.
#ifdef AIRLOCK_WITH_GATEWAY

#include <ostream>
#include <string>

#include "airlock/gateway/config.h"
#include "airlock/gateway/server.h"
#include "command.h"

namespace airlock::cli {
namespace {

int run_serve(const CommandSpec& spec, const ParsedArguments& arguments, Console& console) {
  gateway::ServerOptions options;
  if (arguments.has("--config")) {
    runtime::Result<gateway::Config> config = gateway::load_config(arguments.value("--config"));
    if (!config) {
      console.err << "error: " << config.message() << "\n";
      return kExitFailure;
    }
    options.config = std::move(*config);
  }
  if (arguments.has("--listen")) {
    std::string listen = arguments.value("--listen");
    if (runtime::Result<gateway::ListenAddress> address = gateway::parse_listen_address(listen); !address) {
      return usage_error(spec, "`--listen`: " + address.message(), console);
    }
    options.config.listen = listen;
  }
  if (arguments.has("--data")) options.config.data_dir = arguments.value("--data");
  if (arguments.has("--policies")) options.config.policies_dir = arguments.value("--policies");
  if (arguments.has("--port-file")) options.port_file = arguments.value("--port-file");
  if (options.config.data_dir.empty() || options.config.policies_dir.empty()) {
    return usage_error(spec, "`--data` and `--policies` need a directory", console);
  }
  console.out.flush();
  runtime::Result<int> status = gateway::run_server(options);
  if (!status) {
    console.err << "error: " << status.message() << "\n";
    return kExitFailure;
  }
  return *status;
}

}  // namespace

CommandSpec serve_command() {
  return CommandSpec{
      .name = "serve",
      .summary = "run the gateway: resumable uploads, policy decisions, the transfer API",
      .synopsis = "airlock serve [--config FILE] [--listen ADDR:PORT] [--data DIR] [--policies DIR] [--port-file FILE]",
      .description =
          "Serves HTTP/1.1 (HTTPS when the configuration names a certificate and key): tus 1.0.0 uploads on\n"
          "/files, the transfer API on /api/v1, /healthz, /readyz and /metrics. Every upload is inspected as it\n"
          "streams into quarantine, judged by the policies, and released to its data source only when approved.\n"
          "\n"
          "Without --config it listens on 127.0.0.1:8080 with ./airlock-data and policies/, and generates a\n"
          "local bearer token, printed in the log and written to DIR/local-token. The flags override the\n"
          "configuration (docs/configuration.md). Logs are JSON lines on standard error. SIGTERM or SIGINT\n"
          "stops it gracefully: no new connections, running requests finish or are checkpointed.\n",
      .flags = {{.name = "--config", .value_name = "FILE", .help = "YAML configuration (docs/configuration.md)"},
                {.name = "--listen",
                 .value_name = "ADDR:PORT",
                 .help = "address to listen on; port 0 picks a free one"},
                {.name = "--data", .value_name = "DIR", .help = "state store and quarantine directory"},
                {.name = "--policies", .value_name = "DIR", .help = "policy files to judge transfers with"},
                {.name = "--port-file",
                 .value_name = "FILE",
                 .help = "write the bound ADDR:PORT here once listening (for tests and scripts)"}},
      .positional_name = "",
      .max_positionals = 0,
      .examples = {"airlock serve", "airlock serve --config /etc/airlock/airlock.yaml",
                   "airlock serve --listen 127.0.0.1:0 --data /tmp/airlock --port-file /tmp/airlock/port"},
      .run = run_serve,
  };
}

}  // namespace airlock::cli

#endif  // AIRLOCK_WITH_GATEWAY
