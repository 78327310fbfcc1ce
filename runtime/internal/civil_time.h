// Proleptic Gregorian calendar arithmetic and the CEL ranges of timestamps and durations.
#pragma once

#include <cstdint>

#include "airlock/runtime/value.h"

namespace airlock::runtime::internal {

inline constexpr std::int64_t kSecondsPerDay = 86400;
inline constexpr std::int32_t kNanosPerSecond = 1'000'000'000;

// Division and modulo rounding toward negative infinity.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

constexpr bool is_leap_year(std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

constexpr int days_in_month(std::int64_t year, int month) {
  constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a civil date (month 1-12, day 1-31); Howard Hinnant's algorithm.
constexpr std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2;
  const std::int64_t era = floor_div(year, 400);
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct CivilDate {
  std::int64_t year;
  int month;  // 1-12
  int day;    // 1-31
};

constexpr CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = floor_div(days, 146097);
  const std::int64_t day_of_era = days - era * 146097;
  const std::int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t mp = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {year_of_era + era * 400 + (month <= 2), month, day};
}

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
inline constexpr std::int64_t kMinTimestampSeconds = days_from_civil(1, 1, 1) * kSecondsPerDay;
inline constexpr std::int64_t kMaxTimestampSeconds = days_from_civil(9999, 12, 31) * kSecondsPerDay + kSecondsPerDay - 1;
// About 10000 years, as google.protobuf.Duration.
inline constexpr std::int64_t kMaxDurationSeconds = 315'576'000'000;

constexpr bool timestamp_in_range(Timestamp t) {
  return t.seconds >= kMinTimestampSeconds && t.seconds <= kMaxTimestampSeconds && t.nanos >= 0 &&
         t.nanos < kNanosPerSecond;
}

constexpr bool duration_in_range(Duration d) {
  return d.seconds >= -kMaxDurationSeconds && d.seconds <= kMaxDurationSeconds;
}

// Total nanoseconds of a duration; always fits in 128 bits.
constexpr __int128 duration_nanos(Duration d) { return static_cast<__int128>(d.seconds) * kNanosPerSecond + d.nanos; }

// A duration from total nanoseconds; the caller checks the range first (nanos take the sign of seconds).
constexpr Duration duration_from_nanos(__int128 total) {
  return {static_cast<std::int64_t>(total / kNanosPerSecond), static_cast<std::int32_t>(total % kNanosPerSecond)};
}

constexpr bool duration_nanos_in_range(__int128 total) {
  const __int128 limit = static_cast<__int128>(kMaxDurationSeconds) * kNanosPerSecond + (kNanosPerSecond - 1);
  return total >= -limit && total <= limit;
}

// Nanoseconds since the epoch of a timestamp.
constexpr __int128 timestamp_nanos(Timestamp t) { return static_cast<__int128>(t.seconds) * kNanosPerSecond + t.nanos; }

constexpr Timestamp timestamp_from_nanos(__int128 total) {
  const __int128 seconds = total >= 0 ? total / kNanosPerSecond : -((-total + kNanosPerSecond - 1) / kNanosPerSecond);
  return {static_cast<std::int64_t>(seconds), static_cast<std::int32_t>(total - seconds * kNanosPerSecond)};
}

constexpr bool timestamp_nanos_in_range(__int128 total) {
  return total >= static_cast<__int128>(kMinTimestampSeconds) * kNanosPerSecond &&
         total <= static_cast<__int128>(kMaxTimestampSeconds) * kNanosPerSecond + (kNanosPerSecond - 1);
}

}  // namespace airlock::runtime::internal
