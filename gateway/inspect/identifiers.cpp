#include "airlock/gateway/inspect/identifiers.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <limits>

namespace airlock::gateway::inspect {
namespace {

constexpr std::uint8_t kDigit = 1;
constexpr std::uint8_t kUpper = 2;
constexpr std::uint8_t kLower = 4;
constexpr std::uint8_t kLocalPart = 8;  // may appear in an email's local part
constexpr std::uint8_t kDomainPart = 16;
constexpr std::uint8_t kUpperOrDigit = 32;  // ANDed over a run: every byte is a digit or upper case
constexpr std::uint8_t kLetter = 64;        // ANDed over a run: every byte is a letter
constexpr std::uint8_t kAlnum = kDigit | kUpper | kLower;

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> classes{};
  for (int c = '0'; c <= '9'; ++c) classes[c] = kDigit | kUpperOrDigit | kLocalPart | kDomainPart;
  for (int c = 'A'; c <= 'Z'; ++c) classes[c] = kUpper | kUpperOrDigit | kLetter | kLocalPart | kDomainPart;
  for (int c = 'a'; c <= 'z'; ++c) classes[c] = kLower | kLetter | kLocalPart | kDomainPart;
  for (char c : {'.', '_', '%', '+', '-'}) classes[static_cast<unsigned char>(c)] |= kLocalPart;
  classes['-'] |= kDomainPart;
  return classes;
}
constexpr std::array<std::uint8_t, 256> kClasses = make_classes();

// What SegmentScan (below) looks at. A hard separator is a byte that is neither a letter or
// digit nor one that can join or continue an identifier (the joiners ' ', '-', '/', '.'; '+' before a phone
// number; '_' and '%' in an email's local part; '@'): a comma, a tab, a line end, a quote, a non-ASCII byte.
// Nothing the scanner matches spans one.
constexpr std::uint8_t kSegmentDigit = 1;
constexpr std::uint8_t kSegmentUpper = 2;
constexpr std::uint8_t kSegmentHard = 4;
constexpr std::uint8_t kSegmentAt = 8;
constexpr std::uint8_t kSegmentB = 16;       // 'b' or 'B': every date-of-birth label has one
constexpr std::uint8_t kSegmentJoiner = 32;  // ' ', '-', '/', '.'
// Where a label's 'b' may be: after a byte that is not a letter or digit, an 'o' ("dob") or an 'f'
// ("dateofbirth"), and before one that is not a letter or digit, an 'i' ("birth") or an 'o' ("born").
constexpr std::uint8_t kSegmentBeforeB = 64;
constexpr std::uint8_t kSegmentAfterB = 128;

constexpr std::array<std::uint8_t, 256> make_segment_classes() {
  std::array<std::uint8_t, 256> classes{};
  for (int c = 0; c < 256; ++c) classes[c] = kSegmentHard;
  for (int c = '0'; c <= '9'; ++c) classes[c] = kSegmentDigit;
  for (int c = 'A'; c <= 'Z'; ++c) classes[c] = kSegmentUpper;
  for (int c = 'a'; c <= 'z'; ++c) classes[c] = 0;
  for (char c : {'+', '_', '%'}) classes[static_cast<unsigned char>(c)] = 0;
  for (char c : {' ', '-', '/', '.'}) classes[static_cast<unsigned char>(c)] = kSegmentJoiner;
  classes['@'] = kSegmentAt;
  classes['b'] = kSegmentB;
  classes['B'] = kSegmentUpper | kSegmentB;
  for (int c = 0; c < 256; ++c) {
    if ((classes[c] & kSegmentDigit) == 0 && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z')) {
      classes[c] |= kSegmentBeforeB | kSegmentAfterB;
    }
  }
  for (char c : {'o', 'O', 'f', 'F'}) classes[static_cast<unsigned char>(c)] |= kSegmentBeforeB;
  for (char c : {'i', 'I', 'o', 'O'}) classes[static_cast<unsigned char>(c)] |= kSegmentAfterB;
  return classes;
}
constexpr std::array<std::uint8_t, 256> kSegmentClasses = make_segment_classes();

// How far after a date-of-birth label ("DOB: ") a date may start and still be its value.
constexpr std::uint64_t kLabelReach = 48;
constexpr std::uint32_t kMaxLocalPart = 64;
constexpr std::uint32_t kMaxDomain = 253;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c); });
}

// Outward codes: A9, A99, A9A, AA9, AA99, AA9A.
bool is_outward_code(std::string_view s) {
  switch (s.size()) {
    case 2: return is_upper(s[0]) && is_digit(s[1]);
    case 3:
      return is_upper(s[0]) &&
             ((is_digit(s[1]) && (is_digit(s[2]) || is_upper(s[2]))) || (is_upper(s[1]) && is_digit(s[2])));
    case 4: return is_upper(s[0]) && is_upper(s[1]) && is_digit(s[2]) && (is_digit(s[3]) || is_upper(s[3]));
    default: return false;
  }
}

bool is_inward_code(std::string_view s) { return s.size() == 3 && is_digit(s[0]) && is_upper(s[1]) && is_upper(s[2]); }

