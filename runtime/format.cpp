#include "airlock/runtime/format.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "internal/civil_time.h"
#include "internal/utf8.h"

namespace airlock::runtime {

namespace {

using internal::kNanosPerSecond;
using internal::kSecondsPerDay;

// Decodes one strictly valid UTF-8 sequence at `pos`; returns -1 (and leaves `pos`) when invalid.
long decode_strict(std::string_view text, std::size_t& pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  std::size_t length;
  long code_point;
  long minimum;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return -1;
  }
  if (pos + length > text.size()) return -1;
  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char continuation = byte(pos + i);
    if ((continuation & 0xC0) != 0x80) return -1;
    code_point = (code_point << 6) | (continuation & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return -1;
  pos += length;
  return code_point;
}

bool parse_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

Error timestamp_error(std::string_view text, std::string_view why) {
  return Error{"invalid timestamp \"" + std::string(text) + "\": " + std::string(why)};
}

Error duration_error(std::string_view text, std::string_view why) {
  return Error{"invalid duration \"" + std::string(text) + "\": " + std::string(why)};
}

void append_fraction(std::string& out, std::int32_t nanos) {
  if (nanos == 0) return;
  char digits[10];
  std::snprintf(digits, sizeof digits, "%09d", static_cast<int>(nanos));
  std::string_view fraction(digits, 9);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  out += '.';
  out += fraction;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(data[k]); };
  for (; i + 3 <= data.size(); i += 3) {
    const unsigned triple = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(triple >> 18) & 63];
    out += kAlphabet[(triple >> 12) & 63];
    out += kAlphabet[(triple >> 6) & 63];
    out += kAlphabet[triple & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned triple = byte(i) << 16;
    out += kAlphabet[(triple >> 18) & 63];
    out += kAlphabet[(triple >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const unsigned triple = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(triple >> 18) & 63];
    out += kAlphabet[(triple >> 12) & 63];
    out += kAlphabet[(triple >> 6) & 63];
    out += '=';
  }
  return out;
}

void append_json(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += value.as_bool() ? "true" : "false"; return;
    case Kind::kInt: out += std::to_string(value.as_int()); return;
    case Kind::kUint: out += std::to_string(value.as_uint()); return;
    case Kind::kDouble: {
      const double d = value.as_double();
      if (std::isnan(d)) {
        out += "\"NaN\"";
      } else if (std::isinf(d)) {
        out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      } else {
        char buffer[64];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
        std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
        out += text;
        if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
      }
      return;
    }
    case Kind::kString: append_json_string(out, value.as_string()); return;
    case Kind::kBytes: append_json_string(out, base64(value.as_string())); return;
    case Kind::kList: {
      out += '[';
      bool first = true;
      for (const Value& item : value.as_list()) {
        if (!first) out += ',';
        first = false;
        append_json(out, item);
      }
      out += ']';
      return;
    }
    case Kind::kMap: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.as_map()) {
        if (!first) out += ',';
        first = false;
        switch (key.kind()) {
          case Kind::kString: append_json_string(out, key.as_string()); break;
          case Kind::kInt: append_json_string(out, std::to_string(key.as_int())); break;
          case Kind::kUint: append_json_string(out, std::to_string(key.as_uint())); break;
          case Kind::kBool: append_json_string(out, key.as_bool() ? "true" : "false"); break;
          default: append_json_string(out, key.debug_string()); break;
        }
        out += ':';
        append_json(out, item);
      }
      out += '}';
      return;
    }
    case Kind::kTimestamp: append_json_string(out, format_timestamp(value.as_timestamp())); return;
    case Kind::kDuration: append_json_string(out, format_duration(value.as_duration())); return;
    case Kind::kType: append_json_string(out, value.as_string()); return;
    case Kind::kError: append_json_string(out, "error: " + value.as_string()); return;
  }
}

struct DurationUnit {
  std::string_view name;
  std::int64_t nanos;
};

constexpr DurationUnit kDurationUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek small letter mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

