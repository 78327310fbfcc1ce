// The audit chain's hash: SHA-256 over the previous hash and the event's fields as netstrings.
#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "airlock/gateway/store.h"

namespace airlock::gateway {
namespace {

void append_netstring(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += ',';
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(static_cast<std::size_t>(length) * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0x0f];
  }
  return hex;
}

}  // namespace

std::string audit_event_hash(const AuditEvent& event) {
  std::string message = event.previous_hash;
  append_netstring(message, std::to_string(event.sequence));
  append_netstring(message, std::to_string(event.at));
  append_netstring(message, event.transfer_id);
  append_netstring(message, event.actor);
  append_netstring(message, event.action);
  append_netstring(message, event.from_state);
  append_netstring(message, event.to_state);
  append_netstring(message, event.detail_json);
  return sha256_hex(message);
}

}  // namespace airlock::gateway
