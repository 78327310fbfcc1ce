#include "airlock/runtime/facts.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "airlock/runtime/format.h"
#include "internal/operand_cost.h"

namespace airlock::runtime {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

std::vector<FactField> standard_fields() {
  const Type text = Type::string();
  const Type count = Type::integer();
  const Type flag = Type::boolean();
  const Type names = Type::list(Type::string());
  const Type when = Type::timestamp();
  return {
      {"transfer.id", text, "the transfer's id"},
      {"transfer.channel", text, "how the data moves: upload, import or egress"},
      {"transfer.direction", text, "ingress or egress"},
      {"transfer.workspace", text, "the workspace the data goes to or comes from"},
      {"transfer.project", text, "the project the data goes to or comes from"},
      {"transfer.datasource", text, "the data source the data goes to or comes from"},
      {"transfer.files", count, "the number of files in the transfer"},
      {"transfer.total_size", count, "the total size of the transfer's files, in bytes"},
      {"transfer.justification", text, "the requester's stated reason for the transfer"},
      {"transfer.created_at", when, "when the transfer was requested"},
      {"actor.id", text, "the requester's id"},
      {"actor.name", text, "the requester's name"},
      {"actor.email", text, "the requester's email address"},
      {"actor.organisation", text, "the requester's organisation"},
      {"actor.roles", names, "the requester's roles"},
      {"file.name", text, "the file's name"},
      {"file.path", text, "the file's path within the transfer"},
      {"file.extension", text, "the file name's extension, lower-case, without the dot"},
      {"file.size", count, "the file's size in bytes"},
      {"file.sha256", text, "the SHA-256 of the file's content, lower-case hex"},
      {"file.type", text, "the MIME type sniffed from the content"},
      {"file.declared_type", text, "the MIME type the client declared"},
      {"archive.is_archive", flag, "the file is a zip, tar or gzip container"},
      {"archive.encrypted", flag, "some entry of the archive is encrypted"},
      {"archive.entries", count, "the number of entries in the archive"},
      {"archive.uncompressed_size", count, "the archive's total uncompressed size, in bytes"},
      {"archive.nested_archives", count, "the number of archives inside the archive"},
      {"archive.compression_ratio", Type::floating(), "uncompressed size / compressed size"},
      {"archive.entry_names", names, "the names of the archive's entries"},
      {"scan.result", text, "the malware scan's result: clean, infected, error or skipped"},
      {"scan.signature", text, "the signature the malware scan matched"},
      {"scan.engine", text, "the malware scanner that ran"},
      {"content.text", flag, "the file is text"},
      {"content.nhs_numbers", count, "NHS numbers found (with a valid modulus-11 check digit)"},
      {"content.postcodes", count, "postcodes found"},
      {"content.emails", count, "email addresses found"},
      {"content.phone_numbers", count, "phone numbers found"},
      {"content.dates_of_birth", count, "dates of birth found"},
      {"table.is_table", flag, "the file parsed as a CSV/TSV table"},
      {"table.rows", count, "the table's rows"},
      {"table.columns", count, "the table's columns"},
      {"table.column_names", names, "the table's column names"},
      {"table.identifier_columns", names, "the columns that hold identifiers"},
      {"table.min_count", count, "the smallest non-zero count in count columns (for disclosure control)"},
      {"table.zero_cells", count, "the number of zero cells in count columns"},
      {"source.type", text, "the kind of source an import comes from"},
      {"source.host", text, "the host an import comes from"},
      {"source.url", text, "the URL an import comes from"},
      {"destination.name", text, "the egress destination's name"},
      {"destination.type", text, "the egress destination's kind"},
      {"destination.host", text, "the egress destination's host"},
      {"destination.url", text, "the egress destination's URL"},
      {"datasource.name", text, "the AnalyticsWorkspaceDataSource's name"},
      {"datasource.type", text, "the AnalyticsWorkspaceDataSource's type"},
      {"datasource.publisher", text, "the AnalyticsWorkspaceDataSource's publisher"},
      {"datasource.license", text, "the AnalyticsWorkspaceDataSource's license"},
      {"now", when, "the time of evaluation, supplied by the caller"},
  };
}

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::size_t> previous2(m + 1), previous(m + 1), current(m + 1);
  for (std::size_t j = 0; j <= m; ++j) previous[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const bool same = lower_ascii(a[i - 1]) == lower_ascii(b[j - 1]);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && lower_ascii(a[i - 1]) == lower_ascii(b[j - 2]) &&
          lower_ascii(a[i - 2]) == lower_ascii(b[j - 1])) {
        current[j] = std::min(current[j], previous2[j - 2] + 1);
      }
    }
    std::swap(previous2, previous);
    std::swap(previous, current);
  }
  return previous[m];
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_ascii(x) == lower_ascii(y); });
}

