// The cost units a builtin charges for walking an operand: the reference's accounting, shared by the fast
// evaluator's plan and by Facts, which keeps a bound of it over the values set.
#pragma once

#include <cstdint>

#include "airlock/runtime/value.h"

namespace airlock::runtime {

inline std::uint64_t operand_cost(const Value& value) {
  switch (value.kind()) {
    case Kind::kList: return value.as_list().size();
    case Kind::kMap: return value.as_map().size();
    case Kind::kString:
    case Kind::kBytes: return value.as_string().size() / 64;
    default: return 0;
  }
}

}  // namespace airlock::runtime
