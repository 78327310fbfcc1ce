// HTTPS: the gateway with a self-signed certificate made by the test speaks TLS 1.2 and 1.3 (Mozilla
// "intermediate") and refuses older versions and plain HTTP.
#include <gtest/gtest.h>

#include "gateway_process.h"

namespace airlock::testing {
namespace {

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/airlock-tls-test-XXXXXX";
    certs_ = new std::string(::mkdtemp(pattern));
    std::string cert = *certs_ + "/cert.pem";
    std::string key = *certs_ + "/key.pem";
    auto [output, code] = run_command(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        shell_quote(key) + " -out " + shell_quote(cert) + " 2>&1");
    ASSERT_EQ(code, 0) << output;
    gateway_ = new GatewayProcess(test_config("tls: {cert: " + cert + ", key: " + key + "}\n"));
    gateway_->start();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    std::error_code ignored;
    std::filesystem::remove_all(*certs_, ignored);
    delete certs_;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_->log();
  }
  static std::string https(const std::string& path) { return "https://" + gateway_->address() + path; }
  // `openssl s_client` with the given options; its whole output (the handshake summary or the error).
  static std::pair<std::string, int> s_client(const std::string& options) {
    return run_command("echo | timeout 20 openssl s_client -connect " + gateway_->address() + " " + options + " 2>&1");
  }
  static GatewayProcess* gateway_;
  static std::string* certs_;
};
GatewayProcess* Tls::gateway_ = nullptr;
std::string* Tls::certs_ = nullptr;

TEST_F(Tls, NegotiatesTls13) {
  auto [output, code] = s_client("-tls1_3");
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("TLSv1.3"), std::string::npos) << output;
}

// A connection the gateway closes after its answer ends TLS with close_notify before the TCP close: an
// OpenSSL 3 client takes a bare TCP close for a truncation ("unexpected eof while reading") and fails.
TEST_F(Tls, ClosesWithCloseNotifyAfterItsAnswer) {
  auto [output, code] = run_command(
      "printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | timeout 20 "
      "openssl s_client -connect " +
      gateway_->address() + " -tls1_3 -ign_eof 2>&1");
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("HTTP/1.1 200"), std::string::npos) << output;
  EXPECT_EQ(output.find("unexpected eof"), std::string::npos) << output;
}

TEST_F(Tls, NegotiatesTls12WithAnIntermediateCipher) {
  auto [output, code] = s_client("-tls1_2");
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("Protocol  : TLSv1.2"), std::string::npos) << output;
  EXPECT_NE(output.find("ECDHE-ECDSA-AES128-GCM-SHA256"), std::string::npos) << output;
}

TEST_F(Tls, RefusesTls11AndTls10) {
  // SECLEVEL=0 lets this client offer the old versions at all; the refusal must come from the server.
  for (const char* version : {"-tls1_1", "-tls1"}) {
    auto [output, code] = s_client(std::string(version) + " -cipher DEFAULT:@SECLEVEL=0");
    EXPECT_NE(code, 0) << version << ": " << output;
    EXPECT_NE(output.find("alert protocol version"), std::string::npos) << version << ": " << output;
    EXPECT_NE(output.find("Cipher is (NONE)"), std::string::npos) << version << ": " << output;
  }
}

TEST_F(Tls, RefusesAWeakTls12Cipher) {
  auto [output, code] = s_client("-tls1_2 -cipher AES128-SHA:@SECLEVEL=0");
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find("alert handshake failure"), std::string::npos) << output;
}

TEST_F(Tls, UploadsOverHttps) {
  std::string bytes = "practice,count\nA81001,12\n";
  std::string path = write_file(gateway_->root() + "/tls.csv", bytes);
  for (const std::vector<std::string>& tls : {std::vector<std::string>{"--tls-max", "1.2"}, {"--tlsv1.3"}}) {
    std::vector<std::string> options = join({"-k"}, tls);
    std::string version = tls.back();
    HttpResult created = curl(join(join(auth(kAliceToken), options),
                                   {"-X", "POST", https("/files"), "-H", "Tus-Resumable: 1.0.0", "-H",
                                    "Upload-Length: " + std::to_string(bytes.size()), "-H",
                                    "Upload-Metadata: " + metadata("tls.csv")}));
    ASSERT_EQ(created.status, 201) << version << ": " << created.body;
    HttpResult patched = curl(join(join(auth(kAliceToken), options),
                                   {"-X", "PATCH", https(created.header("location")), "-H", "Tus-Resumable: 1.0.0",
                                    "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream",
                                    "--data-binary", "@" + path}));
    EXPECT_EQ(patched.status, 204) << version << ": " << patched.body;
    EXPECT_EQ(patched.header("airlock-transfer-state"), "released");
  }
}

TEST_F(Tls, PlainHttpGetsNoAnswer) {
  HttpResult plain = curl({gateway_->url("/healthz")});
  EXPECT_EQ(plain.status, 0) << plain.body;
  HttpResult secure = curl({"-k", https("/healthz")});
  EXPECT_EQ(secure.status, 200);
}

}  // namespace
}  // namespace airlock::testing
