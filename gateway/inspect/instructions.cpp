#include "airlock/gateway/inspect/instructions.h"

#include <algorithm>

namespace airlock::gateway::inspect {
namespace {

VectorInstructions best_instructions() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi") || !__builtin_cpu_supports("popcnt") ||
      !__builtin_cpu_supports("abm")) {
#if defined(__SSE2__)
    return VectorInstructions::kSse2;
#else
    return VectorInstructions::kPortable;
#endif
  }
  // AVX512VBMI stands for Ice Lake and later. On the first AVX-512 processors 512-bit code can lower the core's
  // clock (the hash's too, when it shares the core), which the wider masks (3-5% of a parser's time here)
  // would not repay.
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi")
             ? VectorInstructions::kAvx512
             : VectorInstructions::kAvx2;
#else
  return VectorInstructions::kPortable;
#endif
}

}  // namespace

VectorInstructions usable_instructions(VectorInstructions wanted) {
  static const VectorInstructions best = best_instructions();
  return std::min(wanted, best);
}

const char* to_string(VectorInstructions instructions) {
  switch (instructions) {
    case VectorInstructions::kPortable:
      return "portable";
    case VectorInstructions::kSse2:
      return "sse2";
    case VectorInstructions::kAvx2:
      return "avx2";
    case VectorInstructions::kAvx512:
      return "avx512";
    case VectorInstructions::kBest:
      break;
  }
  return "best";
}

}  // namespace airlock::gateway::inspect
