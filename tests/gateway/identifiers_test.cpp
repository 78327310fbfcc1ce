#include "airlock/gateway/inspect/identifiers.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "vector_paths.h"

namespace airlock::gateway::inspect {
namespace {

IdentifierCounts scan(std::string_view text, std::size_t chunk = 0, bool dates_by_label = true,
                      VectorInstructions instructions = VectorInstructions::kBest) {
  IdentifierScanner scanner(dates_by_label, instructions);
  if (chunk == 0) chunk = text.size() + 1;
  for (std::size_t i = 0; i < text.size(); i += chunk) {
    scanner.update(std::span<const char>(text.data() + i, std::min(chunk, text.size() - i)));
  }
  scanner.finish();
  return scanner.counts();
}

TEST(NhsNumber, AcceptsAValidCheckDigit) {
  EXPECT_TRUE(is_valid_nhs_number("9434765919"));
  EXPECT_TRUE(is_valid_nhs_number("5738563913"));
  EXPECT_TRUE(is_nhs_number_value("943 476 5919"));
  EXPECT_TRUE(is_nhs_number_value("943-476-5919"));
}

TEST(NhsNumber, RejectsAWrongCheckDigitRemainderTenAndRepeatedDigits) {
  EXPECT_FALSE(is_valid_nhs_number("9434765918"));
  EXPECT_FALSE(is_valid_nhs_number("1111111111"));
  EXPECT_FALSE(is_valid_nhs_number("0000000000"));
  // 123456789: sum 10*1+9*2+...+2*9 = 210, 210 mod 11 = 1, check 10: no valid number starts so.
  for (char last = '0'; last <= '9'; ++last) EXPECT_FALSE(is_valid_nhs_number(std::string("123456789") + last));
  EXPECT_FALSE(is_nhs_number_value("943 476-5919"));
  EXPECT_FALSE(is_valid_nhs_number("943476591"));
}

TEST(IdentifierScanner, CountsNhsNumbersWrittenInEveryForm) {
  auto counts = scan("a 9434765919, b 943 476 5919; c 943-476-5919 and 5738563913\n");
  EXPECT_EQ(counts.nhs_numbers, 4);
  EXPECT_EQ(counts.phone_numbers, 0);
}

TEST(IdentifierScanner, IgnoresNumbersThatOnlyContainAnNhsNumber) {
  auto counts = scan("94347659190 19434765919 9434765919.5 x9434765919 9434765918");
  EXPECT_EQ(counts.nhs_numbers, 0);
}

TEST(IdentifierScanner, FindsANumberSplitAcrossChunksExactlyOnce) {
  const std::string text = "id,nhs\n1,943 476 5919\n2,5738563913\n3,4809865347\n";
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    EXPECT_EQ(scan(text, chunk).nhs_numbers, 3) << "chunk size " << chunk;
  }
}

TEST(IdentifierScanner, CountsSpaceSeparatedNumbersOneByOne) {
  EXPECT_EQ(scan("9434765919 5738563913 4809865347").nhs_numbers, 3);
}

TEST(IdentifierScanner, CountsUkPostcodes) {
  auto counts = scan("SW1A 1AA, M1 1AE; B33 8TH (CR2 6XH) DN55 1PT EC1A1BB GIR 0AA\n");
  EXPECT_EQ(counts.postcodes, 7);
}

TEST(IdentifierScanner, DoesNotTakePracticeCodesOrWordsForPostcodes) {
  auto counts = scan("P81001 Y02345 A1 ABC 1AB SW1A 1AAA sw1a 1aa ABCDEFG\n");
  EXPECT_EQ(counts.postcodes, 0);
}

TEST(Postcode, MatchesWholeValues) {
  EXPECT_TRUE(is_uk_postcode("SW1A 1AA"));
  EXPECT_TRUE(is_uk_postcode("M11AE"));
  EXPECT_TRUE(is_uk_postcode("GIR 0AA"));
  EXPECT_FALSE(is_uk_postcode("SW1A  1AA"));
  EXPECT_FALSE(is_uk_postcode("1AA"));
}

TEST(IdentifierScanner, CountsEmailAddresses) {
  auto counts = scan("Write to jane.doe+audit@nhs.net or ops@data.example.co.uk. Not: a@b, @x.com, x@.com, a@b.c1\n");
  EXPECT_EQ(counts.emails, 2);
}

TEST(IdentifierScanner, FindsAnEmailSplitAcrossChunks) {
  const std::string text = "contact: someone.else@example.org, thanks";
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) EXPECT_EQ(scan(text, chunk).emails, 1);
}

