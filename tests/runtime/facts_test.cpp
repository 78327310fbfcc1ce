#include "airlock/runtime/facts.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace airlock::runtime {
namespace {

const FactSchema& schema() { return FactSchema::standard(); }

const Value& fact(const Facts& facts, std::string_view path) { return facts.get(*facts.schema().find(path)); }

bool is_set(const Facts& facts, std::string_view path) { return facts.is_set(*facts.schema().find(path)); }

std::string json_error(std::string_view json) {
  auto facts = Facts::from_json(json);
  EXPECT_FALSE(facts.is_ok()) << json;
  return facts.is_ok() ? std::string() : facts.message();
}

TEST(FactSchema, HoldsEveryFieldOfLanguageMdWithItsType) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"transfer.id", "string"},
      {"transfer.channel", "string"},
      {"transfer.direction", "string"},
      {"transfer.workspace", "string"},
      {"transfer.project", "string"},
      {"transfer.datasource", "string"},
      {"transfer.files", "int"},
      {"transfer.total_size", "int"},
      {"transfer.justification", "string"},
      {"transfer.created_at", "timestamp"},
      {"actor.id", "string"},
      {"actor.name", "string"},
      {"actor.email", "string"},
      {"actor.organisation", "string"},
      {"actor.roles", "list(string)"},
      {"file.name", "string"},
      {"file.path", "string"},
      {"file.extension", "string"},
      {"file.size", "int"},
      {"file.sha256", "string"},
      {"file.type", "string"},
      {"file.declared_type", "string"},
      {"archive.is_archive", "bool"},
      {"archive.encrypted", "bool"},
      {"archive.entries", "int"},
      {"archive.uncompressed_size", "int"},
      {"archive.nested_archives", "int"},
      {"archive.compression_ratio", "double"},
      {"archive.entry_names", "list(string)"},
      {"scan.result", "string"},
      {"scan.signature", "string"},
      {"scan.engine", "string"},
      {"content.text", "bool"},
      {"content.nhs_numbers", "int"},
      {"content.postcodes", "int"},
      {"content.emails", "int"},
      {"content.phone_numbers", "int"},
      {"content.dates_of_birth", "int"},
      {"table.is_table", "bool"},
      {"table.rows", "int"},
      {"table.columns", "int"},
      {"table.column_names", "list(string)"},
      {"table.identifier_columns", "list(string)"},
      {"table.min_count", "int"},
      {"table.zero_cells", "int"},
      {"source.type", "string"},
      {"source.host", "string"},
      {"source.url", "string"},
      {"destination.name", "string"},
      {"destination.type", "string"},
      {"destination.host", "string"},
      {"destination.url", "string"},
      {"datasource.name", "string"},
      {"datasource.type", "string"},
      {"datasource.publisher", "string"},
      {"datasource.license", "string"},
      {"now", "timestamp"},
  };
  ASSERT_EQ(schema().fields().size(), expected.size());
  for (const auto& [path, type] : expected) {
    auto slot = schema().find(path);
    ASSERT_TRUE(slot.has_value()) << path;
    EXPECT_EQ(schema().field(*slot).path, path);
    EXPECT_EQ(schema().field(*slot).type.name(), type) << path;
  }
}

TEST(FactSchema, DescribesEveryFieldOnOneLine) {
  for (const FactField& field : schema().fields()) {
    EXPECT_FALSE(field.description.empty()) << field.path;
    EXPECT_EQ(field.description.find('\n'), std::string::npos) << field.path;
  }
}

TEST(FactSchema, FindsFieldsButNotGroupsOrStrangers) {
  EXPECT_TRUE(schema().find("file.size").has_value());
  EXPECT_TRUE(schema().find("now").has_value());
  EXPECT_FALSE(schema().find("file").has_value());
  EXPECT_FALSE(schema().find("file.sise").has_value());
  EXPECT_FALSE(schema().find("").has_value());
}

TEST(FactSchema, KnowsItsGroups) {
  for (const char* group :
       {"transfer", "actor", "file", "archive", "scan", "content", "table", "source", "destination", "datasource"}) {
    EXPECT_TRUE(schema().is_group(group)) << group;
  }
  EXPECT_FALSE(schema().is_group("file.size"));
  EXPECT_FALSE(schema().is_group("now"));
  EXPECT_FALSE(schema().is_group("fil"));
  EXPECT_FALSE(schema().is_group("transfer.datasource"));
  EXPECT_FALSE(schema().is_group(""));
}