int parse_small(std::string_view digits) {
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

bool is_calendar_date(int year, int month, int day) {
  if (year < 1880 || year > 2099 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = month == 2 && !leap ? 28 : kDays[month - 1];
  return day <= days;
}

// Three digit groups as a numeric date: d/m/yyyy (one or two digits for day and month) or yyyy/m/d.
bool is_date_groups(std::string_view a, std::string_view b, std::string_view c) {
  if (b.empty() || b.size() > 2) return false;
  if (a.size() == 4 && !c.empty() && c.size() <= 2)
    return is_calendar_date(parse_small(a), parse_small(b), parse_small(c));
  if (c.size() == 4 && !a.empty() && a.size() <= 2)
    return is_calendar_date(parse_small(c), parse_small(b), parse_small(a));
  return false;
}

// After a hard separator, nothing before it can join what follows (see kSegmentClasses). A segment up to the
// next hard separator with no '@', no digit followed by two capitals (every postcode's inward code), no run
// of digits and joiners where a sequence of digit groups may reach ten digits and, when labels count, no 'b'
// where a label's may be (see kSegmentBeforeB) holds nothing the scanner could count: it is "boring" and
// passed over whole. The state the byte-by-byte scan would leave for the next word is the same: that word
// follows a separator run that is not a single joiner or space, which is all the scan would remember of the
// segment.
//
// The segments of one chunk are found with bit masks of 64-byte blocks at multiples of 64 from the chunk's
// start (AVX2 or SSE2 where available): a few instructions per block rather than a few per byte. Every test
// looks back only (a digit and two capitals is marked at its last capital), so a block needs nothing of the
// next one, and a mark always falls in the segment it belongs to.

// The bytes of one 64-byte block that the tests look at, a bit each.
struct BlockBytes {
  std::uint64_t soft;  // not a hard separator (a rare hard byte taken for soft only leaves a segment longer)
  std::uint64_t digit;
  std::uint64_t joined;  // digits and the joiners ' ', '-', '/', '.'
  std::uint64_t rare;    // '@', and 'b' or 'B' when labels count: looked at one by one
  std::uint64_t space;
  std::uint64_t lower;  // 'a' to 'z'
};

// Plain C++, byte by byte.
inline BlockBytes classify_block_portable(const char* p, bool labels) {
  BlockBytes bytes{0, 0, 0, 0, 0, 0};
  const std::uint8_t rare_classes = labels ? (kSegmentAt | kSegmentB) : kSegmentAt;
  for (std::size_t i = 0; i < 64; ++i) {
    const std::uint8_t cls = kSegmentClasses[static_cast<unsigned char>(p[i])];
    const std::uint64_t bit = std::uint64_t{1} << i;
    if ((cls & kSegmentHard) == 0) bytes.soft |= bit;
    if ((cls & kSegmentDigit) != 0) bytes.digit |= bit;
    if ((cls & (kSegmentDigit | kSegmentJoiner)) != 0) bytes.joined |= bit;
    if ((cls & rare_classes) != 0) bytes.rare |= bit;
    if (p[i] == ' ') bytes.space |= bit;
    if (p[i] >= 'a' && p[i] <= 'z') bytes.lower |= bit;
  }
  return bytes;
}

#if defined(__SSE2__)
inline BlockBytes classify_block(const char* p, bool labels) {
  BlockBytes bytes{0, 0, 0, 0, 0, 0};
  // Each range with one compare: byte - low + 0x80 (wrapping) is below high - low - 127 as a signed byte
  // exactly for the bytes from low to high. Clearing bit 0x20 turns lower case letters into capitals.
  auto in_range = [](__m128i v, char low, char high) {
    return _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - low))),
                          _mm_set1_epi8(static_cast<char>(high - low - 127)));
  };
  auto bits = [](__m128i m) { return static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(m))); };
  // With labels off, a key that no byte matches once bit 0x20 is cleared.
  const __m128i b_key = _mm_set1_epi8(labels ? 'B' : ' ');
  for (int i = 0; i < 64; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i folded = _mm_andnot_si128(_mm_set1_epi8(0x20), v);
    const __m128i d = in_range(v, '0', '9');
    // '-', '.', '/' and the digits are one range.
    const __m128i dj = _mm_or_si128(in_range(v, '-', '9'), _mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
    // Letters, '@' and '`' (which folds onto '@'): taking a rare '`' for soft only leaves a segment longer.
    const __m128i letters = in_range(folded, '@', 'Z');
    const __m128i others =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')),
                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')), _mm_cmpeq_epi8(v, _mm_set1_epi8('%'))));
    bytes.soft |= bits(_mm_or_si128(_mm_or_si128(dj, letters), others)) << i;
    bytes.digit |= bits(d) << i;
    bytes.joined |= bits(dj) << i;
    bytes.rare |= bits(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('@')), _mm_cmpeq_epi8(folded, b_key))) << i;
    bytes.space |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(' '))) << i;
    bytes.lower |= bits(in_range(v, 'a', 'z')) << i;
  }
  return bytes;
}
#else
inline BlockBytes classify_block(const char* p, bool labels) { return classify_block_portable(p, labels); }
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define AIRLOCK_IDENTIFIERS_AVX2 1

// With AVX2, each byte's kind comes from two table lookups, one by its low four bits and one by its high four,
// ANDed: a kind is a set of low halves times a set of high halves, and gets one bit of the result. The kinds
// below are disjoint, so a byte has at most one bit, and none exactly when it is a hard separator. A byte
// of 0x80 or more looks up zero by its low half (the lookup's rule for such an index).
struct NibbleKind {
  std::uint8_t bit;
  std::uint16_t highs;  // bit h set: high half h
  std::uint16_t lows;   // bit l set: low half l
};
constexpr std::uint8_t kNibbleDigit = 0x80;   // the top bit: the byte mask needs no shift
constexpr std::uint8_t kNibbleJoiner = 0x40;  // next to the digits: adding 0x40 tops either with the top bit
constexpr std::uint8_t kNibbleB = 0x08;
constexpr std::uint8_t kNibbleAt = 0x04;
constexpr std::array<NibbleKind, 8> kNibbleKinds{{
    {kNibbleDigit, 1 << 3, 0x03FF},            // '0' to '9'
    {kNibbleJoiner, 1 << 2, 1 << 0 | 0xE000},  // ' ', '-', '.', '/'
    {0x20, 1 << 4 | 1 << 6, 0xFFFA},           // 'A' to 'O' and 'a' to 'o' but for 'B' and 'b'
    {0x10, 1 << 5 | 1 << 7, 0x07FF},           // 'P' to 'Z' and 'p' to 'z'
    {kNibbleB, 1 << 4 | 1 << 6, 1 << 2},       // 'B' and 'b'
    {kNibbleAt, 1 << 4, 1 << 0},               // '@'
    {0x02, 1 << 2, 1 << 5 | 1 << 11},          // '%' and '+'
    {0x01, 1 << 5, 1 << 15},                   // '_'
}};