TEST(Email, MatchesWholeValues) {
  EXPECT_TRUE(is_email_address("a.b@nhs.net"));
  EXPECT_FALSE(is_email_address("a.b@nhs"));
  EXPECT_FALSE(is_email_address("a b@nhs.net"));
  EXPECT_FALSE(is_email_address("@nhs.net"));
}

TEST(IdentifierScanner, CountsUkPhoneNumbers) {
  auto counts = scan("call 020 7946 0958, 07700 900123, +44 20 7946 0958, +447700900123 or 0161 496 0000.\n");
  EXPECT_EQ(counts.phone_numbers, 5);
}

TEST(IdentifierScanner, DoesNotTakeCountsOrShortNumbersForPhoneNumbers) {
  auto counts = scan("0 1 2 3 4 5 6 7 8 9 10; 00441234567890; +1 555 123 4567; 012345; 2023 1234 5678\n");
  EXPECT_EQ(counts.phone_numbers, 0);
}

TEST(IdentifierScanner, CountsDatesAfterABirthLabelOnly) {
  auto counts = scan(
      "DOB: 12/03/1980. Date of birth 1975-11-02, born 3.4.1990. Admitted 01/02/2020. "
      "dob 31/02/1980 (no such day)\n");
  EXPECT_EQ(counts.dates_of_birth, 3);
}

TEST(IdentifierScanner, CountsOneDatePerLabel) { EXPECT_EQ(scan("DOB 01/02/1980 seen 03/04/2020").dates_of_birth, 1); }

TEST(IdentifierScanner, LeavesDatesToTheTableWhenLabelsAreOff) {
  EXPECT_EQ(scan("DOB: 12/03/1980", 0, /*dates_by_label=*/false).dates_of_birth, 0);
}

TEST(DateValue, AcceptsCommonNumericForms) {
  EXPECT_TRUE(is_date_value("12/03/1980"));
  EXPECT_TRUE(is_date_value("1980-03-12"));
  EXPECT_TRUE(is_date_value("1980-03-12T00:00:00"));
  EXPECT_TRUE(is_date_value("29.02.2000"));
  EXPECT_FALSE(is_date_value("29.02.1900"));
  EXPECT_FALSE(is_date_value("12/03-1980"));
  EXPECT_FALSE(is_date_value("13/13/1980"));
  EXPECT_FALSE(is_date_value("12345"));
}

// The tests of segments passed over run on each path of the block masks: plain C++, SSE2, AVX2 and AVX-512 (a
// processor without one runs the best path it has below it).
class IdentifierScannerPaths : public ::testing::TestWithParam<VectorInstructions> {
 protected:
  IdentifierCounts scan(std::string_view text, std::size_t chunk = 0, bool dates_by_label = true) {
    return inspect::scan(text, chunk, dates_by_label, GetParam());
  }
};

INSTANTIATE_TEST_SUITE_P(Instructions, IdentifierScannerPaths, testing::every_vector_path(), testing::vector_path_name);

