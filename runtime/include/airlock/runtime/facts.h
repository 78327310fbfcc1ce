// The fact schema (version 1, LANGUAGE.md) and the facts a transfer is judged on.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/result.h"
#include "airlock/runtime/type.h"
#include "airlock/runtime/value.h"

namespace airlock::runtime {

using FactSlot = std::uint16_t;

struct FactField {
  std::string path;         // "file.size", "now"
  Type type;
  std::string description;  // one line, for docs and `help:` text
};

// The one place the fact schema is defined. Slots are indexes into fields().
class FactSchema {
 public:
  // The built-in schema of LANGUAGE.md. Immutable and shared; safe across threads.
  static const FactSchema& standard();

  std::span<const FactField> fields() const { return fields_; }
  const FactField& field(FactSlot slot) const { return fields_[slot]; }
  std::optional<FactSlot> find(std::string_view path) const;
  // True for a group name such as "file" or "transfer" (a prefix of some field path).
  bool is_group(std::string_view name) const;
  // The closest field path (or group name) to `path`, for "did you mean" help; empty when none is close.
  std::string suggest(std::string_view path) const;

  explicit FactSchema(std::vector<FactField> fields);

 private:
  std::vector<FactField> fields_;
};

// The facts of one transfer (for one file). Every field starts at its schema default and
// remembers whether it was set, which `has(file.size)` reports.
class Facts {
 public:
  explicit Facts(const FactSchema& schema = FactSchema::standard());

  const FactSchema& schema() const { return *schema_; }

  // Sets a field by path; an unknown path or a value of the wrong type is an error naming the path.
  // An int value is accepted for a double fact (it is converted).
  Status set(std::string_view path, Value value);
  // Fast path for callers that resolved the slot once; the value must fit the field's type.
  void set(FactSlot slot, Value value);

  const Value& get(FactSlot slot) const { return values_[slot]; }
  bool is_set(FactSlot slot) const { return set_[slot] != 0; }
  // At least the cost units a builtin charges for walking any one value set here (a list's or map's size,
  // a string's bytes / 64), so the evaluator can bound a rule's cost without reading every fact.
  std::uint64_t walk_bound() const { return walk_bound_; }

  // Parses a JSON object shaped like the schema ({"file": {"size": 10}, "now": "2026-..."}).
  // Errors name the JSON path of the offending field: "facts: $.file.size: expected int, got string".
  static Result<Facts> from_json(std::string_view json, const FactSchema& schema = FactSchema::standard());
  // Builds facts from a map value of the same shape (test blocks' `given`).
  static Result<Facts> from_value(const Value& map, const FactSchema& schema = FactSchema::standard());

  // The facts as a JSON object; only fields that were set unless `include_defaults`.
  std::string to_json(bool include_defaults = false) const;

 private:
  const FactSchema* schema_;
  std::vector<Value> values_;
  std::vector<std::uint8_t> set_;
  std::uint64_t walk_bound_ = 0;
};

}  // namespace airlock::runtime
