#include "airlock/runtime/builtins.h"

#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "airlock/runtime/format.h"
#include "glob.h"
#include "internal/civil_time.h"
#include "internal/numeric.h"
#include "internal/utf8.h"
#include "regex_dfa.h"

namespace airlock::runtime {

namespace {

using internal::kNanosPerSecond;
using internal::kSecondsPerDay;

// List concatenations larger than this are errors, as string ones over kMaxConcatenationBytes are.
constexpr std::size_t kMaxConcatenationElements = 16u * 1024 * 1024;
// RE2's memory budget per compiled expression.
constexpr std::int64_t kRegexMaxMemory = 8 << 20;

std::string_view operator_symbol(Builtin builtin) {
  switch (builtin) {
    case Builtin::kAdd: return "+";
    case Builtin::kSubtract: return "-";
    case Builtin::kMultiply: return "*";
    case Builtin::kDivide: return "/";
    case Builtin::kModulo: return "%";
    case Builtin::kEqual: return "==";
    case Builtin::kNotEqual: return "!=";
    case Builtin::kLess: return "<";
    case Builtin::kLessEqual: return "<=";
    case Builtin::kGreater: return ">";
    case Builtin::kGreaterEqual: return ">=";
    case Builtin::kIn: return "in";
    default: return {};
  }
}

// "no such overload: int + double", "no such overload: -string", "no such overload: size(int)".
Value no_overload(Builtin builtin, std::span<const Value> arguments) {
  std::string message = "no such overload: ";
  const std::string_view symbol = operator_symbol(builtin);
  if (!symbol.empty() && arguments.size() == 2) {
    message += std::string(kind_name(arguments[0].kind())) + " " + std::string(symbol) + " " +
               std::string(kind_name(arguments[1].kind()));
  } else if (builtin == Builtin::kNegate && arguments.size() == 1) {
    message += "-" + std::string(kind_name(arguments[0].kind()));
  } else if (builtin == Builtin::kIndex && arguments.size() == 2) {
    message += std::string(kind_name(arguments[0].kind())) + "[" + std::string(kind_name(arguments[1].kind())) + "]";
  } else {
    message += std::string(builtin_name(builtin)) + "(";
    for (std::size_t i = 0; i < arguments.size(); ++i) {
      if (i > 0) message += ", ";
      message += kind_name(arguments[i].kind());
    }
    message += ")";
  }
  return Value::error(std::move(message));
}

Value overflow(std::string_view what, const Value& a, std::string_view symbol, const Value& b) {
  return Value::error(std::string(what) + " overflow in " + a.debug_string() + " " + std::string(symbol) + " " +
                      b.debug_string());
}

Value make_timestamp(__int128 nanos) {
  if (!internal::timestamp_nanos_in_range(nanos)) return Value::error("timestamp out of range");
  return Value::timestamp(internal::timestamp_from_nanos(nanos));
}

Value make_duration(__int128 nanos) {
  if (!internal::duration_nanos_in_range(nanos)) return Value::error("duration out of range");
  return Value::duration(internal::duration_from_nanos(nanos));
}

bool same_kinds(std::span<const Value> arguments, Kind a, Kind b) {
  return arguments[0].kind() == a && arguments[1].kind() == b;
}

// ---- Arithmetic -------------------------------------------------------------------------------

Value add(std::span<const Value> args) {
  const Value& a = args[0];
  const Value& b = args[1];
  if (same_kinds(args, Kind::kInt, Kind::kInt)) {
    std::int64_t r;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return overflow("integer", a, "+", b);
    return Value::integer(r);
  }
  if (same_kinds(args, Kind::kUint, Kind::kUint)) {
    std::uint64_t r;
    if (__builtin_add_overflow(a.as_uint(), b.as_uint(), &r)) return overflow("unsigned integer", a, "+", b);
    return Value::unsigned_integer(r);
  }
  if (same_kinds(args, Kind::kDouble, Kind::kDouble)) return Value::floating(a.as_double() + b.as_double());
  if (same_kinds(args, Kind::kString, Kind::kString) || same_kinds(args, Kind::kBytes, Kind::kBytes)) {
    if (a.as_string().size() + b.as_string().size() > kMaxConcatenationBytes) {
      return Value::error("concatenation result exceeds the 16 MiB limit");
    }
    std::string joined = a.as_string() + b.as_string();
    return a.kind() == Kind::kString ? Value::string(std::move(joined)) : Value::bytes(std::move(joined));
  }
  if (same_kinds(args, Kind::kList, Kind::kList)) {
    if (a.as_list().empty()) return b;
    if (b.as_list().empty()) return a;
    if (a.as_list().size() + b.as_list().size() > kMaxConcatenationElements) {
      return Value::error("list concatenation result exceeds 16777216 elements");
    }
    List joined;
    joined.reserve(a.as_list().size() + b.as_list().size());
    joined.insert(joined.end(), a.as_list().begin(), a.as_list().end());
    joined.insert(joined.end(), b.as_list().begin(), b.as_list().end());
    return Value::list(std::move(joined));
  }
  if (same_kinds(args, Kind::kTimestamp, Kind::kDuration)) {
    return make_timestamp(internal::timestamp_nanos(a.as_timestamp()) + internal::duration_nanos(b.as_duration()));
  }
  if (same_kinds(args, Kind::kDuration, Kind::kTimestamp)) {
    return make_timestamp(internal::timestamp_nanos(b.as_timestamp()) + internal::duration_nanos(a.as_duration()));
  }
  if (same_kinds(args, Kind::kDuration, Kind::kDuration)) {
    return make_duration(internal::duration_nanos(a.as_duration()) + internal::duration_nanos(b.as_duration()));
  }
  return no_overload(Builtin::kAdd, args);
}

Value subtract(std::span<const Value> args) {
  const Value& a = args[0];
  const Value& b = args[1];
  if (same_kinds(args, Kind::kInt, Kind::kInt)) {
    std::int64_t r;
    if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) return overflow("integer", a, "-", b);
    return Value::integer(r);
  }
  if (same_kinds(args, Kind::kUint, Kind::kUint)) {
    std::uint64_t r;
    if (__builtin_sub_overflow(a.as_uint(), b.as_uint(), &r)) return overflow("unsigned integer", a, "-", b);
    return Value::unsigned_integer(r);
  }
  if (same_kinds(args, Kind::kDouble, Kind::kDouble)) return Value::floating(a.as_double() - b.as_double());
  if (same_kinds(args, Kind::kTimestamp, Kind::kTimestamp)) {
    return make_duration(internal::timestamp_nanos(a.as_timestamp()) - internal::timestamp_nanos(b.as_timestamp()));
  }
  if (same_kinds(args, Kind::kTimestamp, Kind::kDuration)) {
    return make_timestamp(internal::timestamp_nanos(a.as_timestamp()) - internal::duration_nanos(b.as_duration()));
  }
  if (same_kinds(args, Kind::kDuration, Kind::kDuration)) {
    return make_duration(internal::duration_nanos(a.as_duration()) - internal::duration_nanos(b.as_duration()));
  }
  return no_overload(Builtin::kSubtract, args);
}

Value multiply(std::span<const Value> args) {
  const Value& a = args[0];
  const Value& b = args[1];
  if (same_kinds(args, Kind::kInt, Kind::kInt)) {
    std::int64_t r;
    if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) return overflow("integer", a, "*", b);
    return Value::integer(r);
  }
  if (same_kinds(args, Kind::kUint, Kind::kUint)) {
    std::uint64_t r;
    if (__builtin_mul_overflow(a.as_uint(), b.as_uint(), &r)) return overflow("unsigned integer", a, "*", b);
    return Value::unsigned_integer(r);
  }
  if (same_kinds(args, Kind::kDouble, Kind::kDouble)) return Value::floating(a.as_double() * b.as_double());
  return no_overload(Builtin::kMultiply, args);
}

