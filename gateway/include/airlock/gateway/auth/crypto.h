// Small encodings and primitives the identity code and its callers share: base64url (strict), hex,
// HMAC-SHA256, SHA-256, random bytes and a constant-time comparison. All on OpenSSL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace airlock::gateway::auth {

// Unpadded base64url (RFC 4648 section 5), as JOSE uses it.
std::string base64url_encode(std::string_view bytes);
// Strict: only the base64url alphabet, no padding, no whitespace, no impossible length, and the unused
// bits of the last character zero (so each byte string has exactly one encoding). nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

std::string hex_encode(std::string_view bytes);  // lower case

std::string sha256(std::string_view bytes);                               // 32 raw bytes
std::string hmac_sha256(std::string_view key, std::string_view message);  // 32 raw bytes

// Cryptographically secure random bytes (RAND_bytes). Aborts only if the CSPRNG itself fails.
std::string random_bytes(std::size_t count);

// Compares in time that depends on the lengths only, never on where the first difference is.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace airlock::gateway::auth
