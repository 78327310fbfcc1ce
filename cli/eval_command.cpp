// `airlock eval`: judge facts (one JSON object, or JSON Lines) against a compiled policy set.
#include <fstream>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/facts.h"
#include "command.h"
#include "io.h"

namespace airlock::cli {
namespace {

struct ChannelChoice {
  std::string channel;    // empty: leave the facts as they are
  std::string direction;  // what transfer.direction becomes when the facts leave it unset
};

runtime::Result<ChannelChoice> parse_channel(const std::string& text) {
  if (text.empty()) return ChannelChoice{};
  if (text == "upload" || text == "import") return ChannelChoice{text, "ingress"};
  if (text == "egress") return ChannelChoice{text, "egress"};
  std::vector<std::string> channels{"upload", "import", "egress"};
  std::string message = "unknown channel `" + text + "` for `--channel`";
  std::string suggestion = closest_name(text, channels);
  if (!suggestion.empty()) message += " (did you mean `" + suggestion + "`?)";
  return runtime::Error{message + "; expected upload, import or egress"};
}

runtime::Status apply_channel(const ChannelChoice& choice, runtime::Facts& facts) {
  if (choice.channel.empty()) return runtime::Status::ok();
  if (runtime::Status status = facts.set("transfer.channel", runtime::Value::string(choice.channel)); !status) {
    return status;
  }
  std::optional<runtime::FactSlot> direction = facts.schema().find("transfer.direction");
  if (direction && !facts.is_set(*direction)) {
    return facts.set("transfer.direction", runtime::Value::string(choice.direction));
  }
  return runtime::Status::ok();
}

runtime::Result<runtime::Facts> facts_from_json(std::string_view json, const runtime::Program& program,
                                                const ChannelChoice& channel) {
  runtime::Result<runtime::Facts> facts = runtime::Facts::from_json(json, *program.schema);
  if (!facts) return facts;
  if (runtime::Status status = apply_channel(channel, *facts); !status) return runtime::Error{status.message()};
  return facts;
}

int eval_one(const runtime::Program& program, const std::string& path, const ChannelChoice& channel, bool pretty,
             Console& console) {
  runtime::Result<std::string> json = read_input(path, console.in);
  if (!json) {
    console.err << "error: " << json.message() << "\n";
    return kExitFailure;
  }
  runtime::Result<runtime::Facts> facts = facts_from_json(*json, program, channel);
  if (!facts) {
    console.err << "error: " << input_name(path) << ": " << facts.message() << "\n";
    return kExitFailure;
  }
  console.out << runtime::evaluate(program, *facts).to_json(pretty) << "\n";
  return kExitOk;
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos; }

// One decision (or error object) per non-blank input line, written as soon as it is known: the input is
// never held in memory as a whole. Output is flushed whenever the input has nothing more buffered, so a
// caller feeding lines one by one sees each answer at once while a bulk run stays buffered.
int eval_lines(const runtime::Program& program, const std::string& path, const ChannelChoice& channel,
               Console& console) {
  std::ifstream file;
  std::istream* input = &console.in;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      console.err << "error: " << path << ": cannot open\n";
      return kExitFailure;
    }
    input = &file;
  }
  std::string line;
  std::size_t line_number = 0;
  std::size_t bad_lines = 0;
  runtime::EvaluationScratch scratch;  // reused from line to line: the evaluator's memory and the Decision's
  runtime::Decision decision;
  while (std::getline(*input, line)) {
    ++line_number;
    if (is_blank(line)) continue;
    runtime::Result<runtime::Facts> facts = facts_from_json(line, program, channel);
    if (facts) {
      runtime::evaluate(program, *facts, scratch, decision);
      console.out << decision.to_json(false) << "\n";
    } else {
      ++bad_lines;
      nlohmann::ordered_json error{{"line", line_number}, {"error", facts.message()}};
      console.out << error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    if (input->rdbuf()->in_avail() <= 0) console.out.flush();
  }
  if (input->bad()) {
    console.err << "error: " << input_name(path) << ": read failed after line " << line_number << "\n";
    return kExitFailure;
  }
  if (bad_lines > 0) {
    console.err << "error: " << plural(bad_lines, "line") << " of " << input_name(path)
                << " could not be evaluated (see the {\"line\", \"error\"} objects in the output)\n";
    return kExitFailure;
  }
  return kExitOk;
}

int run_eval(const CommandSpec& spec, const ParsedArguments& arguments, Console& console) {
  if (!arguments.has("--policy")) return usage_error(spec, "`--policy PATH` is required", console);
  bool lines = arguments.has("--facts-lines");
  if (lines == arguments.has("--facts")) {
    return usage_error(spec, "give exactly one of `--facts FILE|-` and `--facts-lines FILE|-`", console);
  }
  if (lines && arguments.has("--pretty")) {
    return usage_error(spec, "`--pretty` cannot be used with `--facts-lines` (one decision per line)", console);
  }
  runtime::Result<ChannelChoice> channel = parse_channel(arguments.value("--channel"));
  if (!channel) return usage_error(spec, channel.message(), console);

  std::optional<compiler::CompiledPolicySet> compiled =
      load_policy_set(arguments.values("--policy"), console, "nothing was evaluated");
  if (!compiled) return kExitFailure;
  if (compiled->program->policies.empty()) {
    console.err << "error: no policies found in the --policy paths; nothing was evaluated\n";
    return kExitFailure;
  }
  if (lines) return eval_lines(*compiled->program, arguments.value("--facts-lines"), *channel, console);
  return eval_one(*compiled->program, arguments.value("--facts"), *channel, arguments.has("--pretty"), console);
}

}  // namespace

