#include "airlock/gateway/inspect/table.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
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

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Every postcode ends in its inward code: a digit and two capitals. `value` has at least 3 bytes.
[[gnu::always_inline]] inline bool ends_in_inward_code(std::string_view value) {
  const std::size_t n = value.size();
  return is_upper(value[n - 1]) && is_upper(value[n - 2]) && is_digit(value[n - 3]);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// The value of 1 to 18 digits; the bytes from `readable_from` to the digits' end may be read. Counts are mostly
// a few digits: with 8 bytes to read before their end, up to 8 digits are combined in one word, in pairs, then
// fours, then eight (the bytes before the number become leading zeros).
[[gnu::always_inline]] inline std::int64_t parse_digits(std::string_view digits, const char* readable_from) {
  const std::size_t size = digits.size();
  const char* const digits_end = digits.data() + size;
  if constexpr (std::endian::native == std::endian::little) {
    if (size <= 8 && digits_end - readable_from >= 8) {
      std::uint64_t word;
      std::memcpy(&word, digits_end - 8, 8);
      const std::uint64_t keep = ~std::uint64_t{0} << (8 * (8 - size));
      word = (word & keep) - (0x3030303030303030 & keep);
      word = word * 10 + (word >> 8);
      constexpr std::uint64_t kPairs = 0x000000FF000000FF;
      word = ((word & kPairs) * (100 + (std::uint64_t{1000000} << 32)) +
              ((word >> 16) & kPairs) * (1 + (std::uint64_t{10000} << 32))) >>
             32;
      return static_cast<std::int64_t>(static_cast<std::uint32_t>(word));
    }
  }
  std::int64_t number = 0;  // at most 18 digits: fits
  for (char c : digits) number = number * 10 + (c - '0');
  return number;
}

}  // namespace

// The masks of one 64-byte block: bit i describes the block's byte i.
struct TableInspector::BlockMasks {
  std::uint64_t special = 0;  // the bytes that end an unquoted run: the delimiter, a quote, CR and LF
  std::uint64_t digit = 0;
  // Blanks and '@': a cell without them needs neither trimming nor the '@' of CellBytes, so it is classified
  // from the masks alone; the others byte by byte.
  std::uint64_t rare = 0;
};

// Bit masks of one chunk, 64 bytes at a time (SSE2 where available), in blocks at multiples of 64 from the
// chunk's start. Fields are then found and classified a few instructions each, rather than a few per byte.
// The masks of the last block used are kept: the general loop and scan_rows() take turns within a block.
class TableInspector::ChunkMasks {
 public:
  ChunkMasks(std::span<const char> data, char delimiter)
      : begin_(data.data()), size_(data.size()), delimiter_(delimiter) {}

  const char* begin() const { return begin_; }
  std::size_t size() const { return size_; }

  // The block at `offset`, a multiple of 64 below size(). Bits past the chunk's end are clear.
  const BlockMasks& block(std::size_t offset) {
    if (offset != block_) load(offset);
    return masks_;
  }

  // The first special byte at or after `p`, or the end of the chunk.
  const char* next(const char* p) {
    auto at = static_cast<std::size_t>(p - begin_);
    while (at < size_) {
      const std::size_t offset = at & ~std::size_t{63};
      const std::uint64_t special = block(offset).special >> (at - offset);
      if (special != 0) return begin_ + at + static_cast<std::size_t>(__builtin_ctzll(special));
      at = offset + 64;
    }
    return begin_ + size_;
  }

 private:
  void load(std::size_t offset) {
    block_ = offset;
    const std::size_t n = std::min<std::size_t>(64, size_ - offset);
    const char* p = begin_ + offset;
    alignas(16) char tail[64];
    if (n < 64) {  // the chunk's last bytes, padded so that the block is read whole
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, p, n);
      p = tail;
    }
    std::uint64_t special = 0;
    std::uint64_t digit = 0;
    std::uint64_t rare = 0;
#if defined(__SSE2__)
    const __m128i delimiter = _mm_set1_epi8(delimiter_);
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i line_feed = _mm_set1_epi8('\n');
    const __m128i carriage_return = _mm_set1_epi8('\r');
    // c is a digit when c - '0' < 10 unsigned, that is when (c - '0') ^ 0x80 = c + 0x50 is below -118 signed.
    const __m128i digit_bias = _mm_set1_epi8(0x50);
    const __m128i digit_limit = _mm_set1_epi8(static_cast<char>(0x80 + 10));
    const __m128i at_byte = _mm_set1_epi8('@');
    const __m128i space = _mm_set1_epi8(' ');
    const __m128i tab = _mm_set1_epi8('\t');
    auto bits = [](__m128i m) { return static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(m))); };
    for (unsigned i = 0; i < 64; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, delimiter), _mm_cmpeq_epi8(v, quote)),
                                        _mm_or_si128(_mm_cmpeq_epi8(v, line_feed), _mm_cmpeq_epi8(v, carriage_return)));
      special |= bits(hits) << i;
      digit |= bits(_mm_cmplt_epi8(_mm_add_epi8(v, digit_bias), digit_limit)) << i;
      const __m128i blank = _mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, tab));
      rare |= bits(_mm_or_si128(blank, _mm_cmpeq_epi8(v, at_byte))) << i;
    }
