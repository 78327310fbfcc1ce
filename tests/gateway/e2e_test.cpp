// End to end with the client researchers' browsers use: tus-js-client (tests/e2e/upload.js, run by node)
// uploads files to the real gateway, which is killed with SIGKILL mid-upload and restarted.
#include <gtest/gtest.h>

#include "gateway_process.h"

namespace airlock::testing {
namespace {

std::string e2e_dir() { return std::string(AIRLOCK_SOURCE_DIR) + "/tests/e2e"; }

// A file of `size` bytes written in large blocks (fast even for 1 GiB): CSV-looking text, or a repeating
// binary pattern (which the text inspectors skip, so large uploads measure the transport, not the scanners).
std::string make_file(const std::string& path, std::uint64_t size, bool text = true) {
  std::string row = text ? "site,week,count\n"
                         : std::string(
                               "\x89"
                               "BIN\r\n\x1a\n",
                               8);
  std::string block;
  while (block.size() < (4u << 20)) {
    if (text) {
      block += "A81001,2026-11-02,17\n";
    } else {
      for (int i = 0; i < 256; ++i) block += static_cast<char>((i * 31 + static_cast<int>(block.size() >> 8)) & 0xff);
    }
  }
  std::ofstream file(path, std::ios::binary);
  std::uint64_t left = size;
  if (left > 0) {
    std::size_t head = static_cast<std::size_t>(std::min<std::uint64_t>(left, row.size()));
    file.write(row.data(), static_cast<std::streamsize>(head));
    left -= head;
  }
  while (left > 0) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
    file.write(block.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
  return path;
}

// node upload.js, reading its JSON events line by line.
class NodeUpload {
 public:
  NodeUpload(const GatewayProcess& gateway, const std::string& file, const std::string& filename,
             const std::vector<std::string>& extra = {}) {
    std::string command = "cd " + shell_quote(e2e_dir()) + " && exec node upload.js --endpoint " +
                          shell_quote(gateway.url("/files")) + " --token " + kAliceToken + " --file " +
                          shell_quote(file) + " --filename " + shell_quote(filename) + " --filetype text/csv";
    for (const std::string& arg : extra) command += " " + shell_quote(arg);
    pipe_ = ::popen((command + " 2>&1").c_str(), "r");
  }
  ~NodeUpload() {
    if (pipe_ != nullptr) ::pclose(pipe_);
  }
  // The next event, or a null json at the end of the output.
  nlohmann::json next() {
    std::array<char, 65536> line{};
    while (pipe_ != nullptr && std::fgets(line.data(), line.size(), pipe_) != nullptr) {
      nlohmann::json event = nlohmann::json::parse(line.data(), nullptr, false);
      if (!event.is_discarded() && event.contains("event")) return event;
      output_ += line.data();
    }
    return nullptr;
  }
  const std::string& other_output() const { return output_; }

 private:
  FILE* pipe_ = nullptr;
  std::string output_;
};

std::string id_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }

nlohmann::json get_transfer(const GatewayProcess& gateway, const std::string& id) {
  return curl(join(auth(kAliceToken), {gateway.url("/api/v1/transfers/" + id)})).json();
}

class TusJsClient : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(e2e_dir() + "/node_modules/tus-js-client"))
        << "run `npm ci --prefix tests/e2e` (scripts/install-deps.sh does) to install tus-js-client";
    gateway_.start();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_.log();
  }
  void upload_and_verify(std::uint64_t size, std::uint64_t chunk, bool text = true) {
    std::string name = "file-" + std::to_string(size) + (text ? ".csv" : ".bin");
    std::string path = make_file(gateway_.root() + "/" + name, size, text);
    std::vector<std::string> extra;
    if (chunk > 0) extra = {"--chunk-size", std::to_string(chunk)};
    NodeUpload upload(gateway_, path, name, extra);
    nlohmann::json event = upload.next();
    ASSERT_EQ(event["event"], "success") << event.dump() << upload.other_output();
    nlohmann::json transfer = get_transfer(gateway_, id_of(event["url"]));
    EXPECT_EQ(transfer["offset"], size);
    EXPECT_EQ(transfer["sha256"], sha256_of_file(path)) << transfer.dump();
    EXPECT_NE(transfer["state"], "failed") << transfer.dump();
  }
  GatewayProcess gateway_;
};

TEST_F(TusJsClient, UploadsAnEmptyFile) { upload_and_verify(0, 0); }

