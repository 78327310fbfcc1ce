// The vector instructions the text inspectors may use (the table parser and the identifier scanner).
#pragma once

#include <cstdint>

namespace airlock::gateway::inspect {

// In increasing order. kBest is what the processor has; the others ask for less (tests and benchmarks compare
// the paths). A processor without the instructions asked for gets the best it has below them.
enum class VectorInstructions : std::uint8_t { kPortable, kSse2, kAvx2, kAvx512, kBest };

// `wanted`, or the best this processor has below it (never kBest). The AVX2 level also needs BMI1, LZCNT and
// POPCNT; the AVX-512 level AVX512F, AVX512BW and AVX512VBMI besides (Ice Lake and later, where 512-bit code
// does not slow the core down). Asked of the processor once.
VectorInstructions usable_instructions(VectorInstructions wanted = VectorInstructions::kBest);

// "portable", "sse2", "avx2", "avx512" or "best".
const char* to_string(VectorInstructions instructions);

}  // namespace airlock::gateway::inspect
