#include "airlock/gateway/inspect/table.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// AVX2 where the compiler can build it for one function and the processor turns out to have it.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define AIRLOCK_TABLE_AVX2 1
#include <immintrin.h>
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

// For a number of n digits at the end of a word, the bits of the digits' values: a digit's low four bits.
constexpr std::array<std::uint64_t, 9> make_digit_values() {
  std::array<std::uint64_t, 9> values{};
  for (unsigned size = 1; size <= 8; ++size) values[size] = 0x0F0F0F0F0F0F0F0F << (8 * (8 - size));
  return values;
}
constexpr std::array<std::uint64_t, 9> kDigitValues = make_digit_values();

// The value of 1 to 18 digits; the bytes from `readable_from` to the digits' end may be read. Counts are mostly
// a few digits: with 8 bytes to read before their end, up to 8 digits are combined in one word, in pairs, then
// fours, then eight (the bytes before the number become leading zeros).
[[gnu::always_inline]] inline std::uint64_t parse_digits(const char* digits, std::size_t size,
                                                         const char* readable_from) {
  const char* const digits_end = digits + size;
  if constexpr (std::endian::native == std::endian::little) {
    if (size <= 8 && digits_end - readable_from >= 8) {
      std::uint64_t word;
      std::memcpy(&word, digits_end - 8, 8);
      word &= kDigitValues[size];
      word = word * 10 + (word >> 8);
      constexpr std::uint64_t kPairs = 0x000000FF000000FF;
      word = ((word & kPairs) * (100 + (std::uint64_t{1000000} << 32)) +
              ((word >> 16) & kPairs) * (1 + (std::uint64_t{10000} << 32))) >>
             32;
      return static_cast<std::uint32_t>(word);
    }
  }
  std::uint64_t number = 0;  // at most 18 digits: fits
  for (std::size_t i = 0; i < size; ++i) number = number * 10 + static_cast<unsigned>(digits[i] - '0');
  return number;
}

// Columns past the header's that TableInspector::scan_rows() may count a row's extra cells in: one block's.
constexpr std::size_t kSpareColumns = 64;

// The masks of one 64-byte block: bit i describes the block's byte i.
struct BlockMasks {
  std::uint64_t special = 0;  // the bytes that end an unquoted run: the delimiter, a quote, CR and LF
  std::uint64_t other = 0;    // the special bytes but the delimiter
  std::uint64_t digit = 0;    // digits that are not special
  // Bytes that are neither special nor blanks nor '@'. A cell of these needs neither trimming nor the '@' of
  // CellBytes, so it is classified from the masks alone; the others byte by byte.
  std::uint64_t plain = 0;
  // For scan_rows() to find the cells of plain text that identify() could count: capital letters (a postcode
  // ends in two) and dashes (an NHS number of 12 bytes without blanks has one at its fourth byte).
  std::uint64_t upper = 0;
  std::uint64_t dash = 0;
};

// The masks of blocks made from the bytes' own masks of each kind.
[[gnu::always_inline]] inline BlockMasks block_masks(std::uint64_t delimiter, std::uint64_t other, std::uint64_t digit,
                                                     std::uint64_t rare, std::uint64_t upper, std::uint64_t dash) {
  const std::uint64_t special = delimiter | other;
  return {special, other, digit & ~special, ~(rare | special), upper, dash};
}

// The same masks three ways: `make` fills out[0 .. blocks - 1] from the 64 * blocks bytes at `p`.
struct Portable {
  static void make(const char* p, std::size_t blocks, char delimiter, BlockMasks* out) {
    for (std::size_t block = 0; block < blocks; ++block, p += 64) {
      std::uint64_t delimiter_bits = 0;
      std::uint64_t other = 0;
      std::uint64_t digit = 0;
      std::uint64_t rare = 0;
      std::uint64_t upper = 0;
      std::uint64_t dash = 0;
      for (unsigned i = 0; i < 64; ++i) {
        const char c = p[i];
        const std::uint64_t bit = std::uint64_t{1} << i;
        if (c == delimiter) delimiter_bits |= bit;
        if (c == '"' || c == '\n' || c == '\r') other |= bit;
        if (is_digit(c)) digit |= bit;
        if (c == '@' || is_blank(c)) rare |= bit;
        if (is_upper(c)) upper |= bit;
        if (c == '-') dash |= bit;
      }
      out[block] = block_masks(delimiter_bits, other, digit, rare, upper, dash);
    }
  }
};

