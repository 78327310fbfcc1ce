#include "airlock/gateway/inspect/table.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "airlock/gateway/inspect/identifiers.h"

namespace airlock::gateway::inspect {

// What a cell holds, as TableInspector::classify() needs it: kCellAt (below) if any byte is '@', and whether
// every byte is a digit.
struct CellBytes {
  std::uint8_t any = 0;
  bool digits = false;
};

namespace {

bool is_ascii_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "Date of Birth" -> "dateofbirth".
std::string normalise(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (is_ascii_alnum(c)) out.push_back(to_lower(c));
  }
  return out;
}

// "nPatients" -> {"n", "patients"}; "total_count" -> {"total", "count"}; "NHSNumber" -> {"nhsnumber"}.
std::vector<std::string> name_tokens(std::string_view name) {
  std::vector<std::string> tokens;
  std::string current;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!is_ascii_alnum(c)) {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (is_upper(c) && i > 0 && !current.empty() && !is_upper(name[i - 1])) {
      tokens.push_back(std::move(current));
      current.clear();
    }
    current.push_back(to_lower(c));
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

bool has_token(const std::vector<std::string>& tokens, std::initializer_list<std::string_view> wanted) {
  return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& token) {
    return std::find(wanted.begin(), wanted.end(), token) != wanted.end();
  });
}

// A column named like a count: its integer values are counts even when some cells are suppressed ("*", "<5").
bool is_count_name(const std::vector<std::string>& tokens) {
  return has_token(tokens, {"count", "counts", "n", "num", "number", "total", "totals", "freq", "frequency"});
}

// Integer columns that are not counts.
bool is_not_count_name(const std::vector<std::string>& tokens) {
  return has_token(tokens, {"id", "code", "year", "yr", "age", "month", "day", "week", "quarter", "date", "time", "ref",
                            "key", "index", "rank", "period", "version"});
}

// What TableInspector::classify() needs to know of a cell's bytes.
constexpr std::uint8_t kCellDigit = 1;
constexpr std::uint8_t kCellAt = 4;
constexpr std::array<std::uint8_t, 256> make_cell_classes() {
  std::array<std::uint8_t, 256> classes{};
  for (int c = '0'; c <= '9'; ++c) classes[c] = kCellDigit;
  classes['@'] = kCellAt;
  return classes;
}
constexpr std::array<std::uint8_t, 256> kCellClasses = make_cell_classes();

CellBytes cell_bytes(std::string_view value) {
  std::uint8_t any = 0;
  std::uint8_t all = 0xFF;
  for (char c : value) {
    const std::uint8_t cls = kCellClasses[static_cast<unsigned char>(c)];
    any |= cls;
    all &= cls;
  }
  return {any, (all & kCellDigit) != 0};
}

// Bit masks of one chunk, 64 bytes at a time (SSE2 where available): the bytes that end an unquoted run (the
// delimiter, a quote, CR and LF), and the digits and '@' that classify() needs. Fields are then
// found and classified a few instructions each, rather than a few per byte.
class ChunkMasks {
 public:
  ChunkMasks(std::span<const char> data, char delimiter)
      : begin_(data.data()), size_(data.size()), delimiter_(delimiter) {
    if (size_ > 0) load(0);
  }

  // The first special byte at or after `p`, or the end of the chunk.
  const char* next(const char* p) {
    auto at = static_cast<std::size_t>(p - begin_);
    while (at < size_) {
      if (in_block(at)) {
        const std::uint64_t mask = special_ >> (at - block_);
        if (mask != 0) return begin_ + at + static_cast<std::size_t>(__builtin_ctzll(mask));
        at = block_ + 64;
        continue;
      }
      load(at);
    }
    return begin_ + size_;
  }

  // The unquoted run starting at `p`, for the cell loop: its end (the special byte that ends it, or the end of
  // the chunk) and, when it lies in one block, the masks of its digits and '@' (bit 0 = the byte at `p`).
  struct Run {
    const char* end;
    bool in_block;
    std::uint64_t digit;
    std::uint64_t at_sign;
  };
  Run run(const char* p) {
    const auto at = static_cast<std::size_t>(p - begin_);
    if (at - block_ >= 64) load(at);  // block_ <= at: runs move forward through the chunk
    const auto shift = static_cast<unsigned>(at - block_);
    const std::uint64_t special = special_ >> shift;
    if (special == 0) return {next(p), false, 0, 0};
    const auto length = static_cast<unsigned>(__builtin_ctzll(special));
    const std::uint64_t ones = (std::uint64_t{1} << length) - 1;  // length < 64
    return {p + length, true, (digit_ >> shift) & ones, (at_sign_ >> shift) & ones};
  }