constexpr std::array<std::uint8_t, 16> nibble_table(bool high) {
  std::array<std::uint8_t, 16> table{};
  for (const NibbleKind& kind : kNibbleKinds) {
    for (int i = 0; i < 16; ++i) {
      if (((high ? kind.highs : kind.lows) >> i) & 1) table[i] |= kind.bit;
    }
  }
  return table;
}
alignas(16) constexpr std::array<std::uint8_t, 16> kLowNibbles = nibble_table(false);
alignas(16) constexpr std::array<std::uint8_t, 16> kHighNibbles = nibble_table(true);
// The same four times over, for AVX-512's lookups (one per 16-byte lane).
constexpr std::array<std::uint8_t, 64> four_times(const std::array<std::uint8_t, 16>& table) {
  std::array<std::uint8_t, 64> wide{};
  for (std::size_t i = 0; i < wide.size(); ++i) wide[i] = table[i % 16];
  return wide;
}
alignas(64) constexpr std::array<std::uint8_t, 64> kLowNibbles64 = four_times(kLowNibbles);
alignas(64) constexpr std::array<std::uint8_t, 64> kHighNibbles64 = four_times(kHighNibbles);

// The tables give every byte the kind kSegmentClasses gives it.
constexpr bool nibble_tables_match_classes() {
  for (int c = 0; c < 256; ++c) {
    const std::uint8_t kind = c < 128 ? kLowNibbles[c & 15] & kHighNibbles[c >> 4] : 0;
    const std::uint8_t cls = kSegmentClasses[c];
    if (kind != 0 && (kind & (kind - 1)) != 0) return false;
    if ((kind == 0) != ((cls & kSegmentHard) != 0)) return false;
    if ((kind == kNibbleDigit) != ((cls & kSegmentDigit) != 0)) return false;
    if ((kind == kNibbleJoiner) != ((cls & kSegmentJoiner) != 0)) return false;
    if ((kind == kNibbleB) != ((cls & kSegmentB) != 0)) return false;
    if ((kind == kNibbleAt) != ((cls & kSegmentAt) != 0)) return false;
  }
  return true;
}
static_assert(nibble_tables_match_classes());

// The kinds of 32 bytes.
__attribute__((target("avx2"), always_inline)) inline __m256i kinds_avx2(__m256i v) {
  const __m256i low_table =
      _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kLowNibbles.data())));
  const __m256i high_table =
      _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kHighNibbles.data())));
  const __m256i high = _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
  return _mm256_and_si256(_mm256_shuffle_epi8(low_table, v), _mm256_shuffle_epi8(high_table, high));
}

// The top bits of the 64 bytes `low` then `high`.
__attribute__((target("avx2"), always_inline)) inline std::uint64_t top_bits_avx2(__m256i low, __m256i high) {
  return std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(low))} |
         std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(high))} << 32;
}

__attribute__((target("avx2"))) inline BlockBytes classify_block_avx2(const char* p, bool labels) {
  const __m256i low_bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i high_bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
  const __m256i low = kinds_avx2(low_bytes);
  const __m256i high = kinds_avx2(high_bytes);
  const __m256i zero = _mm256_setzero_si256();
  // Adding 0x40 gives a digit (0x80) or a joiner (0x40) the top bit, and no other kind.
  const __m256i to_joined = _mm256_set1_epi8(kNibbleJoiner);
  // A rare kind (0x04 or 0x08) plus 0x7C reaches the top bit; zero plus 0x7C does not.
  const __m256i rare_key = _mm256_set1_epi8(static_cast<char>(labels ? kNibbleAt | kNibbleB : kNibbleAt));
  const __m256i to_rare = _mm256_set1_epi8(0x7C);
  BlockBytes bytes;
  bytes.soft = ~top_bits_avx2(_mm256_cmpeq_epi8(low, zero), _mm256_cmpeq_epi8(high, zero));
  bytes.digit = top_bits_avx2(low, high);
  bytes.joined = top_bits_avx2(_mm256_add_epi8(low, to_joined), _mm256_add_epi8(high, to_joined));
  bytes.rare = top_bits_avx2(_mm256_add_epi8(_mm256_and_si256(low, rare_key), to_rare),
                             _mm256_add_epi8(_mm256_and_si256(high, rare_key), to_rare));
  const __m256i spaces = _mm256_set1_epi8(' ');
  bytes.space = top_bits_avx2(_mm256_cmpeq_epi8(low_bytes, spaces), _mm256_cmpeq_epi8(high_bytes, spaces));
  // Lower case only where a word gap may be (a table often has no spaces): without it the next block's first
  // byte is no gap, which only leaves a segment longer.
  bytes.lower = 0;
  if (bytes.space != 0) {
    // byte + 0x80 - 'a' (wrapping) is below -128 + 26 as a signed byte exactly for 'a' to 'z'.
    const __m256i lower_bias = _mm256_set1_epi8(static_cast<char>(0x80 - 'a'));
    const __m256i lower_limit = _mm256_set1_epi8(static_cast<char>(-128 + 26));
    bytes.lower = top_bits_avx2(_mm256_cmpgt_epi8(lower_limit, _mm256_add_epi8(low_bytes, lower_bias)),
                                _mm256_cmpgt_epi8(lower_limit, _mm256_add_epi8(high_bytes, lower_bias)));
  }
  return bytes;
}

