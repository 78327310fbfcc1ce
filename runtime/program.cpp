#include "airlock/runtime/program.h"

namespace airlock::runtime {

std::string_view effect_name(Effect effect) {
  switch (effect) {
    case Effect::kApprove: return "approve";
    case Effect::kDeny: return "deny";
    case Effect::kEscalate: return "escalate";
  }
  return "escalate";
}

std::string SourceLocation::to_string() const {
  if (file.empty() && line == 0) return {};
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

}  // namespace airlock::runtime