// Splits "file.size" into ("file", "size"); a name without a dot has an empty group.
std::pair<std::string_view, std::string_view> split_last(std::string_view path) {
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return {{}, path};
  return {path.substr(0, dot), path.substr(dot + 1)};
}

std::size_t close_enough(std::size_t length) { return std::max<std::size_t>(1, length / 3); }

// Whether a runtime value fits a type; an int does not fit a double here (callers convert first).
bool fits(const Type& type, const Value& value) {
  switch (type.tag()) {
    case Type::Tag::kDyn: return !value.is_error();
    case Type::Tag::kNull: return value.kind() == Kind::kNull;
    case Type::Tag::kBool: return value.kind() == Kind::kBool;
    case Type::Tag::kInt: return value.kind() == Kind::kInt;
    case Type::Tag::kUint: return value.kind() == Kind::kUint;
    case Type::Tag::kDouble: return value.kind() == Kind::kDouble;
    case Type::Tag::kString: return value.kind() == Kind::kString;
    case Type::Tag::kBytes: return value.kind() == Kind::kBytes;
    case Type::Tag::kTimestamp: return value.kind() == Kind::kTimestamp;
    case Type::Tag::kDuration: return value.kind() == Kind::kDuration;
    case Type::Tag::kType: return value.kind() == Kind::kType;
    case Type::Tag::kList:
      if (value.kind() != Kind::kList) return false;
      return std::all_of(value.as_list().begin(), value.as_list().end(),
                         [&](const Value& item) { return fits(type.element(), item); });
    case Type::Tag::kMap:
      if (value.kind() != Kind::kMap) return false;
      return std::all_of(value.as_map().begin(), value.as_map().end(), [&](const auto& entry) {
        return fits(type.element(), entry.first) && fits(type.value(), entry.second);
      });
  }
  return false;
}

// Strings (and strings in lists) of a fact value must be UTF-8, as they would be from JSON.
bool has_valid_text(const Value& value) {
  if (value.kind() == Kind::kString) return is_valid_utf8(value.as_string());
  if (value.kind() != Kind::kList) return true;
  return std::all_of(value.as_list().begin(), value.as_list().end(), has_valid_text);
}

std::string unknown_fact_message(const FactSchema& schema, std::string_view path) {
  std::string message = "unknown fact";
  const std::string suggestion = schema.suggest(path);
  if (!suggestion.empty()) message += " (did you mean `" + suggestion + "`?)";
  return message;
}

// ---- Conversion of facts from JSON and from values, one field at a time. ----

std::string json_kind(const Json& json) {
  switch (json.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "int";
    case Json::value_t::number_float: return "double";
    case Json::value_t::string: return "string";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    default: return "binary";
  }
}

Error field_error(std::string_view json_path, std::string_view message) {
  return Error{"facts: " + std::string(json_path) + ": " + std::string(message)};
}

Error expected(std::string_view json_path, const Type& type, std::string_view got) {
  return field_error(json_path, "expected " + type.name() + ", got " + std::string(got));
}

