// The embedded default's static bearer tokens (local use, `tokens:` in the configuration): opaque strings
// mapped to a user and roles. Compared in constant time: the presented token and each configured one are
// hashed with SHA-256 and every entry is compared, so neither the position of a difference nor which
// entry matched shows in the timing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/auth/identity.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway::auth {

struct StaticToken {
  std::string token;
  std::string user;
  std::vector<std::string> roles;
};

class StaticTokenAuthenticator {
 public:
  explicit StaticTokenAuthenticator(const std::vector<StaticToken>& tokens);
  // Identity{subject = preferred_username = user, roles, issuer = "static", expires_at = 0}.
  runtime::Result<Identity> authenticate(std::string_view token) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string digest;  // SHA-256 of the token
    Identity identity;
  };
  std::vector<Entry> entries_;
};

// The credentials of an `Authorization` header: "Bearer <token>" (scheme case-insensitive), else nullopt.
std::optional<std::string_view> bearer_token(std::string_view authorization_header);

// Static tokens first (cheap, local), then, when the token looks like a JWT (three dot-separated parts)
// and a verifier is configured, OIDC. Either may be absent. Thread-safe.
class JwtVerifier;
class BearerAuthenticator {
 public:
  BearerAuthenticator(const StaticTokenAuthenticator* static_tokens, const JwtVerifier* jwt)
      : static_tokens_(static_tokens), jwt_(jwt) {}
  runtime::Result<Identity> authenticate(std::string_view authorization_header, UnixMillis now) const;

 private:
  const StaticTokenAuthenticator* static_tokens_;
  const JwtVerifier* jwt_;
};

}  // namespace airlock::gateway::auth