#if defined(__SSE2__)
struct Sse2 {
  // Bits 0-63 from the top bits of the bytes of a, b, c, d in turn.
  static std::uint64_t bits(__m128i a, __m128i b, __m128i c, __m128i d) {
    auto bits16 = [](__m128i v) { return std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(v))}; };
    return bits16(a) | bits16(b) << 16 | bits16(c) << 32 | bits16(d) << 48;
  }

  static void make(const char* p, std::size_t blocks, char delimiter, BlockMasks* out) {
    const __m128i delimiters = _mm_set1_epi8(delimiter);
    const __m128i quotes = _mm_set1_epi8('"');
    const __m128i line_feeds = _mm_set1_epi8('\n');
    const __m128i carriage_returns = _mm_set1_epi8('\r');
    // c is a digit when c - '0' < 10 unsigned, that is when (c - '0') ^ 0x80 = c + 0x50 is below -118 signed.
    const __m128i digit_bias = _mm_set1_epi8(0x50);
    const __m128i digit_limit = _mm_set1_epi8(static_cast<char>(0x80 + 10));
    const __m128i ats = _mm_set1_epi8('@');
    const __m128i spaces = _mm_set1_epi8(' ');
    const __m128i tabs = _mm_set1_epi8('\t');
    auto other = [&](__m128i v) {
      return _mm_or_si128(_mm_cmpeq_epi8(v, quotes),
                          _mm_or_si128(_mm_cmpeq_epi8(v, line_feeds), _mm_cmpeq_epi8(v, carriage_returns)));
    };
    auto digit = [&](__m128i v) { return _mm_cmplt_epi8(_mm_add_epi8(v, digit_bias), digit_limit); };
    // The same for capitals: c + 0x3F is below -128 + 26 exactly for 'A' to 'Z'.
    const __m128i upper_bias = _mm_set1_epi8(0x3F);
    const __m128i upper_limit = _mm_set1_epi8(static_cast<char>(0x80 + 26));
    auto upper = [&](__m128i v) { return _mm_cmplt_epi8(_mm_add_epi8(v, upper_bias), upper_limit); };
    const __m128i dashes = _mm_set1_epi8('-');
    auto rare = [&](__m128i v) {
      return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, spaces), _mm_cmpeq_epi8(v, tabs)), _mm_cmpeq_epi8(v, ats));
    };
    for (std::size_t block = 0; block < blocks; ++block, p += 64) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
      const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48));
      out[block] =
          block_masks(bits(_mm_cmpeq_epi8(a, delimiters), _mm_cmpeq_epi8(b, delimiters), _mm_cmpeq_epi8(c, delimiters),
                           _mm_cmpeq_epi8(d, delimiters)),
                      bits(other(a), other(b), other(c), other(d)), bits(digit(a), digit(b), digit(c), digit(d)),
                      bits(rare(a), rare(b), rare(c), rare(d)), bits(upper(a), upper(b), upper(c), upper(d)),
                      bits(_mm_cmpeq_epi8(a, dashes), _mm_cmpeq_epi8(b, dashes), _mm_cmpeq_epi8(c, dashes),
                           _mm_cmpeq_epi8(d, dashes)));
    }
  }
};
#endif

