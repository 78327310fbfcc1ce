// Malware scanning end to end: a real clamd, started by the test with a signature database of its own,
// behind the running gateway (`clamd.socket` in its configuration). The standard policy denies an EICAR
// upload and releases a clean file.
#include <gtest/gtest.h>

#include "gateway_process.h"
#include "inspect_test_support.h"

namespace airlock::testing {
namespace {

using gateway::inspect::testing::ClamdProcess;

class GatewayScan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!ClamdProcess::installed()) return;
    clamd_ = new ClamdProcess();
    if (!clamd_->running()) return;
    gateway_ = new GatewayProcess(test_config("clamd: {socket: " + clamd_->socket() + "}\n"));
    gateway_->start();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete clamd_;
    clamd_ = nullptr;
  }
  void SetUp() override {
    if (!ClamdProcess::installed()) GTEST_SKIP() << "clamd is not installed (Debian: clamav-daemon)";
    ASSERT_TRUE(clamd_->running()) << "clamd did not start: " << clamd_->log();
    ASSERT_NE(gateway_, nullptr);
  }
  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) std::cerr << "gateway log:\n" << gateway_->log();
  }
  // Creates and sends one file in one PATCH; the PATCH's response.
  HttpResult upload(const std::string& name, const std::string& bytes, const std::string& type) {
    HttpResult created = create_upload(*gateway_, kAliceToken, std::to_string(bytes.size()), metadata(name, type));
    EXPECT_EQ(created.status, 201) << created.body;
    location_ = created.header("location");
    return patch_upload(*gateway_, kAliceToken, location_, 0, write_file(gateway_->root() + "/" + name, bytes));
  }
  nlohmann::json transfer() {
    std::string id = location_.substr(location_.rfind('/') + 1);
    return curl(join(auth(kAliceToken), {gateway_->url("/api/v1/transfers/" + id)})).json();
  }
  static ClamdProcess* clamd_;
  static GatewayProcess* gateway_;
  std::string location_;
};
ClamdProcess* GatewayScan::clamd_ = nullptr;
GatewayProcess* GatewayScan::gateway_ = nullptr;

TEST_F(GatewayScan, AnEicarUploadIsDeniedByTheStandardPolicy) {
  HttpResult patched = upload("eicar.txt", gateway::inspect::testing::eicar(), "text/plain");
  EXPECT_EQ(patched.status, 204) << patched.body;
  EXPECT_EQ(patched.header("airlock-decision"), "deny");
  EXPECT_EQ(patched.header("airlock-transfer-state"), "denied");
  nlohmann::json stored = transfer();
  EXPECT_EQ(stored["state"], "denied");
  EXPECT_EQ(stored["facts"]["scan"]["result"], "infected") << stored["facts"].dump();
  std::string signature = stored["facts"]["scan"]["signature"];
  EXPECT_EQ(signature.rfind(ClamdProcess::kSignature, 0), 0u) << signature;
  EXPECT_TRUE(stored["facts"]["scan"]["engine"].get<std::string>().starts_with("ClamAV "));
  bool malware_rule = false;
  for (const auto& rule : stored["decision"]["rules"]) {
    malware_rule = malware_rule || rule["rule"] == "malware_found";
  }
  EXPECT_TRUE(malware_rule) << stored["decision"].dump();
  EXPECT_NE(stored["reason"].get<std::string>().find(ClamdProcess::kSignature), std::string::npos) << stored.dump();
  std::string id = stored["id"];
  EXPECT_FALSE(std::filesystem::exists(gateway_->data_dir() + "/released/ds-test/" + id));
  EXPECT_TRUE(std::filesystem::exists(gateway_->data_dir() + "/denied/" + id + "/data"));
}

TEST_F(GatewayScan, ACleanFileIsScannedAndReleased) {
  HttpResult patched = upload("counts.csv", "practice,count\nA81001,12\nA81002,40\n", "text/csv");
  EXPECT_EQ(patched.status, 204) << patched.body;
  EXPECT_EQ(patched.header("airlock-decision"), "approve");
  nlohmann::json stored = transfer();
  EXPECT_EQ(stored["facts"]["scan"]["result"], "clean") << stored["facts"].dump();
  EXPECT_EQ(stored["state"], "released");
}

}  // namespace
}  // namespace airlock::testing
