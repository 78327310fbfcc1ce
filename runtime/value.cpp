#include "airlock/runtime/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "airlock/runtime/format.h"
#include "internal/numeric.h"
#include "internal/utf8.h"

namespace airlock::runtime {

namespace {

const std::string& empty_string() {
  static const std::string kEmpty;
  return kEmpty;
}

const List& empty_list() {
  static const List kEmpty;
  return kEmpty;
}

const MapEntries& empty_map() {
  static const MapEntries kEmpty;
  return kEmpty;
}

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

template <typename T>
std::partial_ordering order(T a, T b) {
  if (a < b) return std::partial_ordering::less;
  if (b < a) return std::partial_ordering::greater;
  return std::partial_ordering::equivalent;
}

std::partial_ordering reverse(std::partial_ordering o) {
  if (o == std::partial_ordering::less) return std::partial_ordering::greater;
  if (o == std::partial_ordering::greater) return std::partial_ordering::less;
  return o;
}

std::partial_ordering compare_int_uint(std::int64_t i, std::uint64_t u) {
  if (i < 0) return std::partial_ordering::less;
  return order(static_cast<std::uint64_t>(i), u);
}

// Exact: the double is split into its integral part and fraction, never rounding the integer.
std::partial_ordering compare_int_double(std::int64_t i, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d < -kTwoTo63) return std::partial_ordering::greater;
  if (d >= kTwoTo63) return std::partial_ordering::less;
  const double integral = std::trunc(d);
  const auto whole = static_cast<std::int64_t>(integral);
  if (i != whole) return order(i, whole);
  const double fraction = d - integral;
  if (fraction > 0) return std::partial_ordering::less;
  if (fraction < 0) return std::partial_ordering::greater;
  return std::partial_ordering::equivalent;
}

std::partial_ordering compare_uint_double(std::uint64_t u, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d < 0) return std::partial_ordering::greater;
  if (d >= kTwoTo64) return std::partial_ordering::less;
  const double integral = std::trunc(d);
  const auto whole = static_cast<std::uint64_t>(integral);
  if (u != whole) return order(u, whole);
  return d > integral ? std::partial_ordering::less : std::partial_ordering::equivalent;
}

bool is_map_key_kind(Kind kind) {
  return kind == Kind::kBool || kind == Kind::kInt || kind == Kind::kUint || kind == Kind::kString;
}

void append_quoted(std::string& out, std::string_view text, bool bytes) {
  out += bytes ? "b\"" : "\"";
  char buffer[8];
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F || (bytes && c >= 0x80)) {
          std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "double(\"NaN\")";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "double(\"Infinity\")" : "double(\"-Infinity\")";
    return;
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void append_debug(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += value.as_bool() ? "true" : "false"; return;
    case Kind::kInt: out += std::to_string(value.as_int()); return;
    case Kind::kUint: out += std::to_string(value.as_uint()) + "u"; return;
    case Kind::kDouble: append_double(out, value.as_double()); return;
    case Kind::kString: append_quoted(out, value.as_string(), false); return;
    case Kind::kBytes: append_quoted(out, value.as_string(), true); return;
    case Kind::kList: {
      out += '[';
      bool first = true;
      for (const Value& item : value.as_list()) {
        if (!first) out += ", ";
        first = false;
        append_debug(out, item);
      }
      out += ']';
      return;
    }
    case Kind::kMap: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.as_map()) {
        if (!first) out += ", ";
        first = false;
        append_debug(out, key);
        out += ": ";
        append_debug(out, item);
      }
      out += '}';
      return;
    }
    case Kind::kTimestamp: out += "timestamp(\"" + format_timestamp(value.as_timestamp()) + "\")"; return;
    case Kind::kDuration: out += "duration(\"" + format_duration(value.as_duration()) + "\")"; return;
    case Kind::kType: out += value.as_string(); return;
    case Kind::kError: out += "error: " + value.as_string(); return;
  }
}

}  // namespace

