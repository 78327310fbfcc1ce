// The operators and functions of the expression language: their identities and signatures.
// The checker resolves calls against builtin_overloads(); the evaluator dispatches on Builtin
// and the runtime kinds of the arguments (CEL is dynamically typed underneath).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/result.h"
#include "airlock/runtime/type.h"
#include "airlock/runtime/value.h"

namespace airlock::runtime {

// A string or bytes `+` whose result would be larger than this is an error, so no expression can exhaust memory.
inline constexpr std::size_t kMaxConcatenationBytes = 16u * 1024 * 1024;

enum class Builtin : std::uint16_t {
  kNone,
  // Operators.
  kAdd,           // _+_ : int, uint, double, string, bytes, list, timestamp+duration, duration+duration
  kSubtract,      // _-_ : numbers, timestamp-timestamp, timestamp-duration, duration-duration
  kMultiply,      // _*_
  kDivide,        // _/_ : division by zero is an error
  kModulo,        // _%_ : int, uint
  kNegate,        // -_ : int, double, duration
  kEqual,         // _==_
  kNotEqual,      // _!=_
  kLess,          // _<_ : numbers (heterogeneous), strings, bytes, bools, timestamps, durations
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kIn,            // _in_ : element in list, key in map
  kIndex,         // _[_] : list[int], map[key]
  // Functions.
  kSize,          // size(x) / x.size(): string (code points), bytes, list, map
  kContains,      // string.contains(string)
  kStartsWith,    // string.startsWith(string)
  kEndsWith,      // string.endsWith(string)
  kMatches,       // string.matches(string) / matches(string, string): RE2, pattern known only at run time
  kLowerAscii,    // string.lowerAscii()
  kUpperAscii,    // string.upperAscii()
  kTrim,          // string.trim(): Unicode white space at both ends
  kGlob,          // string.glob(pattern): *, ?, [abc], ** across '/'
  kToInt,         // int(x)
  kToUint,        // uint(x)
  kToDouble,      // double(x)
  kToString,      // string(x)
  kToBytes,       // bytes(x)
  kToBool,        // bool(x)
  kToTimestamp,   // timestamp(string | int)
  kToDuration,    // duration(string)
  kDyn,           // dyn(x)
  kTypeOf,        // type(x)
  kGetFullYear,   // timestamp.getFullYear([tz])
  kGetMonth,      // 0-11
  kGetDate,       // 1-31
  kGetDayOfMonth, // 0-30
  kGetDayOfWeek,  // 0 = Sunday
  kGetDayOfYear,  // 0-365
  kGetHours,      // also duration.getHours()
  kGetMinutes,
  kGetSeconds,
  kGetMilliseconds,
};

std::string_view builtin_name(Builtin builtin);  // "_+_", "size", "startsWith", ...

// One signature of a builtin. Parameters include the receiver first for member calls.
// Type::dyn() in a parameter accepts anything; list(dyn)/map(dyn, dyn) accept any list/map.
struct Overload {
  Builtin builtin;
  std::string_view function;  // the name as written: "_+_", "size", "startsWith"
  bool member;                // called as receiver.function(args)
  std::vector<Type> parameters;
  Type result;
};

std::span<const Overload> builtin_overloads();

// Calls a builtin on evaluated arguments (receiver first). Errors come back as error values.
Value call_builtin(Builtin builtin, std::span<const Value> arguments);

// A regular expression compiled once (RE2 syntax).
class CompiledRegex {
 public:
  static Result<std::shared_ptr<const CompiledRegex>> compile(std::string_view pattern);
  ~CompiledRegex();
  bool partial_match(std::string_view text) const;  // CEL's matches: a match anywhere
  const std::string& pattern() const { return pattern_; }

 private:
  CompiledRegex() = default;
  std::string pattern_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace airlock::runtime
