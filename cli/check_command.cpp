// `airlock check PATH...`: compile policy files and report every diagnostic.
#include <ostream>

#include "airlock/compiler/compiler.h"
#include "command.h"
#include "io.h"

namespace airlock::cli {
namespace {

int run_check(const CommandSpec& /*spec*/, const ParsedArguments& arguments, Console& console) {
  runtime::Result<std::vector<compiler::SourceFile>> files = compiler::load_policy_files(arguments.positionals());
  if (!files) {
    console.err << "error: " << files.message() << "\n";
    return kExitFailure;
  }
  if (files->empty()) {
    console.err << "note: no *.policy files found\n";
  }
  compiler::CompiledPolicySet compiled = compiler::compile_policy_set(*files);
  DiagnosticCounts counts = print_diagnostics(compiled.diagnostics, console.err);
  // A failed compile always reports at least one error, even if the compiler forgot to say which.
  if (!compiled.ok() && counts.errors == 0 && !files->empty()) {
    console.err << "error: the policy set did not compile\n";
    counts.errors = 1;
  }
  console.err << "checked " << plural(files->size(), "file") << ": " << plural(counts.errors, "error") << ", "
              << plural(counts.warnings, "warning") << "\n";
  return counts.errors == 0 ? kExitOk : kExitFailure;
}

}  // namespace

CommandSpec check_command() {
  return CommandSpec{
      .name = "check",
      .summary = "compile policy files and report errors and warnings",
      .synopsis = "airlock check PATH...",
      .description =
          "Compiles the policy files (a directory is searched recursively for *.policy files) as one\n"
          "policy set and prints every diagnostic on standard error, then a summary line.\n"
          "Exits 0 when there are no errors (warnings are allowed), 1 otherwise.\n",
      .flags = {},
      .positional_name = "PATH",
      .min_positionals = 1,
      .examples = {"airlock check policies/", "airlock check policies/ingress.policy site/extra.policy"},
      .run = run_check,
  };
}

}  // namespace airlock::cli
