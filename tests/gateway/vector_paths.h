// Every path of the text inspectors' block masks, for tests parameterised by VectorInstructions.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "airlock/gateway/inspect/instructions.h"

namespace airlock::gateway::inspect::testing {

// Plain C++, SSE2, AVX2 and AVX-512: a processor without one runs the best path it has below it.
inline auto every_vector_path() {
  return ::testing::Values(VectorInstructions::kPortable, VectorInstructions::kSse2, VectorInstructions::kAvx2,
                           VectorInstructions::kAvx512);
}

inline std::string vector_path_name(const ::testing::TestParamInfo<VectorInstructions>& info) {
  return to_string(info.param);
}

}  // namespace airlock::gateway::inspect::testing
