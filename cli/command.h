// The shape of an `airlock` subcommand: its flags, its help text and the function that runs it.
// main.cpp keeps the table of commands; each command lives in its own *_command.cpp.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/result.h"

namespace airlock::cli {

// Exit codes are a contract with scripts and CI.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and found a problem (errors, failed tests, ...)
inline constexpr int kExitUsage = 2;    // bad command line

// The streams a command talks to; main() passes the process's standard streams.
struct Console {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

struct FlagSpec {
  std::string name;        // "--policy"
  std::string value_name;  // "PATH"; empty for a switch such as "--pretty"
  std::string help;        // one line
  bool repeatable = false;
  // Takes the following arguments up to the next flag too: `--policy a.policy b/`.
  bool greedy = false;
};

class ParsedArguments {
 public:
  bool has(std::string_view flag) const { return values_.find(flag) != values_.end(); }
  // Every value given for `flag`, in order; empty when absent (or a switch).
  const std::vector<std::string>& values(std::string_view flag) const;
  // The value of a single-valued flag; empty when absent.
  std::string value(std::string_view flag) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  void add_flag(const std::string& flag) { values_[flag]; }
  void add_value(const std::string& flag, std::string value) { values_[flag].push_back(std::move(value)); }
  void add_positional(std::string value) { positionals_.push_back(std::move(value)); }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positionals_;
};

struct CommandSpec;
using CommandFunction = int (*)(const CommandSpec& spec, const ParsedArguments& arguments, Console& console);

struct CommandSpec {
  std::string name;         // "eval"
  std::string summary;      // one line for `airlock help`
  std::string synopsis;     // "airlock eval --policy PATH... --facts FILE|- [--channel C] [--pretty]"
  std::string description;  // a paragraph or two; lines end with '\n'
  std::vector<FlagSpec> flags;
  std::string positional_name;  // "PATH"; empty when the command takes none
  std::size_t min_positionals = 0;
  std::size_t max_positionals = std::numeric_limits<std::size_t>::max();
  std::vector<std::string> examples;
  CommandFunction run = nullptr;
};

// The commands, in the order `airlock help` lists them.
CommandSpec check_command();
CommandSpec eval_command();
CommandSpec expr_command();
CommandSpec test_command();
CommandSpec fmt_command();

// Parses a command's arguments strictly: unknown flags, missing values, repeated single flags and
// a wrong number of positionals are errors whose message names the flag (with "did you mean").
runtime::Result<ParsedArguments> parse_arguments(const CommandSpec& spec, std::span<const std::string> arguments);

// The help text of one command: synopsis, description, every flag, examples.
std::string command_help(const CommandSpec& spec);

// Prints "error: MESSAGE" and the pointer to the command's help; returns kExitUsage.
int usage_error(const CommandSpec& spec, std::string_view message, Console& console);

// Edit distance with adjacent transpositions (optimal string alignment), for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `name` when it is close enough to be a likely typo; empty otherwise.
std::string closest_name(std::string_view name, std::span<const std::string> candidates);

}  // namespace airlock::cli
