#include "airlock/gateway/inspect/clamd.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <memory>
#include <thread>

#include "inspect_test_support.h"

namespace airlock::gateway::inspect {
namespace {

using testing::ClamdProcess;

class Clamd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ClamdProcess::installed()) clamd_ = new ClamdProcess();
  }
  static void TearDownTestSuite() {
    delete clamd_;
    clamd_ = nullptr;
  }
  void SetUp() override {
    if (!ClamdProcess::installed()) GTEST_SKIP() << "clamd is not installed (Debian: clamav-daemon)";
    ASSERT_TRUE(clamd_->running()) << "clamd did not start: " << clamd_->log();
  }
  static ScanReport scan(const std::string& content, std::size_t chunk = 7) {
    ClamdOptions options;
    options.address = clamd_->socket();
    options.max_stream_bytes = 1u << 20;
    ClamdStream stream(options);
    for (std::size_t i = 0; i < content.size(); i += chunk) {
      stream.update(std::span<const char>(content.data() + i, std::min(chunk, content.size() - i)));
    }
    return stream.finish();
  }
  static ClamdProcess* clamd_;
};
ClamdProcess* Clamd::clamd_ = nullptr;

TEST_F(Clamd, FindsEicarStreamedInSmallChunks) {
  auto report = scan("some text before " + testing::eicar() + " and after");
  EXPECT_EQ(report.result, "infected") << report.detail;
  EXPECT_TRUE(report.signature.starts_with(ClamdProcess::kSignature)) << report.signature;
  EXPECT_TRUE(report.engine.starts_with("ClamAV ")) << report.engine;
}

TEST_F(Clamd, CallsCleanContentClean) {
  auto report = scan("region,count\nNorth,12\n");
  EXPECT_EQ(report.result, "clean") << report.detail;
  EXPECT_TRUE(report.signature.empty());
}

TEST_F(Clamd, ScansAnEmptyFile) { EXPECT_EQ(scan("").result, "clean"); }

TEST_F(Clamd, ReportsAFileOverTheStreamLimitAsAnError) {
  auto report = scan(std::string((1u << 20) + 10, 'a'), 64 << 10);
  EXPECT_EQ(report.result, "error");
  EXPECT_NE(report.detail.find("limit"), std::string::npos) << report.detail;
}

TEST(ClamdStream, IsSkippedWhenNotConfigured) {
  ClamdStream stream(ClamdOptions{});
  stream.update(std::span<const char>("abc", 3));
  auto report = stream.finish();
  EXPECT_EQ(report.result, "skipped");
}

TEST(ClamdStream, FailsClosedWhenClamdIsUnreachable) {
  testing::TempDir dir;
  ClamdOptions options;
  options.address = dir.file("nobody-listens.sock");
  options.timeout = std::chrono::milliseconds(500);
  ClamdStream stream(options);
  stream.update(std::span<const char>("abc", 3));
  auto report = stream.finish();
  EXPECT_EQ(report.result, "error");
  EXPECT_NE(report.detail.find("cannot connect to clamd"), std::string::npos) << report.detail;
}

TEST(ClamdStream, TimesOutOnAServerThatNeverAnswers) {
  testing::TempDir dir;
  const std::string path = dir.file("silent.sock");
  int server = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(server, 4), 0);
  ClamdOptions options;
  options.address = path;
  options.timeout = std::chrono::milliseconds(300);
  ClamdStream stream(options);
  stream.update(std::span<const char>("abc", 3));
  auto started = std::chrono::steady_clock::now();
  auto report = stream.finish();
  EXPECT_EQ(report.result, "error");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ::close(server);
}

}  // namespace
}  // namespace airlock::gateway::inspect
