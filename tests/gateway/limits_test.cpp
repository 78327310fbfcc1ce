// The gateway against clients that misbehave or take too long, and the jobs that run on a clock: slow and
// stalled bodies cut off, concurrent uploads per user and per upload limited, SIGTERM checkpointing an
// upload mid-body, expired uploads and retained denied bytes deleted. Each test starts its own gateway
// with short limits; every wait has a deadline.
#include <gtest/gtest.h>

#include "gateway_process.h"

namespace airlock::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// test_config() with its `limits` block replaced and other top-level keys added.
std::string config_with(const std::string& limits, const std::string& extra = "") {
  return "limits:\n  max_upload_size: 1 GiB\n" + limits + R"(
log: {level: info, format: json}
tokens:
  - {token: alice-token-0123456789abcdef, user: alice, roles: [researcher]}
  - {token: bob-token-0123456789abcdef, user: bob, roles: [researcher]}
)" + extra;
}

std::string id_of(const std::string& location) { return location.substr(location.rfind('/') + 1); }

std::string create(const GatewayProcess& gateway, std::uint64_t length, const std::string& name,
                   const char* token = kAliceToken) {
  HttpResult created = create_upload(gateway, token, std::to_string(length), metadata(name));
  EXPECT_EQ(created.status, 201) << created.body;
  return created.header("location");
}

HttpResult head(const GatewayProcess& gateway, const std::string& location, const char* token = kAliceToken) {
  return curl(join(auth(token), {"-I", gateway.url(location), "-H", "Tus-Resumable: 1.0.0"}));
}

nlohmann::json transfer(const GatewayProcess& gateway, const std::string& location) {
  return curl(join(auth(kAliceToken), {gateway.url("/api/v1/transfers/" + id_of(location))})).json();
}

std::string csv_bytes(std::size_t size) {
  std::string bytes = "site,week,count\n";
  while (bytes.size() < size) bytes += "A81001,2026-11-02,17\n";
  bytes.resize(size);
  return bytes;
}

class GatewayLimits : public ::testing::Test {
 protected:
  void start(const std::string& config) {
    gateway_ = std::make_unique<GatewayProcess>(config);
    gateway_->start();
  }
  void TearDown() override {
    if (HasFailure() && gateway_) std::cerr << "gateway log:\n" << gateway_->log();
  }
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(GatewayLimits, ABodyThatStallsIsCutOffWith408AndItsBytesAreKept) {
  start(config_with("  idle_timeout: 1s\n  min_rate_bytes_per_second: 0\n"));
  std::string location = create(*gateway_, 1000, "stall.csv");
  RawClient client(gateway_->address());
  ASSERT_TRUE(client.connected());
  std::string bytes = csv_bytes(1000);
  ASSERT_TRUE(client.send(patch_head(*gateway_, kAliceToken, location, 0, 1000) + bytes.substr(0, 100)));
  auto sent = Clock::now();
  std::string response = client.read_until_closed(seconds(20));
  auto waited = Clock::now() - sent;
  EXPECT_EQ(response.rfind("HTTP/1.1 408", 0), 0u) << response;
  EXPECT_NE(response.find("\"timeout\""), std::string::npos) << response;
  EXPECT_GE(waited, milliseconds(900));
  EXPECT_LT(waited, seconds(6));
  // The 100 bytes that arrived are stored, and the client resumes from there.
  EXPECT_EQ(head(*gateway_, location).header("upload-offset"), "100");
  std::string rest = write_file(gateway_->root() + "/rest.csv", bytes.substr(100));
  HttpResult resumed = patch_upload(*gateway_, kAliceToken, location, 100, rest);
  EXPECT_EQ(resumed.status, 204) << resumed.body;
  EXPECT_EQ(resumed.header("upload-offset"), "1000");
}

TEST_F(GatewayLimits, AClientThatTricklesBytesIsCutOffByTheMinimumRate) {
  start(config_with("  idle_timeout: 30s\n  min_rate_bytes_per_second: 1 KiB\n  min_rate_grace: 1s\n"));
  const std::size_t size = 100'000;
  std::string location = create(*gateway_, size, "trickle.csv");
  std::string bytes = csv_bytes(size);
  RawClient client(gateway_->address());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(patch_head(*gateway_, kAliceToken, location, 0, size)));
  // 20 bytes every 100 ms: 200 B/s, a fifth of the minimum, but never idle.
  auto started = Clock::now();
  std::size_t sent = 0;
  while (sent < size && Clock::now() - started < seconds(20) && !client.readable(milliseconds(100))) {
    if (!client.send(bytes.substr(sent, 20))) break;
    sent += 20;
  }
  auto cut = Clock::now() - started;
  std::string response = client.read_until_closed(seconds(10));
  EXPECT_EQ(response.rfind("HTTP/1.1 408", 0), 0u) << response;
  EXPECT_NE(response.find("\"too_slow\""), std::string::npos) << response;
  EXPECT_GE(cut, milliseconds(900)) << "cut off before the grace period ended";
  EXPECT_LT(cut, seconds(5)) << "the trickle went on for too long";
  std::uint64_t stored = std::stoull(head(*gateway_, location).header("upload-offset"));
  EXPECT_GT(stored, 0u);
  EXPECT_LE(stored, sent);
}

