#include "airlock/runtime/type.h"

#include <gtest/gtest.h>

namespace airlock::runtime {
namespace {

TEST(Type, DefaultIsDyn) {
  EXPECT_TRUE(Type().is_dyn());
  EXPECT_EQ(Type().name(), "dyn");
}

TEST(Type, NamesUseCelSpelling) {
  EXPECT_EQ(Type::integer().name(), "int");
  EXPECT_EQ(Type::unsigned_integer().name(), "uint");
  EXPECT_EQ(Type::null_type().name(), "null_type");
  EXPECT_EQ(Type::list(Type::string()).name(), "list(string)");
  EXPECT_EQ(Type::map(Type::string(), Type::dyn()).name(), "map(string, dyn)");
  EXPECT_EQ(Type::list(Type::map(Type::integer(), Type::list(Type::bytes()))).name(), "list(map(int, list(bytes)))");
}

TEST(Type, ParametersAreReachable) {
  const Type m = Type::map(Type::string(), Type::integer());
  EXPECT_EQ(m.element(), Type::string());
  EXPECT_EQ(m.value(), Type::integer());
  EXPECT_EQ(Type::list(Type::boolean()).element(), Type::boolean());
  EXPECT_TRUE(Type::integer().element().is_dyn());
}

TEST(Type, EqualityIsStructural) {
  EXPECT_EQ(Type::list(Type::string()), Type::list(Type::string()));
  EXPECT_FALSE(Type::list(Type::string()) == Type::list(Type::integer()));
  EXPECT_FALSE(Type::dyn() == Type::integer());
  EXPECT_FALSE(Type::map(Type::string(), Type::integer()) == Type::map(Type::string(), Type::unsigned_integer()));
}

TEST(Type, DynAcceptsEverythingAndIsAcceptedEverywhere) {
  EXPECT_TRUE(Type::dyn().accepts(Type::integer()));
  EXPECT_TRUE(Type::string().accepts(Type::dyn()));
  EXPECT_TRUE(Type::list(Type::string()).accepts(Type::list(Type::dyn())));
  EXPECT_TRUE(Type::list(Type::dyn()).accepts(Type::list(Type::integer())));
}

TEST(Type, MismatchesAreRejected) {
  EXPECT_FALSE(Type::integer().accepts(Type::string()));
  EXPECT_FALSE(Type::integer().accepts(Type::floating()));
  EXPECT_FALSE(Type::list(Type::string()).accepts(Type::list(Type::integer())));
  EXPECT_FALSE(Type::map(Type::string(), Type::integer()).accepts(Type::map(Type::string(), Type::string())));
  EXPECT_FALSE(Type::list(Type::string()).accepts(Type::map(Type::string(), Type::string())));
}

TEST(Type, DefaultValuesMatchTheSchemaDefaults) {
  EXPECT_EQ(Type::integer().default_value(), Value::integer(0));
  EXPECT_EQ(Type::unsigned_integer().default_value().kind(), Kind::kUint);
  EXPECT_EQ(Type::floating().default_value().kind(), Kind::kDouble);
  EXPECT_EQ(Type::string().default_value(), Value::string(""));
  EXPECT_EQ(Type::bytes().default_value(), Value::bytes(""));
  EXPECT_EQ(Type::boolean().default_value(), Value::boolean(false));
  EXPECT_EQ(Type::list(Type::string()).default_value(), Value::list({}));
  EXPECT_EQ(Type::map(Type::string(), Type::integer()).default_value(), Value::map({}));
  EXPECT_EQ(Type::timestamp().default_value(), Value::timestamp({0, 0}));
  EXPECT_EQ(Type::duration().default_value(), Value::duration({0, 0}));
  EXPECT_EQ(Type::dyn().default_value().kind(), Kind::kNull);
}

TEST(Type, AdmitsMatchingKindsOnly) {
  EXPECT_TRUE(Type::integer().admits(Kind::kInt));
  EXPECT_FALSE(Type::integer().admits(Kind::kUint));
  EXPECT_TRUE(Type::list(Type::string()).admits(Kind::kList));
  EXPECT_FALSE(Type::list(Type::string()).admits(Kind::kMap));
  EXPECT_TRUE(Type::dyn().admits(Kind::kTimestamp));
  EXPECT_FALSE(Type::dyn().admits(Kind::kError));
  EXPECT_TRUE(Type::null_type().admits(Kind::kNull));
}

}  // namespace
}  // namespace airlock::runtime