TEST(FactSchema, SuggestsCloseFieldsAndGroups) {
  EXPECT_EQ(schema().suggest("file.sise"), "file.size");
  EXPECT_EQ(schema().suggest("transfer.workpsace"), "transfer.workspace");
  EXPECT_EQ(schema().suggest("fle.size"), "file.size");
  EXPECT_EQ(schema().suggest("File.Size"), "file.size");
  EXPECT_EQ(schema().suggest("content.nhs_number"), "content.nhs_numbers");
  EXPECT_EQ(schema().suggest("fiel"), "file");
  EXPECT_EQ(schema().suggest("nhs_numbers"), "content.nhs_numbers");
  EXPECT_EQ(schema().suggest("nwo"), "now");
}

TEST(FactSchema, SuggestsNothingWhenNothingIsClose) {
  EXPECT_EQ(schema().suggest("transfer.foo"), "");
  EXPECT_EQ(schema().suggest("quantum.flux"), "");
  EXPECT_EQ(schema().suggest("file.colour"), "");
  EXPECT_EQ(schema().suggest(""), "");
}

TEST(Facts, StartAtTheirSchemaDefaultsAndUnset) {
  Facts facts;
  EXPECT_EQ(fact(facts, "file.size"), Value::integer(0));
  EXPECT_EQ(fact(facts, "transfer.id"), Value::string(""));
  EXPECT_EQ(fact(facts, "content.text"), Value::boolean(false));
  EXPECT_EQ(fact(facts, "archive.compression_ratio").kind(), Kind::kDouble);
  EXPECT_EQ(fact(facts, "actor.roles"), Value::list({}));
  EXPECT_EQ(fact(facts, "now").kind(), Kind::kTimestamp);
  EXPECT_EQ(fact(facts, "now").as_timestamp(), Timestamp{});
  for (const FactField& field : schema().fields()) EXPECT_FALSE(is_set(facts, field.path)) << field.path;
}

TEST(Facts, SetByPathChecksTheType) {
  Facts facts;
  ASSERT_TRUE(facts.set("file.size", Value::integer(10)).is_ok());
  EXPECT_EQ(fact(facts, "file.size"), Value::integer(10));
  EXPECT_TRUE(is_set(facts, "file.size"));

  Status wrong = facts.set("file.size", Value::string("big"));
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_EQ(wrong.message(), "file.size: expected int, got string");
  EXPECT_EQ(fact(facts, "file.size"), Value::integer(10));

  Status unknown = facts.set("file.sise", Value::integer(1));
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.message(), "file.sise: unknown fact (did you mean `file.size`?)");

  Status bad_list = facts.set("actor.roles", Value::list({Value::string("a"), Value::integer(2)}));
  EXPECT_FALSE(bad_list.is_ok());
  EXPECT_TRUE(facts.set("actor.roles", Value::list({Value::string("a")})).is_ok());
}

TEST(Facts, AcceptAnIntForADoubleFactAndConvertIt) {
  Facts facts;
  ASSERT_TRUE(facts.set("archive.compression_ratio", Value::integer(3)).is_ok());
  EXPECT_EQ(fact(facts, "archive.compression_ratio").kind(), Kind::kDouble);
  EXPECT_EQ(fact(facts, "archive.compression_ratio").as_double(), 3.0);
  EXPECT_FALSE(facts.set("file.size", Value::floating(3.0)).is_ok());
}

TEST(Facts, ParseTheJsonFormOfLanguageMd) {
  auto facts = Facts::from_json(R"({
    "transfer": {"channel": "upload", "workspace": "ws1", "created_at": "2026-11-28T09:30:00.5Z"},
    "actor": {"roles": ["researcher", "data-approver"]},
    "file": {"size": 10, "name": "a.csv"},
    "archive": {"compression_ratio": 2.5, "encrypted": true},
    "now": "2026-11-29T10:00:00Z"
  })");
  ASSERT_TRUE(facts.is_ok()) << facts.message();
  EXPECT_EQ(fact(*facts, "transfer.channel"), Value::string("upload"));
  EXPECT_EQ(fact(*facts, "file.size"), Value::integer(10));
  EXPECT_EQ(fact(*facts, "archive.compression_ratio"), Value::floating(2.5));
  EXPECT_EQ(fact(*facts, "archive.encrypted"), Value::boolean(true));
  EXPECT_EQ(fact(*facts, "actor.roles"), Value::list({Value::string("researcher"), Value::string("data-approver")}));
  EXPECT_EQ(fact(*facts, "now").as_timestamp(), (Timestamp{1795946400, 0}));
  EXPECT_EQ(fact(*facts, "transfer.created_at").as_timestamp(), (Timestamp{1795858200, 500000000}));
  EXPECT_TRUE(is_set(*facts, "file.name"));
  EXPECT_FALSE(is_set(*facts, "file.type"));
  EXPECT_EQ(fact(*facts, "file.type"), Value::string(""));
}

