// `airlock import` from an HTTPS source served locally (a test CA made here), through the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "airlock/gateway/import/sigv4.h"
#include "import_test_support.h"

namespace airlock::import_test {
namespace {

using Json = nlohmann::json;

const std::string kCleanCsv = "site,month,attendances\nNorth,2024-01,120\nSouth,2024-01,98\nEast,2024-01,143\n";

class HttpsImport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(AIRLOCK_BINARY)) << "build the airlock target first";
    ASSERT_TRUE(write_test_policies(work_.path() / "policies")) << "imports.policy no longer has trusted_domains";
    write_file(work_.path() / "ca.pem", pki_.ca_pem);
    elf_ = read_file("/bin/true");
    ASSERT_GT(elf_.size(), 1000u);
  }

  TestResponse serve(const TestRequest& request) {
    std::string target(request.target());
    if (target == "/exports/attendances.csv") return {200, "text/csv", {}, kCleanCsv};
    if (target == "/exports/moved.csv") return {302, "text/plain", {{"Location", "/exports/attendances.csv"}}, ""};
    if (target == "/exports/tool.bin") return {200, "application/octet-stream", {}, elf_};
    if (target == "/exports/big.csv") {
      std::string body = "id,value\n";
      for (int i = 0; body.size() < 300'000; ++i) body += std::to_string(i) + "," + std::to_string(i % 7) + "\n";
      TestResponse response{200, "text/csv", {}, body};
      response.cut_after = body.size() / 2;
      return response;
    }
    return {404, "text/plain", {}, "not found"};
  }

  // The data source the reconciler would write as datasource.json, with the objects given.
  fs::path write_datasource(const std::vector<std::string>& paths, const std::string& name = "gm-attendances") {
    Json objects = Json::array();
    for (const std::string& path : paths) objects.push_back({{"file", {{"path", path}, {"connection", "exports"}}}});
    Json resource = {
        {"apiVersion", "xlscsde.nhs.uk/v1"},
        {"kind", "AnalyticsWorkspaceDataSource"},
        {"metadata", {{"name", name}, {"namespace", "jupyterhub"}}},
        {"spec",
         {{"type", "Import"},
          {"publisher", {{"organisation", "NHS Greater Manchester ICB"}, {"contact", {{"name", "Shaun Turner"}}}}},
          {"project", {{"id", "d4e6"}}},
          {"displayName", "GM attendances"},
          {"description", "Synthetic attendances by site and month.\n"},
          {"license", "Open Government Licence v3.0\n"},
          {"connections", Json::array({{{"type", "https"}, {"name", "exports"}, {"url", server_.url("/exports/")}}})},
          {"objects", objects}}}};
    fs::path path = work_.path() / "import" / "datasource.json";
    write_file(path, resource.dump(2));
    return path;
  }

  CommandResult import_source(const fs::path& datasource, std::vector<std::string> extra = {}) {
    std::vector<std::string> arguments{AIRLOCK_BINARY,  "import",
                                       "--datasource",  datasource.string(),
                                       "--credentials", (work_.path() / "import").string(),
                                       "--output",      output().string(),
                                       "--policies",    (work_.path() / "policies").string(),
                                       "--ca-file",     (work_.path() / "ca.pem").string()};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return run_command(arguments, work_.path());
  }

  fs::path output() const { return work_.path() / "data"; }

  TempDir work_;
  TestPki pki_ = make_test_pki();
  std::string elf_;
  TlsTestServer server_{pki_, [this](const TestRequest& request) { return serve(request); }};
};