namespace internal {

char32_t decode_utf8(std::string_view text, std::size_t& pos) {
  const long code_point = decode_strict(text, pos);
  if (code_point < 0) {
    ++pos;
    return kReplacementCharacter;
  }
  return static_cast<char32_t>(code_point);
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace internal

Result<Timestamp> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !parse_digits(text, 0, 4, year) || text[4] != '-' || !parse_digits(text, 5, 2, month) ||
      text[7] != '-' || !parse_digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
      !parse_digits(text, 11, 2, hour) || text[13] != ':' || !parse_digits(text, 14, 2, minute) || text[16] != ':' ||
      !parse_digits(text, 17, 2, second)) {
    return timestamp_error(text, "expected RFC 3339 form such as 2026-11-29T10:00:00Z");
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > internal::days_in_month(year, month)) {
    return timestamp_error(text, "no such date");
  }
  if (hour > 23 || minute > 59 || second > 59) return timestamp_error(text, "no such time of day");
  std::size_t pos = 19;
  std::int32_t nanos = 0;
  if (text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && is_digit(text[pos])) {
      if (++digits > 9) return timestamp_error(text, "more than 9 fractional digits");
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return timestamp_error(text, "expected digits after '.'");
    for (std::size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offset_hours, offset_minutes;
    if (!parse_digits(text, pos + 1, 2, offset_hours) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !parse_digits(text, pos + 4, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return timestamp_error(text, "invalid UTC offset");
    }
    offset_seconds = (offset_hours * 60 + offset_minutes) * 60;
    if (text[pos] == '-') offset_seconds = -offset_seconds;
    pos += 6;
  } else {
    return timestamp_error(text, "expected 'Z' or a UTC offset such as +01:00");
  }
  if (pos != text.size()) return timestamp_error(text, "unexpected text after the time zone");
  const std::int64_t seconds = internal::days_from_civil(year, month, day) * kSecondsPerDay + hour * 3600 +
                               minute * 60 + second - offset_seconds;
  const Timestamp result{seconds, nanos};
  if (!internal::timestamp_in_range(result)) return timestamp_error(text, "out of range 0001-01-01..9999-12-31");
  return result;
}

std::string format_timestamp(Timestamp timestamp) {
  const std::int64_t days = internal::floor_div(timestamp.seconds, kSecondsPerDay);
  const std::int64_t second_of_day = timestamp.seconds - days * kSecondsPerDay;
  const internal::CivilDate date = internal::civil_from_days(days);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02d-%02dT%02d:%02d:%02d", static_cast<long long>(date.year), date.month,
                date.day, static_cast<int>(second_of_day / 3600), static_cast<int>(second_of_day / 60 % 60),
                static_cast<int>(second_of_day % 60));
  std::string out = buffer;
  append_fraction(out, timestamp.nanos);
  out += 'Z';
  return out;
}

Result<Duration> parse_duration(std::string_view text) {
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return Duration{};
  if (rest.empty()) return duration_error(text, "empty");
  constexpr __int128 kTooLarge = static_cast<__int128>(internal::kMaxDurationSeconds + 1) * kNanosPerSecond;
  __int128 total = 0;
  while (!rest.empty()) {
    __int128 whole = 0;
    std::size_t whole_digits = 0;
    while (!rest.empty() && is_digit(rest[0])) {
      if (whole < kTooLarge) whole = whole * 10 + (rest[0] - '0');
      ++whole_digits;
      rest.remove_prefix(1);
    }
    __int128 fraction = 0;
    __int128 scale = 1;
    std::size_t fraction_digits = 0;
    if (!rest.empty() && rest[0] == '.') {
      rest.remove_prefix(1);
      while (!rest.empty() && is_digit(rest[0])) {
        // Digits beyond nanosecond-of-an-hour precision cannot change the result; they are ignored.
        if (fraction_digits < 18) {
          fraction = fraction * 10 + (rest[0] - '0');
          scale *= 10;
        }
        ++fraction_digits;
        rest.remove_prefix(1);
      }
    }
    if (whole_digits == 0 && fraction_digits == 0) return duration_error(text, "expected a number");
    std::size_t unit_length = 0;
    while (unit_length < rest.size() && !is_digit(rest[unit_length]) && rest[unit_length] != '.') ++unit_length;
    const std::string_view unit_name = rest.substr(0, unit_length);
    if (unit_name.empty()) return duration_error(text, "missing unit (use h, m, s, ms, us or ns)");
    const DurationUnit* unit = nullptr;
    for (const DurationUnit& candidate : kDurationUnits) {
      if (candidate.name == unit_name) unit = &candidate;
    }
    if (unit == nullptr) return duration_error(text, "unknown unit \"" + std::string(unit_name) + "\"");
    rest.remove_prefix(unit_length);
    if (whole >= kTooLarge) return duration_error(text, "out of range");
    total += whole * unit->nanos + fraction * unit->nanos / scale;
    if (total >= kTooLarge) return duration_error(text, "out of range");
  }
  if (negative) total = -total;
  if (!internal::duration_nanos_in_range(total)) return duration_error(text, "out of range");
  return internal::duration_from_nanos(total);
}

std::string format_duration(Duration duration) {
  const bool negative = duration.seconds < 0 || duration.nanos < 0;
  const __int128 total = internal::duration_nanos(duration);
  const __int128 magnitude = negative ? -total : total;
  std::string out = negative ? "-" : "";
  out += std::to_string(static_cast<std::uint64_t>(magnitude / kNanosPerSecond));
  append_fraction(out, static_cast<std::int32_t>(magnitude % kNanosPerSecond));
  out += 's';
  return out;
}

std::string to_json(const Value& value) {
  std::string out;
  append_json(out, value);
  return out;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (decode_strict(text, pos) < 0) return false;
  }
  return true;
}

}  // namespace airlock::runtime
