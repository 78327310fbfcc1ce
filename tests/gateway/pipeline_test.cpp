#include "airlock/gateway/inspect/pipeline.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"
#include "inspect_test_support.h"

namespace airlock::gateway::inspect {
namespace {

using testing::ClamdProcess;
using testing::TempDir;

const std::string kData = std::string(AIRLOCK_SOURCE_DIR) + "/tests/data/inspect/";

std::shared_ptr<const runtime::Program> standard_policies() {
  std::vector<std::string> paths = {std::string(AIRLOCK_SOURCE_DIR) + "/policies"};
  auto files = compiler::load_policy_files(paths);
  EXPECT_TRUE(files.is_ok()) << (files.is_ok() ? "" : files.message());
  if (!files.is_ok()) return nullptr;
  auto compiled = compiler::compile_policy_set(*files);
  EXPECT_TRUE(compiled.ok());
  return compiled.program;
}

runtime::Facts upload_facts() {
  runtime::Facts facts;
  EXPECT_TRUE(facts.set("transfer.channel", runtime::Value::string("upload")).is_ok());
  EXPECT_TRUE(facts.set("transfer.direction", runtime::Value::string("ingress")).is_ok());
  EXPECT_TRUE(facts.set("transfer.workspace", runtime::Value::string("ws-diabetes-audit")).is_ok());
  return facts;
}

struct Judged {
  InspectionReport report;
  runtime::Decision decision;
  std::vector<std::string> rules;
};

Judged judge(const std::string& path, InspectionOptions options) {
  auto program = standard_policies();
  runtime::Status status;
  auto pipeline = testing::inspect_file(path, std::move(options), 64 << 10, &status);
  EXPECT_TRUE(status.is_ok()) << status.message();
  auto facts = upload_facts();
  pipeline.fill(facts);
  Judged judged{pipeline.report(), runtime::evaluate(*program, facts), {}};
  for (const auto& rule : judged.decision.rules) judged.rules.push_back(rule.policy + "." + rule.rule);
  return judged;
}

bool has(const std::vector<std::string>& rules, const std::string& rule) {
  return std::find(rules.begin(), rules.end(), rule) != rules.end();
}

InspectionOptions declared(const std::string& name, const std::string& type = "") {
  InspectionOptions options;
  options.declared.name = name;
  options.declared.type = type;
  return options;
}

TEST(InspectionPipeline, ApprovesASmallCleanCsv) {
  auto judged = judge(kData + "hba1c_by_practice.csv", declared("hba1c_by_practice.csv", "text/csv"));
  EXPECT_EQ(judged.report.type, "text/csv");
  EXPECT_TRUE(judged.report.text);
  EXPECT_TRUE(judged.report.table.is_table);
  EXPECT_EQ(judged.report.table.rows, 6);
  EXPECT_EQ(judged.report.table.columns, 6);
  EXPECT_EQ(judged.report.table.min_count, 140);
  EXPECT_EQ(judged.report.identifiers, IdentifierCounts{});
  EXPECT_EQ(judged.report.scan.result, "skipped");
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kApprove) << judged.decision.to_json(true);
  EXPECT_EQ(judged.rules, (std::vector<std::string>{"ingress.low_risk_file"}));
}

TEST(InspectionPipeline, EscalatesACsvWithNhsNumbersToInformationGovernance) {
  auto judged = judge(kData + "cohort_with_nhs_numbers.csv", declared("cohort.csv", "text/csv"));
  EXPECT_EQ(judged.report.identifiers.nhs_numbers, 6);
  EXPECT_EQ(judged.report.table.identifier_columns, (std::vector<std::string>{"nhs_number"}));
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kEscalate);
  EXPECT_TRUE(has(judged.rules, "ingress.nhs_numbers"));
  EXPECT_EQ(judged.decision.reviewers.roles, (std::vector<std::string>{"data-approver", "information-governance"}));
  EXPECT_EQ(judged.decision.reviewers.approvals, 2u);
}

TEST(InspectionPipeline, DeniesAnElfExecutable) {
  TempDir dir;
  const auto path = dir.file("run_model");
  std::filesystem::copy_file("/bin/true", path);
  auto judged = judge(path, declared("run_model", "application/octet-stream"));
  EXPECT_TRUE(judged.report.type == "application/x-pie-executable" ||
              judged.report.type == "application/x-executable" || judged.report.type == "application/x-sharedlib")
      << judged.report.type;
  EXPECT_FALSE(judged.report.text);
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kDeny);
  EXPECT_TRUE(has(judged.rules, "ingress.executable_type"));
}

