#include "airlock/runtime/builtins.h"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>

#include "airlock/runtime/format.h"

namespace airlock::runtime {
namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kIntMin = std::numeric_limits<std::int64_t>::min();
constexpr std::uint64_t kUintMax = std::numeric_limits<std::uint64_t>::max();

Value call(Builtin builtin, std::initializer_list<Value> arguments) {
  const std::vector<Value> list(arguments);
  return call_builtin(builtin, list);
}

Value I(std::int64_t i) { return Value::integer(i); }
Value U(std::uint64_t u) { return Value::unsigned_integer(u); }
Value D(double d) { return Value::floating(d); }
Value S(std::string s) { return Value::string(std::move(s)); }
Value B(bool b) { return Value::boolean(b); }
Value T(std::string_view text) { return Value::timestamp(*parse_timestamp(text)); }
Value Dur(std::string_view text) { return Value::duration(*parse_duration(text)); }

// Asserts `v` is an error whose message contains `part`.
void expect_error(const Value& v, std::string_view part) {
  ASSERT_TRUE(v.is_error()) << v.debug_string();
  EXPECT_NE(v.as_string().find(part), std::string::npos) << v.as_string();
}

void expect_same(const Value& actual, const Value& expected) {
  EXPECT_EQ(actual.kind(), expected.kind()) << actual.debug_string() << " vs " << expected.debug_string();
  EXPECT_EQ(actual, expected) << actual.debug_string() << " vs " << expected.debug_string();
}

TEST(Builtins, IntegerArithmetic) {
  expect_same(call(Builtin::kAdd, {I(2), I(3)}), I(5));
  expect_same(call(Builtin::kSubtract, {I(2), I(3)}), I(-1));
  expect_same(call(Builtin::kMultiply, {I(-4), I(3)}), I(-12));
  expect_same(call(Builtin::kDivide, {I(-7), I(2)}), I(-3));
  expect_same(call(Builtin::kModulo, {I(-7), I(2)}), I(-1));
}

TEST(Builtins, IntegerOverflowIsAnError) {
  expect_error(call(Builtin::kAdd, {I(kIntMax), I(1)}), "integer overflow in 9223372036854775807 + 1");
  expect_error(call(Builtin::kSubtract, {I(kIntMin), I(1)}), "integer overflow");
  expect_error(call(Builtin::kMultiply, {I(kIntMax), I(2)}), "integer overflow");
  expect_error(call(Builtin::kNegate, {I(kIntMin)}), "integer overflow");
  expect_error(call(Builtin::kDivide, {I(kIntMin), I(-1)}), "integer overflow");
  expect_error(call(Builtin::kModulo, {I(kIntMin), I(-1)}), "integer overflow");
}

TEST(Builtins, UnsignedOverflowIsAnError) {
  expect_same(call(Builtin::kAdd, {U(1), U(2)}), U(3));
  expect_error(call(Builtin::kAdd, {U(kUintMax), U(1)}), "unsigned integer overflow");
  expect_error(call(Builtin::kSubtract, {U(0), U(1)}), "unsigned integer overflow in 0u - 1u");
  expect_error(call(Builtin::kMultiply, {U(kUintMax), U(2)}), "overflow");
}

TEST(Builtins, DivisionByZeroIsAnErrorForIntegersOnly) {
  expect_error(call(Builtin::kDivide, {I(1), I(0)}), "division by zero");
  expect_error(call(Builtin::kModulo, {I(1), I(0)}), "modulo by zero");
  expect_error(call(Builtin::kDivide, {U(1), U(0)}), "division by zero");
  const Value inf = call(Builtin::kDivide, {D(1.0), D(0.0)});
  ASSERT_EQ(inf.kind(), Kind::kDouble);
  EXPECT_TRUE(std::isinf(inf.as_double()) && inf.as_double() > 0);
  EXPECT_TRUE(std::isnan(call(Builtin::kDivide, {D(0.0), D(0.0)}).as_double()));
}

TEST(Builtins, MixedNumericArithmeticHasNoOverload) {
  expect_error(call(Builtin::kAdd, {I(1), D(1.0)}), "no such overload: int + double");
  expect_error(call(Builtin::kMultiply, {U(1), I(1)}), "no such overload: uint * int");
  expect_error(call(Builtin::kModulo, {D(1.0), D(1.0)}), "no such overload: double % double");
  expect_error(call(Builtin::kNegate, {S("x")}), "no such overload: -string");
  expect_error(call(Builtin::kNegate, {U(1)}), "no such overload: -uint");
}

TEST(Builtins, ErrorsPropagateFromArguments) {
  expect_error(call(Builtin::kAdd, {Value::error("first"), I(1)}), "first");
  expect_error(call(Builtin::kEqual, {I(1), Value::error("second")}), "second");
}

TEST(Builtins, WrongArityIsNoSuchOverload) {
  expect_error(call(Builtin::kAdd, {I(1)}), "no such overload");
  expect_error(call(Builtin::kSize, {}), "no such overload: size()");
  expect_error(call(Builtin::kNone, {I(1)}), "no such overload");
}

TEST(Builtins, Concatenation) {
  expect_same(call(Builtin::kAdd, {S("ab"), S("cd")}), S("abcd"));
  expect_same(call(Builtin::kAdd, {Value::bytes("a"), Value::bytes("b")}), Value::bytes("ab"));
  expect_same(call(Builtin::kAdd, {Value::list({I(1)}), Value::list({S("x")})}), Value::list({I(1), S("x")}));
  expect_error(call(Builtin::kAdd, {S("a"), Value::bytes("b")}), "no such overload: string + bytes");
}

TEST(Builtins, ConcatenationIsCappedAtSixteenMebibytes) {
  const Value half = S(std::string(8u * 1024 * 1024, 'x'));
  EXPECT_EQ(call(Builtin::kAdd, {half, half}).kind(), Kind::kString);
  expect_error(call(Builtin::kAdd, {half, call(Builtin::kAdd, {half, S("y")})}), "16 MiB");
}

TEST(Builtins, TimeArithmetic) {
  expect_same(call(Builtin::kAdd, {T("2026-01-01T00:00:00Z"), Dur("36h")}), T("2026-01-02T12:00:00Z"));
  expect_same(call(Builtin::kAdd, {Dur("1s"), T("2026-01-01T00:00:00Z")}), T("2026-01-01T00:00:01Z"));
  expect_same(call(Builtin::kSubtract, {T("2026-01-01T00:00:00Z"), Dur("0.5s")}), T("2025-12-31T23:59:59.5Z"));
  expect_same(call(Builtin::kSubtract, {T("2026-01-02T00:00:00Z"), T("2026-01-01T00:00:00Z")}), Dur("24h"));
  expect_same(call(Builtin::kSubtract, {T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:01.25Z")}), Dur("-1.25s"));
  expect_same(call(Builtin::kAdd, {Dur("1.7s"), Dur("0.6s")}), Dur("2.3s"));
  expect_same(call(Builtin::kSubtract, {Dur("1s"), Dur("1.5s")}), Dur("-0.5s"));
  expect_same(call(Builtin::kNegate, {Dur("1.5s")}), Dur("-1.5s"));
}

TEST(Builtins, TimeArithmeticOutOfRangeIsAnError) {
  expect_error(call(Builtin::kAdd, {T("9999-12-31T23:59:59Z"), Dur("1s")}), "timestamp out of range");
  expect_error(call(Builtin::kSubtract, {T("0001-01-01T00:00:00Z"), Dur("1ns")}), "timestamp out of range");
  expect_error(call(Builtin::kAdd, {Dur("87660000h"), Dur("87660000h")}), "duration out of range");
}

TEST(Builtins, HeterogeneousNumericComparison) {
  expect_same(call(Builtin::kLess, {I(1), D(1.5)}), B(true));
  expect_same(call(Builtin::kLess, {I(-1), U(0)}), B(true));
  expect_same(call(Builtin::kGreater, {U(kUintMax), I(kIntMax)}), B(true));
  expect_same(call(Builtin::kLessEqual, {D(2.0), I(2)}), B(true));
  expect_same(call(Builtin::kGreaterEqual, {I(kIntMax), D(9223372036854775808.0)}), B(false));
  expect_error(call(Builtin::kLess, {D(std::nan("")), I(1)}), "NaN");
}

TEST(Builtins, ComparisonOfOtherKinds) {
  expect_same(call(Builtin::kLess, {S("a"), S("b")}), B(true));
  expect_same(call(Builtin::kLess, {S("z"), S("é")}), B(true));  // code point order
  expect_same(call(Builtin::kLess, {Value::bytes("\x01"), Value::bytes("\xff")}), B(true));
  expect_same(call(Builtin::kLess, {B(false), B(true)}), B(true));
  expect_same(call(Builtin::kGreater, {T("2026-01-01T00:00:00Z"), T("2025-01-01T00:00:00Z")}), B(true));
  expect_same(call(Builtin::kLessEqual, {Dur("1s"), Dur("1000ms")}), B(true));
  expect_error(call(Builtin::kLess, {S("1"), I(1)}), "no such overload: string < int");
  expect_error(call(Builtin::kLess, {Value::null(), Value::null()}), "no such overload");
}

TEST(Builtins, EqualityNeverErrorsOnMismatchedKinds) {
  expect_same(call(Builtin::kEqual, {I(1), D(1.0)}), B(true));
  expect_same(call(Builtin::kEqual, {S("1"), I(1)}), B(false));
  expect_same(call(Builtin::kNotEqual, {S("1"), I(1)}), B(true));
  expect_same(call(Builtin::kEqual, {Value::null(), Value::null()}), B(true));
}

TEST(Builtins, Membership) {
  const Value list = Value::list({I(1), S("a")});
  expect_same(call(Builtin::kIn, {D(1.0), list}), B(true));
  expect_same(call(Builtin::kIn, {S("b"), list}), B(false));
  const Value map = Value::map({{S("k"), I(1)}});
  expect_same(call(Builtin::kIn, {S("k"), map}), B(true));
  expect_same(call(Builtin::kIn, {S("v"), map}), B(false));
  expect_error(call(Builtin::kIn, {S("a"), S("abc")}), "no such overload: string in string");
}

TEST(Builtins, Indexing) {
  const Value list = Value::list({S("a"), S("b"), S("c")});
  expect_same(call(Builtin::kIndex, {list, I(1)}), S("b"));
  expect_same(call(Builtin::kIndex, {list, U(2)}), S("c"));
  expect_same(call(Builtin::kIndex, {list, D(0.0)}), S("a"));
  expect_error(call(Builtin::kIndex, {list, I(5)}), "index 5 out of range for list of size 3");
  expect_error(call(Builtin::kIndex, {list, I(-1)}), "out of range");
  expect_error(call(Builtin::kIndex, {list, D(0.5)}), "not an integer");
  expect_error(call(Builtin::kIndex, {list, S("0")}), "no such overload: list[string]");
  const Value map = Value::map({{S("k"), I(1)}, {I(2), S("two")}});
  expect_same(call(Builtin::kIndex, {map, S("k")}), I(1));
  expect_same(call(Builtin::kIndex, {map, U(2)}), S("two"));
  expect_error(call(Builtin::kIndex, {map, S("x")}), "no such key: \"x\"");
}

TEST(Builtins, SizeCountsCodePoints) {
  expect_same(call(Builtin::kSize, {S("héllo")}), I(5));
  expect_same(call(Builtin::kSize, {S("")}), I(0));
  expect_same(call(Builtin::kSize, {Value::bytes("héllo")}), I(6));
  expect_same(call(Builtin::kSize, {Value::list({I(1), I(2)})}), I(2));
  expect_same(call(Builtin::kSize, {Value::map({{S("a"), I(1)}})}), I(1));
  expect_error(call(Builtin::kSize, {I(3)}), "no such overload: size(int)");
}

TEST(Builtins, StringPredicates) {
  expect_same(call(Builtin::kContains, {S("hello"), S("ell")}), B(true));
  expect_same(call(Builtin::kContains, {S("hello"), S("")}), B(true));
  expect_same(call(Builtin::kStartsWith, {S("hello"), S("he")}), B(true));
  expect_same(call(Builtin::kEndsWith, {S("hello"), S("lo")}), B(true));
  expect_same(call(Builtin::kEndsWith, {S("lo"), S("hello")}), B(false));
  expect_error(call(Builtin::kContains, {S("hello"), I(1)}), "no such overload: contains(string, int)");
}

TEST(Builtins, MatchesIsAPartialRe2Match) {
  expect_same(call(Builtin::kMatches, {S("report-2026.csv"), S("[0-9]{4}")}), B(true));
  expect_same(call(Builtin::kMatches, {S("report.csv"), S("^[0-9]+$")}), B(false));
  expect_same(call(Builtin::kMatches, {S("héllo"), S("^h.llo$")}), B(true));
  expect_error(call(Builtin::kMatches, {S("x"), S("(")}), "invalid regular expression");
}

TEST(Builtins, CompiledRegexReportsRe2Errors) {
  auto bad = CompiledRegex::compile("a(b");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("missing )"), std::string::npos) << bad.message();
  auto good = CompiledRegex::compile("b+");
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ((*good)->pattern(), "b+");
  EXPECT_TRUE((*good)->partial_match("abbbc"));
  EXPECT_FALSE((*good)->partial_match("ac"));
}

TEST(Builtins, CaseMappingTouchesAsciiOnly) {
  expect_same(call(Builtin::kLowerAscii, {S("HeLLo ÉCOLE")}), S("hello École"));
  expect_same(call(Builtin::kUpperAscii, {S("hello école")}), S("HELLO éCOLE"));
}

TEST(Builtins, TrimRemovesUnicodeWhiteSpace) {
  expect_same(call(Builtin::kTrim, {S(" \t\n hi there \r\n")}), S("hi there"));
  expect_same(call(Builtin::kTrim, {S("\u00a0\u3000x\u2003")}), S("x"));
  expect_same(call(Builtin::kTrim, {S("   ")}), S(""));
  expect_same(call(Builtin::kTrim, {S("\u200bx")}), S("\u200bx"));  // zero-width space is not white space
}

Value glob(std::string text, std::string pattern) {
  return call(Builtin::kGlob, {S(std::move(text)), S(std::move(pattern))});
}

TEST(Builtins, GlobStarStaysWithinASegment) {
  expect_same(glob("data.csv", "*.csv"), B(true));
  expect_same(glob("dir/data.csv", "*.csv"), B(false));
  expect_same(glob("dir/data.csv", "*/*.csv"), B(true));
  expect_same(glob("", "*"), B(true));
  expect_same(glob("abc", "a*c"), B(true));
  expect_same(glob("abc", "a*d"), B(false));
}

TEST(Builtins, GlobDoubleStarCrossesSegments) {
  expect_same(glob("a/b/c/data.csv", "**.csv"), B(true));
  expect_same(glob("a/b/c/data.csv", "a/**/*.csv"), B(true));
  expect_same(glob("a/data.csv", "a/**/*.csv"), B(true));
  expect_same(glob("data.csv", "**/*.csv"), B(true));
  expect_same(glob("x/data.csv", "a/**/*.csv"), B(false));
}

TEST(Builtins, GlobQuestionMarkAndClasses) {
  expect_same(glob("a1", "a?"), B(true));
  expect_same(glob("aé", "a?"), B(true));
  expect_same(glob("a/", "a?"), B(false));
  expect_same(glob("b", "[abc]"), B(true));
  expect_same(glob("q", "[a-z]"), B(true));
  expect_same(glob("Q", "[a-z]"), B(false));
  expect_same(glob("x", "[!x]"), B(false));
  expect_same(glob("y", "[!x]"), B(true));
  expect_same(glob("]", "[]]"), B(true));
  expect_same(glob("-", "[a-]"), B(true));
}

TEST(Builtins, GlobEscapes) {
  expect_same(glob("*", "\\*"), B(true));
  expect_same(glob("a", "\\*"), B(false));
  expect_same(glob("a?", "a\\?"), B(true));
}

TEST(Builtins, MalformedGlobIsAnError) {
  expect_error(glob("a", "[abc"), "unclosed '['");
  expect_error(glob("a", "abc\\"), "trailing");
  expect_error(glob("a", "[z-a]"), "reversed range");
}

TEST(Builtins, GlobIsNotExponential) {
  const std::string text(5000, 'a');
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "*a";
  pattern += "b";
  expect_same(glob(text, pattern), B(false));
  expect_same(glob(text + "b", pattern), B(true));
}

TEST(Builtins, IntConversions) {
  expect_same(call(Builtin::kToInt, {D(-2.9)}), I(-2));
  expect_same(call(Builtin::kToInt, {D(2.9)}), I(2));
  expect_same(call(Builtin::kToInt, {U(7)}), I(7));
  expect_same(call(Builtin::kToInt, {S("-42")}), I(-42));
  expect_same(call(Builtin::kToInt, {S("+42")}), I(42));
  expect_same(call(Builtin::kToInt, {T("1970-01-01T00:01:00Z")}), I(60));
  expect_error(call(Builtin::kToInt, {D(9.3e18)}), "out of range");
  expect_error(call(Builtin::kToInt, {D(std::nan(""))}), "out of range");
  expect_error(call(Builtin::kToInt, {U(kUintMax)}), "out of range");
  expect_error(call(Builtin::kToInt, {S("9223372036854775808")}), "out of range");
  expect_error(call(Builtin::kToInt, {S("1.5")}), "cannot convert \"1.5\" to int");
  expect_error(call(Builtin::kToInt, {S("")}), "cannot convert");
  expect_error(call(Builtin::kToInt, {S(" 1")}), "cannot convert");
  expect_error(call(Builtin::kToInt, {S("+-1")}), "cannot convert");
  expect_same(call(Builtin::kToInt, {D(-9223372036854775808.0)}), I(kIntMin));
}

TEST(Builtins, UintConversions) {
  expect_same(call(Builtin::kToUint, {I(3)}), U(3));
  expect_error(call(Builtin::kToUint, {I(-1)}), "cannot convert -1 to uint");
  expect_same(call(Builtin::kToUint, {D(3.7)}), U(3));
  expect_error(call(Builtin::kToUint, {D(-1.0)}), "out of range");
  expect_error(call(Builtin::kToUint, {D(1.9e19)}), "out of range");
  expect_same(call(Builtin::kToUint, {S("18446744073709551615")}), U(kUintMax));
  expect_error(call(Builtin::kToUint, {S("-1")}), "cannot convert");
}

TEST(Builtins, DoubleConversions) {
  expect_same(call(Builtin::kToDouble, {I(3)}), D(3.0));
  expect_same(call(Builtin::kToDouble, {U(3)}), D(3.0));
  expect_same(call(Builtin::kToDouble, {S("1.5e3")}), D(1500.0));
  expect_same(call(Builtin::kToDouble, {S("-0.25")}), D(-0.25));
  expect_same(call(Builtin::kToDouble, {S("+2")}), D(2.0));
  EXPECT_TRUE(std::isinf(call(Builtin::kToDouble, {S("Infinity")}).as_double()));
  EXPECT_TRUE(std::isnan(call(Builtin::kToDouble, {S("NaN")}).as_double()));
  expect_error(call(Builtin::kToDouble, {S("abc")}), "cannot convert");
  expect_error(call(Builtin::kToDouble, {S("1e999")}), "out of range");
}

TEST(Builtins, StringConversions) {
  expect_same(call(Builtin::kToString, {I(-3)}), S("-3"));
  expect_same(call(Builtin::kToString, {U(3)}), S("3"));
  expect_same(call(Builtin::kToString, {D(1.5)}), S("1.5"));
  expect_same(call(Builtin::kToString, {B(true)}), S("true"));
  expect_same(call(Builtin::kToString, {Value::bytes("hé")}), S("hé"));
  expect_error(call(Builtin::kToString, {Value::bytes("\xff")}), "invalid UTF-8");
  expect_same(call(Builtin::kToString, {T("2026-11-29T10:00:00+01:00")}), S("2026-11-29T09:00:00Z"));
  expect_same(call(Builtin::kToString, {Dur("1m30.5s")}), S("90.5s"));
  expect_error(call(Builtin::kToString, {Value::list({})}), "no such overload: string(list)");
}

TEST(Builtins, BoolBytesAndIdentityConversions) {
  for (const char* yes : {"true", "True", "TRUE", "t", "T", "1"})
    expect_same(call(Builtin::kToBool, {S(yes)}), B(true));
  for (const char* no : {"false", "False", "FALSE", "f", "F", "0"})
    expect_same(call(Builtin::kToBool, {S(no)}), B(false));
  expect_error(call(Builtin::kToBool, {S("yes")}), "cannot convert");
  expect_same(call(Builtin::kToBytes, {S("é")}), Value::bytes("é"));
  expect_same(call(Builtin::kToInt, {I(5)}), I(5));
  expect_same(call(Builtin::kDyn, {S("x")}), S("x"));
}

TEST(Builtins, TimestampAndDurationConversions) {
  expect_same(call(Builtin::kToTimestamp, {I(0)}), T("1970-01-01T00:00:00Z"));
  expect_same(call(Builtin::kToTimestamp, {S("2026-11-29T10:00:00Z")}), T("2026-11-29T10:00:00Z"));
  expect_error(call(Builtin::kToTimestamp, {S("2026-02-30T00:00:00Z")}), "invalid timestamp");
  expect_error(call(Builtin::kToTimestamp, {I(253402300800)}), "out of range");
  expect_same(call(Builtin::kToDuration, {S("1h")}), Dur("3600s"));
  expect_error(call(Builtin::kToDuration, {S("1 hour")}), "invalid duration");
}

TEST(Builtins, TypeOfNamesTheKind) {
  expect_same(call(Builtin::kTypeOf, {I(1)}), Value::type("int"));
  expect_same(call(Builtin::kTypeOf, {S("")}), Value::type("string"));
  expect_same(call(Builtin::kTypeOf, {Value::null()}), Value::type("null_type"));
  expect_same(call(Builtin::kTypeOf, {Value::type("int")}), Value::type("type"));
  expect_same(call(Builtin::kTypeOf, {T("2026-01-01T00:00:00Z")}), Value::type("timestamp"));
}

TEST(Builtins, TimestampAccessorsInUtc) {
  const Value t = T("2026-11-29T10:20:30.456Z");  // a Sunday
  expect_same(call(Builtin::kGetFullYear, {t}), I(2026));
  expect_same(call(Builtin::kGetMonth, {t}), I(10));
  expect_same(call(Builtin::kGetDate, {t}), I(29));
  expect_same(call(Builtin::kGetDayOfMonth, {t}), I(28));
  expect_same(call(Builtin::kGetDayOfWeek, {t}), I(0));
  expect_same(call(Builtin::kGetDayOfYear, {t}), I(332));
  expect_same(call(Builtin::kGetHours, {t}), I(10));
  expect_same(call(Builtin::kGetMinutes, {t}), I(20));
  expect_same(call(Builtin::kGetSeconds, {t}), I(30));
  expect_same(call(Builtin::kGetMilliseconds, {t}), I(456));
  expect_same(call(Builtin::kGetDayOfWeek, {T("1970-01-01T00:00:00Z")}), I(4));
  expect_same(call(Builtin::kGetDayOfWeek, {T("1969-12-31T00:00:00Z")}), I(3));
}

TEST(Builtins, TimestampAccessorsWithTimeZones) {
  const Value t = T("2026-12-31T23:30:00Z");
  expect_same(call(Builtin::kGetFullYear, {t, S("+01:00")}), I(2027));
  expect_same(call(Builtin::kGetDayOfYear, {t, S("+01:00")}), I(0));
  expect_same(call(Builtin::kGetHours, {t, S("-05:30")}), I(18));
  expect_same(call(Builtin::kGetMinutes, {t, S("-05:30")}), I(0));
  expect_same(call(Builtin::kGetHours, {t, S("UTC")}), I(23));
  expect_error(call(Builtin::kGetHours, {t, S("Europe/London")}), "unsupported time zone \"Europe/London\"");
  expect_error(call(Builtin::kGetHours, {t, S("+25:00")}), "unsupported time zone");
}

TEST(Builtins, DurationAccessorsReturnTotals) {
  const Value d = Dur("3730.5s");
  expect_same(call(Builtin::kGetHours, {d}), I(1));
  expect_same(call(Builtin::kGetMinutes, {d}), I(62));
  expect_same(call(Builtin::kGetSeconds, {d}), I(3730));
  expect_same(call(Builtin::kGetMilliseconds, {d}), I(500));
  expect_same(call(Builtin::kGetHours, {Dur("-90m")}), I(-1));
  expect_error(call(Builtin::kGetFullYear, {d}), "no such overload");
}

TEST(Builtins, OverloadTableCoversEveryBuiltin) {
  const auto overloads = builtin_overloads();
  for (auto b = static_cast<std::uint16_t>(Builtin::kAdd); b <= static_cast<std::uint16_t>(Builtin::kGetMilliseconds);
       ++b) {
    bool found = false;
    for (const Overload& o : overloads) found = found || o.builtin == static_cast<Builtin>(b);
    EXPECT_TRUE(found) << builtin_name(static_cast<Builtin>(b));
  }
  for (const Overload& o : overloads) {
    EXPECT_EQ(o.function, builtin_name(o.builtin));
    EXPECT_FALSE(o.parameters.empty());
  }
}

TEST(Builtins, OverloadTableDeclaresMemberAndGlobalForms) {
  bool member_size = false;
  bool global_matches = false;
  bool int_plus_double = false;
  bool int_less_double = false;
  for (const Overload& o : builtin_overloads()) {
    member_size = member_size || (o.builtin == Builtin::kSize && o.member);
    global_matches = global_matches || (o.builtin == Builtin::kMatches && !o.member);
    if (o.parameters.size() == 2 && o.parameters[0] == Type::integer() && o.parameters[1] == Type::floating()) {
      int_plus_double = int_plus_double || o.builtin == Builtin::kAdd;
      int_less_double = int_less_double || o.builtin == Builtin::kLess;
    }
  }
  EXPECT_TRUE(member_size);
  EXPECT_TRUE(global_matches);
  EXPECT_FALSE(int_plus_double);
  EXPECT_TRUE(int_less_double);
}

TEST(Builtins, NamesAreTheSpelledFunctions) {
  EXPECT_EQ(builtin_name(Builtin::kAdd), "_+_");
  EXPECT_EQ(builtin_name(Builtin::kStartsWith), "startsWith");
  EXPECT_EQ(builtin_name(Builtin::kGetDayOfWeek), "getDayOfWeek");
}

}  // namespace
}  // namespace airlock::runtime