// The same kinds 64 bytes at a time, each mask straight from a test of the kinds.
__attribute__((target("avx512f,avx512bw"))) inline BlockBytes classify_block_avx512(const char* p, bool labels) {
  const __m512i low_table = _mm512_load_si512(kLowNibbles64.data());
  const __m512i high_table = _mm512_load_si512(kHighNibbles64.data());
  const __m512i v = _mm512_loadu_si512(p);
  const __m512i high = _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));
  const __m512i kinds = _mm512_and_si512(_mm512_shuffle_epi8(low_table, v), _mm512_shuffle_epi8(high_table, high));
  BlockBytes bytes;
  bytes.soft = _mm512_test_epi8_mask(kinds, kinds);
  bytes.digit = _mm512_movepi8_mask(kinds);
  bytes.joined = _mm512_test_epi8_mask(kinds, _mm512_set1_epi8(static_cast<char>(kNibbleDigit | kNibbleJoiner)));
  bytes.rare =
      _mm512_test_epi8_mask(kinds, _mm512_set1_epi8(static_cast<char>(labels ? kNibbleAt | kNibbleB : kNibbleAt)));
  bytes.space = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' '));
  bytes.lower =
      bytes.space == 0 ? 0 : _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('a')), _mm512_set1_epi8(26));
  return bytes;
}
#endif

class SegmentScan {
 public:
  // `instructions` are usable ones (usable_instructions()).
  SegmentScan(std::span<const char> text, bool labels, VectorInstructions instructions)
      : begin_(text.data()), size_(text.size()), labels_(labels), instructions_(instructions) {}

  // The last hard separator such that every segment from `p` up to it is boring, or nullptr when there is
  // none (the segment at `p` is not boring or runs past the chunk); the main loop then scans that separator
  // itself. With `digits`, a digit also makes a segment not boring (a date-of-birth label waits for its date).
  // `p` follows a hard separator and never moves back between calls. Kept out of the main loop, whose
  // registers it would otherwise crowd.
  __attribute__((noinline)) const char* boring_end(const char* p, bool digits) {
    // In a very short chunk the masks of its one block cost more than scanning its few bytes one by one.
    if (size_ < 16) return nullptr;
    return digits ? boring_end<true>(p) : boring_end<false>(p);
  }

 private:
  template <bool kDigits>
  const char* boring_end(const char* p) {
    switch (instructions_) {
#if defined(AIRLOCK_IDENTIFIERS_AVX2)
      case VectorInstructions::kAvx512: return boring_end_avx512<kDigits>(p);
      case VectorInstructions::kAvx2: return boring_end_avx2<kDigits>(p);
#endif
      case VectorInstructions::kPortable: return walk<classify_block_portable, kDigits>(p);
      default: return walk<classify_block, kDigits>(p);  // SSE2 where the build has it
    }
  }

  // What a block's tests look back at in the block before it.
  struct Carry {
    std::uint64_t digit = 0;
    std::uint64_t joined = 0;
    std::uint64_t letters = 0;
    std::uint64_t lower = 0;
  };

#if defined(AIRLOCK_IDENTIFIERS_AVX2)
  // The walk with every call in it inlined, so that its block masks are AVX2 code.
  template <bool kDigits>
  __attribute__((target("avx2"), flatten)) const char* boring_end_avx2(const char* p) {
    return walk<classify_block_avx2, kDigits>(p);
  }
  template <bool kDigits>
  __attribute__((target("avx512f,avx512bw,avx2"), flatten)) const char* boring_end_avx512(const char* p) {
    return walk<classify_block_avx512, kDigits>(p);
  }
#endif

  // `x` shifted up by `k` (1..63) bits, with the top bits of the previous block's `previous` shifted in.
  static std::uint64_t after(std::uint64_t x, std::uint64_t previous, int k) {
    return (x << k) | (previous >> (64 - k));
  }

