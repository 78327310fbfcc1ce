// The audit chain: the documented hash, append-only triggers, and tampering found at the first broken link.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "airlock/gateway/store.h"
#include "store_test_support.h"

namespace airlock::gateway {
namespace {

using S = TransferState;
using store_test::open_store;
using store_test::to;
using store_test::upload_request;

constexpr UnixMillis kNow = 1'780'000'000'000;

// docs/audit.md's definition, written again here from the documentation.
std::string documented_hash(const AuditEvent& event) {
  auto netstring = [](const std::string& field) { return std::to_string(field.size()) + ":" + field + ","; };
  std::string message = event.previous_hash + netstring(std::to_string(event.sequence)) +
                        netstring(std::to_string(event.at)) + netstring(event.transfer_id) + netstring(event.actor) +
                        netstring(event.action) + netstring(event.from_state) + netstring(event.to_state) +
                        netstring(event.detail_json);
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(message.data(), message.size(), digest, &length, EVP_sha256(), nullptr);
  char hex[65];
  for (int i = 0; i < 32; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return std::string(hex, 64);
}

// A database file with a few transfers' worth of events: 1 created + 4 state changes + 1 comment (6 events).
std::string make_log(const store_test::TempDir& dir) {
  std::string path = dir.file("airlock.db");
  auto store = open_store(path);
  Transfer transfer = store->create(upload_request(), kNow).value();
  UnixMillis now = kNow;
  for (S step : {S::kReceiving, S::kInspecting, S::kDecided, S::kApproved}) {
    EXPECT_TRUE(store->transition(transfer.id, to(step), ++now));
  }
  EXPECT_TRUE(store->append_event(transfer.id, "carol", "comment", R"({"text": "looks fine"})", ++now));
  return path;
}

// Runs raw SQL against the file, as someone with write access to the disk could.
void tamper(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

constexpr const char* kDropTriggers =
    "DROP TRIGGER audit_events_append_only_update; DROP TRIGGER audit_events_append_only_delete; ";

AuditVerification verify(const std::string& path) {
  Result<AuditVerification> verification = verify_audit_file(path);
  EXPECT_TRUE(verification) << verification.message();
  return verification ? *verification : AuditVerification{};
}

TEST(AuditChain, EveryHashFollowsTheDocumentedDefinition) {
  store_test::TempDir dir;
  auto store = open_store(make_log(dir));
  std::vector<AuditEvent> events = store->audit_events("").value();
  ASSERT_EQ(events.size(), 6u);
  std::string previous(kGenesisHash);
  for (const AuditEvent& event : events) {
    EXPECT_EQ(event.previous_hash, previous);
    EXPECT_EQ(event.hash, documented_hash(event)) << "event " << event.sequence;
    EXPECT_EQ(audit_event_hash(event), event.hash);
    previous = event.hash;
  }
}

TEST(AuditChain, AnIntactLogVerifies) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  AuditVerification verification = verify(path);
  EXPECT_TRUE(verification.intact) << verification.problem;
  EXPECT_EQ(verification.events, 6);
  EXPECT_EQ(verification.first_broken, 0);
}

TEST(AuditChain, TriggersRefuseUpdatesAndDeletes) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2", nullptr, nullptr, &error),
            SQLITE_OK);
  EXPECT_NE(std::string(error != nullptr ? error : "").find("append-only"), std::string::npos);
  sqlite3_free(error);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_events WHERE sequence = 6", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE(verify(path).intact);
}

TEST(AuditChain, AChangedDetailBreaksItsOwnEvent) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  tamper(path, std::string(kDropTriggers) +
                   "UPDATE audit_events SET detail_json = '{\"text\":\"approved by me\"}' WHERE sequence = 6");
  AuditVerification verification = verify(path);
  EXPECT_FALSE(verification.intact);
  EXPECT_EQ(verification.first_broken, 6);
  EXPECT_EQ(verification.problem, "event 6: hash does not match its contents");
  EXPECT_EQ(verification.events, 5);
}