TEST(Facts, AcceptAJsonIntegerForADoubleFact) {
  auto facts = Facts::from_json(R"({"archive": {"compression_ratio": 3}})");
  ASSERT_TRUE(facts.is_ok()) << facts.message();
  EXPECT_EQ(fact(*facts, "archive.compression_ratio").kind(), Kind::kDouble);
  EXPECT_EQ(fact(*facts, "archive.compression_ratio").as_double(), 3.0);
}

TEST(Facts, NameTheJsonPathOfAWrongType) {
  EXPECT_EQ(json_error(R"({"file": {"size": "big"}})"), "facts: $.file.size: expected int, got string");
  EXPECT_EQ(json_error(R"({"content": {"text": 1}})"), "facts: $.content.text: expected bool, got int");
  EXPECT_EQ(json_error(R"({"file": {"name": null}})"), "facts: $.file.name: expected string, got null");
  EXPECT_EQ(json_error(R"({"actor": {"roles": "researcher"}})"),
            "facts: $.actor.roles: expected list(string), got string");
}

TEST(Facts, NameAnUnknownFactWithASuggestion) {
  EXPECT_EQ(json_error(R"({"file": {"sise": 1}})"), "facts: $.file.sise: unknown fact (did you mean `file.size`?)");
  EXPECT_EQ(json_error(R"({"fle": {"size": 1}})"), "facts: $.fle: unknown fact (did you mean `file`?)");
  EXPECT_EQ(json_error(R"({"quantum": {}})"), "facts: $.quantum: unknown fact");
}

TEST(Facts, RequireObjectsForGroupsAndTheDocument) {
  EXPECT_EQ(json_error(R"({"file": 3})"), "facts: $.file: expected an object");
  EXPECT_EQ(json_error(R"([1, 2])"), "facts: $: expected an object");
  EXPECT_EQ(json_error(R"({"file": {"size": {"bytes": 3}}})"), "facts: $.file.size: expected int, got object");
}

TEST(Facts, ReportMalformedJsonWithLineAndColumn) {
  const std::string message = json_error("{\n  \"file\": {\n    \"size\": 1,,\n  }\n}");
  EXPECT_EQ(message.rfind("facts: invalid JSON at line 3, column ", 0), 0u) << message;
  EXPECT_EQ(json_error("").rfind("facts: invalid JSON at line 1, column ", 0), 0u);
}

TEST(Facts, RejectFractionsAndOutOfRangeNumbersForIntFacts) {
  EXPECT_EQ(json_error(R"({"file": {"size": 1.5}})"), "facts: $.file.size: expected int, got double");
  EXPECT_EQ(json_error(R"({"file": {"size": 9223372036854775808}})"), "facts: $.file.size: integer out of range");
  EXPECT_EQ(json_error(R"({"file": {"size": 1e30}})"), "facts: $.file.size: integer out of range");
  auto largest = Facts::from_json(R"({"file": {"size": 9223372036854775807}})");
  ASSERT_TRUE(largest.is_ok());
  EXPECT_EQ(fact(*largest, "file.size").as_int(), 9223372036854775807);
  auto negative = Facts::from_json(R"({"file": {"size": -1}})");
  ASSERT_TRUE(negative.is_ok());
  EXPECT_EQ(fact(*negative, "file.size").as_int(), -1);
}

TEST(Facts, RequireRfc3339Timestamps) {
  const std::string message = json_error(R"({"now": "yesterday"})");
  EXPECT_EQ(message.rfind("facts: $.now: expected an RFC 3339 timestamp", 0), 0u) << message;
  EXPECT_EQ(json_error(R"({"now": 1700000000})"),
            "facts: $.now: expected timestamp, got int (timestamps are RFC 3339 strings)");
}

TEST(Facts, RequireStringElementsInStringLists) {
  EXPECT_EQ(json_error(R"({"actor": {"roles": ["a", "b", 3]}})"), "facts: $.actor.roles[2]: expected string, got int");
}

TEST(Facts, RejectInvalidUtf8) { EXPECT_EQ(json_error("{\"file\": {\"name\": \"a\xff\"}}"), "facts: invalid UTF-8"); }

TEST(Facts, RejectInvalidUtf8FromValues) {
  Facts facts;
  Status status = facts.set("file.name", Value::string("a\xff"));
  ASSERT_FALSE(status.is_ok());
  EXPECT_EQ(status.message(), "file.name: invalid UTF-8");
  auto from_value = Facts::from_value(Value::map(
      {{Value::string("actor"), Value::map({{Value::string("roles"), Value::list({Value::string("\xc3")})}})}}));
  ASSERT_FALSE(from_value.is_ok());
  EXPECT_EQ(from_value.message(), "facts: $.actor.roles: invalid UTF-8");
}

