// Exact comparison of int, uint and double values (CEL's heterogeneous numeric semantics).
#pragma once

#include <compare>

#include "airlock/runtime/value.h"

namespace airlock::runtime::internal {

constexpr bool is_numeric(Kind kind) { return kind == Kind::kInt || kind == Kind::kUint || kind == Kind::kDouble; }

// Compares two numeric values by their mathematical value; unordered when either is NaN.
std::partial_ordering compare_numbers(const Value& a, const Value& b);

}  // namespace airlock::runtime::internal