TEST(AuditChain, AChangedEventWithARecomputedHashBreaksTheNextLink) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  AuditEvent forged;
  {
    auto store = open_store(path);
    forged = store->audit_events("").value()[2];
  }
  forged.actor = "mallory";
  forged.hash = audit_event_hash(forged);
  tamper(path, std::string(kDropTriggers) + "UPDATE audit_events SET actor = 'mallory', hash = '" + forged.hash +
                   "' WHERE sequence = 3");
  AuditVerification verification = verify(path);
  EXPECT_FALSE(verification.intact);
  EXPECT_EQ(verification.first_broken, 4);
  EXPECT_NE(verification.problem.find("previous_hash"), std::string::npos) << verification.problem;
}

TEST(AuditChain, ADeletedEventIsAGap) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  tamper(path, std::string(kDropTriggers) + "DELETE FROM audit_events WHERE sequence = 3");
  AuditVerification verification = verify(path);
  EXPECT_FALSE(verification.intact);
  EXPECT_EQ(verification.first_broken, 3);
  EXPECT_EQ(verification.problem, "event 3: missing (the next stored event is 4)");
}

TEST(AuditChain, SwappedEventsBreakAtTheFirstOfThem) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  // Exchange everything but the sequence numbers of events 2 and 3.
  tamper(path, std::string(kDropTriggers) +
                   "CREATE TEMP TABLE saved AS SELECT * FROM audit_events WHERE sequence IN (2, 3);"
                   "UPDATE audit_events SET (at, actor, action, from_state, to_state, detail_json, previous_hash, "
                   "hash) = (SELECT at, actor, action, from_state, to_state, detail_json, previous_hash, hash FROM "
                   "saved WHERE saved.sequence = 5 - audit_events.sequence) WHERE sequence IN (2, 3);");
  AuditVerification verification = verify(path);
  EXPECT_FALSE(verification.intact);
  EXPECT_EQ(verification.first_broken, 2);
  EXPECT_EQ(verification.events, 1);
}

TEST(AuditChain, ADeletedTailDisagreesWithTheHead) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  tamper(path, std::string(kDropTriggers) + "DELETE FROM audit_events WHERE sequence >= 5");
  AuditVerification verification = verify(path);
  EXPECT_FALSE(verification.intact);
  EXPECT_EQ(verification.first_broken, 5);
  EXPECT_NE(verification.problem.find("deleted from the end"), std::string::npos) << verification.problem;
}

TEST(AuditChain, VerifiesThroughAnOpenStoreToo) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  auto store = open_store(path);
  EXPECT_TRUE(store->verify_audit()->intact);
  tamper(path, std::string(kDropTriggers) + "UPDATE audit_events SET at = at + 1 WHERE sequence = 1");
  Result<AuditVerification> verification = store->verify_audit();
  ASSERT_TRUE(verification);
  EXPECT_FALSE(verification->intact);
  EXPECT_EQ(verification->first_broken, 1);
}

TEST(AuditChain, VerifyingAFileNeitherCreatesNorChangesIt) {
  store_test::TempDir dir;
  Result<AuditVerification> missing = verify_audit_file(dir.file("absent.db"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.message().starts_with("storage:")) << missing.message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("absent.db")));

  tamper(dir.file("other.db"), "CREATE TABLE t (x INTEGER)");
  Result<AuditVerification> other = verify_audit_file(dir.file("other.db"));
  ASSERT_FALSE(other);
  EXPECT_TRUE(other.message().starts_with("invalid:")) << other.message();
}

TEST(AuditChain, ReadsOneTransfersEventsFromAFile) {
  store_test::TempDir dir;
  std::string path = make_log(dir);
  std::vector<AuditEvent> all = read_audit_file(path).value();
  ASSERT_EQ(all.size(), 6u);
  std::vector<AuditEvent> one = read_audit_file(path, all[0].transfer_id).value();
  EXPECT_EQ(one.size(), 6u);
  EXPECT_TRUE(read_audit_file(path, "ffffffffffffffffffffffffffffffff")->empty());
}

}  // namespace
}  // namespace airlock::gateway
