// A small, strict argument parser: the CLI has no third-party one, and it must reject what it does not know.
#include <algorithm>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"

namespace airlock::cli {
namespace {

const FlagSpec* find_flag(const CommandSpec& spec, std::string_view name) {
  for (const FlagSpec& flag : spec.flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// `--name`, `--name=value` and `-h` are flags; `-` (standard input) and `-1` (an expression) are not.
bool looks_like_flag(std::string_view argument) {
  if (argument.size() < 2 || argument[0] != '-') return false;
  if (argument[1] == '-') return argument.size() > 2;
  return (argument[1] >= 'a' && argument[1] <= 'z') || (argument[1] >= 'A' && argument[1] <= 'Z');
}

std::string unknown_flag_message(const CommandSpec& spec, std::string_view name) {
  std::vector<std::string> names;
  for (const FlagSpec& flag : spec.flags) names.push_back(flag.name);
  names.push_back("--help");
  std::string message = "unknown flag `" + std::string(name) + "` for `airlock " + spec.name + "`";
  std::string suggestion = closest_name(name, names);
  if (!suggestion.empty()) message += " (did you mean `" + suggestion + "`?)";
  return message;
}

std::string flag_with_value(const FlagSpec& flag) { return flag.name + " " + flag.value_name; }

}  // namespace

const std::vector<std::string>& ParsedArguments::values(std::string_view flag) const {
  static const std::vector<std::string> kNone;
  auto found = values_.find(flag);
  return found == values_.end() ? kNone : found->second;
}

std::string ParsedArguments::value(std::string_view flag) const {
  const std::vector<std::string>& all = values(flag);
  return all.empty() ? std::string() : all.back();
}

runtime::Result<ParsedArguments> parse_arguments(const CommandSpec& spec, std::span<const std::string> arguments) {
  ParsedArguments parsed;
  bool only_positionals = false;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (only_positionals || !looks_like_flag(argument)) {
      if (argument == "--") {
        only_positionals = true;
        continue;
      }
      parsed.add_positional(argument);
      continue;
    }
    std::string name = argument;
    std::optional<std::string> inline_value;
    if (std::size_t equals = argument.find('='); equals != std::string::npos && argument.starts_with("--")) {
      name = argument.substr(0, equals);
      inline_value = argument.substr(equals + 1);
    }
    const FlagSpec* flag = find_flag(spec, name);
    if (flag == nullptr) return runtime::Error{unknown_flag_message(spec, name)};
    if (parsed.has(flag->name) && !flag->repeatable) {
      return runtime::Error{"flag `" + flag->name + "` given more than once"};
    }
    if (flag->value_name.empty()) {
      if (inline_value) return runtime::Error{"flag `" + flag->name + "` takes no value"};
      parsed.add_flag(flag->name);
      continue;
    }
    if (inline_value) {
      if (inline_value->empty())
        return runtime::Error{"flag `" + flag->name + "` needs a value: " + flag_with_value(*flag)};
      parsed.add_value(flag->name, *inline_value);
    } else {
      if (i + 1 >= arguments.size() || looks_like_flag(arguments[i + 1]) || arguments[i + 1] == "--") {
        return runtime::Error{"flag `" + flag->name + "` needs a value: " + flag_with_value(*flag)};
      }
      parsed.add_value(flag->name, arguments[++i]);
    }
    while (flag->greedy && i + 1 < arguments.size() && !looks_like_flag(arguments[i + 1]) && arguments[i + 1] != "--") {
      parsed.add_value(flag->name, arguments[++i]);
    }
  }

  std::size_t count = parsed.positionals().size();
  if (count < spec.min_positionals) {
    std::string needed = spec.min_positionals == 1 && spec.max_positionals == 1 ? spec.positional_name
                         : spec.min_positionals == 1
                             ? "at least one " + spec.positional_name
                             : std::to_string(spec.min_positionals) + " " + spec.positional_name;
    return runtime::Error{"`airlock " + spec.name + "` needs " + needed};
  }
  if (count > spec.max_positionals) {
    if (spec.max_positionals == 0) {
      return runtime::Error{"`airlock " + spec.name + "` takes no arguments besides its flags, got `" +
                            parsed.positionals().front() + "`"};
    }
    return runtime::Error{
        "`airlock " + spec.name + "` takes " +
        (spec.max_positionals == 1 ? "one " : "at most " + std::to_string(spec.max_positionals) + " ") +
        spec.positional_name + " argument, got " + std::to_string(count) +
        " (quote an expression that contains spaces)"};
  }
  return parsed;
}

std::string command_help(const CommandSpec& spec) {
  std::ostringstream help;
  help << "Usage: " << spec.synopsis << "\n\n" << spec.description;
  std::vector<std::string> left;
  std::size_t width = 0;
  for (const FlagSpec& flag : spec.flags) {
    std::string text = flag.value_name.empty() ? flag.name : flag_with_value(flag);
    width = std::max(width, text.size());
    left.push_back(std::move(text));
  }
  width = std::max(width, std::string("--help").size());
  help << "\nFlags:\n";
  for (std::size_t i = 0; i < spec.flags.size(); ++i) {
    help << "  " << left[i] << std::string(width - left[i].size() + 3, ' ') << spec.flags[i].help << "\n";
  }
  help << "  --help" << std::string(width - 6 + 3, ' ') << "show this help\n";
  if (!spec.examples.empty()) {
    help << "\nExample" << (spec.examples.size() > 1 ? "s" : "") << ":\n";
    for (const std::string& example : spec.examples) help << "  " << example << "\n";
  }
  return help.str();
}

int usage_error(const CommandSpec& spec, std::string_view message, Console& console) {
  console.err << "error: " << message << "\n"
              << "Usage: " << spec.synopsis << "\n"
              << "Run `airlock " << spec.name << " --help` for every flag and an example.\n";
  return kExitUsage;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Rows i-2, i-1 and i of the optimal-string-alignment table.
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

std::string closest_name(std::string_view name, std::span<const std::string> candidates) {
  std::string_view bare = name;
  while (bare.starts_with('-')) bare.remove_prefix(1);
  std::size_t limit = std::max<std::size_t>(1, bare.size() / 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    std::size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace airlock::cli