CommandSpec eval_command() {
  return CommandSpec{
      .name = "eval",
      .summary = "judge facts against policies and print the decision as JSON",
      .synopsis = "airlock eval --policy PATH... (--facts FILE|- | --facts-lines FILE|-) [--channel C] [--pretty]",
      .description =
          "Compiles the policies once, reads the facts of a transfer as JSON (LANGUAGE.md's fact schema),\n"
          "evaluates them and prints the decision as JSON on standard output. The exit status is 0\n"
          "whatever the outcome; it is 1 when the policies do not compile (their diagnostics are printed)\n"
          "or the facts are invalid (the message names the JSON path, such as $.file.size).\n"
          "\n"
          "With --facts-lines the input is JSON Lines: one facts object per line in, one decision per\n"
          "line out, in order, streamed. Blank lines are skipped. A line that is not valid facts is\n"
          "answered by {\"line\": N, \"error\": \"message\"} in its place and the run goes on; the exit\n"
          "status is then 1 once all lines are done.\n",
      .flags = {{.name = "--policy",
                 .value_name = "PATH...",
                 .help = "policy file or directory (searched for *.policy); repeatable",
                 .repeatable = true,
                 .greedy = true},
                {.name = "--facts", .value_name = "FILE|-", .help = "facts as one JSON object; - reads standard input"},
                {.name = "--facts-lines",
                 .value_name = "FILE|-",
                 .help = "facts as JSON Lines, one decision per line; - reads standard input"},
                {.name = "--channel",
                 .value_name = "C",
                 .help = "upload, import or egress: sets transfer.channel (and transfer.direction if unset)"},
                {.name = "--pretty", .help = "indent the decision (not with --facts-lines)"}},
      .positional_name = "",
      .max_positionals = 0,
      .examples = {"airlock eval --policy policies/ --facts examples/facts/small-csv.json --pretty",
                   "echo '{\"file\": {\"type\": \"text/csv\"}}' | airlock eval --policy policies/ --facts - "
                   "--channel upload",
                   "airlock eval --policy policies/ --facts-lines transfers.jsonl > decisions.jsonl"},
      .run = run_eval,
  };
}

}  // namespace airlock::cli