TEST(InspectionPipeline, DeniesAZipBomb) {
  TempDir dir;
  const auto path = dir.file("results.zip");
  testing::write_archive(path, "zip", {{"results.csv", "a,b\n"}, {"padding.csv", "", 256u << 20}});
  auto judged = judge(path, declared("results.zip", "application/zip"));
  EXPECT_TRUE(judged.report.is_archive);
  EXPECT_EQ(judged.report.archive.entries, 2);
  EXPECT_GT(judged.report.archive.compression_ratio, 100.0);
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kDeny);
  EXPECT_TRUE(has(judged.rules, "archives.compression_bomb")) << judged.decision.to_json(true);
}

TEST(InspectionPipeline, DeniesAnEncryptedZipAndEscalatesANestedOne) {
  TempDir dir;
  const auto secret = dir.file("secret.zip");
  testing::write_archive(secret, "zip", {{"patients.csv", "a\n1\n"}}, "zip:encryption=zipcrypt", "pw");
  auto judged = judge(secret, declared("secret.zip"));
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kDeny);
  EXPECT_TRUE(has(judged.rules, "archives.encrypted_entries"));

  const auto outer = dir.file("outer.zip");
  testing::write_archive(outer, "zip", {{"inner.zip", testing::read_file(secret)}, {"notes.txt", "hello\n"}});
  auto nested = judge(outer, declared("outer.zip"));
  EXPECT_EQ(nested.report.archive.nested_archives, 1);
  EXPECT_EQ(nested.decision.outcome, runtime::Outcome::kEscalate);
  EXPECT_TRUE(has(nested.rules, "archives.nested_archive"));
}

TEST(InspectionPipeline, ApprovesATarGzOfTables) {
  TempDir dir;
  const auto path = dir.file("extract.tar.gz");
  testing::write_archive(path, "tar.gz", {{"counts.csv", "region,n\nNorth,12\n"}, {"README.md", "# counts\n"}});
  auto judged = judge(path, declared("extract.tar.gz", "application/gzip"));
  EXPECT_EQ(judged.report.type, "application/gzip");
  EXPECT_EQ(judged.report.archive.entry_names, (std::vector<std::string>{"counts.csv", "README.md"}));
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kApprove) << judged.decision.to_json(true);
}

TEST(InspectionPipeline, DeniesEicarScannedByARealClamd) {
  if (!ClamdProcess::installed()) GTEST_SKIP() << "clamd is not installed (Debian: clamav-daemon)";
  ClamdProcess clamd;
  ASSERT_TRUE(clamd.running()) << clamd.log();
  TempDir dir;
  const auto path = dir.file("eicar.txt");
  testing::write_file(path, testing::eicar());
  auto options = declared("eicar.txt", "text/plain");
  options.clamd.address = clamd.socket();
  auto judged = judge(path, options);
  EXPECT_EQ(judged.report.scan.result, "infected");
  EXPECT_TRUE(judged.report.scan.signature.starts_with(ClamdProcess::kSignature));
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kDeny);
  EXPECT_EQ(judged.rules, (std::vector<std::string>{"ingress.malware_found"}));

  const auto clean = dir.file("counts.csv");
  testing::write_file(clean, "region,n\nNorth,12\n");
  auto clean_options = declared("counts.csv", "text/csv");
  clean_options.clamd.address = clamd.socket();
  auto approved = judge(clean, clean_options);
  EXPECT_EQ(approved.report.scan.result, "clean");
  EXPECT_EQ(approved.decision.outcome, runtime::Outcome::kApprove) << approved.decision.to_json(true);
}

TEST(InspectionPipeline, EscalatesWhenTheScannerIsDown) {
  TempDir dir;
  const auto path = dir.file("counts.csv");
  testing::write_file(path, "region,n\nNorth,12\n");
  auto options = declared("counts.csv", "text/csv");
  options.clamd.address = dir.file("no-clamd.sock");
  auto judged = judge(path, options);
  EXPECT_EQ(judged.report.scan.result, "error");
  EXPECT_EQ(judged.decision.outcome, runtime::Outcome::kEscalate);
  EXPECT_TRUE(has(judged.rules, "ingress.scan_failed"));
}