Result<Value> timestamp_from_text(std::string_view json_path, const std::string& text) {
  auto parsed = parse_timestamp(text);
  if (!parsed) return field_error(json_path, "expected an RFC 3339 timestamp: " + parsed.message());
  return Value::timestamp(*parsed);
}

Result<Value> duration_from_text(std::string_view json_path, const std::string& text) {
  auto parsed = parse_duration(text);
  if (!parsed) return field_error(json_path, "expected a duration such as \"36h\": " + parsed.message());
  return Value::duration(*parsed);
}

Result<Value> value_from_json(const Type& type, const Json& json, const std::string& json_path) {
  switch (type.tag()) {
    case Type::Tag::kBool:
      if (!json.is_boolean()) return expected(json_path, type, json_kind(json));
      return Value::boolean(json.get<bool>());
    case Type::Tag::kInt:
      if (json.is_number_integer() && !json.is_number_unsigned()) return Value::integer(json.get<std::int64_t>());
      if (json.is_number_unsigned()) {
        const auto u = json.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return field_error(json_path, "integer out of range");
        }
        return Value::integer(static_cast<std::int64_t>(u));
      }
      if (json.is_number_float()) {
        const double d = json.get<double>();
        // An integer literal beyond 64 bits arrives as a double; it is out of range, not a fraction.
        if (std::trunc(d) == d && std::fabs(d) >= 9.2e18) return field_error(json_path, "integer out of range");
      }
      return expected(json_path, type, json_kind(json));
    case Type::Tag::kUint:
      if (json.is_number_unsigned()) return Value::unsigned_integer(json.get<std::uint64_t>());
      if (json.is_number_integer()) return field_error(json_path, "unsigned integer out of range");
      return expected(json_path, type, json_kind(json));
    case Type::Tag::kDouble:
      if (json.is_number_float()) return Value::floating(json.get<double>());
      if (json.is_number_unsigned()) return Value::floating(static_cast<double>(json.get<std::uint64_t>()));
      if (json.is_number_integer()) return Value::floating(static_cast<double>(json.get<std::int64_t>()));
      return expected(json_path, type, json_kind(json));
    case Type::Tag::kString:
      if (!json.is_string()) return expected(json_path, type, json_kind(json));
      return Value::string(json.get<std::string>());
    case Type::Tag::kTimestamp:
      if (!json.is_string()) return expected(json_path, type, json_kind(json) + " (timestamps are RFC 3339 strings)");
      return timestamp_from_text(json_path, json.get_ref<const std::string&>());
    case Type::Tag::kDuration:
      if (!json.is_string()) return expected(json_path, type, json_kind(json) + " (durations are strings)");
      return duration_from_text(json_path, json.get_ref<const std::string&>());
    case Type::Tag::kList: {
      if (!json.is_array()) return expected(json_path, type, json_kind(json));
      List items;
      items.reserve(json.size());
      for (std::size_t i = 0; i < json.size(); ++i) {
        const std::string item_path = json_path + "[" + std::to_string(i) + "]";
        const Type& element = type.element();
        if (element.tag() == Type::Tag::kString && !json[i].is_string()) {
          return field_error(item_path, "expected string, got " + json_kind(json[i]));
        }
        auto item = value_from_json(element, json[i], item_path);
        if (!item) return item.error();
        items.push_back(std::move(*item));
      }
      return Value::list(std::move(items));
    }
    case Type::Tag::kMap: {
      if (!json.is_object()) return expected(json_path, type, json_kind(json));
      if (type.element().tag() != Type::Tag::kString && !type.element().is_dyn()) {
        return field_error(json_path, "maps from JSON have string keys");
      }
      MapEntries entries;
      entries.reserve(json.size());
      for (const auto& [key, item] : json.items()) {
        auto value = value_from_json(type.value(), item, json_path + "." + key);
        if (!value) return value.error();
        entries.emplace_back(Value::string(key), std::move(*value));
      }
      return Value::map(std::move(entries));
    }
    case Type::Tag::kDyn:
      switch (json.type()) {
        case Json::value_t::null: return Value::null();
        case Json::value_t::boolean: return value_from_json(Type::boolean(), json, json_path);
        case Json::value_t::number_integer: return value_from_json(Type::integer(), json, json_path);
        case Json::value_t::number_unsigned: return value_from_json(Type::unsigned_integer(), json, json_path);
        case Json::value_t::number_float: return value_from_json(Type::floating(), json, json_path);
        case Json::value_t::string: return value_from_json(Type::string(), json, json_path);
        case Json::value_t::array: return value_from_json(Type::list(Type::dyn()), json, json_path);
        case Json::value_t::object: return value_from_json(Type::map(Type::string(), Type::dyn()), json, json_path);
        default: return field_error(json_path, "unsupported JSON value");
      }
    case Type::Tag::kNull:
      if (!json.is_null()) return expected(json_path, type, json_kind(json));
      return Value::null();
    case Type::Tag::kBytes:
    case Type::Tag::kType: break;
  }
  return field_error(json_path, "facts of type " + type.name() + " cannot be given as JSON");
}