 private:
  bool in_block(std::size_t at) const { return at >= block_ && at - block_ < 64; }

  void load(std::size_t at) {
    block_ = at;
    const char* p = begin_ + at;
    const std::size_t n = std::min<std::size_t>(64, size_ - at);
    std::uint64_t special = 0;
    std::uint64_t digit = 0;
    std::uint64_t at_sign = 0;
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128i delimiter = _mm_set1_epi8(delimiter_);
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i line_feed = _mm_set1_epi8('\n');
    const __m128i carriage_return = _mm_set1_epi8('\r');
    auto bits = [](__m128i m) { return static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(m))); };
    const __m128i below_zero = _mm_set1_epi8('0' - 1);
    const __m128i above_nine = _mm_set1_epi8('9' + 1);
    const __m128i at_byte = _mm_set1_epi8('@');
    for (; i + 16 <= n; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, delimiter), _mm_cmpeq_epi8(v, quote)),
                                        _mm_or_si128(_mm_cmpeq_epi8(v, line_feed), _mm_cmpeq_epi8(v, carriage_return)));
      special |= bits(hits) << i;
      digit |= bits(_mm_and_si128(_mm_cmpgt_epi8(v, below_zero), _mm_cmplt_epi8(v, above_nine))) << i;
      at_sign |= bits(_mm_cmpeq_epi8(v, at_byte)) << i;
    }
#endif
    for (; i < n; ++i) {
      const char c = p[i];
      const std::uint64_t bit = std::uint64_t{1} << i;
      if (c == delimiter_ || c == '"' || c == '\n' || c == '\r') special |= bit;
      const std::uint8_t cls = kCellClasses[static_cast<unsigned char>(c)];
      if ((cls & kCellDigit) != 0) digit |= bit;
      if ((cls & kCellAt) != 0) at_sign |= bit;
    }
    special_ = special;
    digit_ = digit;
    at_sign_ = at_sign;
  }

  const char* begin_;
  std::size_t size_;
  char delimiter_;
  std::size_t block_ = SIZE_MAX;  // offset of the block the masks describe
  std::uint64_t special_ = 0;
  std::uint64_t digit_ = 0;
  std::uint64_t at_sign_ = 0;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Every postcode ends in its inward code: a digit and two capitals. `value` has at least 3 bytes.