#else
    for (unsigned i = 0; i < 64; ++i) {
      const char c = p[i];
      const std::uint64_t bit = std::uint64_t{1} << i;
      if (c == delimiter_ || c == '"' || c == '\n' || c == '\r') special |= bit;
      const std::uint8_t cls = kCellClasses[static_cast<unsigned char>(c)];
      if ((cls & kCellDigit) != 0) digit |= bit;
      if ((cls & kCellAt) != 0 || is_blank(c)) rare |= bit;
    }
#endif
    // The padding's bytes are no field's: a zero byte is special when it is the delimiter.
    if (n < 64) special &= (std::uint64_t{1} << n) - 1;
    masks_ = {special, digit, rare};
  }

  const char* begin_;
  std::size_t size_;
  char delimiter_;
  std::size_t block_ = SIZE_MAX;  // offset of the block masks_ describe
  BlockMasks masks_;
};

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
[[gnu::always_inline]] inline void TableInspector::classify(std::string_view value, Column& column, CellBytes bytes,
                                                            const char* readable_from) {
  ++column.non_empty;
  const std::size_t size = value.size();
  if (bytes.digits && size <= 18) {
    ++column.integers;
    const std::int64_t number = parse_digits(value, readable_from);
    if (number == 0) {
      ++column.zeros;
    } else if (column.min_non_zero == 0 || number < column.min_non_zero) {
      column.min_non_zero = number;
    }
  }
  if (size < 5) return;  // every test below needs 5 bytes or more
  const bool maybe_identifier =
      column.identifier_by_content &&
      ((size == 10 && bytes.digits) || (size == 12 && (value[3] == ' ' || value[3] == '-')) ||
       (size >= 5 && ends_in_inward_code(value)) || (size >= 6 && (bytes.any & kCellAt) != 0));
  const bool maybe_date = column.birth_dates && size >= 8 && is_digit(value[0]);
  if (maybe_identifier || maybe_date) identify(value, column, bytes);
}

// A cell that needs its bytes read one by one (blanks or '@' in it); true if it is not blank.
bool TableInspector::classify_bytes(std::string_view raw, Column& column, const char* readable_from) {
  if (!is_blank(raw.front()) && !is_blank(raw.back())) {
    classify(raw, column, cell_bytes(raw), readable_from);
    return true;
  }
  const std::string_view value = trim(raw);
  if (value.empty()) return false;
  classify(value, column, cell_bytes(value), readable_from);
  return true;
}