TEST_F(GatewayLimits, TooManyConcurrentUploadsOfOneUserAre429) {
  start(config_with("  max_concurrent_uploads_per_user: 1\n"));
  std::string first = create(*gateway_, 1000, "first.csv");
  std::string second = create(*gateway_, 10, "second.csv");
  std::string bobs = create(*gateway_, 10, "bobs.csv", kBobToken);
  std::string bytes = csv_bytes(1000);
  RawClient client(gateway_->address());
  ASSERT_TRUE(client.send(patch_head(*gateway_, kAliceToken, first, 0, 1000) + bytes.substr(0, 10)));
  ASSERT_TRUE(eventually([&] { return metric(*gateway_, kAliceToken, "airlock_uploads_in_flight") == 1; }));

  std::string ten = write_file(gateway_->root() + "/ten.csv", "a,b\n1,2\n3\n");
  HttpResult refused = patch_upload(*gateway_, kAliceToken, second, 0, ten);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.json()["error"], "too_many_uploads");
  HttpResult other_user = patch_upload(*gateway_, kBobToken, bobs, 0, ten);
  EXPECT_EQ(other_user.status, 204) << "the limit is per user: " << other_user.body;

  ASSERT_TRUE(client.send(bytes.substr(10)));
  std::string response = client.read_until_closed(seconds(1));
  EXPECT_EQ(response.rfind("HTTP/1.1 204", 0), 0u) << response;
  HttpResult accepted = patch_upload(*gateway_, kAliceToken, second, 0, ten);
  EXPECT_EQ(accepted.status, 204) << "the slot is free again: " << accepted.body;
}