#if defined(AIRLOCK_TABLE_AVX2)
// As Sse2, 32 bytes at a time. No lambdas here: they would not have the target of the functions they are in.
struct Avx2 {
  [[gnu::target("avx2"), gnu::always_inline]] static inline std::uint64_t bits(__m256i low, __m256i high) {
    return std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(low))} |
           std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(high))} << 32;
  }
  [[gnu::target("avx2"), gnu::always_inline]] static inline __m256i either(__m256i v, __m256i x, __m256i y) {
    return _mm256_or_si256(_mm256_cmpeq_epi8(v, x), _mm256_cmpeq_epi8(v, y));
  }

  [[gnu::target("avx2,bmi")]] static void make(const char* p, std::size_t blocks, char delimiter, BlockMasks* out) {
    const __m256i delimiters = _mm256_set1_epi8(delimiter);
    const __m256i quotes = _mm256_set1_epi8('"');
    const __m256i line_feeds = _mm256_set1_epi8('\n');
    const __m256i carriage_returns = _mm256_set1_epi8('\r');
    const __m256i digit_bias = _mm256_set1_epi8(0x50);
    const __m256i digit_limit = _mm256_set1_epi8(static_cast<char>(0x80 + 10));
    const __m256i upper_bias = _mm256_set1_epi8(0x3F);
    const __m256i upper_limit = _mm256_set1_epi8(static_cast<char>(0x80 + 26));
    const __m256i dashes = _mm256_set1_epi8('-');
    const __m256i ats = _mm256_set1_epi8('@');
    const __m256i spaces = _mm256_set1_epi8(' ');
    const __m256i tabs = _mm256_set1_epi8('\t');
    for (std::size_t block = 0; block < blocks; ++block, p += 64) {
      const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
      out[block] = block_masks(
          bits(_mm256_cmpeq_epi8(low, delimiters), _mm256_cmpeq_epi8(high, delimiters)),
          bits(_mm256_or_si256(either(low, line_feeds, carriage_returns), _mm256_cmpeq_epi8(low, quotes)),
               _mm256_or_si256(either(high, line_feeds, carriage_returns), _mm256_cmpeq_epi8(high, quotes))),
          bits(_mm256_cmpgt_epi8(digit_limit, _mm256_add_epi8(low, digit_bias)),
               _mm256_cmpgt_epi8(digit_limit, _mm256_add_epi8(high, digit_bias))),
          bits(_mm256_or_si256(either(low, spaces, tabs), _mm256_cmpeq_epi8(low, ats)),
               _mm256_or_si256(either(high, spaces, tabs), _mm256_cmpeq_epi8(high, ats))),
          bits(_mm256_cmpgt_epi8(upper_limit, _mm256_add_epi8(low, upper_bias)),
               _mm256_cmpgt_epi8(upper_limit, _mm256_add_epi8(high, upper_bias))),
          bits(_mm256_cmpeq_epi8(low, dashes), _mm256_cmpeq_epi8(high, dashes)));
    }
  }
};

// As Avx2, 64 bytes at a time: each comparison gives a block's mask at once.
struct Avx512 {
  [[gnu::target("avx512f,avx512bw"), gnu::always_inline]] static inline std::uint64_t equal(__m512i v, char c) {
    return _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c));
  }
  // The bytes from `low` to `low` + `count` - 1.
  [[gnu::target("avx512f,avx512bw"), gnu::always_inline]] static inline std::uint64_t within(__m512i v, char low,
                                                                                             char count) {
    return _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(low)), _mm512_set1_epi8(count));
  }

  [[gnu::target("avx512f,avx512bw")]] static void make(const char* p, std::size_t blocks, char delimiter,
                                                       BlockMasks* out) {
    for (std::size_t block = 0; block < blocks; ++block, p += 64) {
      const __m512i v = _mm512_loadu_si512(p);
      out[block] = block_masks(equal(v, delimiter), equal(v, '"') | equal(v, '\n') | equal(v, '\r'), within(v, '0', 10),
                               equal(v, ' ') | equal(v, '\t') | equal(v, '@'), within(v, 'A', 26), equal(v, '-'));
    }
  }
};
#endif

#if defined(__SSE2__)
using Baseline = Sse2;  // every x86-64 has SSE2
#else
using Baseline = Portable;
#endif

}  // namespace

// Bit masks of one chunk, 64 bytes at a time, in blocks at multiples of 64 from the chunk's start. Fields are
// then found and classified a few instructions each, rather than a few per byte. The masks of the last blocks
// made are kept: the general loop and scan_rows() take turns within a block. scan_rows() reads the blocks in
// order and has kAhead made at a time; the general loop, which may skip quoted text, one.
class TableInspector::ChunkMasks {
 public:
  static constexpr std::size_t kAhead = 8;

  ChunkMasks(std::span<const char> data, char delimiter, VectorInstructions instructions)
      : begin_(data.data()), size_(data.size()), delimiter_(delimiter), instructions_(instructions) {}

  const char* begin() const { return begin_; }
  std::size_t size() const { return size_; }