Value divide_or_modulo(Builtin builtin, std::span<const Value> args) {
  const Value& a = args[0];
  const Value& b = args[1];
  const bool modulo = builtin == Builtin::kModulo;
  const char* by_zero = modulo ? "modulo by zero" : "division by zero";
  if (same_kinds(args, Kind::kInt, Kind::kInt)) {
    if (b.as_int() == 0) return Value::error(by_zero);
    if (a.as_int() == std::numeric_limits<std::int64_t>::min() && b.as_int() == -1) {
      return overflow("integer", a, modulo ? "%" : "/", b);
    }
    return Value::integer(modulo ? a.as_int() % b.as_int() : a.as_int() / b.as_int());
  }
  if (same_kinds(args, Kind::kUint, Kind::kUint)) {
    if (b.as_uint() == 0) return Value::error(by_zero);
    return Value::unsigned_integer(modulo ? a.as_uint() % b.as_uint() : a.as_uint() / b.as_uint());
  }
  if (!modulo && same_kinds(args, Kind::kDouble, Kind::kDouble)) {
    return Value::floating(a.as_double() / b.as_double());
  }
  return no_overload(builtin, args);
}

Value negate(std::span<const Value> args) {
  const Value& a = args[0];
  switch (a.kind()) {
    case Kind::kInt:
      if (a.as_int() == std::numeric_limits<std::int64_t>::min()) {
        return Value::error("integer overflow in -(" + a.debug_string() + ")");
      }
      return Value::integer(-a.as_int());
    case Kind::kDouble: return Value::floating(-a.as_double());
    case Kind::kDuration: return make_duration(-internal::duration_nanos(a.as_duration()));
    default: return no_overload(Builtin::kNegate, args);
  }
}

