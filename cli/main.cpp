// The `airlock` command: a table of subcommands, each parsing its own flags and calling the libraries.
#include <algorithm>
#include <iostream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"

#ifndef AIRLOCK_VERSION
#error "AIRLOCK_VERSION must be defined by the build"
#endif

namespace airlock::cli {
#ifdef AIRLOCK_HAVE_STORE
CommandSpec audit_command();  // audit_command.cpp
#endif
#ifdef AIRLOCK_WITH_GATEWAY
CommandSpec serve_command();  // serve_command.cpp
#endif
#ifdef AIRLOCK_WITH_K8S
CommandSpec sync_command();  // sync_command.cpp
#endif
#ifdef AIRLOCK_WITH_IMPORT
CommandSpec import_command();  // import_command.cpp
#endif
namespace {

// Later commands (serve, import, sync, audit) slot in here.
std::vector<CommandSpec> command_table() {
  std::vector<CommandSpec> commands{check_command(), eval_command(), expr_command(), test_command(), fmt_command()};
#ifdef AIRLOCK_HAVE_STORE
  commands.push_back(audit_command());
#endif
#ifdef AIRLOCK_WITH_GATEWAY
  commands.push_back(serve_command());
#endif
#ifdef AIRLOCK_WITH_IMPORT
  commands.push_back(import_command());
#endif
#ifdef AIRLOCK_WITH_K8S
  commands.push_back(sync_command());
#endif
  return commands;
}

std::string overview(const std::vector<CommandSpec>& commands) {
  std::ostringstream text;
  text << "airlock " << AIRLOCK_VERSION << ": policies for the Airlock data airlock\n\n"
       << "Usage: airlock COMMAND [FLAGS] [ARGUMENTS]\n\nCommands:\n";
  std::size_t width = std::string_view("help").size();
  for (const CommandSpec& command : commands) width = std::max(width, command.name.size());
  for (const CommandSpec& command : commands) {
    text << "  " << command.name << std::string(width - command.name.size() + 4, ' ') << command.summary << "\n";
  }
  text << "  help" << std::string(width - 4 + 4, ' ') << "show this help, or a command's: airlock help COMMAND\n\n"
       << "Flags:\n  --help     show this help\n  --version  print the version\n\n"
       << "Run `airlock COMMAND --help` for a command's flags and an example.\n"
       << "Exit codes: 0 success, 1 the command found a problem, 2 bad command line.\n";
  return text.str();
}

const CommandSpec* find_command(const std::vector<CommandSpec>& commands, std::string_view name) {
  for (const CommandSpec& command : commands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

int unknown_command(const std::vector<CommandSpec>& commands, std::string_view name, Console& console) {
  std::vector<std::string> names{"help"};
  for (const CommandSpec& command : commands) names.push_back(command.name);
  console.err << "error: unknown command `" << name << "`";
  std::string suggestion = closest_name(name, names);
  if (!suggestion.empty()) console.err << " (did you mean `" << suggestion << "`?)";
  console.err << "\nRun `airlock --help` for the list of commands.\n";
  return kExitUsage;
}

bool asks_for_help(std::span<const std::string> arguments) {
  for (const std::string& argument : arguments) {
    if (argument == "--") return false;
    if (argument == "--help" || argument == "-h") return true;
  }
  return false;
}

int run(std::span<const std::string> arguments, Console& console) {
  std::vector<CommandSpec> commands = command_table();
  if (arguments.empty()) {
    console.err << overview(commands);
    return kExitUsage;
  }
  const std::string& first = arguments[0];
  if (first == "--version") {
    if (arguments.size() > 1) {
      console.err << "error: `--version` takes no arguments\n";
      return kExitUsage;
    }
    console.out << "airlock " << AIRLOCK_VERSION << "\n";
    return kExitOk;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    if (arguments.size() == 1 || first != "help") {
      console.out << overview(commands);
      return kExitOk;
    }
    if (arguments.size() > 2) {
      console.err << "error: `airlock help` takes at most one COMMAND\n";
      return kExitUsage;
    }
    const CommandSpec* command = find_command(commands, arguments[1]);
    if (command == nullptr) return unknown_command(commands, arguments[1], console);
    console.out << command_help(*command);
    return kExitOk;
  }
  if (first.starts_with("-")) {
    std::vector<std::string> flags{"--help", "--version"};
    console.err << "error: unknown flag `" << first << "`";
    std::string suggestion = closest_name(first.substr(0, first.find('=')), flags);
    if (!suggestion.empty()) console.err << " (did you mean `" << suggestion << "`?)";
    console.err << "; flags other than --help and --version follow the command\n"
                << "Run `airlock --help` for the list of commands.\n";
    return kExitUsage;
  }

  const CommandSpec* command = find_command(commands, first);
  if (command == nullptr) return unknown_command(commands, first, console);
  std::span<const std::string> rest = arguments.subspan(1);
  if (asks_for_help(rest)) {
    console.out << command_help(*command);
    return kExitOk;
  }
  runtime::Result<ParsedArguments> parsed = parse_arguments(*command, rest);
  if (!parsed) return usage_error(*command, parsed.message(), console);
  return command->run(*command, *parsed, console);
}

}  // namespace
}  // namespace airlock::cli

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> arguments(argv + 1, argv + argc);
  airlock::cli::Console console{std::cin, std::cout, std::cerr};
  int status = airlock::cli::run(arguments, console);
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "error: cannot write to standard output\n";
    return airlock::cli::kExitFailure;
  }
  return status;
}
