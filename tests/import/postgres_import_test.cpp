// `airlock import` of PostgreSQL tables from a real server started here (Debian's postgresql package).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "airlock/gateway/import/sources.h"
#include "import_test_support.h"

namespace airlock::import_test {
namespace {

using Json = nlohmann::json;

class PostgresImport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::path bin = postgres_bin_dir();
    if (bin.empty()) return;
    server_ = new PostgresServer(bin);
    start_error_ = new std::string(server_->start());
    if (!start_error_->empty()) return;
    CommandResult created = server_->psql("postgres", "CREATE DATABASE gold;");
    if (created.exit_code != 0) {
      *start_error_ = "CREATE DATABASE failed: " + created.out + created.err;
      return;
    }
    std::string sql =
        "CREATE TABLE attendances (site text, month text, attendances integer);\n"
        "INSERT INTO attendances VALUES ('North', '2024-01', 120), ('South', '2024-01', 98), "
        "('East \"Central\"', '2024-01', 143);\n"
        "CREATE SCHEMA reporting;\n"
        "CREATE TABLE reporting.\"Practice Counts\" (practice text, patients integer);\n"
        "INSERT INTO reporting.\"Practice Counts\" VALUES ('P1', 1200), ('P2', 860);\n"
        "CREATE TABLE demographics (nhs_number text, age_band text);\n"
        "INSERT INTO demographics VALUES ('9434765919', '40-49'), ('943 476 5919', '50-59');\n";
    CommandResult loaded = server_->psql("gold", sql);
    if (loaded.exit_code != 0) *start_error_ = "loading the tables failed: " + loaded.out + loaded.err;
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)";
    ASSERT_TRUE(start_error_->empty()) << *start_error_;
    ASSERT_TRUE(fs::exists(AIRLOCK_BINARY)) << "build the airlock target first";
    ASSERT_TRUE(write_test_policies(work_.path() / "policies"));
    write_file(work_.path() / "secret" / "PgUser", std::string(PostgresServer::kUser) + "\n");
    write_file(work_.path() / "secret" / "PgPassword", std::string(PostgresServer::kPassword) + "\n");
  }

  std::string url(const std::string& query = "") const {
    return "postgresql://localhost:" + std::to_string(server_->port()) + "/gold" + query;
  }

  fs::path write_datasource(const Json& tables, const std::string& url) {
    Json objects = Json::array();
    for (Json table : tables) {
      table["connection"] = "gold";
      objects.push_back({{"table", table}});
    }
    Json resource = {
        {"apiVersion", "xlscsde.nhs.uk/v1"},
        {"kind", "AnalyticsWorkspaceDataSource"},
        {"metadata", {{"name", "gm-gold"}, {"namespace", "jupyterhub"}}},
        {"spec",
         {{"type", "Import"},
          {"publisher", {{"organisation", "NW SDE Data Engineering"}}},
          {"project", {{"id", "d4e6"}}},
          {"displayName", "GM gold tables"},
          {"license", "NW SDE data sharing agreement 2025-17"},
          {"connections", Json::array({{{"type", "postgresql"},
                                        {"name", "gold"},
                                        {"url", url},
                                        {"credentials", {{"userKey", "PgUser"}, {"passwordKey", "PgPassword"}}}}})},
          {"objects", objects}}}};
    // YAML, as a data engineer writes it (JSON is YAML).
    fs::path path = work_.path() / "datasource.yaml";
    write_file(path, resource.dump(2));
    return path;
  }

  CommandResult import_source(const fs::path& datasource) {
    return run_command({AIRLOCK_BINARY, "import", "--datasource", datasource.string(), "--credentials",
                        (work_.path() / "secret").string(), "--output", output().string(), "--policies",
                        (work_.path() / "policies").string(), "--json"},
                       work_.path());
  }

  fs::path output() const { return work_.path() / "data"; }

  static PostgresServer* server_;
  static std::string* start_error_;
  TempDir work_;
};

PostgresServer* PostgresImport::server_ = nullptr;
std::string* PostgresImport::start_error_ = nullptr;

TEST_F(PostgresImport, TablesAreCopiedAsCsvJudgedAndReleased) {
  CommandResult result = import_source(write_datasource(
      Json::array({{{"name", "attendances"}}, {{"name", "Practice Counts"}, {"schema", "reporting"}}}), url()));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err << server_->log();
  EXPECT_EQ(files_under(output() / "released"),
            (std::vector<std::string>{"attendances.csv", "reporting.Practice Counts.csv", "ro-crate-metadata.json"}));
  EXPECT_EQ(read_file(output() / "released" / "attendances.csv"),
            "site,month,attendances\nNorth,2024-01,120\nSouth,2024-01,98\n\"East \"\"Central\"\"\",2024-01,143\n");
  EXPECT_EQ(read_file(output() / "released" / "reporting.Practice Counts.csv"), "practice,patients\nP1,1200\nP2,860\n");
  Json report = Json::parse(result.out);
  EXPECT_EQ(report["outcome"], "approved");
  ASSERT_EQ(report["files"].size(), 2u);
  EXPECT_EQ(report["files"][0]["type"], "text/csv");
  EXPECT_EQ(report["files"][0]["source_url"], url());
  Json crate = Json::parse(read_file(output() / "released" / "ro-crate-metadata.json"));
  int files = 0;
  for (const Json& entity : crate["@graph"]) files += entity["@type"] == "File";
  EXPECT_EQ(files, 2);
}

