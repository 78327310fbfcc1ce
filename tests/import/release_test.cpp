// `airlock import --release RUN`: an escalated import that reviewers approved moves from quarantine to the released
// area atomically, replacing an earlier release, and only once. `airlock import --discard RUN`: one they rejected is
// deleted from quarantine, and nothing else is.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "airlock/gateway/import/importer.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;

const std::string kRun = "5f0c0123456789abcdef0123456789ab";

class ReleaseTest : public ::testing::Test {
 protected:
  ReleaseTest() {
    root_ = fs::temp_directory_path() / ("airlock-release-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "quarantine" / kRun);
    write(root_ / "quarantine" / kRun / "attendances.csv", "region,count\nnorth,12\n");
    write(root_ / "quarantine" / kRun / "ro-crate-metadata.json",
          R"({"@graph": [{"@id": "#import-)" + kRun + R"("}]})");
  }
  ~ReleaseTest() override { fs::remove_all(root_); }
  static void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
  static std::string read(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  fs::path root_;
};

TEST_F(ReleaseTest, MovesTheQuarantinedRunToReleasedReplacingTheOldRelease) {
  fs::create_directories(root_ / "released");
  write(root_ / "released" / "old.csv", "old\n");
  runtime::Status released = gateway::import::release_quarantined(root_.string(), kRun);
  ASSERT_TRUE(released) << released.message();
  EXPECT_EQ(read(root_ / "released" / "attendances.csv"), "region,count\nnorth,12\n");
  EXPECT_FALSE(fs::exists(root_ / "released" / "old.csv"));
  EXPECT_FALSE(fs::exists(root_ / "quarantine" / kRun));
  // Again (a release Job run twice): already done, so it succeeds and changes nothing.
  EXPECT_TRUE(gateway::import::release_quarantined(root_.string(), kRun));
  EXPECT_TRUE(fs::exists(root_ / "released" / "attendances.csv"));
}

TEST_F(ReleaseTest, RefusesARunThatIsNotInQuarantineAndABadRunId) {
  runtime::Status other = gateway::import::release_quarantined(root_.string(), std::string(32, 'a'));
  ASSERT_FALSE(other);
  EXPECT_NE(other.message().find("nothing to release"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "released"));
  EXPECT_FALSE(gateway::import::release_quarantined(root_.string(), "../../etc"));
  EXPECT_TRUE(fs::exists(root_ / "quarantine" / kRun / "attendances.csv"));
}

TEST_F(ReleaseTest, TheCommandReleasesWithExitZeroAndFailsWithExitOne) {
  std::string command =
      std::string(AIRLOCK_BINARY) + " import --release " + kRun + " --output '" + root_.string() + "' 2>/dev/null";
  int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(fs::exists(root_ / "released" / "attendances.csv"));
  std::string missing = std::string(AIRLOCK_BINARY) + " import --release " + std::string(32, 'b') + " --output '" +
                        root_.string() + "' 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(missing.c_str())), 1);
}

TEST_F(ReleaseTest, DiscardDeletesOnlyTheRejectedRunAndSucceedsAgain) {
  const std::string other = "7b0c0123456789abcdef0123456789ab";
  fs::create_directories(root_ / "quarantine" / other);
  write(root_ / "quarantine" / other / "waiting.csv", "a\n");
  fs::create_directories(root_ / "released");
  write(root_ / "released" / "earlier.csv", "kept\n");
  runtime::Status discarded = gateway::import::discard_quarantined(root_.string(), kRun);
  ASSERT_TRUE(discarded) << discarded.message();
  EXPECT_FALSE(fs::exists(root_ / "quarantine" / kRun));
  EXPECT_FALSE(fs::exists(root_ / "quarantine" / (".discarding-" + kRun)));
  EXPECT_EQ(read(root_ / "quarantine" / other / "waiting.csv"), "a\n");  // another run still in review
  EXPECT_EQ(read(root_ / "released" / "earlier.csv"), "kept\n");
  // Again (a discard Job run twice): nothing left, so it succeeds.
  EXPECT_TRUE(gateway::import::discard_quarantined(root_.string(), kRun));
  // A path instead of a run id is refused, and deletes nothing.
  EXPECT_FALSE(gateway::import::discard_quarantined(root_.string(), "../released"));
  EXPECT_FALSE(gateway::import::discard_quarantined(root_.string(), ""));
  EXPECT_TRUE(fs::exists(root_ / "released" / "earlier.csv"));
  EXPECT_TRUE(fs::exists(root_ / "quarantine" / other));
}

TEST_F(ReleaseTest, DiscardFinishesWhatAnInterruptedDiscardLeftAside) {
  // An earlier Job renamed the run aside and was killed while deleting it.
  fs::rename(root_ / "quarantine" / kRun, root_ / "quarantine" / (".discarding-" + kRun));
  runtime::Status discarded = gateway::import::discard_quarantined(root_.string(), kRun);
  ASSERT_TRUE(discarded) << discarded.message();
  EXPECT_FALSE(fs::exists(root_ / "quarantine" / (".discarding-" + kRun)));
  EXPECT_TRUE(fs::is_empty(root_ / "quarantine"));
}

TEST_F(ReleaseTest, TheDiscardCommandExitsZeroAndOneOnABadRunId) {
  std::string command =
      std::string(AIRLOCK_BINARY) + " import --discard " + kRun + " --output '" + root_.string() + "' 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 0);
  EXPECT_FALSE(fs::exists(root_ / "quarantine" / kRun));
  std::string bad =
      std::string(AIRLOCK_BINARY) + " import --discard nothex --output '" + root_.string() + "' 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 1);
  std::string no_output = std::string(AIRLOCK_BINARY) + " import --discard " + kRun + " 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(no_output.c_str())), 2);
}

}  // namespace
}  // namespace airlock
