// `airlock fmt [--check] PATH...`: rewrite policy files in the canonical layout.
#include <ostream>

#include "airlock/compiler/compiler.h"
#include "command.h"
#include "io.h"

namespace airlock::cli {
namespace {

int run_fmt(const CommandSpec& /*spec*/, const ParsedArguments& arguments, Console& console) {
  runtime::Result<std::vector<compiler::SourceFile>> files = compiler::load_policy_files(arguments.positionals());
  if (!files) {
    console.err << "error: " << files.message() << "\n";
    return kExitFailure;
  }
  if (files->empty()) console.err << "note: no *.policy files found\n";
  bool check_only = arguments.has("--check");
  std::size_t changed = 0;
  std::size_t broken = 0;
  for (const compiler::SourceFile& file : *files) {
    compiler::FormatResult formatted = compiler::format_policy_file(file);
    print_diagnostics(formatted.diagnostics, console.err);
    // A file with errors is never rewritten: its layout is unknown, and so would be the result.
    if (!formatted.ok()) {
      console.err << "error: " << file.path << ": not formatted because it has errors\n";
      ++broken;
      continue;
    }
    if (formatted.text == file.text) continue;
    ++changed;
    if (check_only) {
      console.err << "would reformat " << file.path << "\n";
      continue;
    }
    if (runtime::Status written = write_file_atomically(file.path, formatted.text); !written) {
      console.err << "error: " << written.message() << "\n";
      ++broken;
      continue;
    }
    console.err << "reformatted " << file.path << "\n";
  }
  if (check_only && changed > 0) {
    console.err << plural(changed, "file") << " of " << files->size() << " would be reformatted; run `airlock fmt`"
                << " on " << (changed == 1 ? "it" : "them") << "\n";
  }
  if (broken > 0) return kExitFailure;
  return check_only && changed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

CommandSpec fmt_command() {
  return CommandSpec{
      .name = "fmt",
      .summary = "rewrite policy files in the canonical layout",
      .synopsis = "airlock fmt [--check] PATH...",
      .description =
          "Rewrites each policy file (a directory is searched recursively for *.policy files) in place in the\n"
          "canonical layout, keeping comments. A file is replaced atomically (a temporary file beside it,\n"
          "then a rename). A file with syntax errors prints its diagnostics, is left untouched, and makes the\n"
          "exit status 1. With --check nothing is written: the files that would change are listed on\n"
          "standard error, and the exit status is 1 if there are any.\n",
      .flags = {{.name = "--check", .help = "write nothing; list the files that would change and exit 1 if any"}},
      .positional_name = "PATH",
      .min_positionals = 1,
      .examples = {"airlock fmt policies/", "airlock fmt --check policies/ examples/"},
      .run = run_fmt,
  };
}

}  // namespace airlock::cli