TEST_F(TusJsClient, UploadsOneByte) { upload_and_verify(1, 0); }

TEST_F(TusJsClient, UploadsFiveMebibytesInChunks) { upload_and_verify(5u << 20, 1u << 20); }

// A table of many chunks, parsed in its own lane while its bytes stream in and are hashed: the facts count
// every row, whatever chunks the client, the server and the inspection lanes cut it into.
TEST_F(TusJsClient, CountsEveryRowOfATableParsedWhileItStreams) {
  constexpr std::uint64_t kRows = 500000;
  const std::uint64_t size =
      std::string("site,week,count\n").size() + kRows * std::string("A81001,2026-11-02,17\n").size();
  std::string path = make_file(gateway_.root() + "/table.csv", size);
  NodeUpload upload(gateway_, path, "table.csv", {"--chunk-size", std::to_string((1u << 20) + 7)});
  nlohmann::json event = upload.next();
  ASSERT_EQ(event["event"], "success") << event.dump() << upload.other_output();
  nlohmann::json transfer = get_transfer(gateway_, id_of(event["url"]));
  EXPECT_EQ(transfer["sha256"], sha256_of_file(path));
  const nlohmann::json& table = transfer["facts"]["table"];
  EXPECT_EQ(table["is_table"], true) << transfer["facts"].dump();
  EXPECT_EQ(table["rows"], kRows);
  EXPECT_EQ(table["columns"], 3);
  EXPECT_EQ(table["min_count"], 17);
}

TEST_F(TusJsClient, ResumesFromTheStoredOffsetAfterTheGatewayIsKilled) {
  std::string path = make_file(gateway_.root() + "/resume.csv", 24u << 20);
  std::string resume = gateway_.root() + "/resume-now";
  NodeUpload upload(
      gateway_, path, "resume.csv",
      {"--chunk-size", std::to_string(2u << 20), "--pause-after", std::to_string(8u << 20), "--resume-when", resume});
  nlohmann::json paused = upload.next();
  ASSERT_EQ(paused["event"], "paused") << paused.dump() << upload.other_output();
  std::string id = id_of(paused["url"]);
  std::uint64_t before = get_transfer(gateway_, id)["offset"];
  EXPECT_GE(before, 8u << 20);
  EXPECT_LT(before, 24u << 20);

  std::string address = gateway_.address();
  gateway_.kill(SIGKILL);
  gateway_.start(address);
  ASSERT_EQ(get_transfer(gateway_, id)["offset"], before) << "the offset survives SIGKILL";
  write_file(resume, "go");

  nlohmann::json done = upload.next();
  ASSERT_EQ(done["event"], "success") << done.dump() << upload.other_output();
  nlohmann::json transfer = get_transfer(gateway_, id);
  EXPECT_EQ(transfer["offset"], 24u << 20);
  EXPECT_EQ(transfer["sha256"], sha256_of_file(path));
  EXPECT_NE(gateway_.log().find("inspection replayed"), std::string::npos);
}

TEST_F(TusJsClient, RetriesThroughASigkillWhileBytesAreStreaming) {
  std::string path = make_file(gateway_.root() + "/streaming.bin", 96u << 20, false);
  NodeUpload upload(gateway_, path, "streaming.bin", {"--chunk-size", std::to_string(1u << 20)});
  // Wait until some chunks are stored, then kill the gateway while the client is sending.
  std::string id;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResult listed = curl(join(auth(kAliceToken), {gateway_.url("/api/v1/transfers?state=receiving")}));
    nlohmann::json body = listed.json();
    if (body.is_object() && !body["transfers"].empty() && body["transfers"][0]["offset"].get<std::uint64_t>() > 0) {
      id = body["transfers"][0]["id"];
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(id.empty()) << "the upload never showed progress";
  std::string address = gateway_.address();
  gateway_.kill(SIGKILL);
  gateway_.start(address);

  nlohmann::json done = upload.next();
  ASSERT_EQ(done["event"], "success") << done.dump() << upload.other_output();
  nlohmann::json transfer = get_transfer(gateway_, id);
  EXPECT_EQ(transfer["offset"], 96u << 20);
  EXPECT_EQ(transfer["sha256"], sha256_of_file(path));
}

// 1 GiB in 64 MiB chunks: about 20 s in the sanitizer build (binary content; the text inspectors skip it).
TEST_F(TusJsClient, UploadsOneGibibyte) { upload_and_verify(1ull << 30, 64ull << 20, false); }

}  // namespace
}  // namespace airlock::testing