TEST(Facts, BuildFromAMapValue) {
  Value given = Value::map({
      {Value::string("transfer"), Value::map({{Value::string("channel"), Value::string("upload")}})},
      {Value::string("file"),
       Value::map({{Value::string("size"), Value::integer(10240)}, {Value::string("name"), Value::string("a.csv")}})},
      {Value::string("archive"), Value::map({{Value::string("compression_ratio"), Value::integer(4)}})},
      {Value::string("now"), Value::timestamp({1795946400, 0})},
  });
  auto facts = Facts::from_value(given);
  ASSERT_TRUE(facts.is_ok()) << facts.message();
  EXPECT_EQ(fact(*facts, "transfer.channel"), Value::string("upload"));
  EXPECT_EQ(fact(*facts, "file.size"), Value::integer(10240));
  EXPECT_EQ(fact(*facts, "archive.compression_ratio"), Value::floating(4.0));
  EXPECT_EQ(fact(*facts, "now").as_timestamp(), (Timestamp{1795946400, 0}));
  EXPECT_FALSE(is_set(*facts, "file.type"));
}

TEST(Facts, FromAMapValueNameTheFaultyPath) {
  auto wrong = Facts::from_value(
      Value::map({{Value::string("file"), Value::map({{Value::string("size"), Value::string("big")}})}}));
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_EQ(wrong.message(), "facts: $.file.size: expected int, got string");
  auto unknown = Facts::from_value(
      Value::map({{Value::string("file"), Value::map({{Value::string("sise"), Value::integer(1)}})}}));
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.message(), "facts: $.file.sise: unknown fact (did you mean `file.size`?)");
  auto not_map = Facts::from_value(Value::map({{Value::string("file"), Value::integer(1)}}));
  ASSERT_FALSE(not_map.is_ok());
  EXPECT_EQ(not_map.message(), "facts: $.file: expected an object");
  auto bad_element = Facts::from_value(
      Value::map({{Value::string("actor"),
                   Value::map({{Value::string("roles"), Value::list({Value::string("a"), Value::boolean(true)})}})}}));
  ASSERT_FALSE(bad_element.is_ok());
  EXPECT_EQ(bad_element.message(), "facts: $.actor.roles[1]: expected string, got bool");
}

TEST(Facts, WriteOnlyTheFieldsThatWereSet) {
  Facts facts;
  ASSERT_TRUE(facts.set("file.size", Value::integer(10)).is_ok());
  ASSERT_TRUE(facts.set("transfer.channel", Value::string("upload")).is_ok());
  ASSERT_TRUE(facts.set("now", Value::timestamp({1795946400, 0})).is_ok());
  EXPECT_EQ(facts.to_json(), R"({"transfer":{"channel":"upload"},"file":{"size":10},"now":"2026-11-29T10:00:00Z"})");
}

TEST(Facts, RoundTripThroughJson) {
  const std::string json =
      R"({"transfer":{"channel":"import","created_at":"2026-11-28T09:30:00.5Z"},"actor":{"roles":["a","b"]},)"
      R"("archive":{"compression_ratio":2.5}})";
  auto facts = Facts::from_json(json);
  ASSERT_TRUE(facts.is_ok()) << facts.message();
  EXPECT_EQ(facts->to_json(), json);
  auto everything = Facts::from_json(facts->to_json(/*include_defaults=*/true));
  ASSERT_TRUE(everything.is_ok()) << everything.message();
  for (const FactField& field : schema().fields()) {
    EXPECT_TRUE(is_set(*everything, field.path)) << field.path;
    EXPECT_EQ(fact(*everything, field.path), fact(*facts, field.path)) << field.path;
  }
}

TEST(Facts, WalkBoundCoversTheLargestValueEverSet) {
  Facts facts;
  EXPECT_EQ(facts.walk_bound(), 0u);  // defaults: empty strings and lists
  ASSERT_TRUE(facts.set("file.size", Value::integer(std::int64_t{1} << 40)).is_ok());
  EXPECT_EQ(facts.walk_bound(), 0u);  // numbers are not walked
  ASSERT_TRUE(facts.set("file.name", Value::string(std::string(640, 'a'))).is_ok());
  EXPECT_EQ(facts.walk_bound(), 10u);  // 640 bytes / 64
  List entries(25, Value::string("a.csv"));
  ASSERT_TRUE(facts.set("archive.entry_names", Value::list(std::move(entries))).is_ok());
  EXPECT_EQ(facts.walk_bound(), 25u);
  ASSERT_TRUE(facts.set("archive.entry_names", Value::list({})).is_ok());
  EXPECT_EQ(facts.walk_bound(), 25u);  // an upper bound: replacing a value does not lower it
  Facts copy = facts;
  EXPECT_EQ(copy.walk_bound(), 25u);
}

}  // namespace
}  // namespace airlock::runtime