TEST(InspectionPipeline, DeniesAHugeExecutableAfterItsFirstChunk) {
  auto program = standard_policies();
  const auto elf = testing::read_file("/bin/true");
  InspectionOptions options = declared("model_runner", "application/octet-stream");
  options.declared.size = 10ull << 30;  // claims 10 GiB
  InspectionPipeline pipeline(options);
  ASSERT_TRUE(pipeline.update(std::span<const char>(elf.data(), 4096)).is_ok());
  auto facts = upload_facts();
  pipeline.facts_so_far(facts);
  auto decision = runtime::evaluate(*program, facts);
  EXPECT_EQ(decision.outcome, runtime::Outcome::kDeny) << decision.to_json(true);
  EXPECT_EQ(decision.rules.front().rule, "executable_type");
  EXPECT_EQ(pipeline.bytes_received(), 4096u);
}

TEST(InspectionPipeline, DoesNotDenyACsvEarly) {
  auto program = standard_policies();
  const auto csv = testing::read_file(kData + "hba1c_by_practice.csv");
  InspectionPipeline pipeline(declared("hba1c_by_practice.csv", "text/csv"));
  ASSERT_TRUE(pipeline.update(std::span<const char>(csv.data(), 100)).is_ok());
  auto facts = upload_facts();
  pipeline.facts_so_far(facts);
  EXPECT_NE(runtime::evaluate(*program, facts).outcome, runtime::Outcome::kDeny);
}

TEST(InspectionPipeline, GivesTheSameFactsWhateverTheChunkSize) {
  const auto path = kData + "cohort_with_nhs_numbers.csv";
  auto reference = testing::inspect_file(path, declared("cohort.csv"), 1 << 20);
  for (std::size_t chunk : {1, 3, 17, 100}) {
    auto pipeline = testing::inspect_file(path, declared("cohort.csv"), chunk);
    EXPECT_EQ(pipeline.report().sha256, reference.report().sha256);
    EXPECT_EQ(pipeline.report().identifiers, reference.report().identifiers) << chunk;
    EXPECT_EQ(pipeline.report().table.rows, reference.report().table.rows);
    EXPECT_EQ(pipeline.report().type, reference.report().type);
  }
}

TEST(InspectionPipeline, HashesAndMeasuresTheContent) {
  TempDir dir;
  const auto path = dir.file("abc.txt");
  testing::write_file(path, "abc");
  auto pipeline = testing::inspect_file(path, declared("Notes.TXT"));
  runtime::Facts facts;
  pipeline.fill(facts);
  EXPECT_EQ(facts.to_json(),
            R"({"file":{"name":"Notes.TXT","extension":"txt","size":3,)"
            R"("sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","type":"text/plain"},)"
            R"("archive":{"is_archive":false},"scan":{"result":"skipped"},"content":{"text":true,"nhs_numbers":0,)"
            R"("postcodes":0,"emails":0,"phone_numbers":0,"dates_of_birth":0},"table":{"is_table":false}})");
}

TEST(InspectionPipeline, RefusesMoreBytesThanDeclared) {
  InspectionOptions options = declared("a.txt");
  options.declared.size = 4;
  InspectionPipeline pipeline(options);
  EXPECT_TRUE(pipeline.update(std::span<const char>("abc", 3)).is_ok());
  auto status = pipeline.update(std::span<const char>("de", 2));
  EXPECT_FALSE(status.is_ok());
  EXPECT_EQ(status.message(), "inspection: more than the declared 4 bytes");
}

TEST(InspectionPipeline, ReportsAnArchiveItCannotRead) {
  TempDir dir;
  const auto path = dir.file("cut.zip");
  std::string noise;
  for (int i = 0; i < 200000; ++i) noise.push_back(static_cast<char>('a' + (i * 7919 % 26)));
  testing::write_archive(path, "zip", {{"a.csv", noise}});
  auto content = testing::read_file(path);
  testing::write_file(path, content.substr(0, content.size() / 2));  // cut in the middle of the data
  runtime::Status status;
  auto pipeline = testing::inspect_file(path, declared("cut.zip"), 64 << 10, &status);
  EXPECT_TRUE(pipeline.report().is_archive);
  EXPECT_FALSE(status.is_ok());
}

TEST(FileExtension, IsLowerCaseWithoutTheDot) {
  EXPECT_EQ(file_extension("Cohort.CSV"), "csv");
  EXPECT_EQ(file_extension("a/b/archive.tar.gz"), "gz");
  EXPECT_EQ(file_extension("README"), "");
  EXPECT_EQ(file_extension(".bashrc"), "");
}

}  // namespace
}  // namespace airlock::gateway::inspect
