#include "airlock/gateway/inspect/archive.h"

#include <gtest/gtest.h>

#include "inspect_test_support.h"

namespace airlock::gateway::inspect {
namespace {

using testing::ArchiveFile;
using testing::TempDir;
using testing::write_archive;

TEST(ArchiveInspector, ListsAZip) {
  TempDir dir;
  const auto path = dir.file("cohort.zip");
  write_archive(path, "zip", {{"cohort/"}, {"cohort/patients.csv", "a,b\n1,2\n"}, {"cohort/README.md", "# read me\n"}});
  auto report = inspect_archive(path, "");
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.entries, 3);
  EXPECT_EQ(report.entry_names, (std::vector<std::string>{"cohort/", "cohort/patients.csv", "cohort/README.md"}));
  EXPECT_EQ(report.uncompressed_size, 18u);
  EXPECT_EQ(report.nested_archives, 0);
  EXPECT_FALSE(report.encrypted);
  EXPECT_FALSE(report.capped);
}

TEST(ArchiveInspector, ListsAGzippedTar) {
  TempDir dir;
  const auto path = dir.file("extract.tar.gz");
  write_archive(path, "tar.gz", {{"data/", ""}, {"data/a.parquet", std::string(5000, 'a')}, {"data/b.csv", "x\n1\n"}});
  auto report = inspect_archive(path, "extract.tar");
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.entry_names, (std::vector<std::string>{"data/", "data/a.parquet", "data/b.csv"}));
  EXPECT_EQ(report.uncompressed_size, 5004u);
  EXPECT_GT(report.compression_ratio, 1.0);
}

TEST(ArchiveInspector, MeasuresAZipBombWithoutExpandingIt) {
  TempDir dir;
  const auto path = dir.file("bomb.zip");
  write_archive(path, "zip", {{"zeros.bin", "", 1ull << 30}});
  const auto compressed = std::filesystem::file_size(path);
  ASSERT_LT(compressed, 4u << 20);
  ArchiveLimits limits;
  limits.max_ratio = 200.0;  // stops after ~200x the archive's size rather than the whole GiB
  auto report = inspect_archive(path, "", limits);
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_TRUE(report.capped);
  EXPECT_GT(report.compression_ratio, 200.0);
  EXPECT_LT(report.uncompressed_size, 1ull << 30);
  EXPECT_EQ(report.entries, 1);
}

TEST(ArchiveInspector, StopsAtTheUncompressedSizeCap) {
  TempDir dir;
  const auto path = dir.file("big.tar.gz");
  write_archive(path, "tar.gz", {{"a.bin", "", 8u << 20}, {"b.bin", "", 8u << 20}});
  ArchiveLimits limits;
  limits.max_uncompressed_bytes = 10u << 20;
  limits.max_ratio = 1e9;
  auto report = inspect_archive(path, "", limits);
  EXPECT_TRUE(report.capped);
  EXPECT_GT(report.uncompressed_size, 10u << 20);
  EXPECT_LT(report.uncompressed_size, 16u << 20);
}

TEST(ArchiveInspector, CountsNestedArchivesByNameAndByContent) {
  TempDir dir;
  const auto inner = dir.file("inner.zip");
  write_archive(inner, "zip", {{"a.csv", "a\n1\n"}});
  const auto path = dir.file("outer.zip");
  write_archive(
      path, "zip",
      {{"inner.zip", testing::read_file(inner)}, {"renamed.dat", testing::read_file(inner)}, {"b.csv", "b\n"}});
  auto report = inspect_archive(path, "");
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.entries, 3);
  EXPECT_EQ(report.nested_archives, 2);
}

TEST(ArchiveInspector, ReportsEncryptedEntries) {
  TempDir dir;
  const auto path = dir.file("secret.zip");
  write_archive(path, "zip", {{"patients.csv", "nhs_number\n9434765919\n"}}, "zip:encryption=zipcrypt", "secret");
  auto report = inspect_archive(path, "");
  EXPECT_TRUE(report.encrypted);
  EXPECT_EQ(report.entries, 1);
  EXPECT_EQ(report.entry_names, (std::vector<std::string>{"patients.csv"}));
}

TEST(ArchiveInspector, CapsTheListOfNames) {
  TempDir dir;
  const auto path = dir.file("many.tar");
  std::vector<ArchiveFile> files;
  for (int i = 0; i < 30; ++i) files.push_back({"f" + std::to_string(i) + ".txt", "x"});
  write_archive(path, "tar", files);
  ArchiveLimits limits;
  limits.max_entry_names = 10;
  auto report = inspect_archive(path, "", limits);
  EXPECT_EQ(report.entries, 30);
  EXPECT_EQ(report.entry_names.size(), 10u);
  EXPECT_TRUE(report.names_truncated);
}

TEST(ArchiveInspector, ReportsATruncatedArchiveAsAnError) {
  TempDir dir;
  const auto path = dir.file("cut.tar.gz");
  write_archive(path, "tar.gz", {{"a.txt", std::string(100000, 'q')}, {"b.txt", "b"}});
  auto content = testing::read_file(path);
  testing::write_file(path, content.substr(0, content.size() / 2));
  auto report = inspect_archive(path, "");
  EXPECT_FALSE(report.error.empty());
}

TEST(ArchiveInspector, NamesABareGzipAfterItsFile) {
  TempDir dir;
  const auto path = dir.file("counts.csv.gz");
  std::string plain = dir.file("counts.csv");
  testing::write_file(plain, "a,b\n1,2\n");
  ASSERT_EQ(std::system(("gzip -k " + plain).c_str()), 0);
  auto report = inspect_archive(path, "counts.csv");
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.entry_names, (std::vector<std::string>{"counts.csv"}));
  EXPECT_EQ(report.uncompressed_size, 8u);
}

TEST(ArchiveNames, RecogniseArchivesByExtensionAndMagic) {
  EXPECT_TRUE(has_archive_extension("x/Data.TAR.GZ"));
  EXPECT_TRUE(has_archive_extension("a.7z"));
  EXPECT_FALSE(has_archive_extension("a.csv"));
  EXPECT_TRUE(starts_like_archive(std::string_view("PK\x03\x04rest", 8)));
  EXPECT_TRUE(starts_like_archive(std::string_view("\x1f\x8b\x08", 3)));
  EXPECT_FALSE(starts_like_archive("a,b\n1,2\n"));
}

}  // namespace
}  // namespace airlock::gateway::inspect