// Plain table rows hold nothing to count and are passed over whole (a segment between hard separators at a
// time, found with 64-byte bit masks); an identifier among them must still be found wherever it falls: at
// every offset within a block, split across chunks, and in a segment that starts in one block and ends in
// the next.
TEST_P(IdentifierScannerPaths, FindsEachIdentifierAmongPlainRowsAtEveryOffset) {
  const std::string plain = "L14592,2026-01-24,40-39,M,asthma,844,67.67\n";
  struct Case {
    std::string text;
    IdentifierCounts expected;
    bool labels;
  };
  const std::vector<Case> cases = {
      {"9434765919", {.nhs_numbers = 1}, false},
      {"943 476 5919", {.nhs_numbers = 1}, false},
      {"943-476-5919", {.nhs_numbers = 1}, false},
      {"020 7946 0958", {.phone_numbers = 1}, false},
      {"+44 20 7946 0958", {.phone_numbers = 1}, false},
      {"07700900123", {.phone_numbers = 1}, false},
      {"SW1A 1AA", {.postcodes = 1}, false},
      {"M1 1AE", {.postcodes = 1}, false},
      {"EC1A1BB", {.postcodes = 1}, false},
      {"x.y@nhs.net", {.emails = 1}, false},
      {"DOB 12/03/1980", {.dates_of_birth = 1}, true},
      {"born 1975-11-02", {.dates_of_birth = 1}, true},
  };
  for (const Case& c : cases) {
    for (std::size_t offset = 0; offset < 70; ++offset) {
      // The identifier starts `offset` bytes into a cell after a few plain rows: every position in a block.
      std::string text = plain + plain + plain + std::string(offset, 'a') + "," + c.text + "," + plain + plain;
      for (std::size_t chunk : {std::size_t{0}, std::size_t{7}, std::size_t{64}, std::size_t{97}}) {
        EXPECT_EQ(scan(text, chunk, c.labels), c.expected) << c.text << " at offset " << offset << ", chunk " << chunk;
      }
      // Plain text without the identifier counts nothing, so the counts above are the identifier's.
      std::string without = plain + plain + plain + std::string(offset, 'a') + "," + plain + plain;
      EXPECT_EQ(scan(without, 0, c.labels), IdentifierCounts{}) << offset;
    }
  }
}

// Many plain rows are passed over in one go, block after block; a number that starts in one of those blocks
// and ends in the next is still found, wherever the boundary falls in it.
TEST_P(IdentifierScannerPaths, FindsANumberAcrossABlockBoundaryAfterManyPlainRows) {
  const std::string plain = "L14592,2026-01-24,40-39,M,asthma,844,67.67\n";
  std::string rows;
  for (int i = 0; i < 20; ++i) rows += plain;
  for (const char* number : {"9434765919", "943 476 5919"}) {
    for (std::size_t offset = 0; offset < 64; ++offset) {
      const std::string text = rows + std::string(offset, 'a') + "," + number + "," + rows;
      for (std::size_t chunk : {std::size_t{0}, std::size_t{300}}) {
        EXPECT_EQ(scan(text, chunk, false).nhs_numbers, 1) << number << " at offset " << offset << ", chunk " << chunk;
      }
    }
  }
}

TEST_P(IdentifierScannerPaths, ADateCountsOnlyAfterItsLabelEvenAcrossPlainRows) {
  const std::string plain = "L14592,40-39,M,asthma,844,67.67\n";  // no date of its own
  EXPECT_EQ(scan(plain + plain + "12/03/1980\n" + plain).dates_of_birth, 0);
  EXPECT_EQ(scan(plain + "dob," + "12/03/1980\n" + plain).dates_of_birth, 1);
  EXPECT_EQ(scan(plain + "dob," + plain + plain + "12/03/1980\n").dates_of_birth, 0);  // too far from its label
}

// Every way of cutting a text into chunks gives the counts of the whole text: a varied text with identifiers,
// labels and plain table rows, fed in every chunk size up to a few blocks of 64 bytes.
TEST_P(IdentifierScannerPaths, CountsTheSameForEveryChunkSize) {
  const std::string plain = "B14592,2026-01-24,40-39,M,diabetes,844,67.67\n";
  const std::string text = plain + "Patient 943 476 5919 (DateOfBirth: 12/03/1980), SW1A 1AA;" + plain +
                           "jane.doe@nhs.net,020 7946 0958\n" + plain + "BIRTH,1975-11-02,EC1A1BB,+447700900123\n" +
                           plain + "dob\t3.4.1990\tabout bob\n" + plain + plain + "5738563913,x@y.org.\n" + plain;
  for (bool labels : {true, false}) {
    const IdentifierCounts whole = scan(text, 0, labels);
    EXPECT_EQ(whole.nhs_numbers, 2);
    EXPECT_EQ(whole.postcodes, 2);
    EXPECT_EQ(whole.emails, 2);
    EXPECT_EQ(whole.phone_numbers, 2);
    EXPECT_EQ(whole.dates_of_birth, labels ? 3 : 0);
    for (std::size_t chunk = 1; chunk <= 200; ++chunk) {
      EXPECT_EQ(scan(text, chunk, labels), whole) << "chunk size " << chunk << ", labels " << labels;
    }
  }
}