  // Goes over the blocks from the one holding `p`, loading each (the first may be loaded already) until
  // one has a mark; the last block loaded and its masks are kept for the next call.
  // With kDigits, digits are marks too (boring_end()).
  template <BlockBytes (*Classify)(const char*, bool), bool kDigits>
  __attribute__((always_inline)) const char* walk(const char* p) {
    // Locals rather than members in the loop: as far as the compiler can tell, copying a short last block
    // could change the members.
    const char* const begin = begin_;
    const std::size_t size = size_;
    const bool labels = labels_;
    const std::uint64_t digit_marks = kDigits ? ~std::uint64_t{0} : 0;  // ANDed with a block's digits
    const auto at = static_cast<std::size_t>(p - begin);
    std::size_t block = at / 64;
    std::uint64_t from = ~std::uint64_t{0} << (at % 64);
    // The last block seen with a hard separator from `p` on (and before any mark), and those separators.
    std::size_t hard_block = 0;
    std::uint64_t hard_found = 0;
    auto answer = [&]() -> const char* {
      if (hard_found == 0) return nullptr;
      return begin + hard_block * 64 + static_cast<std::size_t>(63 - __builtin_clzll(hard_found));
    };
    if (block == block_) {
      const std::uint64_t hard = hard_ & from;
      const std::uint64_t bad = (bad_ | (digit_ & digit_marks)) & from;
      if (bad != 0) {
        hard_found = hard & ((bad & -bad) - 1);
        hard_block = block;
        return answer();
      }
      if (hard != 0) {
        hard_found = hard;
        hard_block = block;
      }
      ++block;
      from = ~std::uint64_t{0};
    }
    if (block * 64 >= size) return answer();
    // The previous block's bytes, when it was the last one loaded; otherwise hard separators, which is
    // exact for every segment asked about (each starts after a hard separator of this chunk).
    Carry carry = block == block_ + 1 ? carry_ : Carry{};
    std::uint64_t hard = 0;
    std::uint64_t bad = 0;
    std::uint64_t digit = 0;
    while (true) {
      const std::size_t base = block * 64;
      if (size - base >= 64) {
        const BlockBytes bytes = Classify(begin + base, labels);
        hard = ~bytes.soft | word_gaps(bytes, carry);
        digit = bytes.digit;
        bad = marks(begin, size, base, bytes, carry);
      } else {
        // The chunk's last, short block: the zero bytes after its end are hard separators, masked out.
        alignas(32) char padded[64];
        std::memset(padded, 0, sizeof padded);
        std::memcpy(padded, begin + base, size - base);
        const BlockBytes bytes = Classify(padded, labels);
        hard = (~bytes.soft | word_gaps(bytes, carry)) & ((std::uint64_t{1} << (size - base)) - 1);
        digit = bytes.digit;
        bad = marks(begin, size, base, bytes, carry);
      }
      const std::uint64_t bad_from = (bad | (digit & digit_marks)) & from;
      const std::uint64_t hard_from = hard & from & ((bad_from & -bad_from) - 1);
      if (hard_from != 0) {
        hard_found = hard_from;
        hard_block = block;
      }
      if (bad_from != 0 || size - base <= 64) break;
      from = ~std::uint64_t{0};
      ++block;
    }
    block_ = block;
    hard_ = hard;
    bad_ = bad;
    digit_ = digit;
    carry_ = carry;
    return answer();
  }

  // The word gaps of a block: spaces after a lower-case letter (`carry` is the block before's).
  __attribute__((always_inline)) static std::uint64_t word_gaps(const BlockBytes& bytes, const Carry& carry) {
    return bytes.space & after(bytes.lower, carry.lower, 1);
  }

  // The marks of what makes a segment not boring in the block at `base` of the chunk at `begin`; `carry`
  // moves on to this block.
  __attribute__((always_inline)) static std::uint64_t marks(const char* begin, std::size_t size, std::size_t base,
                                                            const BlockBytes& bytes, Carry& carry) {
    const std::uint64_t digit = bytes.digit;
    const std::uint64_t joined = bytes.joined;
    // Letters, and the few other soft bytes that are neither digits nor joiners.
    const std::uint64_t letters = bytes.soft & ~joined;
    std::uint64_t bad = 0;
    // Every test but the last needs a digit in this block or the one before (an identifier's bytes have no
    // two non-digits in a row, so ten digits and a joiner do not span a block without one): prose has few.
    if ((digit | carry.digit) != 0) {
      // Where a sequence of digit groups may reach ten digits (an NHS or phone number): the tenth of ten digits
      // in a row, or the eleventh of a run of digits and joiners (two groups or more need a joiner between).
      // Each test looks back at most ten bytes, so into the previous block at most.
      const std::uint64_t previous_digit2 = carry.digit & (carry.digit << 1);
      const std::uint64_t previous_digit4 = previous_digit2 & (previous_digit2 << 2);
      const std::uint64_t previous_joined2 = carry.joined & (carry.joined << 1);
      const std::uint64_t previous_joined4 = previous_joined2 & (previous_joined2 << 2);
      const std::uint64_t digit2 = digit & after(digit, carry.digit, 1);
      const std::uint64_t digit4 = digit2 & after(digit2, previous_digit2, 2);
      const std::uint64_t digit8 = digit4 & after(digit4, previous_digit4, 4);
      const std::uint64_t digit10 = digit8 & after(digit2, previous_digit2, 8);
      const std::uint64_t joined2 = joined & after(joined, carry.joined, 1);
      const std::uint64_t joined4 = joined2 & after(joined2, previous_joined2, 2);
      const std::uint64_t joined8 = joined4 & after(joined4, previous_joined4, 4);
      const std::uint64_t joined11 = joined8 & after(joined4, previous_joined4, 7);
      bad = digit10 | joined11;
      // A digit and two letters, looked at one by one for two capitals and marked at the second.
      const std::uint64_t digit_letters = letters & after(letters, carry.letters, 1) & after(digit, carry.digit, 2);
      for (std::uint64_t left = digit_letters; left != 0; left &= left - 1) {
        const std::size_t at = base + static_cast<std::size_t>(__builtin_ctzll(left));
        if (is_upper(begin[at]) && is_upper(begin[at - 1])) bad |= left & -left;
      }
    }
    carry = Carry{digit, joined, letters, bytes.lower};
    // '@' always; a 'b' only where a label's may be (see kSegmentBeforeB). Bytes beyond the chunk are unknown.
    for (std::uint64_t left = bytes.rare; left != 0; left &= left - 1) {
      const std::size_t at = base + static_cast<std::size_t>(__builtin_ctzll(left));
      if (begin[at] == '@' || at == 0 || at + 1 == size ||
          ((kSegmentClasses[static_cast<unsigned char>(begin[at - 1])] & kSegmentBeforeB) != 0 &&
           (kSegmentClasses[static_cast<unsigned char>(begin[at + 1])] & kSegmentAfterB) != 0)) {
        bad |= left & -left;
      }
    }
    return bad;
  }

  const char* begin_;
  std::size_t size_;
  bool labels_;
  VectorInstructions instructions_;
  std::size_t block_ = SIZE_MAX;  // the block loaded last, and its masks
  std::uint64_t hard_ = 0;
  std::uint64_t bad_ = 0;
  std::uint64_t digit_ = 0;
  Carry carry_;
};

}  // namespace