// ---- Comparison -------------------------------------------------------------------------------

template <typename T>
std::partial_ordering order(const T& a, const T& b) {
  if (a < b) return std::partial_ordering::less;
  if (b < a) return std::partial_ordering::greater;
  return std::partial_ordering::equivalent;
}

Value compare(Builtin builtin, std::span<const Value> args) {
  const Value& a = args[0];
  const Value& b = args[1];
  std::partial_ordering result = std::partial_ordering::unordered;
  if (internal::is_numeric(a.kind()) && internal::is_numeric(b.kind())) {
    result = internal::compare_numbers(a, b);
    if (result == std::partial_ordering::unordered) return Value::error("NaN values cannot be ordered");
  } else if (a.kind() != b.kind()) {
    return no_overload(builtin, args);
  } else {
    switch (a.kind()) {
      case Kind::kBool: result = order(a.as_bool(), b.as_bool()); break;
      // Byte order of UTF-8 is code point order.
      case Kind::kString:
      case Kind::kBytes: result = order(a.as_string(), b.as_string()); break;
      case Kind::kTimestamp: result = order(a.as_timestamp(), b.as_timestamp()); break;
      case Kind::kDuration: result = order(a.as_duration(), b.as_duration()); break;
      default: return no_overload(builtin, args);
    }
  }
  switch (builtin) {
    case Builtin::kLess: return Value::boolean(result == std::partial_ordering::less);
    case Builtin::kLessEqual: return Value::boolean(result != std::partial_ordering::greater);
    case Builtin::kGreater: return Value::boolean(result == std::partial_ordering::greater);
    default: return Value::boolean(result != std::partial_ordering::less);
  }
}

// ---- Collections ------------------------------------------------------------------------------