// Words with a 'b' that cannot be a label ("diabetes", "B17393", "about") are passed over with plain rows;
// every label is still seen, in any case, wherever it falls among them.
TEST_P(IdentifierScannerPaths, FindsEveryLabelAmongPlainRowsWithOtherBs) {
  const std::string plain = "B17393,2026-01-24,40-39,F,diabetes,about,67.67\n";
  for (const char* label : {"dob", "DOB", "Birth", "born", "birthdate", "dateofbirth", "DateOfBirth", "BIRTHDAY"}) {
    for (std::size_t offset = 0; offset < 70; ++offset) {
      const std::string text = plain + std::string(offset, 'a') + "," + label + "," + "12/03/1980\n" + plain;
      EXPECT_EQ(scan(text).dates_of_birth, 1) << label << " at offset " << offset;
      EXPECT_EQ(scan(text, 64).dates_of_birth, 1) << label << " at offset " << offset << ", chunk 64";
    }
  }
}

// In prose, the words of a line are passed over too, from one word gap (a space after a lower-case letter) to the
// next: an identifier in words, or one whose parts are spaced apart, must still be found wherever it falls among
// them, and a text without it must count nothing.
TEST_P(IdentifierScannerPaths, FindsEachIdentifierAmongWordsOfProseAtEveryOffset) {
  const std::string prose = "the patient was seen in clinic and reported improvement in both knees ";
  struct Case {
    std::string text;
    IdentifierCounts expected;
  };
  const std::vector<Case> cases = {
      {"9434765919", {.nhs_numbers = 1}},
      {"943 476 5919", {.nhs_numbers = 1}},
      {"943-476-5919", {.nhs_numbers = 1}},
      {"020 7946 0958", {.phone_numbers = 1}},
      {"+44 20 7946 0958", {.phone_numbers = 1}},
      {"SW1A 1AA", {.postcodes = 1}},
      {"M1 1AE", {.postcodes = 1}},
      {"EC1A1BB", {.postcodes = 1}},
      {"jane.doe@nhs.net", {.emails = 1}},
      {"date of birth 12/03/1980", {.dates_of_birth = 1}},
      {"born on the 1975-11-02", {.dates_of_birth = 1}},
      {"dob noted as 3.4.1990", {.dates_of_birth = 1}},
      {"born in leeds on a sunday morning 1975-11-02", {.dates_of_birth = 1}},
      // A label's date must start within 48 bytes of it; prose after the label is passed over once it is out
      // of reach.
      {"born in leeds and seen in clinic since then for both knees 12/03/1980", {}},
      {"born in leeds and seen in clinic since then for both knees 9434765919", {.nhs_numbers = 1}},
  };
  for (const Case& c : cases) {
    for (std::size_t offset = 0; offset < 70; ++offset) {
      // The identifier follows a word of `offset` letters: every position in a block.
      const std::string before = prose + prose + std::string(offset, 'w') + " ";
      const std::string text = before + c.text + " " + prose + prose;
      for (std::size_t chunk : {std::size_t{0}, std::size_t{7}, std::size_t{64}, std::size_t{97}}) {
        EXPECT_EQ(scan(text, chunk), c.expected) << c.text << " at offset " << offset << ", chunk " << chunk;
      }
      EXPECT_EQ(scan(before + prose + prose), IdentifierCounts{}) << offset;
    }
  }
}

}  // namespace
}  // namespace airlock::gateway::inspect
