// The command line itself: help, version, and usage errors (exit 2) with "did you mean".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_runner.h"

namespace airlock::cli_test {
namespace {

// The version the top-level CMakeLists.txt declares, which the build passes to the binary.
std::string project_version() {
  std::string cmake = read_text(source_dir() + "/CMakeLists.txt");
  std::size_t start = cmake.find("project(airlock VERSION ");
  if (start == std::string::npos) return "(no project version in CMakeLists.txt)";
  start += std::string("project(airlock VERSION ").size();
  return cmake.substr(start, cmake.find_first_of(" )", start) - start);
}

TEST(Usage, VersionPrintsTheBuildVersion) {
  RunResult result = run_airlock({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "airlock " + project_version() + "\n");
  EXPECT_EQ(result.err, "");
}

TEST(Usage, HelpListsEveryCommand) {
  for (const std::vector<std::string>& arguments :
       std::vector<std::vector<std::string>>{{"--help"}, {"help"}, {"-h"}}) {
    RunResult result = run_airlock(arguments);
    EXPECT_EQ(result.exit_code, 0) << arguments[0];
    for (const char* command : {"check", "eval", "expr", "test", "fmt", "help"}) {
      EXPECT_NE(result.out.find(std::string("\n  ") + command + " "), std::string::npos) << command << "\n"
                                                                                         << result.out;
    }
  }
}

TEST(Usage, NoCommandPrintsTheOverviewOnStderrAndExits2) {
  RunResult result = run_airlock({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("Usage: airlock COMMAND"), std::string::npos) << result.err;
}

struct CommandFlags {
  std::string command;
  std::vector<std::string> flags;
};

TEST(Usage, EachCommandsHelpShowsEveryFlagAndAnExample) {
  std::vector<CommandFlags> commands{
      {"check", {}},         {"eval", {"--policy", "--facts", "--facts-lines", "--channel", "--pretty"}},
      {"expr", {"--facts"}}, {"test", {"--coverage", "--verbose"}},
      {"fmt", {"--check"}},
  };
  for (const CommandFlags& command : commands) {
    RunResult via_flag = run_airlock({command.command, "--help"});
    RunResult via_help = run_airlock({"help", command.command});
    EXPECT_EQ(via_flag.exit_code, 0) << command.command;
    EXPECT_EQ(via_help.exit_code, 0) << command.command;
    EXPECT_EQ(via_flag.out, via_help.out) << command.command;
    EXPECT_TRUE(via_flag.out.starts_with("Usage: airlock " + command.command)) << via_flag.out;
    EXPECT_NE(via_flag.out.find("Example"), std::string::npos) << via_flag.out;
    EXPECT_NE(via_flag.out.find("  airlock " + command.command + " "), std::string::npos) << via_flag.out;
    for (const std::string& flag : command.flags) {
      EXPECT_NE(via_flag.out.find("  " + flag + " "), std::string::npos) << command.command << " " << flag;
    }
  }
}

TEST(Usage, HelpWinsOverOtherArguments) {
  RunResult result = run_airlock({"eval", "--polcy", "x", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.out.starts_with("Usage: airlock eval")) << result.out;
}

TEST(Usage, UnknownCommandSuggestsTheClosestOne) {
  RunResult result = run_airlock({"chek", "policies"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("unknown command `chek` (did you mean `check`?)"), std::string::npos) << result.err;
}

TEST(Usage, UnknownCommandFarFromAnyHasNoSuggestion) {
  RunResult result = run_airlock({"deploy"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown command `deploy`"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("did you mean"), std::string::npos) << result.err;
}

TEST(Usage, HelpForAnUnknownCommandIsAUsageError) {
  RunResult result = run_airlock({"help", "fmtt"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("did you mean `fmt`?"), std::string::npos) << result.err;
}

TEST(Usage, UnknownFlagIsNamedWithASuggestion) {
  RunResult result = run_airlock({"eval", "--polcy", "policies", "--facts", "-"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("error: unknown flag `--polcy` for `airlock eval` (did you mean `--policy`?)"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("airlock eval --help"), std::string::npos) << result.err;
}

TEST(Usage, UnknownFlagOnACommandWithoutFlags) {
  RunResult result = run_airlock({"check", "--strict", "policies"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown flag `--strict` for `airlock check`"), std::string::npos) << result.err;
}

TEST(Usage, UnknownFlagBeforeTheCommand) {
  RunResult result = run_airlock({"--verison"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown flag `--verison` (did you mean `--version`?)"), std::string::npos) << result.err;
}

TEST(Usage, FlagWithoutItsValueIsAnError) {
  RunResult at_end = run_airlock({"eval", "--policy", "policies", "--facts"});
  EXPECT_EQ(at_end.exit_code, 2);
  EXPECT_NE(at_end.err.find("flag `--facts` needs a value"), std::string::npos) << at_end.err;

  RunResult before_flag = run_airlock({"eval", "--policy", "--facts", "f.json"});
  EXPECT_EQ(before_flag.exit_code, 2);
  EXPECT_NE(before_flag.err.find("flag `--policy` needs a value"), std::string::npos) << before_flag.err;

  RunResult empty_inline = run_airlock({"eval", "--policy=", "--facts", "f.json"});
  EXPECT_EQ(empty_inline.exit_code, 2);
  EXPECT_NE(empty_inline.err.find("flag `--policy` needs a value"), std::string::npos) << empty_inline.err;
}

TEST(Usage, SwitchGivenAValueIsAnError) {
  RunResult result = run_airlock({"fmt", "--check=yes", "policies"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("flag `--check` takes no value"), std::string::npos) << result.err;
}

TEST(Usage, SingleFlagGivenTwiceIsAnError) {
  RunResult result = run_airlock({"eval", "--policy", "p", "--facts", "a.json", "--facts", "b.json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("flag `--facts` given more than once"), std::string::npos) << result.err;
}

TEST(Usage, MissingPathsAreAnError) {
  for (const char* command : {"check", "test", "fmt"}) {
    RunResult result = run_airlock({command});
    EXPECT_EQ(result.exit_code, 2) << command;
    EXPECT_NE(result.err.find("needs at least one PATH"), std::string::npos) << result.err;
  }
  RunResult expr = run_airlock({"expr"});
  EXPECT_EQ(expr.exit_code, 2);
  EXPECT_NE(expr.err.find("`airlock expr` needs EXPR"), std::string::npos) << expr.err;
}

TEST(Usage, ExprTakesOneExpression) {
  RunResult result = run_airlock({"expr", "1", "+", "2"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("takes one EXPR argument, got 3"), std::string::npos) << result.err;
}

TEST(Usage, EvalNeedsPolicyAndExactlyOneFactsSource) {
  RunResult no_policy = run_airlock({"eval", "--facts", "-"});
  EXPECT_EQ(no_policy.exit_code, 2);
  EXPECT_NE(no_policy.err.find("`--policy PATH` is required"), std::string::npos) << no_policy.err;

  RunResult no_facts = run_airlock({"eval", "--policy", "policies"});
  EXPECT_EQ(no_facts.exit_code, 2);
  EXPECT_NE(no_facts.err.find("exactly one of `--facts FILE|-` and `--facts-lines FILE|-`"), std::string::npos)
      << no_facts.err;

  RunResult both = run_airlock({"eval", "--policy", "p", "--facts", "a", "--facts-lines", "b"});
  EXPECT_EQ(both.exit_code, 2);

  RunResult stray = run_airlock({"eval", "--facts", "a", "stray", "--policy", "p"});
  EXPECT_EQ(stray.exit_code, 2);
  EXPECT_NE(stray.err.find("takes no arguments besides its flags, got `stray`"), std::string::npos) << stray.err;
}

TEST(Usage, UnknownChannelIsAUsageErrorWithASuggestion) {
  RunResult result =
      run_airlock({"eval", "--policy", data_path("policies"), "--facts", "-", "--channel", "uplaod"}, {.input = "{}"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("unknown channel `uplaod` for `--channel` (did you mean `upload`?)"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace airlock::cli_test
