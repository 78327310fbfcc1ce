#include "airlock/gateway/inspect/table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vector_paths.h"

namespace airlock::gateway::inspect {
namespace {

TableStats parse(const std::string& text, char delimiter = ',', std::size_t chunk = 0, TableLimits limits = {},
                 VectorInstructions instructions = VectorInstructions::kBest) {
  TableInspector table(delimiter, limits, instructions);
  if (chunk == 0) chunk = text.size() + 1;
  for (std::size_t i = 0; i < text.size(); i += chunk) {
    table.update(std::span<const char>(text.data() + i, std::min(chunk, text.size() - i)));
  }
  table.finish();
  return table.stats();
}

TEST(TableInspector, CountsRowsColumnsAndHeaderNames) {
  auto stats = parse("practice,year,patients\nP81001,2023,1543\nP81002,2023,87\n");
  EXPECT_TRUE(stats.is_table);
  EXPECT_EQ(stats.rows, 2);
  EXPECT_EQ(stats.columns, 3);
  EXPECT_EQ(stats.column_names, (std::vector<std::string>{"practice", "year", "patients"}));
  EXPECT_TRUE(stats.identifier_columns.empty());
}

TEST(TableInspector, ParsesQuotesDoubledQuotesCrlfAndNewlinesInQuotes) {
  const std::string text = "name,\"note, with comma\"\r\n\"Smith, J\",\"said \"\"hi\"\"\nthen left\"\r\n\"x\",y\r\n";
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    auto stats = parse(text, ',', chunk);
    ASSERT_TRUE(stats.is_table) << stats.problem;
    EXPECT_EQ(stats.rows, 2) << "chunk " << chunk;
    EXPECT_EQ(stats.column_names, (std::vector<std::string>{"name", "note, with comma"}));
  }
}

TEST(TableInspector, ReadsTabSeparatedValues) {
  auto stats = parse("region\tcount\nNorth\t12\nSouth\t0\n", '\t');
  EXPECT_TRUE(stats.is_table);
  EXPECT_EQ(stats.columns, 2);
  EXPECT_EQ(stats.min_count, 12);
  EXPECT_EQ(stats.zero_cells, 1);
}

TEST(TableInspector, FindsTheSmallestNonZeroCountAndZeroCells) {
  auto stats = parse(
      "region,age_band,n_patients,deaths,year\n"
      "North,40-49,120,0,2023\nSouth,40-49,7,3,2023\nEast,50-59,*,0,2023\n");
  EXPECT_EQ(stats.count_columns, (std::vector<std::string>{"n_patients", "deaths"}));
  EXPECT_EQ(stats.min_count, 3);
  EXPECT_EQ(stats.zero_cells, 2);
}

TEST(TableInspector, NamesIdentifierColumnsByNameAndByContent) {
  auto stats = parse(
      "NHS Number,ref,Postcode,count,email_address\n"
      "9434765919,5738563913,SW1A 1AA,3,a@nhs.net\n"
      "x,4809865347,M1 1AE,4,b@nhs.net\n");
  EXPECT_EQ(stats.identifier_columns, (std::vector<std::string>{"NHS Number", "ref", "Postcode", "email_address"}));
  EXPECT_EQ(stats.count_columns, (std::vector<std::string>{"count"}));
  EXPECT_EQ(stats.min_count, 3);
}

TEST(TableInspector, CountsDatesInBirthDateColumns) {
  auto stats = parse("id,date_of_birth,admitted\n1,12/03/1980,01/02/2020\n2,1975-11-02,01/02/2020\n3,,x\n");
  EXPECT_EQ(stats.dates_of_birth, 2);
  EXPECT_EQ(stats.identifier_columns, (std::vector<std::string>{"date_of_birth"}));
}

TEST(TableInspector, SkipsBlankLinesAndAcceptsAMissingFinalNewline) {
  auto stats = parse("\na,b\n1,2\n\n3,4");
  EXPECT_TRUE(stats.is_table);
  EXPECT_EQ(stats.rows, 2);
}

TEST(TableInspector, RejectsRaggedRows) {
  auto stats = parse("a,b\n1,2\n3\n");
  EXPECT_FALSE(stats.is_table);
  EXPECT_EQ(stats.problem, "row 2 has 1 fields, the header has 2");
}

TEST(TableInspector, RejectsAnUnclosedQuote) { EXPECT_FALSE(parse("a,b\n\"1,2\n").is_table); }

TEST(TableInspector, RejectsARowOverTheCap) {
  TableLimits limits;
  limits.max_row_bytes = 64;
  auto stats = parse("a,b\n" + std::string(100, 'x') + ",1\n", ',', 7, limits);
  EXPECT_FALSE(stats.is_table);
  EXPECT_EQ(stats.problem, "a row is longer than 64 bytes");
}

// The tests of where cells fall run on each path of the parser: plain C++, SSE2, AVX2 and AVX-512 (a processor
// without one runs the best path it has below it).
class TableInspectorPaths : public ::testing::TestWithParam<VectorInstructions> {
 protected:
  TableStats parse(const std::string& text, char delimiter = ',', std::size_t chunk = 0, TableLimits limits = {}) {
    return inspect::parse(text, delimiter, chunk, limits, GetParam());
  }
};

INSTANTIATE_TEST_SUITE_P(Instructions, TableInspectorPaths, testing::every_vector_path(), testing::vector_path_name);

// Cells are classified from 64-byte bit masks when they lie in one block, byte by byte when they straddle
// one or a chunk: the statistics must not depend on where the cells fall.
TEST_P(TableInspectorPaths, GivesTheSameStatisticsWhereverCellsFallInBlocksAndChunks) {
  const std::string header = "ref,contact,area,date_of_birth,n\n";
  const std::vector<std::string> rows = {"9434765919,a@nhs.net,SW1A 1AA,12/03/1980,17\n",
                                         "5738563913,b.c@nhs.uk,M1 1AE,1975-11-02,0\n",
                                         "4809865347,d@x.org,EC1A 1BB,x,0.5\n"};  // not an integer
  for (std::size_t pad = 0; pad < 64; pad += 5) {
    std::string text = header;
    text += std::string(pad, 'p') + ",,,," + "9\n";  // shifts every later cell by `pad` bytes
    for (int i = 0; i < 30; ++i) text += rows[i % rows.size()];
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{13}, std::size_t{64}, std::size_t{250}}) {
      auto stats = parse(text, ',', chunk);
      ASSERT_TRUE(stats.is_table) << stats.problem;
      EXPECT_EQ(stats.rows, 31);
      // ref holds NHS numbers, contact emails, area postcodes: identifiers by content (names say nothing).
      EXPECT_EQ(stats.identifier_columns, (std::vector<std::string>{"ref", "contact", "area", "date_of_birth"}))
          << "pad " << pad << ", chunk " << chunk;
      EXPECT_EQ(stats.count_columns, (std::vector<std::string>{"n"}));
      EXPECT_EQ(stats.min_count, 9);  // the first row's: "0.5" is not an integer
      EXPECT_EQ(stats.zero_cells, 10);
      EXPECT_EQ(stats.dates_of_birth, 20);
    }
  }
}