// Converts a value for a field: int to double, RFC 3339 text to a timestamp, duration text to a duration.
Result<Value> value_for_field(const Type& type, const Value& value, const std::string& path) {
  if (value.is_error()) return field_error(path, "error value: " + value.as_string());
  if (type.tag() == Type::Tag::kDouble && value.kind() == Kind::kInt) {
    return Value::floating(static_cast<double>(value.as_int()));
  }
  if (type.tag() == Type::Tag::kTimestamp && value.kind() == Kind::kString) {
    return timestamp_from_text(path, value.as_string());
  }
  if (type.tag() == Type::Tag::kDuration && value.kind() == Kind::kString) {
    return duration_from_text(path, value.as_string());
  }
  if (type.tag() == Type::Tag::kList && value.kind() == Kind::kList) {
    const List& items = value.as_list();
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!fits(type.element(), items[i])) {
        return field_error(path + "[" + std::to_string(i) + "]",
                           "expected " + type.element().name() + ", got " + std::string(kind_name(items[i].kind())));
      }
    }
  }
  if (!fits(type, value)) return expected(path, type, kind_name(value.kind()));
  if (!has_valid_text(value)) return field_error(path, "invalid UTF-8");
  return value;
}

// Walks a JSON object (or a map value) whose shape follows the schema's groups.
class FactsBuilder {
 public:
  explicit FactsBuilder(const FactSchema& schema) : schema_(schema), facts_(schema) {}

  Status add_json_object(const Json& object, const std::string& prefix) {
    const std::string json_path = prefix.empty() ? "$" : "$." + prefix;
    if (!object.is_object()) return field_error(json_path, "expected an object");
    for (const auto& [key, item] : object.items()) {
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (auto slot = schema_.find(path)) {
        const FactField& field = schema_.field(*slot);
        auto value = value_from_json(field.type, item, "$." + path);
        if (!value) return value.error();
        facts_.set(*slot, std::move(*value));
      } else if (schema_.is_group(path)) {
        if (Status status = add_json_object(item, path); !status) return status;
      } else {
        return field_error("$." + path, unknown_fact_message(schema_, path));
      }
    }
    return Status::ok();
  }

  Status add_value_map(const Value& map, const std::string& prefix) {
    const std::string json_path = prefix.empty() ? "$" : "$." + prefix;
    if (map.kind() != Kind::kMap) return field_error(json_path, "expected an object");
    for (const auto& [key_value, item] : map.as_map()) {
      if (key_value.kind() != Kind::kString) {
        return field_error(json_path, "fact names are strings, got " + std::string(kind_name(key_value.kind())));
      }
      const std::string& key = key_value.as_string();
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (auto slot = schema_.find(path)) {
        auto value = value_for_field(schema_.field(*slot).type, item, "$." + path);
        if (!value) return value.error();
        facts_.set(*slot, std::move(*value));
      } else if (schema_.is_group(path)) {
        if (Status status = add_value_map(item, path); !status) return status;
      } else {
        return field_error("$." + path, unknown_fact_message(schema_, path));
      }
    }
    return Status::ok();
  }

