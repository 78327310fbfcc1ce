// Streaming statistics of a CSV or TSV table (RFC 4180: quotes, doubled quotes, CRLF, newlines in quotes).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/inspect/instructions.h"

namespace airlock::gateway::inspect {

struct TableLimits {
  // A row longer than this marks the file as not a table (memory is bounded by it).
  std::size_t max_row_bytes = 1u << 20;
  std::size_t max_columns = 10'000;
};

struct TableStats {
  bool is_table = false;
  std::string problem;    // why the file is not a table, when it is not
  std::int64_t rows = 0;  // data rows, without the header
  std::int64_t columns = 0;
  std::vector<std::string> column_names;
  std::vector<std::string> identifier_columns;
  std::vector<std::string> count_columns;
  std::int64_t min_count = 0;  // 0 when no count column holds a non-zero value
  std::int64_t zero_cells = 0;
  std::int64_t dates_of_birth = 0;  // date values in columns named like a date of birth
};

// True when a column name says it holds identifiers (nhs_number, patient_id, postcode, dob, email, name,
// address, phone, ...). Names are compared lower-case with everything but letters and digits removed.
bool is_identifier_column_name(std::string_view name);
// True for column names such as dob, date_of_birth, BirthDate.
bool is_birth_date_column_name(std::string_view name);

struct CellBytes;  // what a cell's bytes are (table.cpp)

class TableInspector {
 public:
  explicit TableInspector(char delimiter, TableLimits limits = {},
                          VectorInstructions instructions = VectorInstructions::kBest);

  void update(std::span<const char> data);
  // Ends the last row and computes the statistics; call once after the last chunk.
  void finish();
  const TableStats& stats() const { return stats_; }

 private:
  enum class State : std::uint8_t { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  class ChunkMasks;  // the masks of a chunk's blocks

  struct Column {
    // Cells that are empty or blank; the non-empty ones are the rows' count less these (a row that the
    // statistics count has a cell in every column).
    std::int64_t empty = 0;
    std::int64_t integers = 0;  // non-negative integer values
    std::int64_t zeros = 0;
    // The least non-zero integer less one, compared unsigned: all bits set until a non-zero integer is seen.
    std::uint64_t min_non_zero_less_one = UINT64_MAX;
    std::int64_t nhs_numbers = 0;
    std::int64_t postcodes = 0;
    std::int64_t emails = 0;
    std::int64_t dates = 0;
    // From the header: which of the counts above the statistics use. The identifier counts serve only
    // columns whose name does not already say they hold identifiers; dates only birth-date columns.
    bool identifier_by_content = true;
    bool birth_dates = false;
    // The same by a cell's size: bit n % 64 is set if those counts could count a cell of n bytes of text without
    // blanks or '@' (a postcode of 5 to 8 bytes, an NHS number of 12), or of digits (an NHS number of 10). All
    // bits in a column of dates of birth.
    std::uint64_t text_sizes = 0b1'0001'1110'0000;
    std::uint64_t digit_sizes = 0b100'0000'0000;
  };

  // The fast path of update(): whole data rows of unquoted fields, from the chunk's bit masks, which `Isa` makes
  // (table.cpp: AVX-512 or AVX2 where the processor has it, SSE2, or plain C++ elsewhere).
  template <class Isa>
  const char* scan_rows(const char* p, ChunkMasks& masks);
  // scan_rows() built for AVX2 and for AVX-512 (x86-64 only; elsewhere the baseline's).
  const char* scan_rows_avx2(const char* p, ChunkMasks& masks);
  const char* scan_rows_avx512(const char* p, ChunkMasks& masks);
  void end_field();
  void end_field(std::string_view raw);  // `raw` is field_ or, for a field whole in one chunk, the chunk's bytes
  // A non-empty data cell, trimmed; `bytes` says which classes of bytes it holds (defined in table.cpp). The
  // bytes from `readable_from` to the value's end may be read.
  void classify(std::string_view value, Column& column, CellBytes bytes, const char* readable_from);
  void identify(std::string_view value, Column& column, CellBytes bytes);  // the rarer tests of classify()
  // A cell with blanks or '@' in it: trimmed and classified byte by byte; false if it is blank.
  bool classify_bytes(std::string_view raw, Column& column, const char* readable_from);
  void end_row();
  void fail(std::string problem);

  char delimiter_;
  TableLimits limits_;
  VectorInstructions instructions_;  // those the processor has: never kBest
  TableStats stats_;
  State state_ = State::kFieldStart;
  bool failed_ = false;
  bool finished_ = false;
  bool skip_line_feed_ = false;  // the row ended at a CR; a following LF belongs to it
  bool row_has_content_ = false;
  bool in_header_ = true;
  std::size_t row_bytes_ = 0;
  std::size_t column_ = 0;
  std::string field_;
  std::size_t width_ = 0;  // the header's fields
  bool birth_dates_ = false;  // a column holds dates of birth: scan_rows() looks at each of its plain cells
  // A Column for each of the header's fields, then spare ones: scan_rows() counts a row's cells past the
  // header's in them until it next checks (such a row fails when it ends).
  std::vector<Column> columns_;
};

}  // namespace airlock::gateway::inspect
