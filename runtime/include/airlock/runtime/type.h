// Static types of the expression language, as the checker and the fact schema use them.
#pragma once

#include <memory>
#include <string>

#include "airlock/runtime/value.h"

namespace airlock::runtime {

// A type: a primitive kind, a list of T, a map of K to V, or dyn (known only at run time).
class Type {
 public:
  enum class Tag : std::uint8_t {
    kDyn,
    kNull,
    kBool,
    kInt,
    kUint,
    kDouble,
    kString,
    kBytes,
    kTimestamp,
    kDuration,
    kList,
    kMap,
    kType,
  };

  Type() = default;  // dyn
  static Type dyn() { return Type(); }
  static Type null_type() { return Type(Tag::kNull); }
  static Type boolean() { return Type(Tag::kBool); }
  static Type integer() { return Type(Tag::kInt); }
  static Type unsigned_integer() { return Type(Tag::kUint); }
  static Type floating() { return Type(Tag::kDouble); }
  static Type string() { return Type(Tag::kString); }
  static Type bytes() { return Type(Tag::kBytes); }
  static Type timestamp() { return Type(Tag::kTimestamp); }
  static Type duration() { return Type(Tag::kDuration); }
  static Type type_type() { return Type(Tag::kType); }
  static Type list(Type element);
  static Type map(Type key, Type value);

  Tag tag() const { return tag_; }
  bool is_dyn() const { return tag_ == Tag::kDyn; }
  // For lists: the element type. For maps: the key type.
  const Type& element() const;
  // For maps: the value type.
  const Type& value() const;

  // True when a value of type `other` may be used where this type is expected
  // (dyn on either side matches anything; lists and maps compare their parameters).
  bool accepts(const Type& other) const;

  friend bool operator==(const Type& a, const Type& b);

  // CEL spelling: int, string, list(string), map(string, dyn), dyn.
  std::string name() const;

  // The default value of a fact of this type: 0, 0u, 0.0, "", b"", false, [], {}, the epoch, 0s; null for dyn.
  Value default_value() const;

  // Whether a runtime value kind fits this type.
  bool admits(Kind kind) const;

 private:
  explicit Type(Tag tag) : tag_(tag) {}
  Tag tag_ = Tag::kDyn;
  std::shared_ptr<const Type> first_;
  std::shared_ptr<const Type> second_;
};

}  // namespace airlock::runtime
