// The transfer lifecycle of DESIGN.md as a table: state names and the allowed transitions.
#include "airlock/gateway/transfer.h"

#include <array>
#include <utility>

namespace airlock::gateway {
namespace {

constexpr std::array<std::pair<TransferState, std::string_view>, 14> kStateNames{{
    {TransferState::kCreated, "created"},
    {TransferState::kReceiving, "receiving"},
    {TransferState::kInspecting, "inspecting"},
    {TransferState::kDecided, "decided"},
    {TransferState::kApproved, "approved"},
    {TransferState::kReleased, "released"},
    {TransferState::kMaterialised, "materialised"},
    {TransferState::kDenied, "denied"},
    {TransferState::kEscalated, "escalated"},
    {TransferState::kInReview, "in_review"},
    {TransferState::kRejected, "rejected"},
    {TransferState::kReturned, "returned"},
    {TransferState::kFailed, "failed"},
    {TransferState::kRevoked, "revoked"},
}};

}  // namespace

std::string_view state_name(TransferState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "unknown";
}

std::optional<TransferState> parse_state(std::string_view name) {
  for (const auto& [value, state_text] : kStateNames) {
    if (state_text == name) return value;
  }
  return std::nullopt;
}

bool is_terminal(TransferState state) {
  switch (state) {
    case TransferState::kDenied:
    case TransferState::kRejected:
    case TransferState::kRevoked: return true;
    default: return false;
  }
}

bool transition_allowed(TransferState from, TransferState to) {
  using S = TransferState;
  if (from == to) return false;
  // Any state that is not final may fail. A failure is final too, except that a retryable one may go
  // back to receiving (the store checks the transfer's `retryable` flag for that edge).
  if (to == S::kFailed) return !is_terminal(from) && from != S::kFailed;
  switch (from) {
    case S::kCreated: return to == S::kReceiving || to == S::kDenied;     // denied early, on the declared size or type
    case S::kReceiving: return to == S::kInspecting || to == S::kDenied;  // denied early, before the last byte
    case S::kInspecting: return to == S::kDecided;
    case S::kDecided: return to == S::kApproved || to == S::kDenied || to == S::kEscalated;
    case S::kEscalated: return to == S::kInReview;
    case S::kInReview: return to == S::kApproved || to == S::kRejected || to == S::kReturned;
    case S::kReturned: return to == S::kReceiving || to == S::kInspecting;  // new files, or the same files judged again
    case S::kApproved: return to == S::kReleased || to == S::kRevoked;
    case S::kReleased: return to == S::kMaterialised || to == S::kRevoked;
    case S::kMaterialised: return to == S::kRevoked;
    case S::kFailed: return to == S::kReceiving;
    case S::kDenied:
    case S::kRejected:
    case S::kRevoked: return false;
  }
  return false;
}

}  // namespace airlock::gateway