// Without a birth-date column, cells of plain text are only counted unless they end in a capital or have dashes
// where an NHS number of 12 bytes has them: a postcode without its space, and an NHS number with dashes, must be
// judged wherever they fall in the 64-byte blocks, including right after a block's start and across its end.
TEST_P(TableInspectorPaths, JudgesEveryPlainCellThatCouldBeAnIdentifierWhereverItFalls) {
  std::string text = "pad,ref,area,n\n";
  for (std::size_t pad = 1; pad <= 70; ++pad) text += std::string(pad, 'p') + ",943-476-5919,SW1A1AA,abc\n";
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{100}}) {
    auto stats = parse(text, ',', chunk);
    ASSERT_TRUE(stats.is_table) << stats.problem;
    EXPECT_EQ(stats.rows, 70);
    EXPECT_EQ(stats.identifier_columns, (std::vector<std::string>{"ref", "area"})) << "chunk " << chunk;
  }
  // Half of each column, so that a cell missed anywhere turns the column's verdict; the header's length moves
  // every row to each offset in the blocks in turn.
  for (std::size_t shift = 0; shift < 64; ++shift) {
    std::string half = "pad" + std::string(shift, 'd') + ",ref,area,end\n";
    for (std::size_t pad = 1; pad <= 64; ++pad) {
      // Postcodes of 7 bytes and of 5, the fewest a postcode has.
      const std::string postcode = pad % 4 == 0 ? "SW1A1AA" : "M11AE";
      half +=
          std::string(pad, 'p') + (pad % 2 == 0 ? ",943-476-5919," + postcode + ",z\n" : ",943-476-591x,SW1A1Ax,z\n");
    }
    half += "p,943-476-5919,SW1A1AA,z\n";
    for (std::size_t chunk : {std::size_t{0}, std::size_t{64}}) {
      auto stats = parse(half, ',', chunk);
      ASSERT_TRUE(stats.is_table) << stats.problem;
      EXPECT_EQ(stats.identifier_columns, (std::vector<std::string>{"ref", "area"}))
          << "shift " << shift << ", chunk " << chunk;
    }
  }
}

void expect_same(const TableStats& got, const TableStats& want, std::size_t chunk) {
  EXPECT_EQ(got.is_table, want.is_table) << "chunk " << chunk;
  EXPECT_EQ(got.problem, want.problem) << "chunk " << chunk;
  EXPECT_EQ(got.rows, want.rows) << "chunk " << chunk;
  EXPECT_EQ(got.columns, want.columns) << "chunk " << chunk;
  EXPECT_EQ(got.column_names, want.column_names) << "chunk " << chunk;
  EXPECT_EQ(got.identifier_columns, want.identifier_columns) << "chunk " << chunk;
  EXPECT_EQ(got.count_columns, want.count_columns) << "chunk " << chunk;
  EXPECT_EQ(got.min_count, want.min_count) << "chunk " << chunk;
  EXPECT_EQ(got.zero_cells, want.zero_cells) << "chunk " << chunk;
  EXPECT_EQ(got.dates_of_birth, want.dates_of_birth) << "chunk " << chunk;
}