  // The blocks kept from `offset`, a multiple of 64 below size(): at least one, made with up to `ahead` blocks
  // if not kept. Bits past the chunk's end are clear, but for `plain`.
  template <class Isa>
  std::span<const BlockMasks> blocks(std::size_t offset, std::size_t ahead) {
    if (offset - kept_from_ >= kept_ * 64) make<Isa>(offset, ahead);  // also when offset < kept_from_
    const std::size_t first = (offset - kept_from_) / 64;
    return {masks_.data() + first, kept_ - first};
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
  const BlockMasks& block(std::size_t offset) {
    switch (instructions_) {
#if defined(AIRLOCK_TABLE_AVX2)
      case VectorInstructions::kAvx512: return blocks<Avx512>(offset, 1).front();
      case VectorInstructions::kAvx2: return blocks<Avx2>(offset, 1).front();
#endif
      case VectorInstructions::kPortable: return blocks<Portable>(offset, 1).front();
      default: return blocks<Baseline>(offset, 1).front();
    }
  }

  template <class Isa>
  void make(std::size_t offset, std::size_t ahead) {
    kept_from_ = offset;
    kept_ = std::min(ahead, (size_ - offset) / 64);
    if (kept_ > 0) {
      Isa::make(begin_ + offset, kept_, delimiter_, masks_.data());
      return;
    }
    // The chunk's last bytes, padded so that the block is read whole. The padding's bytes are no field's: a
    // zero byte is special when it is the delimiter.
    const std::size_t n = size_ - offset;
    alignas(32) char tail[64];
    std::memset(tail, 0, sizeof tail);
    std::memcpy(tail, begin_ + offset, n);
    Isa::make(tail, 1, delimiter_, masks_.data());
    kept_ = 1;
    const std::uint64_t in_chunk = (std::uint64_t{1} << n) - 1;
    masks_[0].special &= in_chunk;
    masks_[0].other &= in_chunk;
  }

  const char* begin_;
  std::size_t size_;
  char delimiter_;
  VectorInstructions instructions_;
  std::size_t kept_from_ = 0;  // offset of the first block masks_ describe
  std::size_t kept_ = 0;       // how many blocks they describe
  std::array<BlockMasks, kAhead> masks_;
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

TableInspector::TableInspector(char delimiter, TableLimits limits, VectorInstructions instructions)
    : delimiter_(delimiter), limits_(limits), instructions_(usable_instructions(instructions)) {
  field_.reserve(256);
}

void TableInspector::fail(std::string problem) {
  if (failed_) return;
  failed_ = true;
  stats_.problem = std::move(problem);
}

// The counts of a cell that is a non-negative integer.
template <class Column>
[[gnu::always_inline]] inline void count_integer(Column& column, std::uint64_t number) {
  ++column.integers;
  if (number - 1 < column.min_non_zero_less_one) {  // never for 0, whose less one is all bits set
    column.min_non_zero_less_one = number - 1;
  } else if (number == 0) {
    ++column.zeros;
  }
}

// Inline in the cell loops: the counts a non-empty cell feeds (its caller counts the empty ones), then
// identify() for the cells that could be an identifier or a date where the statistics use those counts (each
// test's cheap precondition first).
[[gnu::always_inline]] inline void TableInspector::classify(std::string_view value, Column& column, CellBytes bytes,
                                                            const char* readable_from) {
  const std::size_t size = value.size();
  if (bytes.digits && size <= 18) count_integer(column, parse_digits(value.data(), size, readable_from));
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
// same steps as the general loop, row by row from the masks, with the row's counters in registers. Each special
// byte ends a cell. Two sums per block tell which cells are all digits and which are plain (neither blanks nor
// '@'): a plain cell of text is then judged by its size and last byte alone, and identify() only sees the cells
// that could be what it counts (identify() itself decides).
template <class Isa>
[[gnu::always_inline]] inline const char* TableInspector::scan_rows(const char* p, ChunkMasks& masks) {
  const char* const begin = masks.begin();
  const std::size_t size = masks.size();
  const char* const end = begin + size;
  const std::size_t max_row_bytes = limits_.max_row_bytes;
  Column* const columns = columns_.data();
  const std::size_t width = width_;
  Column* const columns_end = columns + width;
  // The current cell's column, and the row's cells past the header's width (the row fails at its end). Within a
  // block the column may go on into the spare ones, at most one per special byte; each block starts with those
  // moved to `extra`.
  Column* column = columns + std::min(column_, width);
  std::size_t extra = column_ - std::min(column_, width);
  std::int64_t rows = stats_.rows;
  // The general loop adds each step's bytes to row_bytes_ after it, so a row's last field and line end count
  // towards the next row. Here the count is row_bytes plus the bytes from `counted_from` to where it is read.
  std::size_t row_bytes = row_bytes_;
  const char* counted_from = p;
  const char* cell = p;  // the current cell's first byte
  // The end of the last empty or blank cell: a row of one field is a blank line if its field ends there.
  const char* blank_end = nullptr;
  // Stores the row's counters back; update() goes on at `at`, the current cell.
  const auto leave = [this, p, columns, max_row_bytes](const char* at, const Column* column, std::size_t extra,
                                                       std::int64_t rows, std::size_t row_bytes,
                                                       const char* blank_end) {
    const std::size_t fields = static_cast<std::size_t>(column - columns) + extra;
    // end_row() reads row_has_content_ only for a row of at most one field: then whether that field, if it
    // ended here, was blank.
    if (fields != 1) {
      row_has_content_ = fields != 0;
    } else if (at > p) {
      row_has_content_ = blank_end != at - 1;
    }
    column_ = fields;
    stats_.rows = rows;
    row_bytes_ = row_bytes;
    if (row_bytes_ > max_row_bytes) fail("a row is longer than " + std::to_string(max_row_bytes) + " bytes");
    return at;
  };
  // A non-empty cell of plain text that is not all digits: neither an integer nor an NHS number of ten digits,
  // and as it has no blanks, a separated NHS number in it has '-' after 3 digits.
  const auto text = [this](const char* first, std::size_t length, Column& column) {
    if (((column.text_sizes >> (length & 63)) & 1) != 0 &&
        (is_upper(first[length - 1]) || (length == 12 && first[3] == '-') || column.birth_dates)) {
      identify(std::string_view(first, length), column, CellBytes{0, false});
    }
  };
  std::size_t offset = static_cast<std::size_t>(p - begin) & ~std::size_t{63};
  const char* block = begin + offset;
  // Of a cell that goes on from an earlier block: 1 if its bytes there are all digits, and if all plain.
  std::uint64_t digits_so_far = 0;
  std::uint64_t plain_so_far = 0;
  // The previous block's capitals, dashes and special bytes, for the cells that end in this block.
  std::uint64_t upper_before = 0;
  std::uint64_t dash_before = 0;
  std::uint64_t special_before = 0;
  const bool birth_dates = birth_dates_;
  while (offset < size) {
    const std::span<const BlockMasks> kept = masks.template blocks<Isa>(offset, ChunkMasks::kAhead);
    offset += 64 * kept.size();
    for (const BlockMasks& m : kept) {
      if (column > columns_end) [[unlikely]] {
        extra += static_cast<std::size_t>(column - columns_end);
        column = columns_end;
      }
      std::uint64_t special = m.special;
      // The bits of the cells' first bytes: after each special byte, and the current cell's if it begins in
      // this block (the special bytes before it are left out). Past `p`'s block a cell begins at most at bit 1
      // (after a CR LF at bits 63 and 0).
      std::uint64_t starts = 0;
      if (cell >= block) {
        starts = std::uint64_t{1} << (cell - block);
        special &= 0 - starts;
        digits_so_far = 0;
        plain_so_far = 0;
      }
      starts |= special << 1;
      // A cell's first bit added to a run of ones in a mask carries to the run's end: the sum has the bit of
      // the special byte that ends a cell when all of the cell's bytes are in the mask (and when the cell is
      // empty). The carry out of bit 63 is that of the cell going on into the next block.
      std::uint64_t digit_ends;
      std::uint64_t plain_ends;
      digits_so_far = __builtin_add_overflow(starts | digits_so_far, m.digit, &digit_ends) ? 1 : 0;
      plain_so_far = __builtin_add_overflow(starts | plain_so_far, m.plain, &plain_ends) ? 1 : 0;
      // The cells that need more than their size and last byte: empty, all digits, or with blanks or '@'.
      const std::uint64_t odd = (digit_ends | ~plain_ends) & special;
      const std::uint64_t other = m.other;
      const std::uint64_t unusual = odd | other;  // and the cells before a line end or a quote
      // The other cells are plain text, for which text() does something only in a column of dates of birth, or
      // for a cell of 2 bytes or more that ends in a capital, or has dashes 9 and 5 bytes before its end (an NHS
      // number of 12 bytes has them at its fourth and eighth). The rest are only counted, by the bits between the
      // cells looked at;
      // `special` keeps the bits not yet passed. (A block that a call starts in has no cell from before: nothing is
      // carried in.)
      std::uint64_t looked_at = special;
      if (!birth_dates) {
        // A capital after a byte of the cell: identify() counts no text of fewer than 5 bytes.
        const std::uint64_t capital_end =
            ((m.upper << 1) | (upper_before >> 63)) & ~((m.special << 2) | (special_before >> 62));
        // Dashes 9 and 5 bytes before a cell's end: is_nhs_number_value() wants the same separator at both.
        const std::uint64_t dashes_end = ((m.dash << 9) | (dash_before >> 55)) & ((m.dash << 5) | (dash_before >> 59));
        looked_at &= unusual | capital_end | dashes_end;
        upper_before = m.upper;
        dash_before = m.dash;
        special_before = m.special;
      }
      std::uint64_t work = looked_at;
      while (work != 0) {
        const auto at = static_cast<unsigned>(__builtin_ctzll(work));
        const std::uint64_t through = work ^ (work - 1);  // the bits up to `at`'s
        work &= work - 1;
        const std::uint64_t passed = special & (through >> 1);  // plain cells before this one, only counted
        special &= ~through;
        const char* const stop = block + at;
        const char* const first = passed == 0 ? cell : block + (64 - __builtin_clzll(passed));
        column += std::popcount(passed);
        const auto length = static_cast<std::size_t>(stop - first);
        cell = stop + 1;
        if (((unusual >> at) & 1) == 0) [[likely]] {  // plain text, not the row's last cell
          text(first, length, *column);
          ++column;
          continue;
        }
        const bool ends_row = ((other >> at) & 1) != 0;  // or the cell has a quote
        if (ends_row && *stop == '"') {
          return leave(first, column, extra, rows, row_bytes + static_cast<std::size_t>(first - counted_from),
                       blank_end);
        }
        if (((odd >> at) & 1) == 0) {
          text(first, length, *column);
        } else if (((digit_ends >> at) & 1) != 0) {
          if (length == 0) {
            ++column->empty;
            blank_end = stop;
          } else {
            if (length <= 18) count_integer(*column, parse_digits(first, length, begin));
            if (((column->digit_sizes >> (length & 63)) & 1) != 0) {
              identify(std::string_view(first, length), *column, CellBytes{0, true});
            }
          }
        } else if (!classify_bytes(std::string_view(first, length), *column, begin)) {
          ++column->empty;
          blank_end = stop;
        }
        ++column;
        if (!ends_row) continue;
        // A line end: end_row() for a data row. The row's bytes up to its last field were counted step by step
        // by the general loop, and checked after each; the count only grows, so one check here is the same.
        if (row_bytes + static_cast<std::size_t>(first - counted_from) > max_row_bytes) {
          fail("a row is longer than " + std::to_string(max_row_bytes) + " bytes");
          return leave(cell, column, extra, rows, row_bytes, blank_end);
        }
        if (blank_end == stop && column == columns + 1 && extra == 0) {
          --columns->empty;  // a blank line (one field, blank), whose cell is in no row
        } else if (column != columns_end || extra != 0) {
          const std::size_t fields = static_cast<std::size_t>(column - columns) + extra;
          column_ = fields;
          fail("row " + std::to_string(rows + 1) + " has " + std::to_string(fields) + " fields, the header has " +
               std::to_string(width));
          return end;
        } else {
          ++rows;
        }
        column = columns;
        extra = 0;
        row_bytes = length + 1;  // the last field and its line end count towards the next row
        counted_from = cell;
        if (*stop == '\r') {
          if (cell == end) {  // a line feed in the next chunk belongs to this line end
            skip_line_feed_ = true;
          } else if (*cell == '\n') {  // and is not counted
            ++cell;
            counted_from = cell;
            special &= ~(std::uint64_t{2} << at);  // the line feed's bit, unless it is in the next block
            work &= ~(std::uint64_t{2} << at);
          }
        }
        if (row_bytes > max_row_bytes) {
          fail("a row is longer than " + std::to_string(max_row_bytes) + " bytes");
          return leave(cell, column, extra, rows, row_bytes, blank_end);
        }
      }
      if (special != 0) {  // the block's last cells, plain text
        column += std::popcount(special);
        cell = block + (64 - __builtin_clzll(special));
      }
      block += 64;
    }
  }
  return leave(cell, column, extra, rows, row_bytes + static_cast<std::size_t>(cell - counted_from), blank_end);
}

#if defined(AIRLOCK_TABLE_AVX2)
[[gnu::target("avx2,bmi,lzcnt,popcnt")]] const char* TableInspector::scan_rows_avx2(const char* p, ChunkMasks& masks) {
  return scan_rows<Avx2>(p, masks);
}
[[gnu::target("avx512f,avx512bw,avx2,bmi,lzcnt,popcnt")]] const char* TableInspector::scan_rows_avx512(
    const char* p, ChunkMasks& masks) {
  return scan_rows<Avx512>(p, masks);
}
#else
const char* TableInspector::scan_rows_avx2(const char* p, ChunkMasks& masks) { return scan_rows<Baseline>(p, masks); }
const char* TableInspector::scan_rows_avx512(const char* p, ChunkMasks& masks) { return scan_rows<Baseline>(p, masks); }
#endif

void TableInspector::update(std::span<const char> data) {
  const char* p = data.data();
  const char* const end = p + data.size();
  const char delimiter = delimiter_;
  ChunkMasks masks(data, delimiter, instructions_);
  while (p < end && !failed_ && !finished_) {
    // The common case first: unquoted fields of data rows.
    if (state_ == State::kFieldStart && !in_header_ && !skip_line_feed_ && field_.empty() && *p != '"') {
      switch (instructions_) {
        case VectorInstructions::kAvx512: p = scan_rows_avx512(p, masks); break;
        case VectorInstructions::kAvx2: p = scan_rows_avx2(p, masks); break;
        case VectorInstructions::kPortable: p = scan_rows<Portable>(p, masks); break;
        default: p = scan_rows<Baseline>(p, masks);
      }
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
  } else if (column_ < width_) {
    const bool padded = !raw.empty() && (is_blank(raw.front()) || is_blank(raw.back()));
    const std::string_view value = padded ? trim(raw) : raw;
    if (value.empty()) {
      ++columns_[column_].empty;
    } else {
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
    if (!in_header_ && column_ == 1) --columns_[0].empty;  // its one cell is in no row
    column_ = 0;
    row_bytes_ = 0;
    return;
  }
  if (in_header_) {
    in_header_ = false;
    width_ = column_;
    columns_.resize(width_ + kSpareColumns);
    stats_.columns = static_cast<std::int64_t>(column_);
    for (std::size_t i = 0; i < width_ && i < stats_.column_names.size(); ++i) {
      const std::string& name = stats_.column_names[i];
      columns_[i].identifier_by_content = !is_identifier_column_name(name);
      columns_[i].birth_dates = is_birth_date_column_name(name);
      birth_dates_ = birth_dates_ || columns_[i].birth_dates;
      if (columns_[i].birth_dates) {
        columns_[i].text_sizes = columns_[i].digit_sizes = ~std::uint64_t{0};
      } else if (!columns_[i].identifier_by_content) {
        columns_[i].text_sizes = columns_[i].digit_sizes = 0;
      }
    }
  } else if (column_ != width_) {
    fail("row " + std::to_string(stats_.rows + 1) + " has " + std::to_string(column_) + " fields, the header has " +
         std::to_string(width_));
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
  for (std::size_t i = 0; i < width_; ++i) {
    const Column& column = columns_[i];
    const std::string& name = stats_.column_names[i];
    const std::int64_t non_empty = stats_.rows - column.empty;
    const bool mostly = non_empty > 0 && (column.nhs_numbers * 2 > non_empty || column.postcodes * 2 > non_empty ||
                                          column.emails * 2 > non_empty);
    const bool identifier = is_identifier_column_name(name) || mostly;
    if (identifier) stats_.identifier_columns.push_back(name);
    if (is_birth_date_column_name(name)) stats_.dates_of_birth += column.dates;
    const auto tokens = name_tokens(name);
    const bool count = !identifier && column.integers > 0 &&
                       (is_count_name(tokens) || (column.integers == non_empty && !is_not_count_name(tokens)));
    if (!count) continue;
    stats_.count_columns.push_back(name);
    stats_.zero_cells += column.zeros;
    if (column.min_non_zero_less_one != UINT64_MAX) {
      const auto min_non_zero = static_cast<std::int64_t>(column.min_non_zero_less_one + 1);
      if (stats_.min_count == 0 || min_non_zero < stats_.min_count) stats_.min_count = min_non_zero;
    }
  }
}

}  // namespace airlock::gateway::inspect
