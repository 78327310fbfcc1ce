#include "airlock/runtime/format.h"

#include <gtest/gtest.h>

#include <cmath>

namespace airlock::runtime {
namespace {

Timestamp parse_ok(std::string_view text) {
  auto parsed = parse_timestamp(text);
  EXPECT_TRUE(parsed.is_ok()) << text << ": " << (parsed ? "" : parsed.message());
  return parsed ? *parsed : Timestamp{};
}

TEST(Format, ParsesUtcTimestamps) {
  EXPECT_EQ(parse_ok("1970-01-01T00:00:00Z"), (Timestamp{0, 0}));
  EXPECT_EQ(parse_ok("2026-11-29T10:00:00Z"), (Timestamp{1795946400, 0}));
  EXPECT_EQ(parse_ok("1969-12-31T23:59:59Z"), (Timestamp{-1, 0}));
}

TEST(Format, ParsesOffsetsAndFractions) {
  EXPECT_EQ(parse_ok("2026-11-29T10:00:00.5+01:00"), (Timestamp{1795946400 - 3600, 500000000}));
  EXPECT_EQ(parse_ok("2026-11-29T10:00:00-05:30"), (Timestamp{1795946400 + 5 * 3600 + 1800, 0}));
  EXPECT_EQ(parse_ok("1970-01-01T00:00:00.123456789Z"), (Timestamp{0, 123456789}));
  EXPECT_EQ(parse_ok("1970-01-01t00:00:00.000000001z"), (Timestamp{0, 1}));
}

TEST(Format, ParsesTheWholeCelRange) {
  EXPECT_EQ(parse_ok("0001-01-01T00:00:00Z").seconds, -62135596800);
  EXPECT_EQ(parse_ok("9999-12-31T23:59:59.999999999Z"), (Timestamp{253402300799, 999999999}));
}

TEST(Format, RejectsMalformedTimestamps) {
  for (std::string_view bad :
       {"", "2026-11-29", "2026-11-29T10:00:00", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-11-29T24:00:00Z", "2026-11-29T10:60:00Z", "2026-11-29T10:00:60Z", "2026-11-29T10:00:00.Z",
        "2026-11-29T10:00:00.1234567890Z", "2026-11-29T10:00:00+1:00", "2026-11-29T10:00:00+01:00x",
        "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-11-29 10:00:00Z"}) {
    auto parsed = parse_timestamp(bad);
    EXPECT_FALSE(parsed.is_ok()) << bad;
    if (!parsed) {
      EXPECT_NE(parsed.message().find("invalid timestamp"), std::string::npos);
    }
  }
}

TEST(Format, AcceptsLeapDays) {
  EXPECT_TRUE(parse_timestamp("2024-02-29T00:00:00Z").is_ok());
  EXPECT_TRUE(parse_timestamp("2000-02-29T00:00:00Z").is_ok());
  EXPECT_FALSE(parse_timestamp("1900-02-29T00:00:00Z").is_ok());
}

TEST(Format, FormatsTimestampsInUtcWithoutTrailingZeros) {
  EXPECT_EQ(format_timestamp({0, 0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp({1795946400, 500000000}), "2026-11-29T10:00:00.5Z");
  EXPECT_EQ(format_timestamp({-1, 1}), "1969-12-31T23:59:59.000000001Z");
  EXPECT_EQ(format_timestamp({-62135596800, 0}), "0001-01-01T00:00:00Z");
}

TEST(Format, TimestampsRoundTrip) {
  for (std::string_view text : {"2026-11-29T10:00:00Z", "2000-02-29T23:59:59.25Z", "0001-01-01T00:00:00Z",
                                "9999-12-31T23:59:59.999999999Z", "1969-07-20T20:17:40.1Z"}) {
    EXPECT_EQ(format_timestamp(parse_ok(text)), text);
  }
}

Duration duration_ok(std::string_view text) {
  auto parsed = parse_duration(text);
  EXPECT_TRUE(parsed.is_ok()) << text << ": " << (parsed ? "" : parsed.message());
  return parsed ? *parsed : Duration{};
}

TEST(Format, ParsesGoDurations) {
  EXPECT_EQ(duration_ok("36h"), (Duration{129600, 0}));
  EXPECT_EQ(duration_ok("1h30m"), (Duration{5400, 0}));
  EXPECT_EQ(duration_ok("1.5s"), (Duration{1, 500000000}));
  EXPECT_EQ(duration_ok("-10ms"), (Duration{0, -10000000}));
  EXPECT_EQ(duration_ok("250us"), (Duration{0, 250000}));
  EXPECT_EQ(duration_ok("250µs"), (Duration{0, 250000}));
  EXPECT_EQ(duration_ok("3ns"), (Duration{0, 3}));
  EXPECT_EQ(duration_ok("0"), (Duration{0, 0}));
  EXPECT_EQ(duration_ok("+5s"), (Duration{5, 0}));
  EXPECT_EQ(duration_ok(".5s"), (Duration{0, 500000000}));
  EXPECT_EQ(duration_ok("-1.5h"), (Duration{-5400, 0}));
  EXPECT_EQ(duration_ok("1h1m1s1ms1us1ns"), (Duration{3661, 1001001}));
}

TEST(Format, DurationsCoverTenThousandYears) {
  EXPECT_EQ(duration_ok("87660000h").seconds, 315576000000);
  EXPECT_FALSE(parse_duration("87660001h").is_ok());
  EXPECT_FALSE(parse_duration("99999999999999999999999999999h").is_ok());
}

TEST(Format, RejectsMalformedDurations) {
  for (std::string_view bad : {"", "-", "1", "s", "1x", "1.s.", "h1", "1 h", "1d", "--1s", ".s"}) {
    EXPECT_FALSE(parse_duration(bad).is_ok()) << bad;
  }
}

TEST(Format, FormatsDurationsAsSeconds) {
  EXPECT_EQ(format_duration({1, 500000000}), "1.5s");
  EXPECT_EQ(format_duration({-10, 0}), "-10s");
  EXPECT_EQ(format_duration({0, 0}), "0s");
  EXPECT_EQ(format_duration({0, -10000000}), "-0.01s");
  EXPECT_EQ(format_duration({3600, 1}), "3600.000000001s");
}

TEST(Format, JsonOfScalars) {
  EXPECT_EQ(to_json(Value::null()), "null");
  EXPECT_EQ(to_json(Value::boolean(true)), "true");
  EXPECT_EQ(to_json(Value::integer(-5)), "-5");
  EXPECT_EQ(to_json(Value::unsigned_integer(18446744073709551615ull)), "18446744073709551615");
  EXPECT_EQ(to_json(Value::floating(2.0)), "2.0");
  EXPECT_EQ(to_json(Value::floating(0.25)), "0.25");
  EXPECT_EQ(to_json(Value::floating(1e300)), "1e+300");
  EXPECT_EQ(to_json(Value::floating(std::nan(""))), "\"NaN\"");
  EXPECT_EQ(to_json(Value::floating(-INFINITY)), "\"-Infinity\"");
  EXPECT_EQ(to_json(Value::string("a\"\n\x01é")), "\"a\\\"\\n\\u0001é\"");
  EXPECT_EQ(to_json(Value::bytes("hello")), "\"aGVsbG8=\"");
  EXPECT_EQ(to_json(Value::bytes("hi")), "\"aGk=\"");
  EXPECT_EQ(to_json(Value::bytes("abc")), "\"YWJj\"");
  EXPECT_EQ(to_json(Value::timestamp({0, 0})), "\"1970-01-01T00:00:00Z\"");
  EXPECT_EQ(to_json(Value::duration({90, 0})), "\"90s\"");
  EXPECT_EQ(to_json(Value::type("int")), "\"int\"");
}

TEST(Format, JsonOfContainers) {
  const Value v = Value::map({{Value::string("a"), Value::list({Value::integer(1), Value::string("x")})},
                              {Value::integer(2), Value::boolean(false)},
                              {Value::boolean(true), Value::null()}});
  EXPECT_EQ(to_json(v), "{\"a\":[1,\"x\"],\"2\":false,\"true\":null}");
  EXPECT_EQ(to_json(Value::list({})), "[]");
  EXPECT_EQ(to_json(Value::map({})), "{}");
}

TEST(Format, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("héllo wörld €𝄞"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("a\x80"));             // stray continuation
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
}

}  // namespace
}  // namespace airlock::runtime
