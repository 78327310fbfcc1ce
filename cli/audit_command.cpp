// `airlock audit verify|list`: checks the gateway's hash-chained audit log, or prints it as JSON Lines.
// Opens the database read-only, so it is safe to run beside a running gateway.
#ifdef AIRLOCK_HAVE_STORE

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "airlock/gateway/store.h"
#include "command.h"

namespace airlock::cli {
namespace {

// The gateway keeps its state in DATA/airlock.db.
constexpr const char* kDatabaseName = "airlock.db";

int run_audit(const CommandSpec& spec, const ParsedArguments& arguments, Console& console) {
  const std::string& action = arguments.positionals().front();
  if (action != "verify" && action != "list") {
    std::vector<std::string> actions{"verify", "list"};
    std::string message = "unknown audit action `" + action + "`";
    std::string suggestion = closest_name(action, actions);
    message += suggestion.empty() ? " (verify or list)" : " (did you mean `" + suggestion + "`?)";
    return usage_error(spec, message, console);
  }
  if (arguments.has("--data") == arguments.has("--db")) {
    return usage_error(spec, "give either --data DIR or --db FILE", console);
  }
  if (action == "verify" && arguments.has("--transfer")) {
    return usage_error(spec, "--transfer goes with `audit list`; `audit verify` checks the whole chain", console);
  }
  std::string path = arguments.has("--db") ? arguments.value("--db") : arguments.value("--data") + "/" + kDatabaseName;

  if (action == "verify") {
    runtime::Result<gateway::AuditVerification> verification = gateway::verify_audit_file(path);
    if (!verification) {
      console.err << "error: " << verification.message() << "\n";
      return kExitFailure;
    }
    if (!verification->intact) {
      // problem reads "event N: what is wrong"; drop the prefix that the first words already say.
      std::string problem = verification->problem;
      std::string prefix = "event " + std::to_string(verification->first_broken) + ": ";
      if (problem.starts_with(prefix)) problem.erase(0, prefix.size());
      console.out << "audit log broken at event " << verification->first_broken << ": " << problem << "\n";
      return kExitFailure;
    }
    console.out << "audit log intact: " << verification->events << " event" << (verification->events == 1 ? "" : "s")
                << "\n";
    return kExitOk;
  }

  runtime::Result<std::vector<gateway::AuditEvent>> events =
      gateway::read_audit_file(path, arguments.value("--transfer"));
  if (!events) {
    console.err << "error: " << events.message() << "\n";
    return kExitFailure;
  }
  for (const gateway::AuditEvent& event : *events) {
    nlohmann::ordered_json line = {
        {"sequence", event.sequence},
        {"at", event.at},
        {"transfer_id", event.transfer_id},
        {"actor", event.actor},
        {"action", event.action},
        {"from_state", event.from_state},
        {"to_state", event.to_state},
        {"detail_json", event.detail_json},
        {"previous_hash", event.previous_hash},
        {"hash", event.hash},
    };
    console.out << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  }
  return kExitOk;
}

}  // namespace

CommandSpec audit_command() {
  return CommandSpec{
      .name = "audit",
      .summary = "verify the gateway's hash-chained audit log, or list its events",
      .synopsis = "airlock audit verify|list (--data DIR | --db FILE) [--transfer ID]",
      .description =
          "`audit verify` walks the audit log from its first event and recomputes every event's SHA-256\n"
          "(docs/audit.md defines it): it prints `audit log intact: N events` and exits 0, or\n"
          "`audit log broken at event N: PROBLEM` for the first changed, missing or unlinked event and exits 1.\n"
          "`audit list` prints the events as JSON Lines, one object per event with exactly the fields that\n"
          "the hash covers, so an auditor can recompute the chain independently.\n"
          "The database is opened read-only; a running gateway is not disturbed.\n",
      .flags = {{.name = "--data", .value_name = "DIR", .help = "the gateway's data directory (holds airlock.db)"},
                {.name = "--db", .value_name = "FILE", .help = "the state database itself"},
                {.name = "--transfer", .value_name = "ID", .help = "list: only this transfer's events"}},
      .positional_name = "verify|list",
      .min_positionals = 1,
      .max_positionals = 1,
      .examples = {"airlock audit verify --data /var/lib/airlock",
                   "airlock audit list --db /var/lib/airlock/airlock.db --transfer 3f2a9c0e5b7d41a6a1e0c4d2b8f6e913"},
      .run = run_audit,
  };
}

}  // namespace airlock::cli

#endif  // AIRLOCK_HAVE_STORE
