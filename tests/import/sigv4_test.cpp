// SigV4 against the AWS documentation's published example, and S3 GET Object against a local server that
// checks signatures itself (its canonicalisation is written here, from the request it received).
#include "airlock/gateway/import/sigv4.h"

#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>

#include "airlock/gateway/import/sources.h"
#include "import_test_support.h"

namespace airlock::import_test {
namespace {

namespace sigv4 = gateway::import::sigv4;
using Json = nlohmann::json;

// "GET Object" in the AWS S3 API reference's "Signature Calculations for the Authorization Header" examples:
// GET /test.txt with Range: bytes=0-9, the example key AKIAIOSFODNN7EXAMPLE and its secret.
sigv4::Request aws_get_object_example() {
  sigv4::Request request;
  request.method = "GET";
  request.canonical_uri = "/test.txt";
  request.payload_hash = std::string(sigv4::kEmptyPayloadHash);
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"Range", "bytes=0-9"},
                     {"x-amz-content-sha256", std::string(sigv4::kEmptyPayloadHash)},
                     {"x-amz-date", "20130524T000000Z"}};
  return request;
}
const sigv4::Credentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

TEST(SigV4, TheCanonicalRequestMatchesTheAwsGetObjectExample) {
  EXPECT_EQ(sigv4::canonical_request(aws_get_object_example()),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4, TheStringToSignMatchesTheAwsGetObjectExample) {
  std::string scope = sigv4::credential_scope("20130524T000000Z", "us-east-1", "s3");
  EXPECT_EQ(scope, "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(sigv4::string_to_sign("20130524T000000Z", scope, sigv4::canonical_request(aws_get_object_example())),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
}

TEST(SigV4, TheSignatureMatchesTheAwsGetObjectExample) {
  EXPECT_EQ(sigv4::signature(aws_get_object_example(), kExampleCredentials, "20130524T000000Z", "us-east-1", "s3"),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(sigv4::authorization(aws_get_object_example(), kExampleCredentials, "20130524T000000Z", "us-east-1", "s3"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, TheSigningKeyMatchesTheAwsDerivationExample) {
  // The IAM guide's "derive a signing key" example (iam service, 20120215, us-east-1).
  EXPECT_EQ(sigv4::hex(sigv4::signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4, UriEncodingKeepsUnreservedCharactersAndSlashesInPaths) {
  EXPECT_EQ(sigv4::uri_encode("gm/a b+c~d_e.f-g", false), "gm/a%20b%2Bc~d_e.f-g");
  EXPECT_EQ(sigv4::uri_encode("a/b", true), "a%2Fb");
  EXPECT_EQ(sigv4::amz_date(1369353600), "20130524T000000Z");
}

TEST(S3Location, VirtualHostedPathStyleAndS3UrlsGiveBucketKeyAndRegion) {
  auto virtual_hosted =
      gateway::import::s3_location("https://nwsde-gold.s3.eu-west-2.amazonaws.com/exports", {}, "gm/a.csv");
  ASSERT_TRUE(virtual_hosted) << virtual_hosted.message();
  EXPECT_EQ(virtual_hosted->bucket, "nwsde-gold");
  EXPECT_EQ(virtual_hosted->key, "exports/gm/a.csv");
  EXPECT_EQ(virtual_hosted->region, "eu-west-2");
  EXPECT_FALSE(virtual_hosted->path_style);
  EXPECT_EQ(virtual_hosted->url(), "https://nwsde-gold.s3.eu-west-2.amazonaws.com/exports/gm/a.csv");

  auto path_style =
      gateway::import::s3_location("https://minio.example:9000/bucket/pre", {{"region", "eu-west-1"}}, "x y.csv");
  ASSERT_TRUE(path_style) << path_style.message();
  EXPECT_TRUE(path_style->path_style);
  EXPECT_EQ(path_style->bucket, "bucket");
  EXPECT_EQ(path_style->region, "eu-west-1");
  EXPECT_EQ(path_style->target(), "/bucket/pre/x%20y.csv");
  EXPECT_EQ(path_style->url(), "https://minio.example:9000/bucket/pre/x%20y.csv");

  auto s3_url = gateway::import::s3_location("s3://nwsde-gold/gm", {{"region", "eu-west-2"}}, "a.parquet");
  ASSERT_TRUE(s3_url) << s3_url.message();
  EXPECT_EQ(s3_url->host, "nwsde-gold.s3.eu-west-2.amazonaws.com");
  EXPECT_EQ(s3_url->key, "gm/a.parquet");
}

// An S3-compatible endpoint (path-style) that verifies SigV4 from what it received.
class S3Server {
 public:
  static constexpr const char* kAccessKey = "AKIDLOCALTEST";
  static constexpr const char* kSecretKey = "local/secret+key";

  explicit S3Server(const TestPki& pki) : server_(pki, [this](const TestRequest& request) { return serve(request); }) {}
  std::string endpoint() const { return "https://localhost:" + std::to_string(server_.port()); }
  std::string last_error() const { return last_error_; }
  void put(const std::string& path, std::string body) { objects_[path] = std::move(body); }

 private:
  TestResponse deny(const std::string& code, const std::string& why) {
    last_error_ = why;
    return {403, "application/xml", {}, "<Error><Code>" + code + "</Code><Message>" + why + "</Message></Error>"};
  }

  TestResponse serve(const TestRequest& request) {
    static const std::regex kAuthorization(
        R"(AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,SignedHeaders=([^,]+),Signature=([0-9a-f]{64}))");
    std::string authorization(request[http::field::authorization]);
    std::smatch match;
    if (!std::regex_match(authorization, match, kAuthorization)) return deny("AccessDenied", "no SigV4 header");
    if (match[1] != kAccessKey) return deny("InvalidAccessKeyId", "unknown key");
    std::string amz_date(request["x-amz-date"]);
    if (amz_date.substr(0, 8) != match[2]) return deny("AccessDenied", "scope date differs from x-amz-date");
    std::tm parsed{};
    strptime(amz_date.c_str(), "%Y%m%dT%H%M%SZ", &parsed);
    if (std::llabs(static_cast<long long>(timegm(&parsed) - std::time(nullptr))) > 900) {
      return deny("RequestTimeTooSkewed", "x-amz-date is off by more than 15 minutes");
    }
    // The canonical request, rebuilt from the wire.
    std::string signed_list = match[4];
    std::string canonical = std::string(request.method_string()) + "\n" + std::string(request.target()) + "\n\n";
    std::stringstream names(signed_list);
    std::string name;
    bool has_host = false;
    while (std::getline(names, name, ';')) {
      has_host |= name == "host";
      canonical += name + ":" + std::string(request[name]) + "\n";
    }
    if (!has_host) return deny("AccessDenied", "host is not signed");
    canonical += "\n" + signed_list + "\n" + std::string(request["x-amz-content-sha256"]);
    std::string scope = std::string(match[2]) + "/" + std::string(match[3]) + "/s3/aws4_request";
    std::string to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sigv4::sha256_hex(canonical);
    std::string key = sigv4::hmac_sha256(
        sigv4::hmac_sha256(
            sigv4::hmac_sha256(sigv4::hmac_sha256(std::string("AWS4") + kSecretKey, match[2].str()), match[3].str()),
            "s3"),
        "aws4_request");
    if (sigv4::hex(sigv4::hmac_sha256(key, to_sign)) != match[5]) {
      return deny("SignatureDoesNotMatch", "signature mismatch");
    }
    auto found = objects_.find(std::string(request.target()));
    if (found == objects_.end()) return {404, "application/xml", {}, "<Error><Code>NoSuchKey</Code></Error>"};
    return {200, "text/csv", {{"ETag", "\"abc\""}}, found->second};
  }

  std::map<std::string, std::string> objects_;
  std::string last_error_;
  TlsTestServer server_;
};

TEST(S3Fetch, ASignedGetObjectIsAcceptedByAServerThatChecksSignatures) {
  TestPki pki = make_test_pki();
  TempDir work;
  write_file(work.path() / "ca.pem", pki.ca_pem);
  S3Server server(pki);
  server.put("/bucket/exports/gm%20data/a.csv", "a,b\n1,2\n");
  auto location =
      gateway::import::s3_location(server.endpoint() + "/bucket/exports", {{"region", "eu-west-2"}}, "gm data/a.csv");
  ASSERT_TRUE(location) << location.message();
  gateway::import::FetchOptions options;
  options.ca_file = (work.path() / "ca.pem").string();
  std::string body;
  auto sink = [&](std::span<const char> chunk) {
    body.append(chunk.data(), chunk.size());
    return runtime::Status::ok();
  };
  auto response = gateway::import::fetch_s3_object(*location, {S3Server::kAccessKey, S3Server::kSecretKey, ""},
                                                   std::time(nullptr), options, sink);
  ASSERT_TRUE(response) << response.message() << " / " << server.last_error();
  EXPECT_EQ(body, "a,b\n1,2\n");

  body.clear();
  auto wrong = gateway::import::fetch_s3_object(*location, {S3Server::kAccessKey, "not-the-secret", ""},
                                                std::time(nullptr), options, sink);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.message().find("SignatureDoesNotMatch"), std::string::npos) << wrong.message();
  EXPECT_TRUE(body.empty());

  auto stale = gateway::import::fetch_s3_object(*location, {S3Server::kAccessKey, S3Server::kSecretKey, ""},
                                                std::time(nullptr) - 3600, options, sink);
  ASSERT_FALSE(stale);
  EXPECT_NE(stale.message().find("RequestTimeTooSkewed"), std::string::npos) << stale.message();
}

TEST(S3Import, TheImportCommandFetchesAnS3ObjectWithCredentialsFromTheSecretDirectory) {
  ASSERT_TRUE(fs::exists(AIRLOCK_BINARY)) << "build the airlock target first";
  TestPki pki = make_test_pki();
  TempDir work;
  write_file(work.path() / "ca.pem", pki.ca_pem);
  ASSERT_TRUE(write_test_policies(work.path() / "policies"));
  S3Server server(pki);
  const std::string csv = "practice,patients\nP1,1200\nP2,860\n";
  server.put("/nwsde-gold/exports/practices.csv", csv);
  write_file(work.path() / "secret" / "S3AccessKey", std::string(S3Server::kAccessKey) + "\n");
  write_file(work.path() / "secret" / "S3SecretKey", std::string(S3Server::kSecretKey) + "\n");
  Json resource = {
      {"apiVersion", "xlscsde.nhs.uk/v1"},
      {"kind", "AnalyticsWorkspaceDataSource"},
      {"metadata", {{"name", "practices"}}},
      {"spec",
       {{"type", "Import"},
        {"publisher", {{"organisation", "NW SDE Data Engineering"}}},
        {"project", {{"id", "d4e6"}}},
        {"displayName", "Practices"},
        {"license", "NW SDE data sharing agreement"},
        {"connections", Json::array({{{"type", "s3"},
                                      {"name", "gold"},
                                      {"url", server.endpoint() + "/nwsde-gold/exports"},
                                      {"options", {{"region", "eu-west-2"}}},
                                      {"credentials", {{"accessKey", "S3AccessKey"}, {"secretKey", "S3SecretKey"}}}}})},
        {"objects", Json::array({{{"file", {{"path", "practices.csv"}, {"connection", "gold"}}}}})}}}};
  write_file(work.path() / "datasource.json", resource.dump());
  CommandResult result = run_command(
      {AIRLOCK_BINARY, "import", "--datasource-file", (work.path() / "datasource.json").string(), "--credentials",
       (work.path() / "secret").string(), "--output", (work.path() / "data").string(), "--policies",
       (work.path() / "policies").string(), "--ca-file", (work.path() / "ca.pem").string(), "--json"},
      work.path());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err << server.last_error();
  EXPECT_EQ(read_file(work.path() / "data" / "released" / "practices.csv"), csv);
  Json report = Json::parse(result.out);
  EXPECT_EQ(report["files"][0]["source_url"], server.endpoint() + "/nwsde-gold/exports/practices.csv");

  write_file(work.path() / "secret" / "S3SecretKey", "wrong\n");
  fs::remove_all(work.path() / "data");
  result =
      run_command({AIRLOCK_BINARY, "import", "--datasource-file", (work.path() / "datasource.json").string(),
                   "--credentials", (work.path() / "secret").string(), "--output", (work.path() / "data").string(),
                   "--policies", (work.path() / "policies").string(), "--ca-file", (work.path() / "ca.pem").string()},
                  work.path());
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("SignatureDoesNotMatch"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(work.path() / "data" / "released"));
}

}  // namespace
}  // namespace airlock::import_test
