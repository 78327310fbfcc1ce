// Values of the policy expression language (CEL's value model).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace airlock::runtime {

enum class Kind : std::uint8_t {
  kNull,
  kBool,
  kInt,
  kUint,
  kDouble,
  kString,
  kBytes,
  kList,
  kMap,
  kTimestamp,
  kDuration,
  kType,   // the value of a type name such as `int`, as returned by `type(x)`
  kError,  // an evaluation error travelling as a value, so `&&` and `||` can absorb it
};

std::string_view kind_name(Kind kind);

// A point in time: seconds since the Unix epoch and nanoseconds in [0, 1e9).
// CEL's range is 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
struct Timestamp {
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;
  friend auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

// A signed span of time: nanos has the sign of seconds, |nanos| < 1e9.
// CEL's range is about +-10000 years.
struct Duration {
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;
  friend auto operator<=>(const Duration&, const Duration&) = default;
};

class Value;
using List = std::vector<Value>;
// Insertion-ordered entries; keys are unique (bool, int, uint or string).
using MapEntries = std::vector<std::pair<Value, Value>>;

// An immutable, cheaply copyable value. Heavy payloads (strings, lists, maps, errors)
// are shared, never copied.
class Value {
 public:
  Value() = default;  // null
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value integer(std::int64_t i);
  static Value unsigned_integer(std::uint64_t u);
  static Value floating(double d);
  static Value string(std::string s);
  static Value bytes(std::string b);
  static Value list(List items);
  static Value map(MapEntries entries);  // caller guarantees unique keys
  static Value timestamp(Timestamp t);
  static Value duration(Duration d);
  static Value type(std::string name);
  static Value error(std::string message);

  Kind kind() const { return kind_; }
  bool is_error() const { return kind_ == Kind::kError; }

  bool as_bool() const { return scalar_.b; }
  std::int64_t as_int() const { return scalar_.i; }
  std::uint64_t as_uint() const { return scalar_.u; }
  double as_double() const { return scalar_.d; }
  Timestamp as_timestamp() const { return {scalar_.i, nanos_}; }
  Duration as_duration() const { return {scalar_.i, nanos_}; }
  // kString (UTF-8), kBytes, kType (the type's name), kError (the message); empty for other kinds.
  // Inline: the evaluator reads strings and lists on every node it visits.
  const std::string& as_string() const {
    if (kind_ == Kind::kString || kind_ == Kind::kBytes || kind_ == Kind::kType || kind_ == Kind::kError) {
      return *static_cast<const std::string*>(heap_.get());
    }
    return empty_text();
  }
  const List& as_list() const {
    return kind_ == Kind::kList ? *static_cast<const List*>(heap_.get()) : empty_items();
  }
  const MapEntries& as_map() const {
    return kind_ == Kind::kMap ? *static_cast<const MapEntries*>(heap_.get()) : empty_entries();
  }

  // Map lookup by CEL key equality (1 == 1u == 1.0 for numeric keys); nullptr when absent.
  const Value* find(const Value& key) const;

  // CEL equality: heterogeneous numeric equality, deep for lists and maps.
  // Values of different, non-numeric kinds are unequal (not an error).
  friend bool operator==(const Value& a, const Value& b);

  // A short human-readable form for messages and test output (CEL-like syntax).
  std::string debug_string() const;

 private:
  static const std::string& empty_text();
  static const List& empty_items();
  static const MapEntries& empty_entries();

  Kind kind_ = Kind::kNull;
  std::int32_t nanos_ = 0;
  union Scalar {
    bool b;
    std::int64_t i;
    std::uint64_t u;
    double d;
  } scalar_{.i = 0};
  std::shared_ptr<const void> heap_;
};

}  // namespace airlock::runtime