  Facts take() { return std::move(facts_); }

 private:
  const FactSchema& schema_;
  Facts facts_;
};

// "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
//   -> "line 3, column 5: syntax error ..."
std::string parse_error_detail(const std::string& what, std::size_t byte) {
  static constexpr std::string_view kAt = "parse error at ";
  if (const auto at = what.find(kAt); at != std::string::npos) return what.substr(at + kAt.size());
  const auto bracket = what.find("] ");
  return "byte " + std::to_string(byte) + ": " + (bracket == std::string::npos ? what : what.substr(bracket + 2));
}

OrderedJson value_to_json(const Value& value) {
  switch (value.kind()) {
    case Kind::kNull: return nullptr;
    case Kind::kBool: return value.as_bool();
    case Kind::kInt: return value.as_int();
    case Kind::kUint: return value.as_uint();
    case Kind::kDouble:
      if (std::isnan(value.as_double())) return "NaN";
      if (std::isinf(value.as_double())) return value.as_double() > 0 ? "Infinity" : "-Infinity";
      return value.as_double();
    case Kind::kString:
    case Kind::kType:
    case Kind::kError: return value.as_string();
    case Kind::kTimestamp: return format_timestamp(value.as_timestamp());
    case Kind::kDuration: return format_duration(value.as_duration());
    case Kind::kList: {
      OrderedJson array = OrderedJson::array();
      for (const Value& item : value.as_list()) array.push_back(value_to_json(item));
      return array;
    }
    case Kind::kMap:
    case Kind::kBytes:
      // No fact of the schema has these types; their canonical JSON form lives in format.h.
      return OrderedJson::parse(runtime::to_json(value), nullptr, false);
  }
  return nullptr;
}

}  // namespace

// ---- FactSchema ----

FactSchema::FactSchema(std::vector<FactField> fields) : fields_(std::move(fields)) {}

const FactSchema& FactSchema::standard() {
  static const FactSchema schema(standard_fields());
  return schema;
}

std::optional<FactSlot> FactSchema::find(std::string_view path) const {
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].path == path) return static_cast<FactSlot>(i);
  }
  return std::nullopt;
}

bool FactSchema::is_group(std::string_view name) const {
  if (name.empty()) return false;
  return std::any_of(fields_.begin(), fields_.end(), [&](const FactField& field) {
    return field.path.size() > name.size() && field.path.compare(0, name.size(), name) == 0 &&
           field.path[name.size()] == '.';
  });
}

std::string FactSchema::suggest(std::string_view path) const {
  if (path.empty()) return {};
  // Plain variables rather than a structured binding, which lambdas may capture only since C++20.
  const std::string_view group = split_last(path).first;
  const std::string_view last = split_last(path).second;
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  auto consider = [&](std::string_view candidate) {
    const auto [candidate_group, candidate_last] = split_last(candidate);
    std::size_t distance = std::numeric_limits<std::size_t>::max();
    if (!group.empty() && equal_ignoring_case(group, candidate_group)) {
      // Same group: judge the field name alone, so `transfer.foo` does not become `transfer.id`.
      const std::size_t d = edit_distance(last, candidate_last);
      if (d <= close_enough(last.size())) distance = d;
    } else {
      const std::size_t d = edit_distance(path, candidate);
      if (d <= close_enough(path.size())) distance = d;
      if (group.empty() && !candidate_group.empty()) {
        // A bare name such as `nhs_numbers` may mean a field of some group.
        const std::size_t bare = edit_distance(path, candidate_last) + 1;
        if (bare - 1 <= close_enough(path.size())) distance = std::min(distance, bare);
      }
    }
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  };
  std::vector<std::string> groups;
  for (const FactField& field : fields_) {
    consider(field.path);
    for (auto dot = field.path.find('.'); dot != std::string::npos; dot = field.path.find('.', dot + 1)) {
      std::string prefix = field.path.substr(0, dot);
      if (std::find(groups.begin(), groups.end(), prefix) == groups.end()) groups.push_back(std::move(prefix));
    }
  }
  // A group is only a suggestion for a group-level name (`fle` -> `file`), never for a field path.
  const auto depth = [](std::string_view name) { return std::count(name.begin(), name.end(), '.'); };
  for (const std::string& name : groups) {
    if (depth(path) <= depth(name)) consider(name);
  }
  return best;
}