TEST_F(GatewayLimits, ASecondPatchToAnUploadReceivingBytesIs423) {
  start(config_with("  max_concurrent_uploads_per_user: 4\n"));
  std::string location = create(*gateway_, 1000, "locked.csv");
  std::string bytes = csv_bytes(1000);
  RawClient client(gateway_->address());
  ASSERT_TRUE(client.send(patch_head(*gateway_, kAliceToken, location, 0, 1000) + bytes.substr(0, 10)));
  ASSERT_TRUE(eventually([&] { return metric(*gateway_, kAliceToken, "airlock_uploads_in_flight") == 1; }));

  std::string whole = write_file(gateway_->root() + "/whole.csv", bytes);
  HttpResult locked = patch_upload(*gateway_, kAliceToken, location, 0, whole);
  EXPECT_EQ(locked.status, 423) << locked.body;
  EXPECT_EQ(locked.json()["error"], "locked");
  HttpResult terminate =
      curl(join(auth(kAliceToken), {"-X", "DELETE", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(terminate.status, 423) << "an upload receiving bytes cannot be terminated";

  ASSERT_TRUE(client.send(bytes.substr(10)));
  std::string response = client.read_until_closed(seconds(1));
  EXPECT_EQ(response.rfind("HTTP/1.1 204", 0), 0u) << response;
  EXPECT_EQ(transfer(*gateway_, location)["sha256"], sha256_of_file(whole));
}

TEST_F(GatewayLimits, SigtermCheckpointsAnUploadMidBodyAndItResumesAfterTheRestart) {
  start(config_with("  idle_timeout: 60s\n", "shutdown_grace: 1s\n"));
  const std::size_t size = 4u << 20;
  const std::size_t part = 1u << 20;
  std::string bytes = csv_bytes(size);
  std::string path = write_file(gateway_->root() + "/whole.csv", bytes);
  std::string location = create(*gateway_, size, "checkpoint.csv");
  RawClient client(gateway_->address());
  ASSERT_TRUE(client.send(patch_head(*gateway_, kAliceToken, location, 0, size) + bytes.substr(0, part)));
  // The gateway hands bytes to the disk a 1 MiB chunk at a time: wait until the part has been stored.
  ASSERT_TRUE(eventually([&] { return metric(*gateway_, kAliceToken, "airlock_upload_bytes_total") >= part; }));

  auto signalled = Clock::now();
  std::string address = gateway_->address();
  gateway_->kill(SIGTERM);  // waits for the exit
  auto stopped = Clock::now() - signalled;
  EXPECT_EQ(gateway_->exit_status(), 0) << gateway_->log();
  EXPECT_GE(stopped, milliseconds(900)) << "the in-flight request had its grace period";
  EXPECT_LT(stopped, seconds(10));
  EXPECT_NE(gateway_->log().find("checkpointing"), std::string::npos);
  EXPECT_FALSE(RawClient(address).connected()) << "nothing listens after the shutdown";

  gateway_->start(address);
  HttpResult after = head(*gateway_, location);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.header("upload-offset"), std::to_string(part)) << "every byte received was checkpointed";
  std::string stored = read_text(gateway_->data_dir() + "/quarantine/" + id_of(location) + "/data");
  EXPECT_EQ(stored, bytes.substr(0, part));

  std::string rest = write_file(gateway_->root() + "/rest.csv", bytes.substr(part));
  HttpResult resumed = patch_upload(*gateway_, kAliceToken, location, part, rest);
  EXPECT_EQ(resumed.status, 204) << resumed.body;
  nlohmann::json done = transfer(*gateway_, location);
  EXPECT_EQ(done["offset"], size);
  EXPECT_EQ(done["sha256"], sha256_of_file(path));
  EXPECT_EQ(done["state"], "released");
}

// At most two uploads at a time are read in 1 MiB chunks, the others in 256 KiB ones (server.cpp), so that
// many concurrent uploads keep their memory small. Seen from outside: how far an executable gets before its
// early denial, which comes with the first chunk. An upload's place is given back when it ends.
TEST_F(GatewayLimits, OnlyTwoUploadsAtATimeAreReadInLargeChunks) {
  start(config_with("  idle_timeout: 60s\n"));
  std::string elf = elf_executable(3u << 19);
  const std::string program = write_file(gateway_->root() + "/runner", elf);
  auto kept_when_denied = [&](const std::string& name) -> std::uint64_t {
    HttpResult created =
        create_upload(*gateway_, kBobToken, std::to_string(64u << 20), metadata(name, "application/octet-stream"));
    EXPECT_EQ(created.status, 201) << created.body;
    std::string location = created.header("location");
    HttpResult patched = patch_upload(*gateway_, kBobToken, location, 0, program);
    EXPECT_EQ(patched.status, 403) << patched.body;
    nlohmann::json stored = curl(join(auth(kBobToken), {gateway_->url("/api/v1/transfers/" + id_of(location))})).json();
    EXPECT_EQ(stored["state"], "denied");
    // The bytes received before the denial are kept (for denied_retention).
    std::error_code error;
    auto kept = std::filesystem::file_size(gateway_->data_dir() + "/denied/" + id_of(location) + "/data", error);
    EXPECT_FALSE(error) << error.message();
    return error ? 0 : kept;
  };

  EXPECT_EQ(kept_when_denied("alone"), 1u << 20) << "an upload alone is read in 1 MiB chunks";

  // Two uploads that stay mid-body hold both places for large chunks.
  const std::string bytes = csv_bytes(4u << 20);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 2; ++i) {
    std::string location = create(*gateway_, bytes.size(), "held-" + std::to_string(i) + ".csv");
    held.push_back(std::make_unique<RawClient>(gateway_->address()));
    ASSERT_TRUE(
        held.back()->send(patch_head(*gateway_, kAliceToken, location, 0, bytes.size()) + bytes.substr(0, 1000)));
  }
  ASSERT_TRUE(eventually([&] { return metric(*gateway_, kAliceToken, "airlock_uploads_in_flight") == 2; }));
  EXPECT_EQ(kept_when_denied("third"), 256u << 10) << "a third upload is read in 256 KiB chunks";

  // The held uploads end (their clients go away): their places come back.
  held.clear();
  ASSERT_TRUE(eventually([&] { return metric(*gateway_, kAliceToken, "airlock_uploads_in_flight") == 0; }));
  EXPECT_EQ(kept_when_denied("after"), 1u << 20) << "the places for large chunks were given back";
}

TEST_F(GatewayLimits, ARequestThatEndsWithinTheGraceFinishesDuringShutdown) {
  start(config_with("  idle_timeout: 60s\n", "shutdown_grace: 20s\n"));
  std::string bytes = csv_bytes(2000);
  std::string location = create(*gateway_, bytes.size(), "finishes.csv");
  RawClient client(gateway_->address());
  ASSERT_TRUE(client.send(patch_head(*gateway_, kAliceToken, location, 0, bytes.size()) + bytes.substr(0, 1000)));
  ASSERT_TRUE(eventually([&] { return metric(*gateway_, kAliceToken, "airlock_uploads_in_flight") == 1; }));
  std::thread terminate([&] { gateway_->kill(SIGTERM); });
  ASSERT_TRUE(eventually([&] { return gateway_->log().find("shutting down") != std::string::npos; }));
  ASSERT_TRUE(client.send(bytes.substr(1000)));
  std::string response = client.read_until_closed(seconds(20));
  terminate.join();
  EXPECT_EQ(response.rfind("HTTP/1.1 204", 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  EXPECT_EQ(gateway_->exit_status(), 0);
  EXPECT_EQ(gateway_->log().find("checkpointing"), std::string::npos) << "no checkpoint was needed";
}

TEST_F(GatewayLimits, AnUnfinishedUploadExpiresAndItsBytesAreDeleted) {
  start(config_with("", "upload_expiry: 2s\ncleanup_interval: 1s\n"));
  std::string location = create(*gateway_, 100, "expires.csv");
  HttpResult first = patch_upload(*gateway_, kAliceToken, location, 0, write_file(gateway_->root() + "/a.csv", "a,b\n"));
  ASSERT_EQ(first.status, 204) << first.body;
  EXPECT_FALSE(first.header("upload-expires").empty());
  std::string quarantine = gateway_->data_dir() + "/quarantine/" + id_of(location);
  ASSERT_TRUE(std::filesystem::exists(quarantine));

  ASSERT_TRUE(eventually([&] { return head(*gateway_, location).status == 410; }, seconds(20)));
  // HEAD answers 410 as soon as the upload's time is up; the cleanup job, on its next run, fails the transfer and
  // deletes its bytes.
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(quarantine); }, seconds(10)));
  ASSERT_TRUE(eventually([&] { return transfer(*gateway_, location)["state"] == "failed"; }, seconds(10)));
  nlohmann::json expired = transfer(*gateway_, location);
  EXPECT_EQ(expired["state"], "failed");
  EXPECT_NE(expired["reason"].get<std::string>().find("expired"), std::string::npos) << expired.dump();
  HttpResult late = patch_upload(*gateway_, kAliceToken, location, 4, write_file(gateway_->root() + "/b.csv", "1,2\n"));
  EXPECT_EQ(late.status, 410) << late.body;
}