Value contains_element(std::span<const Value> args) {
  const Value& element = args[0];
  const Value& container = args[1];
  if (container.kind() == Kind::kList) {
    for (const Value& item : container.as_list()) {
      if (item == element) return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  if (container.kind() == Kind::kMap) return Value::boolean(container.find(element) != nullptr);
  return no_overload(Builtin::kIn, args);
}

Value index(std::span<const Value> args) {
  const Value& container = args[0];
  const Value& key = args[1];
  if (container.kind() == Kind::kList) {
    const List& list = container.as_list();
    std::optional<std::int64_t> position;
    bool in_range = true;
    switch (key.kind()) {
      case Kind::kInt: position = key.as_int(); break;
      case Kind::kUint:
        if (key.as_uint() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          in_range = false;
        } else {
          position = static_cast<std::int64_t>(key.as_uint());
        }
        break;
      case Kind::kDouble: {
        const double d = key.as_double();
        if (std::trunc(d) != d || std::isinf(d)) {
          return Value::error("list index " + key.debug_string() + " is not an integer");
        }
        if (d < -9.2e18 || d > 9.2e18) {
          in_range = false;
        } else {
          position = static_cast<std::int64_t>(d);
        }
        break;
      }
      default: return no_overload(Builtin::kIndex, args);
    }
    if (!in_range || *position < 0 || static_cast<std::uint64_t>(*position) >= list.size()) {
      return Value::error("index " + key.debug_string() + " out of range for list of size " +
                          std::to_string(list.size()));
    }
    return list[static_cast<std::size_t>(*position)];
  }
  if (container.kind() == Kind::kMap) {
    if (const Value* found = container.find(key)) return *found;
    return Value::error("no such key: " + key.debug_string());
  }
  return no_overload(Builtin::kIndex, args);
}

Value size(std::span<const Value> args) {
  const Value& a = args[0];
  switch (a.kind()) {
    case Kind::kString: return Value::integer(static_cast<std::int64_t>(internal::count_code_points(a.as_string())));
    case Kind::kBytes: return Value::integer(static_cast<std::int64_t>(a.as_string().size()));
    case Kind::kList: return Value::integer(static_cast<std::int64_t>(a.as_list().size()));
    case Kind::kMap: return Value::integer(static_cast<std::int64_t>(a.as_map().size()));
    default: return no_overload(Builtin::kSize, args);
  }
}

// ---- Strings ----------------------------------------------------------------------------------

Value string_test(Builtin builtin, std::span<const Value> args) {
  if (args.size() != 2 || !same_kinds(args, Kind::kString, Kind::kString)) return no_overload(builtin, args);
  const std::string_view text = args[0].as_string();
  const std::string_view part = args[1].as_string();
  switch (builtin) {
    case Builtin::kContains: return Value::boolean(text.find(part) != std::string_view::npos);
    case Builtin::kStartsWith: return Value::boolean(text.starts_with(part));
    case Builtin::kEndsWith: return Value::boolean(text.ends_with(part));
    case Builtin::kMatches: {
      auto regex = CompiledRegex::compile(part);
      if (!regex) return Value::error(regex.message());
      return Value::boolean((*regex)->partial_match(text));
    }
    case Builtin::kGlob: {
      auto matched = glob_match(part, text);
      if (!matched) return Value::error(matched.message());
      return Value::boolean(*matched);
    }
    default: return no_overload(builtin, args);
  }
}

Value change_case(Builtin builtin, std::span<const Value> args) {
  if (args.size() != 1 || args[0].kind() != Kind::kString) return no_overload(builtin, args);
  std::string text = args[0].as_string();
  for (char& c : text) {
    if (builtin == Builtin::kLowerAscii && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (builtin == Builtin::kUpperAscii && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return Value::string(std::move(text));
}

Value trim(std::span<const Value> args) {
  if (args.size() != 1 || args[0].kind() != Kind::kString) return no_overload(Builtin::kTrim, args);
  const std::string_view text = args[0].as_string();
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t next = begin;
    if (!internal::is_unicode_space(internal::decode_utf8(text, next))) break;
    begin = next;
  }
  std::size_t end = begin;
  std::size_t pos = begin;
  while (pos < text.size()) {
    if (!internal::is_unicode_space(internal::decode_utf8(text, pos))) end = pos;
  }
  return Value::string(std::string(text.substr(begin, end - begin)));
}

// ---- Conversions ------------------------------------------------------------------------------

Value conversion_error(const Value& from, std::string_view to, std::string_view why) {
  return Value::error("cannot convert " + from.debug_string() + " to " + std::string(to) + ": " + std::string(why));
}

Value to_int(std::span<const Value> args) {
  const Value& a = args[0];
  switch (a.kind()) {
    case Kind::kInt: return a;
    case Kind::kUint:
      if (a.as_uint() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return conversion_error(a, "int", "out of range");
      }
      return Value::integer(static_cast<std::int64_t>(a.as_uint()));
    case Kind::kDouble: {
      const double d = a.as_double();
      if (std::isnan(d) || d <= -9223372036854777856.0 || d >= 9223372036854775808.0) {
        return conversion_error(a, "int", "out of range");
      }
      return Value::integer(static_cast<std::int64_t>(d));
    }
    case Kind::kString: {
      std::string_view text = a.as_string();
      if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
      std::int64_t result = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result, 10);
      if (ec == std::errc::result_out_of_range) return conversion_error(a, "int", "out of range");
      if (ec != std::errc() || end != text.data() + text.size() || text.empty() || text[0] == '+') {
        return conversion_error(a, "int", "not a base-10 integer");
      }
      return Value::integer(result);
    }
    case Kind::kTimestamp: return Value::integer(a.as_timestamp().seconds);
    default: return no_overload(Builtin::kToInt, args);
  }
}

Value to_uint(std::span<const Value> args) {
  const Value& a = args[0];
  switch (a.kind()) {
    case Kind::kUint: return a;
    case Kind::kInt:
      if (a.as_int() < 0) return conversion_error(a, "uint", "negative");
      return Value::unsigned_integer(static_cast<std::uint64_t>(a.as_int()));
    case Kind::kDouble: {
      const double d = a.as_double();
      if (std::isnan(d) || d <= -1.0 || d >= 18446744073709551616.0) {
        return conversion_error(a, "uint", "out of range");
      }
      return Value::unsigned_integer(static_cast<std::uint64_t>(d));
    }
    case Kind::kString: {
      const std::string_view text = a.as_string();
      std::uint64_t result = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result, 10);
      if (ec == std::errc::result_out_of_range) return conversion_error(a, "uint", "out of range");
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return conversion_error(a, "uint", "not a base-10 unsigned integer");
      }
      return Value::unsigned_integer(result);
    }
    default: return no_overload(Builtin::kToUint, args);
  }
}

Value to_double(std::span<const Value> args) {
  const Value& a = args[0];
  switch (a.kind()) {
    case Kind::kDouble: return a;
    case Kind::kInt: return Value::floating(static_cast<double>(a.as_int()));
    case Kind::kUint: return Value::floating(static_cast<double>(a.as_uint()));
    case Kind::kString: {
      std::string_view text = a.as_string();
      if (text.size() > 1 && text[0] == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
      double result = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
      if (ec == std::errc::result_out_of_range) return conversion_error(a, "double", "out of range");
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return conversion_error(a, "double", "not a number");
      }
      return Value::floating(result);
    }
    default: return no_overload(Builtin::kToDouble, args);
  }
}

std::string double_to_string(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
  return std::string(buffer, end);
}

Value to_string(std::span<const Value> args) {
  const Value& a = args[0];
  switch (a.kind()) {
    case Kind::kString: return a;
    case Kind::kInt: return Value::string(std::to_string(a.as_int()));
    case Kind::kUint: return Value::string(std::to_string(a.as_uint()));
    case Kind::kDouble: return Value::string(double_to_string(a.as_double()));
    case Kind::kBool: return Value::string(a.as_bool() ? "true" : "false");
    case Kind::kBytes:
      if (!is_valid_utf8(a.as_string())) return conversion_error(a, "string", "invalid UTF-8");
      return Value::string(a.as_string());
    case Kind::kTimestamp: return Value::string(format_timestamp(a.as_timestamp()));
    case Kind::kDuration: return Value::string(format_duration(a.as_duration()));
    default: return no_overload(Builtin::kToString, args);
  }
}

Value to_bool(std::span<const Value> args) {
  const Value& a = args[0];
  if (a.kind() == Kind::kBool) return a;
  if (a.kind() != Kind::kString) return no_overload(Builtin::kToBool, args);
  // The spellings Go's strconv.ParseBool accepts, as cel-go does.
  const std::string& text = a.as_string();
  if (text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" || text == "True") {
    return Value::boolean(true);
  }
  if (text == "0" || text == "f" || text == "F" || text == "false" || text == "FALSE" || text == "False") {
    return Value::boolean(false);
  }
  return conversion_error(a, "bool", "expected true or false");
}

Value to_timestamp(std::span<const Value> args) {
  const Value& a = args[0];
  switch (a.kind()) {
    case Kind::kTimestamp: return a;
    case Kind::kString: {
      auto parsed = parse_timestamp(a.as_string());
      if (!parsed) return Value::error(parsed.message());
      return Value::timestamp(*parsed);
    }
    case Kind::kInt: {
      const Timestamp t{a.as_int(), 0};
      if (!internal::timestamp_in_range(t)) return conversion_error(a, "timestamp", "out of range");
      return Value::timestamp(t);
    }
    default: return no_overload(Builtin::kToTimestamp, args);
  }
}

Value to_duration(std::span<const Value> args) {
  const Value& a = args[0];
  if (a.kind() == Kind::kDuration) return a;
  if (a.kind() != Kind::kString) return no_overload(Builtin::kToDuration, args);
  auto parsed = parse_duration(a.as_string());
  if (!parsed) return Value::error(parsed.message());
  return Value::duration(*parsed);
}

Value type_of(const Value& a) { return Value::type(std::string(kind_name(a.kind()))); }

// ---- Time accessors ---------------------------------------------------------------------------

// The offset from UTC in seconds of a time zone argument: "UTC", "+01:00", "-05:30".
Result<std::int64_t> zone_offset(std::string_view zone) {
  if (zone == "UTC" || zone == "Etc/UTC" || zone == "GMT" || zone == "Etc/GMT" || zone == "Z") return std::int64_t{0};
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const auto digit = [&](std::size_t i) { return zone[i] >= '0' && zone[i] <= '9'; };
    if (digit(1) && digit(2) && digit(4) && digit(5)) {
      const int hours = (zone[1] - '0') * 10 + (zone[2] - '0');
      const int minutes = (zone[4] - '0') * 10 + (zone[5] - '0');
      if (hours <= 23 && minutes <= 59) {
        const std::int64_t offset = (hours * 60 + minutes) * 60;
        return zone[0] == '-' ? -offset : offset;
      }
    }
  }
  return Error{"unsupported time zone \"" + std::string(zone) +
               "\": use \"UTC\" or a fixed offset such as \"+01:00\" (named zones are not available)"};
}

