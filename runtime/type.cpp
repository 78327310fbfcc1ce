#include "airlock/runtime/type.h"

namespace airlock::runtime {

namespace {

const Type& dyn_type() {
  static const Type kDyn;
  return kDyn;
}

}  // namespace

Type Type::list(Type element) {
  Type t(Tag::kList);
  t.first_ = std::make_shared<const Type>(std::move(element));
  return t;
}

Type Type::map(Type key, Type value) {
  Type t(Tag::kMap);
  t.first_ = std::make_shared<const Type>(std::move(key));
  t.second_ = std::make_shared<const Type>(std::move(value));
  return t;
}

const Type& Type::element() const { return first_ ? *first_ : dyn_type(); }

const Type& Type::value() const { return second_ ? *second_ : dyn_type(); }

bool Type::accepts(const Type& other) const {
  if (is_dyn() || other.is_dyn()) return true;
  if (tag_ != other.tag_) return false;
  if (tag_ == Tag::kList) return element().accepts(other.element());
  if (tag_ == Tag::kMap) return element().accepts(other.element()) && value().accepts(other.value());
  return true;
}

bool operator==(const Type& a, const Type& b) {
  if (a.tag_ != b.tag_) return false;
  if (a.tag_ == Type::Tag::kList) return a.element() == b.element();
  if (a.tag_ == Type::Tag::kMap) return a.element() == b.element() && a.value() == b.value();
  return true;
}

std::string Type::name() const {
  switch (tag_) {
    case Tag::kDyn: return "dyn";
    case Tag::kNull: return "null_type";
    case Tag::kBool: return "bool";
    case Tag::kInt: return "int";
    case Tag::kUint: return "uint";
    case Tag::kDouble: return "double";
    case Tag::kString: return "string";
    case Tag::kBytes: return "bytes";
    case Tag::kTimestamp: return "timestamp";
    case Tag::kDuration: return "duration";
    case Tag::kList: return "list(" + element().name() + ")";
    case Tag::kMap: return "map(" + element().name() + ", " + value().name() + ")";
    case Tag::kType: return "type";
  }
  return "dyn";
}

Value Type::default_value() const {
  switch (tag_) {
    case Tag::kDyn:
    case Tag::kNull: return Value::null();
    case Tag::kBool: return Value::boolean(false);
    case Tag::kInt: return Value::integer(0);
    case Tag::kUint: return Value::unsigned_integer(0);
    case Tag::kDouble: return Value::floating(0.0);
    case Tag::kString: return Value::string("");
    case Tag::kBytes: return Value::bytes("");
    case Tag::kTimestamp: return Value::timestamp({});
    case Tag::kDuration: return Value::duration({});
    case Tag::kList: return Value::list({});
    case Tag::kMap: return Value::map({});
    case Tag::kType: return Value::type("null_type");
  }
  return Value::null();
}

bool Type::admits(Kind kind) const {
  switch (tag_) {
    case Tag::kDyn: return kind != Kind::kError;
    case Tag::kNull: return kind == Kind::kNull;
    case Tag::kBool: return kind == Kind::kBool;
    case Tag::kInt: return kind == Kind::kInt;
    case Tag::kUint: return kind == Kind::kUint;
    case Tag::kDouble: return kind == Kind::kDouble;
    case Tag::kString: return kind == Kind::kString;
    case Tag::kBytes: return kind == Kind::kBytes;
    case Tag::kTimestamp: return kind == Kind::kTimestamp;
    case Tag::kDuration: return kind == Kind::kDuration;
    case Tag::kList: return kind == Kind::kList;
    case Tag::kMap: return kind == Kind::kMap;
    case Tag::kType: return kind == Kind::kType;
  }
  return false;
}

}  // namespace airlock::runtime