namespace internal {

std::partial_ordering compare_numbers(const Value& a, const Value& b) {
  switch (a.kind()) {
    case Kind::kInt:
      if (b.kind() == Kind::kInt) return order(a.as_int(), b.as_int());
      if (b.kind() == Kind::kUint) return compare_int_uint(a.as_int(), b.as_uint());
      if (b.kind() == Kind::kDouble) return compare_int_double(a.as_int(), b.as_double());
      break;
    case Kind::kUint:
      if (b.kind() == Kind::kInt) return reverse(compare_int_uint(b.as_int(), a.as_uint()));
      if (b.kind() == Kind::kUint) return order(a.as_uint(), b.as_uint());
      if (b.kind() == Kind::kDouble) return compare_uint_double(a.as_uint(), b.as_double());
      break;
    case Kind::kDouble:
      if (b.kind() == Kind::kInt) return reverse(compare_int_double(b.as_int(), a.as_double()));
      if (b.kind() == Kind::kUint) return reverse(compare_uint_double(b.as_uint(), a.as_double()));
      if (b.kind() == Kind::kDouble) return a.as_double() <=> b.as_double();
      break;
    default: break;
  }
  return std::partial_ordering::unordered;
}

}  // namespace internal

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNull: return "null_type";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kUint: return "uint";
    case Kind::kDouble: return "double";
    case Kind::kString: return "string";
    case Kind::kBytes: return "bytes";
    case Kind::kList: return "list";
    case Kind::kMap: return "map";
    case Kind::kTimestamp: return "timestamp";
    case Kind::kDuration: return "duration";
    case Kind::kType: return "type";
    case Kind::kError: return "error";
  }
  return "unknown";
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.scalar_.b = b;
  return v;
}

Value Value::integer(std::int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.scalar_.i = i;
  return v;
}

Value Value::unsigned_integer(std::uint64_t u) {
  Value v;
  v.kind_ = Kind::kUint;
  v.scalar_.u = u;
  return v;
}

Value Value::floating(double d) {
  Value v;
  v.kind_ = Kind::kDouble;
  v.scalar_.d = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.heap_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::bytes(std::string b) {
  Value v;
  v.kind_ = Kind::kBytes;
  v.heap_ = std::make_shared<const std::string>(std::move(b));
  return v;
}

Value Value::list(List items) {
  Value v;
  v.kind_ = Kind::kList;
  v.heap_ = std::make_shared<const List>(std::move(items));
  return v;
}

Value Value::map(MapEntries entries) {
  Value v;
  v.kind_ = Kind::kMap;
  v.heap_ = std::make_shared<const MapEntries>(std::move(entries));
  return v;
}

Value Value::timestamp(Timestamp t) {
  Value v;
  v.kind_ = Kind::kTimestamp;
  v.scalar_.i = t.seconds;
  v.nanos_ = t.nanos;
  return v;
}

Value Value::duration(Duration d) {
  Value v;
  v.kind_ = Kind::kDuration;
  v.scalar_.i = d.seconds;
  v.nanos_ = d.nanos;
  return v;
}

Value Value::type(std::string name) {
  Value v;
  v.kind_ = Kind::kType;
  v.heap_ = std::make_shared<const std::string>(std::move(name));
  return v;
}

Value Value::error(std::string message) {
  Value v;
  v.kind_ = Kind::kError;
  v.heap_ = std::make_shared<const std::string>(std::move(message));
  return v;
}

const std::string& Value::empty_text() { return empty_string(); }
const List& Value::empty_items() { return empty_list(); }
const MapEntries& Value::empty_entries() { return empty_map(); }

const Value* Value::find(const Value& key) const {
  if (kind_ != Kind::kMap) return nullptr;
  // A double key finds an int or uint key of the same value (CEL's numeric key equality).
  if (!is_map_key_kind(key.kind()) && key.kind() != Kind::kDouble) return nullptr;
  for (const auto& [entry_key, entry_value] : as_map()) {
    if (entry_key == key) return &entry_value;
  }
  return nullptr;
}

bool operator==(const Value& a, const Value& b) {
  if (internal::is_numeric(a.kind()) && internal::is_numeric(b.kind())) {
    return internal::compare_numbers(a, b) == std::partial_ordering::equivalent;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kNull: return true;
    case Kind::kBool: return a.as_bool() == b.as_bool();
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kType: return a.as_string() == b.as_string();
    case Kind::kTimestamp: return a.as_timestamp() == b.as_timestamp();
    case Kind::kDuration: return a.as_duration() == b.as_duration();
    case Kind::kList: {
      const List& x = a.as_list();
      const List& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!(x[i] == y[i])) return false;
      }
      return true;
    }
    case Kind::kMap: {
      if (a.as_map().size() != b.as_map().size()) return false;
      for (const auto& [key, value] : a.as_map()) {
        const Value* other = b.find(key);
        if (other == nullptr || !(value == *other)) return false;
      }
      return true;
    }
    case Kind::kError: return false;  // errors are never equal to anything
    default: return false;
  }
}

std::string Value::debug_string() const {
  std::string out;
  append_debug(out, *this);
  return out;
}

}  // namespace airlock::runtime