TEST_F(HttpsImport, ACleanCsvIsApprovedAndReleasedWithItsRoCrate) {
  CommandResult result = import_source(write_datasource({"attendances.csv"}), {"--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(files_under(output() / "released"),
            (std::vector<std::string>{"attendances.csv", "ro-crate-metadata.json"}));
  EXPECT_EQ(read_file(output() / "released" / "attendances.csv"), kCleanCsv);
  EXPECT_TRUE(files_under(output() / ".airlock-staging").empty());

  Json report = Json::parse(result.out);
  EXPECT_EQ(report["outcome"], "approved");
  EXPECT_EQ(report["datasource"]["name"], "gm-attendances");
  ASSERT_EQ(report["files"].size(), 1u);
  EXPECT_EQ(report["files"][0]["sha256"], gateway::import::sigv4::sha256_hex(kCleanCsv));
  EXPECT_EQ(report["files"][0]["source_url"], server_.url("/exports/attendances.csv"));
  EXPECT_EQ(report["decision"]["outcome"], "approve");
}

TEST_F(HttpsImport, TheRoCrateIsRoCrate11WithEveryReferenceResolved) {
  CommandResult result = import_source(write_datasource({"attendances.csv"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  Json crate = Json::parse(read_file(output() / "released" / "ro-crate-metadata.json"));
  EXPECT_EQ(crate["@context"], "https://w3id.org/ro/crate/1.1/context");
  ASSERT_TRUE(crate["@graph"].is_array());
  std::map<std::string, Json> entities;
  for (const Json& entity : crate["@graph"]) {
    ASSERT_TRUE(entity.contains("@id") && entity.contains("@type")) << entity.dump();
    EXPECT_TRUE(entities.emplace(entity["@id"].get<std::string>(), entity).second) << "duplicate " << entity["@id"];
  }
  // Flattened: every nested object is a bare reference, and every local reference names an entity.
  std::function<void(const Json&, bool)> check = [&](const Json& value, bool top) {
    if (value.is_object()) {
      if (!top) {
        ASSERT_EQ(value.size(), 1u) << "nested entity " << value.dump();
        std::string id = value["@id"];
        if (id.find("://") == std::string::npos) {
          EXPECT_TRUE(entities.count(id)) << "dangling reference " << id;
        }
        return;
      }
      for (const auto& [key, item] : value.items()) check(item, false);
    } else if (value.is_array()) {
      for (const Json& item : value) check(item, false);
    }
  };
  for (const Json& entity : crate["@graph"]) check(entity, true);

  const Json& descriptor = entities.at("ro-crate-metadata.json");
  EXPECT_EQ(descriptor["conformsTo"]["@id"], "https://w3id.org/ro/crate/1.1");
  EXPECT_EQ(descriptor["about"]["@id"], "./");
  const Json& root = entities.at("./");
  EXPECT_EQ(root["@type"], "Dataset");
  EXPECT_EQ(root["name"], "GM attendances");
  EXPECT_EQ(root["description"], "Synthetic attendances by site and month.");
  EXPECT_EQ(entities.at(root["publisher"]["@id"])["@type"], "Organization");
  EXPECT_EQ(entities.at(root["publisher"]["@id"])["name"], "NHS Greater Manchester ICB");
  const Json& licence = entities.at(root["license"]["@id"]);
  EXPECT_EQ(licence["@type"], "CreativeWork");
  EXPECT_EQ(licence["text"], "Open Government Licence v3.0");
  ASSERT_EQ(root["hasPart"].size(), 1u);
  const Json& file = entities.at(root["hasPart"][0]["@id"]);
  EXPECT_EQ(file["@type"], "File");
  EXPECT_EQ(file["contentSize"], std::to_string(kCleanCsv.size()));
  EXPECT_EQ(file["sha256"], gateway::import::sigv4::sha256_hex(read_file(output() / "released" / "attendances.csv")));
  EXPECT_EQ(file["encodingFormat"], "text/csv");

  int assessments = 0;
  for (const auto& [id, entity] : entities) {
    if (entity["@type"] != "AssessAction") continue;
    ++assessments;
    const Json& decision = entities.at(entity["result"]["@id"]);
    std::map<std::string, Json> properties;
    for (const Json& reference : decision["additionalProperty"]) {
      const Json& property = entities.at(reference["@id"]);
      properties[property["name"]] = property["value"];
    }
    EXPECT_EQ(properties["outcome"], "approve");
    EXPECT_EQ(properties["policy_set"].get<std::string>().size(), 64u) << properties["policy_set"];
    std::set<std::string> rules;
    for (const Json& reference : decision["mentions"]) rules.insert(entities.at(reference["@id"])["name"]);
    EXPECT_TRUE(rules.count("ingress.low_risk_file"));
    EXPECT_TRUE(rules.count("imports.declared_source"));
    EXPECT_FALSE(entity["endTime"].get<std::string>().empty());
  }
  EXPECT_EQ(assessments, 1);
}

TEST_F(HttpsImport, RedirectsAreFollowed) {
  CommandResult result = import_source(write_datasource({"moved.csv"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(read_file(output() / "released" / "moved.csv"), kCleanCsv);
  EXPECT_EQ(server_.targets(), (std::vector<std::string>{"/exports/moved.csv", "/exports/attendances.csv"}));
}

TEST_F(HttpsImport, AnExecutableIsDeniedAndNothingIsReleased) {
  CommandResult result = import_source(write_datasource({"attendances.csv", "tool.bin"}));
  EXPECT_EQ(result.exit_code, 4) << result.out << result.err;
  EXPECT_NE(result.out.find("denied"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(output() / "released"));
  EXPECT_TRUE(files_under(output()).empty()) << testing::PrintToString(files_under(output()));
}

TEST_F(HttpsImport, ASourceThatClosesHalfwayFailsAndLeavesNothing) {
  CommandResult result = import_source(write_datasource({"attendances.csv", "big.csv"}));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("cut short"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(output() / "released"));
  EXPECT_TRUE(files_under(output()).empty()) << testing::PrintToString(files_under(output()));
}

TEST_F(HttpsImport, AFailedReimportLeavesThePreviousReleaseAsItWas) {
  ASSERT_EQ(import_source(write_datasource({"attendances.csv"})).exit_code, 0);
  std::string before = read_file(output() / "released" / "ro-crate-metadata.json");
  CommandResult result = import_source(write_datasource({"big.csv"}));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_EQ(files_under(output() / "released"),
            (std::vector<std::string>{"attendances.csv", "ro-crate-metadata.json"}));
  EXPECT_EQ(read_file(output() / "released" / "ro-crate-metadata.json"), before);
}

TEST_F(HttpsImport, AServerNotSignedByTheTrustedCaIsRefused) {
  fs::path datasource = write_datasource({"attendances.csv"});
  TestPki other = make_test_pki();
  write_file(work_.path() / "ca.pem", other.ca_pem);
  CommandResult result = import_source(datasource);
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("TLS handshake"), std::string::npos) << result.out;
  EXPECT_TRUE(server_.targets().empty());
  EXPECT_FALSE(fs::exists(output() / "released"));
}

TEST_F(HttpsImport, AMissingObjectFailsTheImport) {
  CommandResult result = import_source(write_datasource({"attendances.csv", "missing.csv"}));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("HTTP 404"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(output() / "released"));
}

TEST_F(HttpsImport, ADatabricksConnectionFailsWithAClearMessage) {
  Json resource = Json::parse(read_file(write_datasource({"attendances.csv"})));
  resource["spec"]["connections"][0]["type"] = "databricks";
  write_file(work_.path() / "import" / "datasource.json", resource.dump());
  CommandResult result = import_source(work_.path() / "import" / "datasource.json");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.out.find("databricks imports are not implemented"), std::string::npos) << result.out;
  EXPECT_TRUE(server_.targets().empty());
}

TEST_F(HttpsImport, TheReportGoesToTheGatewayAndAnUnreachableGatewayOnlyWarns) {
  fs::path datasource = write_datasource({"attendances.csv"});
  std::uint16_t closed_port = free_port();
  CommandResult result = import_source(datasource, {"--gateway", "http://127.0.0.1:" + std::to_string(closed_port)});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.err.find("warning: reporting to the gateway failed"), std::string::npos) << result.err;

  std::string received;
  TlsTestServer gateway(pki_, [&](const TestRequest& request) {
    if (request.target() == "/api/v1/imports" && request.method() == http::verb::post &&
        request[http::field::authorization] == "Bearer gateway-token") {
      received = request.body();
      return TestResponse{202, "application/json", {}, "{}"};
    }
    return TestResponse{401, "application/json", {}, "{}"};
  });
  write_file(work_.path() / "token", "gateway-token\n");
  result = import_source(datasource, {"--gateway", gateway.url(""), "--token-file", (work_.path() / "token").string()});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err.find("warning"), std::string::npos) << result.err;
  Json report = Json::parse(received);
  EXPECT_EQ(report["outcome"], "approved");
  EXPECT_EQ(report["channel"], "import");
  EXPECT_EQ(report["datasource"]["namespace"], "jupyterhub");
  EXPECT_EQ(report["files"][0]["name"], "attendances.csv");
}

}  // namespace
}  // namespace airlock::import_test