bool is_valid_nhs_number(std::string_view digits) {
  if (digits.size() != 10 || !all_digits(digits)) return false;
  if (std::all_of(digits.begin(), digits.end(), [&](char c) { return c == digits[0]; })) return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (digits[i] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;
  return check == digits[9] - '0';
}

bool is_nhs_number_value(std::string_view value) {
  if (value.size() == 10) return is_valid_nhs_number(value);
  if (value.size() != 12 || value[3] != value[7] || (value[3] != ' ' && value[3] != '-')) return false;
  char digits[10];
  std::copy_n(value.data(), 3, digits);
  std::copy_n(value.data() + 4, 3, digits + 3);
  std::copy_n(value.data() + 8, 4, digits + 6);
  return is_valid_nhs_number(std::string_view(digits, 10));
}

bool is_uk_postcode(std::string_view value) {
  if (value == "GIR 0AA" || value == "GIR0AA") return true;
  auto space = value.find(' ');
  if (space != std::string_view::npos) {
    return space + 4 == value.size() && is_outward_code(value.substr(0, space)) &&
           is_inward_code(value.substr(space + 1));
  }
  if (value.size() < 5 || value.size() > 7) return false;
  return is_outward_code(value.substr(0, value.size() - 3)) && is_inward_code(value.substr(value.size() - 3));
}

bool is_email_address(std::string_view value) {
  auto at = value.find('@');
  if (at == 0 || at == std::string_view::npos || at > kMaxLocalPart) return false;
  for (std::size_t i = 0; i < at; ++i) {
    if (!(kClasses[static_cast<unsigned char>(value[i])] & kLocalPart)) return false;
  }
  std::string_view domain = value.substr(at + 1);
  if (domain.empty() || domain.size() > kMaxDomain) return false;
  std::size_t labels = 0;
  std::string_view last;
  while (true) {
    auto dot = domain.find('.');
    std::string_view label = domain.substr(0, dot);
    if (label.empty()) return false;
    for (char c : label) {
      if (!(kClasses[static_cast<unsigned char>(c)] & kDomainPart)) return false;
    }
    ++labels;
    last = label;
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return labels >= 2 && last.size() >= 2 && std::all_of(last.begin(), last.end(), [](char c) {
           return (kClasses[static_cast<unsigned char>(c)] & (kUpper | kLower)) != 0;
         });
}

bool is_date_value(std::string_view value) {
  std::string_view parts[3];
  std::size_t position = 0;
  char separator = 0;
  for (int part = 0; part < 3; ++part) {
    std::size_t start = position;
    while (position < value.size() && is_digit(value[position])) ++position;
    parts[part] = value.substr(start, position - start);
    if (parts[part].empty()) return false;
    if (part == 2) break;
    if (position >= value.size()) return false;
    char c = value[position];
    if (c != '/' && c != '-' && c != '.') return false;
    if (separator != 0 && c != separator) return false;
    separator = c;
    ++position;
  }
  if (position < value.size() && value[position] != 'T' && value[position] != ' ') return false;
  return is_date_groups(parts[0], parts[1], parts[2]);
}

void IdentifierScanner::update(std::span<const char> text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  SegmentScan segments(text, dates_by_label_, instructions_);
  while (p < end) {
    auto c = static_cast<unsigned char>(*p);
    std::uint8_t cls = kClasses[c];
    if (cls & kAlnum) {
      // A run of letters and digits, taken whole: the word, its flags and the email automaton advance once.
      const char* run = p;
      std::uint8_t all = 0xFF;
      do {
        all &= cls;
        if (++p == end) break;
        cls = kClasses[static_cast<unsigned char>(*p)];
      } while (cls & kAlnum);
      const auto length = static_cast<std::size_t>(p - run);
      if (word_length_ == 0) {
        word_start_ = offset_;
        word_digits_ = true;
        word_upper_alnum_ = true;
      }
      if (word_length_ < kWordBytes) {
        const std::size_t take = std::min<std::size_t>(length, kWordBytes - word_length_);
        if (end - run >= static_cast<std::ptrdiff_t>(kWordBytes)) {
          // A fixed-size copy (no call): word_ has room for kWordBytes past any length it holds.
          std::memcpy(word_.data() + word_length_, run, kWordBytes);
        } else {
          std::memcpy(word_.data() + word_length_, run, take);
        }
      }
      word_length_ = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(std::uint64_t{word_length_} + length, std::numeric_limits<std::uint32_t>::max()));
      word_digits_ = word_digits_ && (all & kDigit);
      word_upper_alnum_ = word_upper_alnum_ && (all & kUpperOrDigit);
      email_run(length, (all & kLetter) != 0);
      offset_ += length;
      continue;
    }
    if (word_length_ != 0) end_word();
    if (separator_length_ == 0) separator_first_ = static_cast<char>(c);
    separator_last_ = static_cast<char>(c);
    if (separator_length_ < std::numeric_limits<std::uint32_t>::max()) ++separator_length_;
    if (!in_domain_ && (cls & kLocalPart) == 0 && c != '@') {
      local_length_ = 0;  // email_step()'s commonest case, without the call: a separator outside any address
    } else {
      email_step(c);
    }
    ++offset_;
    ++p;
    // After a hard separator or a word gap (p - 2 is the byte before the separator), segments may be passed over.
    if (((kSegmentClasses[c] & kSegmentHard) != 0 || (c == ' ' && p - 2 >= text.data() && is_lower(p[-2]))) &&
        !in_domain_ && p < end) {
      // A label out of reach with no digit group pending has no date to come (a group starts after this byte):
      // it is over, as flush_groups() would find. While it waits for its date with no group pending, segments
      // without digits are passed over all the same: they change nothing of it.
      if (label_active_ && group_count_ == 0 && offset_ > label_end_ + kLabelReach) label_active_ = false;
      if (!label_active_ || (group_count_ == 0 && !is_digit(*p))) {  // (a digit next: its date, perhaps)
        const char* stop = segments.boring_end(p, label_active_);
        if (stop != nullptr && stop != p) pass_over(p, stop);
      }
    }
  }
}

void IdentifierScanner::pass_over(const char*& p, const char* stop) {
  // Groups before the separator end here (only when no label waits for a date, so when does not matter).
  if (group_count_ > 0) flush_groups();
  previous_word_outward_ = false;
  previous_word_is_gir_ = false;
  // The separator at `stop` starts a run when a word ends right before it (always so at a word gap).
  if ((kClasses[static_cast<unsigned char>(stop[-1])] & kAlnum) != 0) separator_length_ = 0;
  offset_ += static_cast<std::uint64_t>(stop - p);
  p = stop;
}

// The email automaton over `length` letters and digits at once (each is a local-part and a domain byte).
void IdentifierScanner::email_run(std::size_t length, bool letters) {
  if (in_domain_) {
    label_length_ += static_cast<std::uint32_t>(std::min<std::size_t>(length, kMaxDomain + 1));
    label_alpha_ = label_alpha_ && letters;
    if (domain_length_ + length <= kMaxDomain) {
      domain_length_ += static_cast<std::uint32_t>(length);
      return;
    }
    // The byte that passes the longest domain ends it; the rest of the run starts a local part.
    length -= kMaxDomain + 1 - domain_length_;
    in_domain_ = false;
    local_length_ = 0;
  }
  local_length_ = static_cast<std::uint32_t>(std::min<std::size_t>(local_length_ + length, kMaxLocalPart + 1));
}

void IdentifierScanner::finish() {
  if (word_length_ != 0) end_word();
  flush_groups();
  if (in_domain_) end_email(' ');
  local_length_ = 0;
}

void IdentifierScanner::end_word() {
  const bool fits = word_length_ <= kWordBytes;
  const std::string_view word(word_.data(), std::min<std::size_t>(word_length_, kWordBytes));
  const bool single_separator = separator_length_ == 1;
  const bool joiner = single_separator && (separator_first_ == ' ' || separator_first_ == '-' ||
                                           separator_first_ == '/' || separator_first_ == '.');

  // Digit groups are matched when their sequence ends, so "943 476 5919" counts once, as a whole.
  if (word_digits_ && fits) {
    const bool joins = group_count_ > 0 && joiner && (group_separator_ == 0 || group_separator_ == separator_first_);
    if (!joins && group_count_ > 0 && joiner && separator_first_ != ' ') groups_[group_count_ - 1].glued = true;
    add_digit_group(joins);
  } else if (group_count_ > 0) {  // (flush_groups() has nothing to do without groups: most words skip the call)
    if (joiner && separator_first_ != ' ') groups_[group_count_ - 1].glued = true;
    flush_groups();
  }

  // Postcodes: one word ("SW1A1AA") or an outward code, one space and an inward code ("SW1A 1AA").
  if (word_upper_alnum_ && fits) {
    if (word.size() >= 5 && is_uk_postcode(word)) {
      ++counts_.postcodes;
    } else if (single_separator && separator_first_ == ' ' &&
               ((previous_word_outward_ && is_inward_code(word)) || (previous_word_is_gir_ && word == "0AA"))) {
      ++counts_.postcodes;
    }
    previous_word_outward_ = is_outward_code(word);
    previous_word_is_gir_ = word == "GIR";
  } else {
    previous_word_outward_ = false;
    previous_word_is_gir_ = false;
  }

  const char first = static_cast<char>(word[0] | 0x20);
  if (dates_by_label_ && !word_digits_ && fits && word.size() >= 3 && (first == 'd' || first == 'b')) {
    char lower[kWordBytes];
    for (std::size_t i = 0; i < word.size(); ++i) {
      char c = word[i];
      lower[i] = is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
    }
    std::string_view name(lower, word.size());
    if (name == "dob" || name == "birth" || name == "born" || name == "birthdate" || name == "dateofbirth" ||
        name == "birthday") {
      label_active_ = true;
      label_end_ = offset_;
    }
  }

  word_length_ = 0;
  separator_length_ = 0;
}

void IdentifierScanner::add_digit_group(bool joins_previous) {
  if (!joins_previous || group_count_ == kMaxGroups) {
    flush_groups();
    joins_previous = false;
  }
  if (joins_previous && group_separator_ == 0) group_separator_ = separator_first_;
  if (group_count_ == 0) groups_plus_ = separator_length_ > 0 && separator_last_ == '+';
  Group& group = groups_[group_count_++];
  std::memcpy(group.digits.data(), word_.data(), kWordBytes);  // fixed size; only the first `length` bytes count
  group.length = static_cast<std::uint8_t>(word_length_);
  group_digits_ += word_length_;
  group.glued = false;
  group.start = word_start_;
}

bool IdentifierScanner::match_phone(std::size_t first, std::size_t count) const {
  if (groups_[first + count - 1].glued) return false;
  // Cheap tests first: the total length, and the leading 0 of a national number.
  std::size_t total = 0;
  for (std::size_t i = first; i < first + count; ++i) total += groups_[i].length;
  const bool international = first == 0 && groups_plus_;
  if (international ? (total != 11 && total != 12)
                    : ((total != 10 && total != 11) || groups_[first].digits[0] != '0')) {
    return false;
  }
  char digits[kWordBytes * kMaxGroups];
  std::size_t length = 0;
  for (std::size_t i = first; i < first + count; ++i) {
    std::copy_n(groups_[i].digits.data(), groups_[i].length, digits + length);
    length += groups_[i].length;
  }
  std::string_view number(digits, length);
  if (first == 0 && groups_plus_) {
    // +44 then 9 or 10 digits, the first not 0: "+44 20 7946 0958", "+447700900123".
    if (count > 1 && groups_[first].length < 2) return false;
    return number.substr(0, 2) == "44" && (length == 11 || length == 12) && number[2] != '0';
  }
  // 0 then 9 or 10 digits, not 00 (an international prefix), groups of three or more: "020 7946 0958".
  if (number[0] != '0' || (length != 10 && length != 11) || number[1] == '0') return false;
  for (std::size_t i = first; i < first + count; ++i) {
    if (count > 1 && groups_[i].length < 3) return false;
  }
  return true;
}

void IdentifierScanner::flush_groups() {
  const std::size_t n = group_count_;
  if (n == 0) return;
  group_count_ = 0;
  if (group_digits_ < 10 && !label_active_) {
    // Too few digits for an NHS or phone number, and a date counts only after a label: nothing to match.
    group_digits_ = 0;
    group_separator_ = 0;
    groups_plus_ = false;
    return;
  }
  group_digits_ = 0;
  auto length = [&](std::size_t i) { return groups_[i].length; };
  auto nhs_334 = [&](std::size_t i) {
    if (i + 3 > n || length(i) != 3 || length(i + 1) != 3 || length(i + 2) != 4 || groups_[i + 2].glued) return false;
    char digits[10];
    std::copy_n(groups_[i].digits.data(), 3, digits);
    std::copy_n(groups_[i + 1].digits.data(), 3, digits + 3);
    std::copy_n(groups_[i + 2].digits.data(), 4, digits + 6);
    return is_valid_nhs_number(std::string_view(digits, 10));
  };
  auto single_nhs = [&](std::size_t i) {
    return length(i) == 10 && !groups_[i].glued && is_valid_nhs_number(std::string_view(groups_[i].digits.data(), 10));
  };
  auto single = [&](std::size_t i) {
    if (single_nhs(i)) {
      ++counts_.nhs_numbers;
    } else if (match_phone(i, 1)) {
      ++counts_.phone_numbers;
    }
  };

  if (n == 1) {
    single(0);
  } else if (group_separator_ == ' ') {
    // Numbers written in groups: take the longest reading at each position, left to right.
    std::size_t i = 0;
    while (i < n) {
      if (nhs_334(i)) {
        ++counts_.nhs_numbers;
        i += 3;
        continue;
      }
      if (single_nhs(i)) {
        ++counts_.nhs_numbers;
        ++i;
        continue;
      }
      std::size_t taken = 0;
      for (std::size_t k = std::min<std::size_t>(n - i, 5); k >= 1; --k) {
        if (match_phone(i, k)) {
          taken = k;
          break;
        }
      }
      if (taken > 0) {
        ++counts_.phone_numbers;
        i += taken;
      } else {
        ++i;
      }
    }
  } else {
    // Joined by '-', '/' or '.': the whole sequence is one thing or nothing.
    if (group_separator_ == '-' && n == 3 && nhs_334(0)) {
      ++counts_.nhs_numbers;
    } else if (group_separator_ == '-' && match_phone(0, n)) {
      ++counts_.phone_numbers;
    } else if (n == 3 && !groups_[2].glued &&
               is_date_groups(std::string_view(groups_[0].digits.data(), length(0)),
                              std::string_view(groups_[1].digits.data(), length(1)),
                              std::string_view(groups_[2].digits.data(), length(2)))) {
      if (label_active_ && groups_[0].start >= label_end_ && groups_[0].start - label_end_ <= kLabelReach) {
        ++counts_.dates_of_birth;
        label_active_ = false;  // one date per label
      }
    }
  }
  if (label_active_ && groups_[n - 1].start > label_end_ + kLabelReach) label_active_ = false;
  group_separator_ = 0;
  groups_plus_ = false;
}

void IdentifierScanner::email_step(unsigned char c) {
  const std::uint8_t cls = kClasses[c];
  if (!in_domain_) {
    if (cls & kLocalPart) {
      if (local_length_ <= kMaxLocalPart) ++local_length_;
    } else if (c == '@' && local_length_ > 0 && local_length_ <= kMaxLocalPart) {
      in_domain_ = true;
      domain_length_ = 0;
      label_length_ = 0;
      label_alpha_ = true;
      previous_label_length_ = 0;
      previous_label_alpha_ = false;
      dots_ = 0;
    } else {
      local_length_ = 0;
    }
    return;
  }
  if (cls & kDomainPart) {
    ++label_length_;
    label_alpha_ = label_alpha_ && (cls & (kUpper | kLower));
    if (++domain_length_ > kMaxDomain) {
      in_domain_ = false;
      local_length_ = 0;
    }
  } else if (c == '.' && label_length_ > 0) {
    previous_label_length_ = label_length_;
    previous_label_alpha_ = label_alpha_;
    ++dots_;
    label_length_ = 0;
    label_alpha_ = true;
    ++domain_length_;
  } else {
    end_email(c);
  }
}

void IdentifierScanner::end_email(unsigned char next) {
  // "a@b.com" ends at the first byte that cannot continue the domain; "a@b.com." drops the final dot.
  const bool valid = (label_length_ >= 2 && label_alpha_ && dots_ >= 1) ||
                     (label_length_ == 0 && dots_ >= 2 && previous_label_length_ >= 2 && previous_label_alpha_);
  if (valid) ++counts_.emails;
  in_domain_ = false;
  local_length_ = (kClasses[next] & kLocalPart) ? 1 : 0;
}

}  // namespace airlock::gateway::inspect
