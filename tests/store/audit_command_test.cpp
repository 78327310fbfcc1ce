// `airlock audit` through the built binary (build the `airlock` target before running store_tests).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../cli/cli_runner.h"
#include "airlock/gateway/store.h"
#include "store_test_support.h"

namespace airlock::gateway {
namespace {

using cli_test::run_airlock;
using cli_test::RunResult;
using S = TransferState;

constexpr UnixMillis kNow = 1'780'000'000'000;

class AuditCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(cli_test::binary_path())) {
      GTEST_SKIP() << "build the airlock target first: " << cli_test::binary_path();
    }
    auto store = store_test::open_store(dir_.file("airlock.db"));
    Transfer transfer = store->create(store_test::upload_request(), kNow).value();
    id_ = transfer.id;
    for (S step : {S::kReceiving, S::kInspecting}) ASSERT_TRUE(store->transition(id_, store_test::to(step), kNow));
    Transfer other = store->create(store_test::upload_request("bob"), kNow).value();
    (void)other;
  }

  void tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.file("airlock.db").c_str(), &db), SQLITE_OK);
    std::string script =
        "DROP TRIGGER audit_events_append_only_update; DROP TRIGGER audit_events_append_only_delete; " + sql;
    ASSERT_EQ(sqlite3_exec(db, script.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  store_test::TempDir dir_;
  std::string id_;
};

TEST_F(AuditCommand, VerifyReportsAnIntactLog) {
  RunResult result = run_airlock({"audit", "verify", "--data", dir_.path()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "audit log intact: 4 events\n");
  RunResult by_file = run_airlock({"audit", "verify", "--db", dir_.file("airlock.db")});
  EXPECT_EQ(by_file.exit_code, 0) << by_file.err;
  EXPECT_EQ(by_file.out, "audit log intact: 4 events\n");
}

TEST_F(AuditCommand, VerifyReportsTheFirstBrokenEvent) {
  tamper("UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2");
  RunResult result = run_airlock({"audit", "verify", "--data", dir_.path()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "audit log broken at event 2: hash does not match its contents\n");
}

TEST_F(AuditCommand, VerifyReportsADeletedEvent) {
  tamper("DELETE FROM audit_events WHERE sequence = 3");
  RunResult result = run_airlock({"audit", "verify", "--data", dir_.path()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "audit log broken at event 3: missing (the next stored event is 4)\n");
}

TEST_F(AuditCommand, ListPrintsEventsAsJsonLinesThatRecomputeToTheirHashes) {
  RunResult result = run_airlock({"audit", "list", "--data", dir_.path()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = cli_test::lines_of(result.out);
  ASSERT_EQ(lines.size(), 4u);
  std::string previous(kGenesisHash);
  for (const std::string& line : lines) {
    nlohmann::json json = nlohmann::json::parse(line);
    AuditEvent event;
    event.sequence = json["sequence"];
    event.at = json["at"];
    event.transfer_id = json["transfer_id"];
    event.actor = json["actor"];
    event.action = json["action"];
    event.from_state = json["from_state"];
    event.to_state = json["to_state"];
    event.detail_json = json["detail_json"];
    event.previous_hash = json["previous_hash"];
    EXPECT_EQ(event.previous_hash, previous);
    EXPECT_EQ(audit_event_hash(event), json["hash"]);
    previous = json["hash"];
  }
  RunResult one = run_airlock({"audit", "list", "--data", dir_.path(), "--transfer", id_});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(cli_test::lines_of(one.out).size(), 3u);
}

TEST_F(AuditCommand, ExplainsItsUsage) {
  RunResult help = run_airlock({"audit", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("airlock audit verify|list"), std::string::npos) << help.out;
  RunResult overview = run_airlock({"--help"});
  EXPECT_NE(overview.out.find("audit"), std::string::npos);

  RunResult no_source = run_airlock({"audit", "verify"});
  EXPECT_EQ(no_source.exit_code, 2);
  EXPECT_NE(no_source.err.find("--data DIR or --db FILE"), std::string::npos) << no_source.err;
  RunResult typo = run_airlock({"audit", "verfy", "--data", dir_.path()});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("did you mean `verify`"), std::string::npos) << typo.err;
  RunResult missing = run_airlock({"audit", "verify", "--data", dir_.file("nowhere")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("error: storage: cannot open database"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("nowhere")));
}

}  // namespace
}  // namespace airlock::gateway