TEST_F(GatewayLimits, DeniedBytesAreKeptForTheRetentionThenDeleted) {
  start(config_with("", "denied_retention: 3s\ncleanup_interval: 1s\n"));
  std::string elf = elf_executable(128u << 10);
  HttpResult created = create_upload(*gateway_, kAliceToken, std::to_string(elf.size()),
                                     metadata("tool", "application/octet-stream"));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string location = created.header("location");
  HttpResult denied =
      patch_upload(*gateway_, kAliceToken, location, 0, write_file(gateway_->root() + "/tool", elf));
  ASSERT_EQ(denied.status, 204) << denied.body;
  ASSERT_EQ(denied.header("airlock-decision"), "deny");
  std::string kept = gateway_->data_dir() + "/denied/" + id_of(location);
  auto decided = Clock::now();
  EXPECT_TRUE(std::filesystem::exists(kept + "/data")) << "denied bytes are kept for investigation";

  ASSERT_TRUE(eventually([&] { return !std::filesystem::exists(kept); }, seconds(30)));
  EXPECT_GE(Clock::now() - decided, seconds(1)) << "deleted before the retention period";
  // The log line follows the deletion and its audit event, so it may come a moment after the folder goes.
  EXPECT_TRUE(eventually([&] { return gateway_->log().find("retained bytes deleted") != std::string::npos; },
                         seconds(10)));
  EXPECT_EQ(transfer(*gateway_, location)["state"], "denied") << "the record stays";
  // The deletion is in the audit log.
  auto [audit, code] = run_command(std::string(AIRLOCK_BINARY) + " audit list --data " +
                                   shell_quote(gateway_->data_dir()) + " --transfer " + id_of(location) + " 2>&1");
  EXPECT_EQ(code, 0) << audit;
  EXPECT_NE(audit.find("bytes_deleted"), std::string::npos) << audit;
}

}  // namespace
}  // namespace airlock::testing