Value duration_part(Builtin builtin, Duration d) {
  const __int128 nanos = internal::duration_nanos(d);
  switch (builtin) {
    case Builtin::kGetHours: return Value::integer(static_cast<std::int64_t>(nanos / (3600LL * kNanosPerSecond)));
    case Builtin::kGetMinutes: return Value::integer(static_cast<std::int64_t>(nanos / (60LL * kNanosPerSecond)));
    case Builtin::kGetSeconds: return Value::integer(d.seconds);
    case Builtin::kGetMilliseconds: return Value::integer(d.nanos / 1'000'000);
    default: return Value::error("no such overload: " + std::string(builtin_name(builtin)) + "(duration)");
  }
}

Value time_part(Builtin builtin, std::span<const Value> args) {
  if (args.empty() || args.size() > 2) return no_overload(builtin, args);
  if (args[0].kind() == Kind::kDuration && args.size() == 1) return duration_part(builtin, args[0].as_duration());
  if (args[0].kind() != Kind::kTimestamp || (args.size() == 2 && args[1].kind() != Kind::kString)) {
    return no_overload(builtin, args);
  }
  std::int64_t offset = 0;
  if (args.size() == 2) {
    auto parsed = zone_offset(args[1].as_string());
    if (!parsed) return Value::error(parsed.message());
    offset = *parsed;
  }
  const Timestamp t = args[0].as_timestamp();
  const std::int64_t local = t.seconds + offset;
  const std::int64_t days = internal::floor_div(local, kSecondsPerDay);
  const std::int64_t second_of_day = local - days * kSecondsPerDay;
  const internal::CivilDate date = internal::civil_from_days(days);
  switch (builtin) {
    case Builtin::kGetFullYear: return Value::integer(date.year);
    case Builtin::kGetMonth: return Value::integer(date.month - 1);
    case Builtin::kGetDate: return Value::integer(date.day);
    case Builtin::kGetDayOfMonth: return Value::integer(date.day - 1);
    case Builtin::kGetDayOfWeek: return Value::integer(internal::floor_mod(days + 4, 7));  // 1970-01-01 was a Thursday
    case Builtin::kGetDayOfYear: return Value::integer(days - internal::days_from_civil(date.year, 1, 1));
    case Builtin::kGetHours: return Value::integer(second_of_day / 3600);
    case Builtin::kGetMinutes: return Value::integer(second_of_day / 60 % 60);
    case Builtin::kGetSeconds: return Value::integer(second_of_day % 60);
    case Builtin::kGetMilliseconds: return Value::integer(t.nanos / 1'000'000);
    default: return no_overload(builtin, args);
  }
}