bool ends_in_inward_code(std::string_view value) {
  const std::size_t n = value.size();
  return is_upper(value[n - 1]) && is_upper(value[n - 2]) && is_digit(value[n - 3]);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_identifier_column_name(std::string_view name) {
  const std::string n = normalise(name);
  static constexpr std::array<std::string_view, 21> kExact = {
      "nhs",        "nhsid",         "dob",       "name",    "mrn",       "chi",       "nino",
      "tel",        "mobile",        "zip",       "zipcode", "personid",  "givenname", "familyname",
      "middlename", "patientnumber", "patientno", "nhsnum",  "subjectid", "forenames", "initials"};
  static constexpr std::array<std::string_view, 17> kContained = {
      "nhsnumber", "nhsno",     "postcode",    "dateofbirth", "birthdate",     "email",
      "phone",     "address",   "surname",     "forename",    "firstname",     "lastname",
      "fullname",  "patientid", "patientname", "chinumber",   "hospitalnumber"};
  if (std::find(kExact.begin(), kExact.end(), n) != kExact.end()) return true;
  if (n.size() > 3 && n.ends_with("dob")) return true;
  return std::any_of(kContained.begin(), kContained.end(),
                     [&](std::string_view part) { return n.find(part) != std::string::npos; });
}

bool is_birth_date_column_name(std::string_view name) {
  const std::string n = normalise(name);
  return n.ends_with("dob") || n.find("birth") != std::string::npos;
}

TableInspector::TableInspector(char delimiter, TableLimits limits) : delimiter_(delimiter), limits_(limits) {
  field_.reserve(256);
}

void TableInspector::fail(std::string problem) {
  if (failed_) return;
  failed_ = true;
  stats_.problem = std::move(problem);
}

// Inline in the cell loops: the counts every cell feeds, then identify() for the cells that could be an
// identifier or a date where the statistics use those counts (each test's cheap precondition first).
[[gnu::always_inline]] inline void TableInspector::classify(std::string_view value, Column& column, CellBytes bytes) {
  ++column.non_empty;
  const std::size_t size = value.size();
  if (bytes.digits && size <= 18) {
    ++column.integers;
    std::int64_t number = 0;  // at most 18 digits: fits
    for (char c : value) number = number * 10 + (c - '0');
    if (number == 0) {
      ++column.zeros;
    } else if (column.min_non_zero == 0 || number < column.min_non_zero) {
      column.min_non_zero = number;
    }
  }
  const bool maybe_identifier =
      column.identifier_by_content &&
      ((size == 10 && bytes.digits) || (size == 12 && (value[3] == ' ' || value[3] == '-')) ||
       (size >= 5 && ends_in_inward_code(value)) || (size >= 6 && (bytes.any & kCellAt) != 0));
  const bool maybe_date = column.birth_dates && size >= 8 && is_digit(value[0]);
  if (maybe_identifier || maybe_date) identify(value, column, bytes);
}

void TableInspector::update(std::span<const char> data) {
  const char* p = data.data();
  const char* const end = p + data.size();
  const char delimiter = delimiter_;
  ChunkMasks masks(data, delimiter);
  while (p < end && !failed_ && !finished_) {
    // The common case first: unquoted fields of data rows that lie whole in this chunk. The same steps as
    // the general loop below, without its states, on local copies of the row's counters.
    if (state_ == State::kFieldStart && !in_header_ && !skip_line_feed_ && field_.empty()) {
      std::size_t column = column_;
      std::size_t row_bytes = row_bytes_;
      bool content = row_has_content_;
      Column* const columns = columns_.data();
      const std::size_t width = columns_.size();
      while (p < end && *p != '"') {
        const ChunkMasks::Run run = masks.run(p);
        const char* const stop = run.end;
        if (stop == end || *stop == '"') break;
        const char c = *stop;
        const std::string_view raw(p, static_cast<std::size_t>(stop - p));
        if (column < width && !raw.empty()) {
          if (!is_blank(raw.front()) && !is_blank(raw.back())) {
            content = true;
            CellBytes bytes = run.in_block ? CellBytes{static_cast<std::uint8_t>(run.at_sign != 0 ? kCellAt : 0),
                                                       run.digit == (std::uint64_t{1} << raw.size()) - 1}
                                           : cell_bytes(raw);
            classify(raw, columns[column], bytes);
          } else if (const std::string_view value = trim(raw); !value.empty()) {
            content = true;
            classify(value, columns[column], cell_bytes(value));
          }
        }
        ++column;
        const auto step = static_cast<std::size_t>(stop + 1 - p);
        p = stop + 1;
        if (c != delimiter) {
          column_ = column;
          row_has_content_ = content;
          row_bytes_ = row_bytes;
          end_row();
          column = column_;
          content = row_has_content_;
          row_bytes = row_bytes_;
          skip_line_feed_ = c == '\r';
        }
        row_bytes += step;
        if (row_bytes > limits_.max_row_bytes) {
          fail("a row is longer than " + std::to_string(limits_.max_row_bytes) + " bytes");
        }
        if (failed_ || skip_line_feed_) break;
      }
      column_ = column;
      row_has_content_ = content;
      row_bytes_ = row_bytes;
    }
    if (p == end || failed_) break;
    const char* const step_start = p;
    char c = *p;
    if (skip_line_feed_) {
      skip_line_feed_ = false;
      if (c == '\n') {
        ++p;
        continue;
      }
    }
    switch (state_) {
      case State::kFieldStart:
      case State::kUnquoted: {
        if (state_ == State::kFieldStart && c == '"') {
          state_ = State::kQuoted;
          ++p;
          break;
        }
        const char* run = p;
        p = masks.next(p);
        if (p == end) {
          field_.append(run, p);
          if (p > run) state_ = State::kUnquoted;
          break;
        }
        // A field that lies whole in this chunk is judged where it is, without copying it.
        const bool in_place = field_.empty();
        if (!in_place) field_.append(run, p);
        const std::string_view value = in_place ? std::string_view(run, static_cast<std::size_t>(p - run)) : field_;
        c = *p++;
        if (c == delimiter) {
          end_field(value);
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          end_field(value);
          end_row();
          state_ = State::kFieldStart;
          skip_line_feed_ = c == '\r';
        } else {  // a quote inside an unquoted field is kept as text
          if (in_place) field_.append(run, p - 1);
          field_.push_back('"');
          state_ = State::kUnquoted;
        }
        break;
      }
      case State::kQuoted: {
        const char* run = p;
        const void* quote = std::memchr(p, '"', static_cast<std::size_t>(end - p));
        p = quote != nullptr ? static_cast<const char*>(quote) : end;
        field_.append(run, p);
        if (p < end) {
          ++p;
          state_ = State::kQuoteInQuoted;
        }
        break;
      }
      case State::kQuoteInQuoted:
        ++p;
        if (c == '"') {
          field_.push_back('"');
          state_ = State::kQuoted;
        } else if (c == delimiter) {
          end_field();
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          end_field();
          end_row();
          state_ = State::kFieldStart;
          skip_line_feed_ = c == '\r';
        } else {
          fail("row " + std::to_string(stats_.rows + 1) + ": text after a closing quote");
        }
        break;
    }
    row_bytes_ += static_cast<std::size_t>(p - step_start);
    if (row_bytes_ > limits_.max_row_bytes) {
      fail("a row is longer than " + std::to_string(limits_.max_row_bytes) + " bytes");
    }
  }
}

void TableInspector::end_field() { end_field(field_); }

void TableInspector::end_field(std::string_view raw) {
  if (in_header_) {
    if (column_ >= limits_.max_columns) {
      fail("more than " + std::to_string(limits_.max_columns) + " columns");
      return;
    }
    stats_.column_names.emplace_back(trim(raw));
    row_has_content_ = row_has_content_ || !raw.empty();
  } else if (column_ < columns_.size()) {
    const bool padded = !raw.empty() && (is_blank(raw.front()) || is_blank(raw.back()));
    const std::string_view value = padded ? trim(raw) : raw;
    if (!value.empty()) {
      row_has_content_ = true;
      classify(value, columns_[column_], cell_bytes(value));
    }
  }
  ++column_;
  field_.clear();
}

void TableInspector::identify(std::string_view value, Column& column, CellBytes bytes) {
  const std::size_t size = value.size();
  if (column.identifier_by_content) {
    if ((size == 10 && bytes.digits && is_valid_nhs_number(value)) || (size == 12 && is_nhs_number_value(value))) {
      ++column.nhs_numbers;
    }
    if (size >= 5 && size <= 8 && ends_in_inward_code(value) && is_uk_postcode(value)) ++column.postcodes;
    if (size >= 6 && (bytes.any & kCellAt) != 0 && is_email_address(value)) ++column.emails;
  }
  if (column.birth_dates && size >= 8 && is_digit(value[0]) && is_date_value(value)) ++column.dates;
}

void TableInspector::end_row() {
  if (failed_) return;
  if (!row_has_content_ && column_ <= 1) {  // a blank line
    if (in_header_) stats_.column_names.clear();
    column_ = 0;
    row_bytes_ = 0;
    return;
  }
  if (in_header_) {
    in_header_ = false;
    columns_.resize(column_);
    stats_.columns = static_cast<std::int64_t>(column_);
    for (std::size_t i = 0; i < columns_.size() && i < stats_.column_names.size(); ++i) {
      const std::string& name = stats_.column_names[i];
      columns_[i].identifier_by_content = !is_identifier_column_name(name);
      columns_[i].birth_dates = is_birth_date_column_name(name);
    }
  } else if (column_ != columns_.size()) {
    fail("row " + std::to_string(stats_.rows + 1) + " has " + std::to_string(column_) + " fields, the header has " +
         std::to_string(columns_.size()));
    return;
  } else {
    ++stats_.rows;
  }
  column_ = 0;
  row_has_content_ = false;
  row_bytes_ = 0;
}

void TableInspector::finish() {
  if (finished_) return;
  if (!failed_) {
    if (state_ == State::kQuoted) {
      fail("a quoted field is not closed at the end of the file");
    } else if (state_ != State::kFieldStart || column_ > 0) {
      end_field();
      end_row();
    }
  }
  finished_ = true;
  if (!failed_ && in_header_) fail("no header row");
  if (failed_) {
    std::string problem = std::move(stats_.problem);
    stats_ = TableStats{};
    stats_.problem = std::move(problem);
    return;
  }
  stats_.is_table = true;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const Column& column = columns_[i];
    const std::string& name = stats_.column_names[i];
    const bool mostly =
        column.non_empty > 0 && (column.nhs_numbers * 2 > column.non_empty || column.postcodes * 2 > column.non_empty ||
                                 column.emails * 2 > column.non_empty);
    const bool identifier = is_identifier_column_name(name) || mostly;
    if (identifier) stats_.identifier_columns.push_back(name);
    if (is_birth_date_column_name(name)) stats_.dates_of_birth += column.dates;
    const auto tokens = name_tokens(name);
    const bool count = !identifier && column.integers > 0 &&
                       (is_count_name(tokens) || (column.integers == column.non_empty && !is_not_count_name(tokens)));
    if (!count) continue;
    stats_.count_columns.push_back(name);
    stats_.zero_cells += column.zeros;
    if (column.min_non_zero > 0 && (stats_.min_count == 0 || column.min_non_zero < stats_.min_count)) {
      stats_.min_count = column.min_non_zero;
    }
  }
}

}  // namespace airlock::gateway::inspect
