// What several commands share: reading inputs, printing diagnostics, loading a policy set, writing files safely.
#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/compiler/diagnostic.h"
#include "airlock/runtime/result.h"
#include "command.h"

namespace airlock::cli {

// "1 file", "2 files".
std::string plural(std::size_t count, std::string_view singular, std::string_view plural_form = {});

// The whole text of a file, or of standard input when `path` is "-".
runtime::Result<std::string> read_input(const std::string& path, std::istream& standard_input);

// How a path is named in messages: "<stdin>" for "-".
std::string input_name(const std::string& path);

struct DiagnosticCounts {
  std::size_t errors = 0;
  std::size_t warnings = 0;
};

// Renders each diagnostic (Diagnostic::render) on `err`, one after another.
DiagnosticCounts print_diagnostics(const std::vector<compiler::Diagnostic>& diagnostics, std::ostream& err);

// Loads and compiles the policy files under `paths`; prints load errors and diagnostics (warnings too) on the
// console's error stream, ending with "error: the policy set has N errors; CONSEQUENCE". Empty when nothing
// usable came out (the caller exits with kExitFailure).
std::optional<compiler::CompiledPolicySet> load_policy_set(const std::vector<std::string>& paths, Console& console,
                                                           std::string_view consequence);

// Replaces `path` with `contents` via a temporary file in the same directory and a rename, so a crash
// leaves either the old or the new file, never half of one. Keeps the file's permission bits.
runtime::Status write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace airlock::cli