// ---- Facts ----

Facts::Facts(const FactSchema& schema) : schema_(&schema) {
  values_.reserve(schema.fields().size());
  for (const FactField& field : schema.fields()) values_.push_back(field.type.default_value());
  set_.assign(schema.fields().size(), 0);
}

Status Facts::set(std::string_view path, Value value) {
  const auto slot = schema_->find(path);
  if (!slot) return Error{std::string(path) + ": " + unknown_fact_message(*schema_, path)};
  const Type& type = schema_->field(*slot).type;
  if (value.is_error()) return Error{std::string(path) + ": expected " + type.name() + ", got an error"};
  if (type.tag() == Type::Tag::kDouble && value.kind() == Kind::kInt) {
    value = Value::floating(static_cast<double>(value.as_int()));
  }
  if (!fits(type, value)) {
    std::string got(kind_name(value.kind()));
    if (type.tag() == Type::Tag::kList && value.kind() == Kind::kList) got = "a list with other elements";
    return Error{std::string(path) + ": expected " + type.name() + ", got " + got};
  }
  if (!has_valid_text(value)) return Error{std::string(path) + ": invalid UTF-8"};
  set(*slot, std::move(value));
  return Status::ok();
}

void Facts::set(FactSlot slot, Value value) {
  if (schema_->field(slot).type.tag() == Type::Tag::kDouble && value.kind() == Kind::kInt) {
    value = Value::floating(static_cast<double>(value.as_int()));
  }
  walk_bound_ = std::max(walk_bound_, operand_cost(value));  // a bound: an overwritten value may leave it high
  values_[slot] = std::move(value);
  set_[slot] = 1;
}

Result<Facts> Facts::from_json(std::string_view json, const FactSchema& schema) {
  if (!is_valid_utf8(json)) return Error{"facts: invalid UTF-8"};
  Json document;
  try {
    document = Json::parse(json.begin(), json.end());
  } catch (const Json::parse_error& error) {
    return Error{"facts: invalid JSON at " + parse_error_detail(error.what(), error.byte)};
  } catch (const Json::exception& error) {
    return Error{std::string("facts: invalid JSON: ") + error.what()};
  }
  FactsBuilder builder(schema);
  if (Status status = builder.add_json_object(document, ""); !status) return Error{status.message()};
  return builder.take();
}

Result<Facts> Facts::from_value(const Value& map, const FactSchema& schema) {
  FactsBuilder builder(schema);
  if (Status status = builder.add_value_map(map, ""); !status) return Error{status.message()};
  return builder.take();
}

std::string Facts::to_json(bool include_defaults) const {
  OrderedJson root = OrderedJson::object();
  const auto fields = schema_->fields();
  for (std::size_t slot = 0; slot < fields.size(); ++slot) {
    if (!include_defaults && set_[slot] == 0) continue;
    OrderedJson* node = &root;
    std::string_view path = fields[slot].path;
    for (auto dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.')) {
      node = &(*node)[std::string(path.substr(0, dot))];
      path.remove_prefix(dot + 1);
    }
    (*node)[std::string(path)] = value_to_json(values_[slot]);
  }
  return root.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace airlock::runtime
