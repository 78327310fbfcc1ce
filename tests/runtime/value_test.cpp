#include "airlock/runtime/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace airlock::runtime {
namespace {

TEST(Value, DefaultIsNull) {
  Value v;
  EXPECT_EQ(v.kind(), Kind::kNull);
  EXPECT_EQ(v, Value::null());
  EXPECT_EQ(v.debug_string(), "null");
}

TEST(Value, ScalarsRoundTripThroughAccessors) {
  EXPECT_TRUE(Value::boolean(true).as_bool());
  EXPECT_EQ(Value::integer(-7).as_int(), -7);
  EXPECT_EQ(Value::unsigned_integer(7).as_uint(), 7u);
  EXPECT_DOUBLE_EQ(Value::floating(1.5).as_double(), 1.5);
  EXPECT_EQ(Value::string("héllo").as_string(), "héllo");
  EXPECT_EQ(Value::bytes(std::string("\0\1", 2)).as_string().size(), 2u);
  EXPECT_EQ(Value::timestamp({10, 5}).as_timestamp(), (Timestamp{10, 5}));
  EXPECT_EQ(Value::duration({-1, -5}).as_duration(), (Duration{-1, -5}));
  EXPECT_EQ(Value::type("int").as_string(), "int");
  EXPECT_TRUE(Value::error("boom").is_error());
  EXPECT_EQ(Value::error("boom").as_string(), "boom");
}

TEST(Value, AccessorsOfTheWrongKindAreEmpty) {
  EXPECT_EQ(Value::integer(1).as_string(), "");
  EXPECT_TRUE(Value::integer(1).as_list().empty());
  EXPECT_TRUE(Value::string("x").as_map().empty());
}

TEST(Value, KindNamesAreCelTypeNames) {
  EXPECT_EQ(kind_name(Kind::kInt), "int");
  EXPECT_EQ(kind_name(Kind::kNull), "null_type");
  EXPECT_EQ(kind_name(Kind::kTimestamp), "timestamp");
  EXPECT_EQ(kind_name(Kind::kMap), "map");
}

TEST(Value, NumericEqualityIsHeterogeneous) {
  EXPECT_EQ(Value::integer(1), Value::unsigned_integer(1));
  EXPECT_EQ(Value::integer(1), Value::floating(1.0));
  EXPECT_EQ(Value::unsigned_integer(3), Value::floating(3.0));
  EXPECT_NE(Value::integer(1), Value::floating(1.5));
  EXPECT_NE(Value::integer(-1), Value::unsigned_integer(std::numeric_limits<std::uint64_t>::max()));
  // 2^63 as a double is not equal to INT64_MAX even though the int converts to it.
  EXPECT_NE(Value::integer(std::numeric_limits<std::int64_t>::max()), Value::floating(9223372036854775808.0));
  EXPECT_EQ(Value::unsigned_integer(9223372036854775808ull), Value::floating(9223372036854775808.0));
}

TEST(Value, NaNIsNotEqualToItself) {
  const Value nan = Value::floating(std::nan(""));
  EXPECT_NE(nan, nan);
  EXPECT_NE(nan, Value::integer(0));
}

TEST(Value, DifferentKindsAreUnequalNotErrors) {
  EXPECT_NE(Value::string("1"), Value::integer(1));
  EXPECT_NE(Value::null(), Value::boolean(false));
  EXPECT_NE(Value::string("a"), Value::bytes("a"));
  EXPECT_NE(Value::error("x"), Value::error("x"));
}

TEST(Value, ListsCompareDeeply) {
  const Value a = Value::list({Value::integer(1), Value::list({Value::string("x")})});
  const Value b = Value::list({Value::floating(1.0), Value::list({Value::string("x")})});
  const Value c = Value::list({Value::integer(1), Value::list({Value::string("y")})});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, Value::list({Value::integer(1)}));
}

TEST(Value, MapsCompareByKeySetAndValuesRegardlessOfOrder) {
  const Value a = Value::map({{Value::string("a"), Value::integer(1)}, {Value::string("b"), Value::integer(2)}});
  const Value b = Value::map({{Value::string("b"), Value::integer(2)}, {Value::string("a"), Value::integer(1)}});
  const Value c = Value::map({{Value::string("a"), Value::integer(1)}, {Value::string("c"), Value::integer(2)}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, Value::map({}));
}

TEST(Value, FindUsesNumericKeyEquality) {
  const Value m = Value::map({{Value::integer(1), Value::string("one")}, {Value::string("k"), Value::string("v")}});
  ASSERT_NE(m.find(Value::unsigned_integer(1)), nullptr);
  EXPECT_EQ(m.find(Value::floating(1.0))->as_string(), "one");
  EXPECT_EQ(m.find(Value::floating(1.5)), nullptr);
  EXPECT_EQ(m.find(Value::string("k"))->as_string(), "v");
  EXPECT_EQ(m.find(Value::string("missing")), nullptr);
  EXPECT_EQ(Value::integer(3).find(Value::integer(3)), nullptr);
}

TEST(Value, CopiesShareHeavyPayloads) {
  const Value a = Value::string(std::string(1000, 'x'));
  const Value b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(&a.as_string(), &b.as_string());
}

TEST(Value, DebugStringUsesCelSyntax) {
  EXPECT_EQ(Value::integer(-3).debug_string(), "-3");
  EXPECT_EQ(Value::unsigned_integer(2).debug_string(), "2u");
  EXPECT_EQ(Value::floating(1.5).debug_string(), "1.5");
  EXPECT_EQ(Value::floating(2.0).debug_string(), "2.0");
  EXPECT_EQ(Value::floating(INFINITY).debug_string(), "double(\"Infinity\")");
  EXPECT_EQ(Value::string("a\"b\\\n").debug_string(), "\"a\\\"b\\\\\\n\"");
  EXPECT_EQ(Value::bytes("a\xff").debug_string(), "b\"a\\xff\"");
  EXPECT_EQ(Value::list({Value::integer(1), Value::string("x")}).debug_string(), "[1, \"x\"]");
  EXPECT_EQ(Value::map({{Value::string("k"), Value::boolean(true)}}).debug_string(), "{\"k\": true}");
  EXPECT_EQ(Value::timestamp({0, 0}).debug_string(), "timestamp(\"1970-01-01T00:00:00Z\")");
  EXPECT_EQ(Value::duration({1, 500000000}).debug_string(), "duration(\"1.5s\")");
  EXPECT_EQ(Value::type("string").debug_string(), "string");
  EXPECT_EQ(Value::error("division by zero").debug_string(), "error: division by zero");
}

}  // namespace
}  // namespace airlock::runtime