// ---- The overload table -----------------------------------------------------------------------

std::vector<Overload> make_overloads() {
  const Type kInt = Type::integer();
  const Type kUint = Type::unsigned_integer();
  const Type kDouble = Type::floating();
  const Type kString = Type::string();
  const Type kBytes = Type::bytes();
  const Type kBool = Type::boolean();
  const Type kTimestamp = Type::timestamp();
  const Type kDuration = Type::duration();
  const Type kDyn = Type::dyn();
  const Type kList = Type::list(Type::dyn());
  const Type kMap = Type::map(Type::dyn(), Type::dyn());
  std::vector<Overload> table;
  const auto global = [&](Builtin b, std::vector<Type> parameters, Type result) {
    table.push_back({b, builtin_name(b), false, std::move(parameters), std::move(result)});
  };
  const auto member = [&](Builtin b, std::vector<Type> parameters, Type result) {
    table.push_back({b, builtin_name(b), true, std::move(parameters), std::move(result)});
  };

  for (const Type& t : {kInt, kUint, kDouble, kString, kBytes, kList}) global(Builtin::kAdd, {t, t}, t);
  global(Builtin::kAdd, {kTimestamp, kDuration}, kTimestamp);
  global(Builtin::kAdd, {kDuration, kTimestamp}, kTimestamp);
  global(Builtin::kAdd, {kDuration, kDuration}, kDuration);
  for (const Type& t : {kInt, kUint, kDouble}) global(Builtin::kSubtract, {t, t}, t);
  global(Builtin::kSubtract, {kTimestamp, kTimestamp}, kDuration);
  global(Builtin::kSubtract, {kTimestamp, kDuration}, kTimestamp);
  global(Builtin::kSubtract, {kDuration, kDuration}, kDuration);
  for (const Type& t : {kInt, kUint, kDouble}) global(Builtin::kMultiply, {t, t}, t);
  for (const Type& t : {kInt, kUint, kDouble}) global(Builtin::kDivide, {t, t}, t);
  for (const Type& t : {kInt, kUint}) global(Builtin::kModulo, {t, t}, t);
  for (const Type& t : {kInt, kDouble, kDuration}) global(Builtin::kNegate, {t}, t);
  global(Builtin::kEqual, {kDyn, kDyn}, kBool);
  global(Builtin::kNotEqual, {kDyn, kDyn}, kBool);
  for (Builtin b : {Builtin::kLess, Builtin::kLessEqual, Builtin::kGreater, Builtin::kGreaterEqual}) {
    for (const Type& t : {kBool, kInt, kUint, kDouble, kString, kBytes, kTimestamp, kDuration})
      global(b, {t, t}, kBool);
    // Heterogeneous numeric comparison.
    for (const Type& x : {kInt, kUint, kDouble}) {
      for (const Type& y : {kInt, kUint, kDouble}) {
        if (!(x == y)) global(b, {x, y}, kBool);
      }
    }
  }
  global(Builtin::kIn, {kDyn, kList}, kBool);
  global(Builtin::kIn, {kDyn, kMap}, kBool);
  global(Builtin::kIndex, {kList, kInt}, kDyn);
  global(Builtin::kIndex, {kMap, kDyn}, kDyn);
  for (const Type& t : {kString, kBytes, kList, kMap}) {
    global(Builtin::kSize, {t}, kInt);
    member(Builtin::kSize, {t}, kInt);
  }
  for (Builtin b : {Builtin::kContains, Builtin::kStartsWith, Builtin::kEndsWith, Builtin::kMatches, Builtin::kGlob}) {
    member(b, {kString, kString}, kBool);
  }
  global(Builtin::kMatches, {kString, kString}, kBool);
  for (Builtin b : {Builtin::kLowerAscii, Builtin::kUpperAscii, Builtin::kTrim}) member(b, {kString}, kString);
  for (const Type& t : {kInt, kUint, kDouble, kString, kTimestamp}) global(Builtin::kToInt, {t}, kInt);
  for (const Type& t : {kUint, kInt, kDouble, kString}) global(Builtin::kToUint, {t}, kUint);
  for (const Type& t : {kDouble, kInt, kUint, kString}) global(Builtin::kToDouble, {t}, kDouble);
  for (const Type& t : {kString, kInt, kUint, kDouble, kBytes, kBool, kTimestamp, kDuration}) {
    global(Builtin::kToString, {t}, kString);
  }
  for (const Type& t : {kBytes, kString}) global(Builtin::kToBytes, {t}, kBytes);
  for (const Type& t : {kBool, kString}) global(Builtin::kToBool, {t}, kBool);
  for (const Type& t : {kTimestamp, kString, kInt}) global(Builtin::kToTimestamp, {t}, kTimestamp);
  for (const Type& t : {kDuration, kString}) global(Builtin::kToDuration, {t}, kDuration);
  global(Builtin::kDyn, {kDyn}, kDyn);
  global(Builtin::kTypeOf, {kDyn}, Type::type_type());
  for (Builtin b : {Builtin::kGetFullYear, Builtin::kGetMonth, Builtin::kGetDate, Builtin::kGetDayOfMonth,
                    Builtin::kGetDayOfWeek, Builtin::kGetDayOfYear, Builtin::kGetHours, Builtin::kGetMinutes,
                    Builtin::kGetSeconds, Builtin::kGetMilliseconds}) {
    member(b, {kTimestamp}, kInt);
    member(b, {kTimestamp, kString}, kInt);
  }
  for (Builtin b : {Builtin::kGetHours, Builtin::kGetMinutes, Builtin::kGetSeconds, Builtin::kGetMilliseconds}) {
    member(b, {kDuration}, kInt);
  }
  return table;
}

