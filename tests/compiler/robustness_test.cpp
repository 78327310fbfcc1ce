// Hostile and mangled input: the compiler and formatter must answer every variant of a real policy
// with either a program or located error diagnostics, never a crash, a hang or an approve by accident.
#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"

namespace airlock::compiler {
namespace {

// splitmix64: the same sequence on every platform, so a failure reproduces from its seed.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

std::vector<SourceFile> standard_policies() {
  std::vector<std::string> paths{std::string(AIRLOCK_SOURCE_DIR) + "/policies"};
  auto files = load_policy_files(paths);
  EXPECT_TRUE(files) << files.message();
  return files ? files.value() : std::vector<SourceFile>{};
}

std::string mutate(const std::string& text, Random& random) {
  static const std::vector<std::string> kFragments = {"{",
                                                      "}",
                                                      "(",
                                                      ")",
                                                      "[",
                                                      "]",
                                                      "\"",
                                                      "'",
                                                      "/*",
                                                      "*/",
                                                      "//",
                                                      "\\",
                                                      "&&",
                                                      "||",
                                                      "?",
                                                      ":",
                                                      ",",
                                                      ".",
                                                      "in",
                                                      "rule",
                                                      "policy",
                                                      "when",
                                                      "unless",
                                                      "because",
                                                      "let",
                                                      "test",
                                                      "expect",
                                                      "given",
                                                      "escalate",
                                                      "requiring",
                                                      "10 KiB",
                                                      "0x",
                                                      "9223372036854775807",
                                                      "-",
                                                      "!",
                                                      "\xff",
                                                      "\xc3",
                                                      "\n",
                                                      "\t",
                                                      " ",
                                                      "has(",
                                                      ".all(x,",
                                                      "matches(\"(\")",
                                                      "otherwise",
                                                      "applies to"};
  std::string out = text;
  const std::size_t edits = 1 + random.below(4);
  for (std::size_t i = 0; i < edits && !out.empty(); ++i) {
    const std::size_t at = random.below(out.size());
    switch (random.below(4)) {
      case 0:  // delete a run
        out.erase(at, 1 + random.below(12));
        break;
      case 1:  // insert a fragment
        out.insert(at, kFragments[random.below(kFragments.size())]);
        break;
      case 2:  // duplicate a run
        out.insert(at, out.substr(at, 1 + random.below(40)));
        break;
      default:  // a random byte
        out[at] = static_cast<char>(random.below(256));
        break;
    }
  }
  return out;
}

TEST(Robustness, MangledPoliciesGiveDiagnosticsOrProgramsNeverCrashes) {
  const std::vector<SourceFile> originals = standard_policies();
  ASSERT_FALSE(originals.empty());
  Random random(20261129);
  int rejected = 0;
  int accepted = 0;
  for (int round = 0; round < 250; ++round) {
    const SourceFile& original = originals[random.below(originals.size())];
    std::vector<SourceFile> files{SourceFile{original.path, mutate(original.text, random)}};
    CompiledPolicySet set = compile_policy_set(files);
    if (set.ok()) {
      ++accepted;
      // Whatever compiled must also evaluate: default facts give a decision, never a crash.
      const runtime::Decision decision = runtime::evaluate(*set.program, runtime::Facts());
      EXPECT_FALSE(decision.policy_set.empty());
    } else {
      ++rejected;
      ASSERT_TRUE(has_errors(set.diagnostics)) << "no program and no error for round " << round;
      for (const auto& d : set.diagnostics) {
        EXPECT_FALSE(d.message.empty()) << "round " << round;
        EXPECT_EQ(d.path, original.path) << "round " << round << ": " << d.headline();
      }
    }
    FormatResult formatted = format_policy_file(files[0]);
    if (formatted.ok()) {
      // The canonical layout is a fixed point: formatting it again changes nothing.
      FormatResult again = format_policy_file(SourceFile{original.path, formatted.text});
      ASSERT_TRUE(again.ok()) << "round " << round << ": formatted text does not parse:\n" << formatted.text;
      EXPECT_EQ(again.text, formatted.text) << "round " << round;
    }
  }
  // The mutations must exercise both paths, or the test proves nothing.
  std::cout << "accepted " << accepted << ", rejected " << rejected << " mangled policies\n";
  EXPECT_GT(rejected, 40);
  EXPECT_GT(accepted, 5);
}

TEST(Robustness, RandomBytesAreRejectedWithLocatedErrors) {
  Random random(7);
  for (int round = 0; round < 200; ++round) {
    std::string text(1 + random.below(2000), '\0');
    for (auto& c : text) c = static_cast<char>(random.below(256));
    std::vector<SourceFile> files{SourceFile{"noise.policy", text}};
    CompiledPolicySet set = compile_policy_set(files);
    EXPECT_FALSE(set.ok()) << "round " << round;
    ASSERT_FALSE(set.diagnostics.empty()) << "round " << round;
    EXPECT_EQ(set.diagnostics[0].path, "noise.policy");
  }
}

TEST(Robustness, OversizedFileIsOneClearError) {
  CompileOptions options;
  options.limits.max_file_bytes = 1024;
  std::vector<SourceFile> files{SourceFile{"big.policy", std::string(4096, ' ')}};
  CompiledPolicySet set = compile_policy_set(files, options);
  ASSERT_FALSE(set.ok());
  ASSERT_EQ(set.diagnostics.size(), 1u);
  EXPECT_NE(set.diagnostics[0].headline().find("big.policy"), std::string::npos);
}

}  // namespace
}  // namespace airlock::compiler
