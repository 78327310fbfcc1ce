// Streaming detection of personal identifiers in text: NHS numbers, UK postcodes, email addresses,
// UK phone numbers and dates of birth. Incremental over chunks, linear time, constant memory.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "airlock/gateway/inspect/instructions.h"

namespace airlock::gateway::inspect {

struct IdentifierCounts {
  std::int64_t nhs_numbers = 0;
  std::int64_t postcodes = 0;
  std::int64_t emails = 0;
  std::int64_t phone_numbers = 0;
  std::int64_t dates_of_birth = 0;
  friend bool operator==(const IdentifierCounts&, const IdentifierCounts&) = default;
};

// True for ten digits whose modulus-11 check digit is right and which are not all the same digit.
bool is_valid_nhs_number(std::string_view ten_digits);
// A whole value that is an NHS number: "9434765919", "943 476 5919" or "943-476-5919".
bool is_nhs_number_value(std::string_view value);
// A whole value shaped like a UK postcode ("SW1A 1AA", "M1 1AE", "GIR 0AA"; upper case, space optional).
bool is_uk_postcode(std::string_view value);
// A whole value shaped like an email address (local@domain.tld).
bool is_email_address(std::string_view value);
// A whole value that is a calendar date in a common numeric form (dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy,
// yyyy-mm-dd, yyyy/mm/dd; one-digit days and months allowed; years 1880-2099), optionally followed by
// a time ("1980-03-12T00:00:00", "12/03/1980 10:00").
bool is_date_value(std::string_view value);

// Finds identifiers in a stream of text. Words (maximal runs of ASCII letters and digits) are
// buffered only up to a few bytes each, so an identifier split across chunks is found exactly once.
// The rules are in gateway/README.md.
class IdentifierScanner {
 public:
  // `dates_by_label`: count a date as a date of birth when it follows a label such as "DOB" or
  // "date of birth" within a few bytes. Tables turn this off and judge dates by their column instead.
  // `instructions`: the vector instructions its block masks may use (fewer than the processor's for tests).
  explicit IdentifierScanner(bool dates_by_label = true, VectorInstructions instructions = VectorInstructions::kBest)
      : dates_by_label_(dates_by_label), instructions_(usable_instructions(instructions)) {}

  void update(std::span<const char> text);
  // Ends the last word; call once after the last chunk.
  void finish();
  const IdentifierCounts& counts() const { return counts_; }

  // Bytes of a word kept for matching; longer words cannot be identifiers.
  static constexpr std::size_t kWordBytes = 16;
  // Digit groups joined by single separators ("943 476 5919") that are matched together.
  static constexpr std::size_t kMaxGroups = 8;

 private:
  struct Group {
    std::array<char, kWordBytes> digits;
    std::uint8_t length;
    bool glued;           // joined to a following word by a different separator ("9434765919.5")
    std::uint64_t start;  // offset of the first digit in the stream
  };

  // Moves past a segment that holds nothing to count (see identifiers.cpp), leaving the state its scan would.
  void pass_over(const char*& p, const char* stop);
  void end_word();
  void add_digit_group(bool joins_previous);
  void flush_groups();
  bool match_phone(std::size_t first, std::size_t count) const;
  void end_email(unsigned char next);
  void email_step(unsigned char c);
  void email_run(std::size_t length, bool letters);

  bool dates_by_label_;
  VectorInstructions instructions_;  // usable ones
  IdentifierCounts counts_;
  std::uint64_t offset_ = 0;  // stream offset of the byte being scanned

  // The current word.
  std::array<char, 2 * kWordBytes> word_{};  // room for a fixed-size copy of kWordBytes at any length held
  std::uint32_t word_length_ = 0;  // may exceed kWordBytes (then only the flags below are kept)
  bool word_digits_ = true;
  bool word_upper_alnum_ = true;
  std::uint64_t word_start_ = 0;
  // The separator run before the current word.
  std::uint32_t separator_length_ = 0;
  char separator_first_ = 0;
  char separator_last_ = 0;
  // What the word before the current one left for two-word postcodes ("SW1A" then "1AA").
  bool previous_word_outward_ = false;
  bool previous_word_is_gir_ = false;
  // The digit group sequence being collected.
  std::array<Group, kMaxGroups> groups_{};
  std::size_t group_count_ = 0;
  std::size_t group_digits_ = 0;  // digits in the sequence's groups
  char group_separator_ = 0;  // 0 until two groups are joined
  bool groups_plus_ = false;  // "+" right before the first group
  // Date-of-birth labels: the stream offset where the last label ended, or none.
  std::uint64_t label_end_ = 0;
  bool label_active_ = false;

  // The email automaton.
  bool in_domain_ = false;
  std::uint32_t local_length_ = 0;
  std::uint32_t domain_length_ = 0;
  std::uint32_t label_length_ = 0;
  bool label_alpha_ = true;
  std::uint32_t previous_label_length_ = 0;
  bool previous_label_alpha_ = false;
  std::uint32_t dots_ = 0;
};

}  // namespace airlock::gateway::inspect