// Arity of the runtime dispatch; call_builtin checks it before touching arguments.
bool arity_fits(Builtin builtin, std::size_t count) {
  switch (builtin) {
    case Builtin::kNone: return false;
    case Builtin::kNegate:
    case Builtin::kSize:
    case Builtin::kLowerAscii:
    case Builtin::kUpperAscii:
    case Builtin::kTrim:
    case Builtin::kToInt:
    case Builtin::kToUint:
    case Builtin::kToDouble:
    case Builtin::kToString:
    case Builtin::kToBytes:
    case Builtin::kToBool:
    case Builtin::kToTimestamp:
    case Builtin::kToDuration:
    case Builtin::kDyn:
    case Builtin::kTypeOf: return count == 1;
    case Builtin::kGetFullYear:
    case Builtin::kGetMonth:
    case Builtin::kGetDate:
    case Builtin::kGetDayOfMonth:
    case Builtin::kGetDayOfWeek:
    case Builtin::kGetDayOfYear:
    case Builtin::kGetHours:
    case Builtin::kGetMinutes:
    case Builtin::kGetSeconds:
    case Builtin::kGetMilliseconds: return count == 1 || count == 2;
    default: return count == 2;
  }
}

}  // namespace

std::string_view builtin_name(Builtin builtin) {
  switch (builtin) {
    case Builtin::kNone: return "";
    case Builtin::kAdd: return "_+_";
    case Builtin::kSubtract: return "_-_";
    case Builtin::kMultiply: return "_*_";
    case Builtin::kDivide: return "_/_";
    case Builtin::kModulo: return "_%_";
    case Builtin::kNegate: return "-_";
    case Builtin::kEqual: return "_==_";
    case Builtin::kNotEqual: return "_!=_";
    case Builtin::kLess: return "_<_";
    case Builtin::kLessEqual: return "_<=_";
    case Builtin::kGreater: return "_>_";
    case Builtin::kGreaterEqual: return "_>=_";
    case Builtin::kIn: return "_in_";
    case Builtin::kIndex: return "_[_]";
    case Builtin::kSize: return "size";
    case Builtin::kContains: return "contains";
    case Builtin::kStartsWith: return "startsWith";
    case Builtin::kEndsWith: return "endsWith";
    case Builtin::kMatches: return "matches";
    case Builtin::kLowerAscii: return "lowerAscii";
    case Builtin::kUpperAscii: return "upperAscii";
    case Builtin::kTrim: return "trim";
    case Builtin::kGlob: return "glob";
    case Builtin::kToInt: return "int";
    case Builtin::kToUint: return "uint";
    case Builtin::kToDouble: return "double";
    case Builtin::kToString: return "string";
    case Builtin::kToBytes: return "bytes";
    case Builtin::kToBool: return "bool";
    case Builtin::kToTimestamp: return "timestamp";
    case Builtin::kToDuration: return "duration";
    case Builtin::kDyn: return "dyn";
    case Builtin::kTypeOf: return "type";
    case Builtin::kGetFullYear: return "getFullYear";
    case Builtin::kGetMonth: return "getMonth";
    case Builtin::kGetDate: return "getDate";
    case Builtin::kGetDayOfMonth: return "getDayOfMonth";
    case Builtin::kGetDayOfWeek: return "getDayOfWeek";
    case Builtin::kGetDayOfYear: return "getDayOfYear";
    case Builtin::kGetHours: return "getHours";
    case Builtin::kGetMinutes: return "getMinutes";
    case Builtin::kGetSeconds: return "getSeconds";
    case Builtin::kGetMilliseconds: return "getMilliseconds";
  }
  return "";
}