// Data rows of unquoted fields from `p`, a field's start in a data row with nothing pending, to the first quote
// (left to the general loop in update()), the chunk's end or a failure; returns where update() goes on. The
// same steps as the general loop, row by row from the masks: each special byte ends a cell, a cell within one
// block is classified from its bits in the block's masks, and the row's counters stay in registers.
const char* TableInspector::scan_rows(const char* p, ChunkMasks& masks) {
  const char* const begin = masks.begin();
  const std::size_t size = masks.size();
  const char* const end = begin + size;
  const char delimiter = delimiter_;
  const std::size_t max_row_bytes = limits_.max_row_bytes;
  Column* const columns = columns_.data();
  const std::size_t width = columns_.size();
  std::size_t column = column_;
  bool content = row_has_content_;
  // The general loop adds each step's bytes to row_bytes_ after it, so a row's last field and line end count
  // towards the next row. Here the count is row_bytes plus the bytes from `counted_from` to where it is read.
  std::size_t row_bytes = row_bytes_;
  const char* counted_from = p;
  const char* cell = p;  // the current cell's first byte
  std::size_t offset = static_cast<std::size_t>(p - begin) & ~std::size_t{63};
  const char* block = begin + offset;
  // Of a cell that began in an earlier block, its bytes there that are not digits, and its blanks and '@'.
  std::uint64_t earlier_non_digit = 0;
  std::uint64_t earlier_rare = 0;
  // Stores the row's counters back; update() goes on at `at`.
  auto leave = [&](const char* at) {
    column_ = column;
    row_has_content_ = content;
    row_bytes_ = row_bytes + static_cast<std::size_t>(at - counted_from);
    if (row_bytes_ > max_row_bytes) fail("a row is longer than " + std::to_string(max_row_bytes) + " bytes");
    return at;
  };
  for (; offset < size; offset += 64, block += 64) {
    const BlockMasks& m = masks.block(offset);
    const std::uint64_t digit = m.digit;
    const std::uint64_t rare = m.rare;
    std::uint64_t special = m.special;
    // The bit of the cell's first byte; bit 0 too when the cell began in an earlier block (earlier_* hold the
    // rest). Past `p`'s block a cell begins at most at bit 1 (after a CR LF at bits 63 and 0).
    std::uint64_t cell_bit = 1;
    if (cell >= block) {
      cell_bit = std::uint64_t{1} << (cell - block);
      special &= 0 - cell_bit;
    }
    while (special != 0) {
      const auto pos = static_cast<unsigned>(__builtin_ctzll(special));
      const std::uint64_t bit = special & (0 - special);
      special ^= bit;
      const char* const stop = block + pos;
      const char c = *stop;
      if (c == '"') return leave(cell);
      const auto length = static_cast<std::size_t>(stop - cell);
      if (column < width && length != 0) {
        const std::uint64_t range = bit - cell_bit;  // the cell's bits in this block
        if (((range & rare) | earlier_rare) == 0) {
          content = true;
          const bool digits = (((digit & range) ^ range) | earlier_non_digit) == 0;
          classify(std::string_view(cell, length), columns[column], CellBytes{0, digits}, begin);
        } else if (classify_bytes(std::string_view(cell, length), columns[column], begin)) {
          content = true;
        }
      }
      earlier_non_digit = 0;
      earlier_rare = 0;
      ++column;
      cell = stop + 1;
      cell_bit = bit << 1;  // 0 after bit 63: the next cell begins in the next block
      if (c == delimiter) [[likely]] {
        continue;
      }
      // A line end: end_row() for a data row. The row's bytes up to its last field were counted step by step
      // by the general loop, and checked after each; the count only grows, so one check here is the same.
      if (row_bytes + static_cast<std::size_t>(stop - counted_from) - length > max_row_bytes) {
        fail("a row is longer than " + std::to_string(max_row_bytes) + " bytes");
        return leave(cell);
      }
      if (!content && column <= 1) {
        // a blank line
      } else if (column != width) {
        column_ = column;
        fail("row " + std::to_string(stats_.rows + 1) + " has " + std::to_string(column) + " fields, the header has " +
             std::to_string(width));
        return end;
      } else {
        ++stats_.rows;
      }
      column = 0;
      content = false;
      row_bytes = length + 1;  // the last field and its line end count towards the next row
      counted_from = cell;
      if (c == '\r') {
        if (cell == end) {  // a line feed in the next chunk belongs to this line end
          skip_line_feed_ = true;
        } else if (*cell == '\n') {  // and is not counted
          ++cell;
          counted_from = cell;
          special &= ~cell_bit;  // the line feed's bit, unless it is in the next block
          cell_bit <<= 1;
        }
      }
      if (row_bytes > max_row_bytes) {
        fail("a row is longer than " + std::to_string(max_row_bytes) + " bytes");
        return leave(cell);
      }
    }
    // The cell goes on into the next block (cell_bit is 0 when it begins there).
    const std::uint64_t rest = 0 - cell_bit;
    earlier_non_digit |= ~digit & rest;
    earlier_rare |= rare & rest;
  }
  return leave(cell);
}

void TableInspector::update(std::span<const char> data) {
  const char* p = data.data();
  const char* const end = p + data.size();
  const char delimiter = delimiter_;
  ChunkMasks masks(data, delimiter);
  while (p < end && !failed_ && !finished_) {
    // The common case first: unquoted fields of data rows.
    if (state_ == State::kFieldStart && !in_header_ && !skip_line_feed_ && field_.empty() && *p != '"') {
      p = scan_rows(p, masks);
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
      classify(value, columns_[column_], cell_bytes(value), value.data());
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