// Whole rows are read from 64-byte masks, while quoted fields and whatever a chunk's end cuts go through the
// byte-by-byte states: cutting the file anywhere must not change the statistics, or which failure is found.
TEST_P(TableInspectorPaths, GivesTheSameStatisticsForEveryChunkSize) {
  const std::vector<std::string> rows = {
      "9434765919,a@nhs.net,SW1A 1AA,12/03/1980,17,plain\r\n",
      "5738563913, b.c@nhs.uk ,M1 1AE,1975-11-02,0,\"quoted, with \"\"quotes\"\"\"\r\n",
      "4809865347,d@x.org,EC1A 1BB,x,0.5,\"two\r\nlines\"\n",
      "1234567890123456789012345678901234567890123456789012345678901234567890,,,\t,\t3 ,\n",
      "\n",
      "000,e@f.com,B33 8TH,01/02/2020,00012,x\r",
  };
  std::string text = "ref,contact,area,dob,n,note\r\n";
  for (int i = 0; i < 12; ++i) text += rows[i % rows.size()];
  const TableStats whole = parse(text);
  ASSERT_TRUE(whole.is_table) << whole.problem;
  EXPECT_EQ(whole.rows, 10);
  EXPECT_EQ(whole.identifier_columns, (std::vector<std::string>{"ref", "contact", "area", "dob"}));
  EXPECT_EQ(whole.count_columns, (std::vector<std::string>{"n"}));
  EXPECT_EQ(whole.min_count, 3);
  EXPECT_EQ(whole.zero_cells, 2);
  EXPECT_EQ(whole.dates_of_birth, 6);
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) expect_same(parse(text, ',', chunk), whole, chunk);

  // A row over the cap comes before a ragged row; without the cap the ragged row is the problem.
  const std::string ragged = text + "1,2\n";
  TableLimits limits;
  limits.max_row_bytes = 75;
  for (std::size_t chunk = 1; chunk <= ragged.size(); ++chunk) {
    auto capped = parse(ragged, ',', chunk, limits);
    EXPECT_EQ(capped.problem, "a row is longer than 75 bytes") << "chunk " << chunk;
    auto stats = parse(ragged, ',', chunk);
    EXPECT_FALSE(stats.is_table);
    EXPECT_EQ(stats.problem, "row 11 has 2 fields, the header has 6") << "chunk " << chunk;
  }
}

TEST(TableInspector, TrimsBlanksAroundCellsBeforeJudgingThem) {
  auto stats = parse("code,n\n 9434765919 ,\t12\t\nx,  0\n");
  EXPECT_EQ(stats.identifier_columns, (std::vector<std::string>{}));  // 1 NHS number in 2 cells: not most
  EXPECT_EQ(stats.min_count, 12);
  EXPECT_EQ(stats.zero_cells, 1);
  auto most = parse("code,n\n 9434765919 ,1\n5738563913\t,2\n");
  EXPECT_EQ(most.identifier_columns, (std::vector<std::string>{"code"}));
}

// A column's non-empty cells are its rows less its empty or blank cells: a blank line is no row, and its one
// cell is no column's.
TEST(TableInspector, CountsAColumnOfIntegersWithEmptyCellsAndBlankLinesAsCounts) {
  const std::string text = "deaths,region\n3,North\n\n,South\n \t\n0,East\n\r\n";
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    auto stats = parse(text, ',', chunk);
    ASSERT_TRUE(stats.is_table) << stats.problem;
    EXPECT_EQ(stats.rows, 3) << "chunk " << chunk;
    EXPECT_EQ(stats.count_columns, (std::vector<std::string>{"deaths"})) << "chunk " << chunk;
    EXPECT_EQ(stats.zero_cells, 1) << "chunk " << chunk;
  }
}

TEST(TableInspector, RejectsARowOfManyMoreFieldsThanTheHeader) {
  std::string text = "a,b\n1,2\n";
  for (int i = 0; i < 300; ++i) text += "7,";
  text += "7\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{13}, std::size_t{64}, text.size()}) {
    auto stats = parse(text, ',', chunk);
    EXPECT_FALSE(stats.is_table);
    EXPECT_EQ(stats.problem, "row 2 has 301 fields, the header has 2") << "chunk " << chunk;
  }
}

TEST(ColumnNames, RecogniseIdentifiersAndBirthDates) {
  for (const char* name : {"nhs_number", "NHSNumber", "patient_id", "postcode", "DOB", "email", "Name",
                           "address_line_1", "phone", "Surname"}) {
    EXPECT_TRUE(is_identifier_column_name(name)) << name;
  }
  for (const char* name : {"practice", "count", "region", "year", "age_band", "n"}) {
    EXPECT_FALSE(is_identifier_column_name(name)) << name;
  }
  EXPECT_TRUE(is_birth_date_column_name("BirthDate"));
  EXPECT_TRUE(is_birth_date_column_name("patient_dob"));
  EXPECT_FALSE(is_birth_date_column_name("admission_date"));
}

}  // namespace
}  // namespace airlock::gateway::inspect