std::span<const Overload> builtin_overloads() {
  static const std::vector<Overload> kOverloads = make_overloads();
  return kOverloads;
}

Value call_builtin(Builtin builtin, std::span<const Value> args) {
  for (const Value& argument : args) {
    if (argument.is_error()) return argument;
  }
  if (!arity_fits(builtin, args.size())) return no_overload(builtin, args);
  switch (builtin) {
    case Builtin::kNone: return no_overload(builtin, args);
    case Builtin::kAdd: return add(args);
    case Builtin::kSubtract: return subtract(args);
    case Builtin::kMultiply: return multiply(args);
    case Builtin::kDivide:
    case Builtin::kModulo: return divide_or_modulo(builtin, args);
    case Builtin::kNegate: return negate(args);
    case Builtin::kEqual: return Value::boolean(args[0] == args[1]);
    case Builtin::kNotEqual: return Value::boolean(!(args[0] == args[1]));
    case Builtin::kLess:
    case Builtin::kLessEqual:
    case Builtin::kGreater:
    case Builtin::kGreaterEqual: return compare(builtin, args);
    case Builtin::kIn: return contains_element(args);
    case Builtin::kIndex: return index(args);
    case Builtin::kSize: return size(args);
    case Builtin::kContains:
    case Builtin::kStartsWith:
    case Builtin::kEndsWith:
    case Builtin::kMatches:
    case Builtin::kGlob: return string_test(builtin, args);
    case Builtin::kLowerAscii:
    case Builtin::kUpperAscii: return change_case(builtin, args);
    case Builtin::kTrim: return trim(args);
    case Builtin::kToInt: return to_int(args);
    case Builtin::kToUint: return to_uint(args);
    case Builtin::kToDouble: return to_double(args);
    case Builtin::kToString: return to_string(args);
    case Builtin::kToBytes:
      if (args[0].kind() == Kind::kBytes) return args[0];
      if (args[0].kind() == Kind::kString) return Value::bytes(args[0].as_string());
      return no_overload(builtin, args);
    case Builtin::kToBool: return to_bool(args);
    case Builtin::kToTimestamp: return to_timestamp(args);
    case Builtin::kToDuration: return to_duration(args);
    case Builtin::kDyn: return args[0];
    case Builtin::kTypeOf: return type_of(args[0]);
    case Builtin::kGetFullYear:
    case Builtin::kGetMonth:
    case Builtin::kGetDate:
    case Builtin::kGetDayOfMonth:
    case Builtin::kGetDayOfWeek:
    case Builtin::kGetDayOfYear:
    case Builtin::kGetHours:
    case Builtin::kGetMinutes:
    case Builtin::kGetSeconds:
    case Builtin::kGetMilliseconds: return time_part(builtin, args);
  }
  return no_overload(builtin, args);
}

// ---- Regular expressions ----------------------------------------------------------------------

struct CompiledRegex::Impl {
  Impl(std::string_view pattern, const RE2::Options& options)
      : regex(re2::StringPiece(pattern.data(), pattern.size()), options), dfa(RegexDfa::build(pattern)) {}
  RE2 regex;
  std::optional<RegexDfa> dfa;  // the same answers on ASCII text, several times faster (regex_dfa.h)
};

CompiledRegex::~CompiledRegex() = default;

Result<std::shared_ptr<const CompiledRegex>> CompiledRegex::compile(std::string_view pattern) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_log_errors(false);
  options.set_max_mem(kRegexMaxMemory);
  auto impl = std::make_unique<Impl>(pattern, options);
  if (!impl->regex.ok()) {
    return Error{"invalid regular expression \"" + std::string(pattern) + "\": " + impl->regex.error()};
  }
  std::shared_ptr<CompiledRegex> regex(new CompiledRegex());
  regex->pattern_ = std::string(pattern);
  regex->impl_ = std::move(impl);
  return std::shared_ptr<const CompiledRegex>(std::move(regex));
}

bool CompiledRegex::partial_match(std::string_view text) const {
  if (impl_->dfa) {
    if (const std::optional<bool> matched = impl_->dfa->partial_match(text)) return *matched;
  }
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), impl_->regex);
}

}  // namespace airlock::runtime