TEST_F(PostgresImport, NhsNumbersEscalateAndTheImportIsKeptForReviewNotReleased) {
  CommandResult result =
      import_source(write_datasource(Json::array({{{"name", "attendances"}}, {{"name", "demographics"}}}), url()));
  ASSERT_EQ(result.exit_code, 3) << result.out << result.err;
  Json report = Json::parse(result.out);
  EXPECT_EQ(report["outcome"], "escalated");
  EXPECT_EQ(report["decision"]["outcome"], "escalate");
  EXPECT_EQ(report["decision"]["reviewers"]["roles"], Json::array({"data-approver", "information-governance"}))
      << report["decision"].dump();
  EXPECT_EQ(report["files"][1]["outcome"], "escalate");
  EXPECT_EQ(report["files"][0]["outcome"], "approve");
  EXPECT_FALSE(fs::exists(output() / "released"));
  std::string run_id = report["run_id"];
  EXPECT_EQ(report["location"], (output() / "quarantine" / run_id).string());
  EXPECT_EQ(files_under(output() / "quarantine" / run_id),
            (std::vector<std::string>{"attendances.csv", "demographics.csv", "ro-crate-metadata.json"}));
  EXPECT_TRUE(files_under(output() / ".airlock-staging").empty());
}

TEST_F(PostgresImport, AConnectionThatAllowsPlainTextIsDeniedAndNothingIsReleased) {
  CommandResult result =
      import_source(write_datasource(Json::array({{{"name", "attendances"}}}), url("?sslmode=disable")));
  EXPECT_EQ(result.exit_code, 4) << result.out << result.err;
  Json report = Json::parse(result.out);
  bool rule_found = false;
  for (const Json& rule : report["decision"]["rules"]) rule_found |= rule["rule"] == "postgresql_without_tls";
  EXPECT_TRUE(rule_found) << report["decision"].dump();
  EXPECT_TRUE(files_under(output()).empty()) << testing::PrintToString(files_under(output()));
}

TEST_F(PostgresImport, AQueryThatFailsHalfwayFailsTheImportAndLeavesNothing) {
  Json tables = Json::array(
      {{{"name", "attendances"}},
       {{"name", "series"}, {"query", "SELECT i, 100000 / (i - 60000) AS q FROM generate_series(1, 100000) AS i"}}});
  CommandResult result = import_source(write_datasource(tables, url()));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("division by zero"), std::string::npos) << result.out;
  EXPECT_TRUE(files_under(output()).empty()) << testing::PrintToString(files_under(output()));
}

TEST_F(PostgresImport, AWrongPasswordFailsTheImport) {
  write_file(work_.path() / "secret" / "PgPassword", "not-the-password\n");
  CommandResult result = import_source(write_datasource(Json::array({{{"name", "attendances"}}}), url()));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("password authentication failed"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("failed"), std::string::npos);
  EXPECT_EQ(result.out.find("not-the-password"), std::string::npos) << "the password leaked: " << result.out;
}

TEST_F(PostgresImport, AQueryCannotWriteBecauseTheTransactionIsReadOnly) {
  Json tables = Json::array(
      {{{"name", "sneaky"}, {"query", "WITH gone AS (DELETE FROM attendances RETURNING *) SELECT * FROM gone"}}});
  CommandResult result = import_source(write_datasource(tables, url()));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  CommandResult count = server_->psql("gold",
                                      "DO $$ BEGIN IF (SELECT count(*) FROM attendances) <> 3 THEN "
                                      "RAISE EXCEPTION 'rows were deleted'; END IF; END $$;");
  EXPECT_EQ(count.exit_code, 0) << count.err;
}

TEST(PostgresCopySql, IdentifiersAreQuotedAndSchemaTableIsSplit) {
  auto plain = gateway::import::postgres_copy_sql({"attendances", "", ""});
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, "COPY (SELECT * FROM \"attendances\") TO STDOUT WITH (FORMAT csv, HEADER)");
  auto dotted = gateway::import::postgres_copy_sql({"reporting.Practice Counts", "", ""});
  ASSERT_TRUE(dotted);
  EXPECT_EQ(*dotted, "COPY (SELECT * FROM \"reporting\".\"Practice Counts\") TO STDOUT WITH (FORMAT csv, HEADER)");
  auto hostile = gateway::import::postgres_copy_sql({"x\"; DROP TABLE t; --", "s", ""});
  ASSERT_TRUE(hostile);
  EXPECT_EQ(*hostile, "COPY (SELECT * FROM \"s\".\"x\"\"; DROP TABLE t; --\") TO STDOUT WITH (FORMAT csv, HEADER)");
}

}  // namespace
}  // namespace airlock::import_test
