// The policy compiler: source text -> checked, lowered runtime::Program, with diagnostics.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/compiler/diagnostic.h"
#include "airlock/runtime/decision.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/program.h"
#include "airlock/runtime/result.h"
#include "airlock/runtime/type.h"

namespace airlock::compiler {

struct SourceFile {
  std::string path;
  std::string text;
};

// Limits that turn hostile or runaway input into a clear error instead of a crash or a hang.
struct CompileLimits {
  std::size_t max_file_bytes = 4u << 20;
  std::size_t max_total_bytes = 64u << 20;
  std::uint32_t max_nesting_depth = 100;  // brackets and expression depth
  std::size_t max_rules = 100'000;        // across the policy set
  std::size_t max_errors_per_file = 25;   // further errors in a file are summarised
};

struct CompileOptions {
  CompileLimits limits;
  const runtime::FactSchema* schema = &runtime::FactSchema::standard();
};

// A `test` block, ready to run against the compiled program.
struct TestCase {
  std::string name;
  runtime::SourceLocation location;
  runtime::Facts given;
  std::optional<runtime::Outcome> expect_outcome;
  std::optional<std::vector<std::string>> expect_rules;      // "policy.rule", sorted
  std::optional<std::vector<std::string>> expect_reviewers;  // roles, sorted
  std::optional<std::uint32_t> expect_approvals;
  bool expect_error = false;
};

struct CompiledPolicySet {
  std::shared_ptr<const runtime::Program> program;  // null when there were errors
  std::vector<TestCase> tests;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return program != nullptr && !has_errors(diagnostics); }
};

// Compiles files into one policy set. The result does not depend on the order of `files`.
CompiledPolicySet compile_policy_set(std::span<const SourceFile> files, const CompileOptions& options = {});

struct CompiledExpression {
  std::shared_ptr<const runtime::Program> program;  // program->root is the expression; null on errors
  runtime::Type type;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return program != nullptr && !has_errors(diagnostics); }
};

// Compiles one expression over the fact schema (what `airlock expr` runs).
CompiledExpression compile_expression(std::string_view text, std::string_view path = "<expr>",
                                      const CompileOptions& options = {});

// Reads policy files: each path is a `*.policy` file or a directory searched recursively for them.
// Files come back sorted by path. Unreadable paths are errors naming the path.
runtime::Result<std::vector<SourceFile>> load_policy_files(std::span<const std::string> paths);

struct FormatResult {
  std::string text;  // the canonical layout; empty when there were errors
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return !has_errors(diagnostics); }
};

// The canonical layout of a policy file: idempotent, comments kept, meaning unchanged.
FormatResult format_policy_file(const SourceFile& file, const CompileLimits& limits = {});

}  // namespace airlock::compiler
