// Text forms of values: RFC 3339 timestamps, CEL durations, and JSON.
#pragma once

#include <string>
#include <string_view>

#include "airlock/runtime/result.h"
#include "airlock/runtime/value.h"

namespace airlock::runtime {

// RFC 3339, e.g. "2026-11-29T10:00:00Z" or "2026-11-29T10:00:00.5+01:00"; range 0001..9999.
Result<Timestamp> parse_timestamp(std::string_view text);
// UTC with 'Z'; fractional seconds only when non-zero, without trailing zeros.
std::string format_timestamp(Timestamp timestamp);

// CEL/Go duration syntax: "36h", "1h30m", "1.5s", "-10ms", "250us", "3ns".
Result<Duration> parse_duration(std::string_view text);
// Seconds with the fraction CEL prints: "1.5s", "-10s", "0s".
std::string format_duration(Duration duration);

// JSON: ints and uints as numbers, doubles always with a '.' or exponent (NaN and infinities
// as the strings "NaN", "Infinity", "-Infinity"), maps as objects (non-string keys printed as
// strings), timestamps and durations as their strings, bytes as base64, types as their names.
std::string to_json(const Value& value);

// True when `text` is valid UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace airlock::runtime
