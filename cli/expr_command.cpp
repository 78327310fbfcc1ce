// `airlock expr 'EXPR'`: compile one expression over the fact schema, evaluate it, print the value as JSON.
#include <ostream>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/format.h"
#include "command.h"
#include "io.h"

namespace airlock::cli {
namespace {

int run_expr(const CommandSpec& /*spec*/, const ParsedArguments& arguments, Console& console) {
  compiler::CompiledExpression compiled = compiler::compile_expression(arguments.positionals().front(), "<expr>");
  DiagnosticCounts counts = print_diagnostics(compiled.diagnostics, console.err);
  if (!compiled.ok()) {
    if (counts.errors == 0) console.err << "error: the expression did not compile\n";
    return kExitFailure;
  }
  const runtime::Program& program = *compiled.program;

  runtime::Facts facts(*program.schema);
  if (arguments.has("--facts")) {
    const std::string path = arguments.value("--facts");
    runtime::Result<std::string> json = read_input(path, console.in);
    if (!json) {
      console.err << "error: " << json.message() << "\n";
      return kExitFailure;
    }
    runtime::Result<runtime::Facts> parsed = runtime::Facts::from_json(*json, *program.schema);
    if (!parsed) {
      console.err << "error: " << input_name(path) << ": " << parsed.message() << "\n";
      return kExitFailure;
    }
    facts = std::move(*parsed);
  }

  runtime::Value value = runtime::evaluate_expression(program, facts);
  if (value.is_error()) {
    console.err << "error: " << value.as_string() << "\n";
    return kExitFailure;
  }
  console.out << runtime::to_json(value) << "\n";
  return kExitOk;
}

}  // namespace

CommandSpec expr_command() {
  return CommandSpec{
      .name = "expr",
      .summary = "evaluate one expression against facts and print its value as JSON",
      .synopsis = "airlock expr 'EXPR' [--facts FILE|-]",
      .description =
          "Type-checks one expression of the policy language against the fact schema, evaluates it against\n"
          "the facts (every fact at its default when --facts is not given) and prints the value as JSON:\n"
          "doubles always with a decimal point, maps as objects, timestamps and durations as strings\n"
          "(\"2026-11-29T10:00:00Z\", \"1.5s\"), bytes as base64. A compile error prints its diagnostics;\n"
          "an evaluation error prints `error: MESSAGE`; both exit 1.\n"
          "Quote the expression for the shell; one that starts with `-` and a letter goes after `--`.\n",
      .flags = {{.name = "--facts",
                 .value_name = "FILE|-",
                 .help = "facts as one JSON object; - reads standard input"}},
      .positional_name = "EXPR",
      .min_positionals = 1,
      .max_positionals = 1,
      .examples =
          {"airlock expr '500 MiB / 1 KiB'",
           "airlock expr 'file.type in [\"text/csv\"] && file.size < 10 MB' --facts examples/facts/small-csv.json",
           "airlock expr -- '-duration(\"1.5s\")'"},
      .run = run_expr,
  };
}

}  // namespace airlock::cli
