// Who sends a request: static bearer tokens from the configuration (the embedded default).
#include <openssl/crypto.h>

#include "service.h"

namespace airlock::gateway::server {

std::variant<Principal, Response> Service::authenticate(const RequestHeader& header) const {
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  auto unauthorized = [&](std::string_view message) {
    Response response = error_response(401, "unauthorized", message, version, keep_alive);
    response.set(http::field::www_authenticate, "Bearer realm=\"airlock\"");
    return response;
  };
  auto it = header.find(http::field::authorization);
  if (it == header.end()) return unauthorized("a bearer token is required (Authorization: Bearer TOKEN)");
  std::string_view value = it->value();
  if (value.size() < 7 || !(value.substr(0, 7) == "Bearer " || value.substr(0, 7) == "bearer ")) {
    return unauthorized("the Authorization header must be `Bearer TOKEN`");
  }
  std::string_view token = value.substr(7);
  // Compare against every token in constant time, so timing says nothing about which prefix matched.
  const Principal* found = nullptr;
  for (const auto& [candidate, principal] : tokens_) {
    if (candidate.size() == token.size() && CRYPTO_memcmp(candidate.data(), token.data(), token.size()) == 0) {
      found = &principal;
    }
  }
  if (found == nullptr) return unauthorized("the bearer token is not valid");
  return *found;
}

std::optional<Response> Service::handle_sign_in(const RequestHeader& header, const std::string& body) {
  (void)header;
  (void)body;
  return std::nullopt;
}

}  // namespace airlock::gateway::server
