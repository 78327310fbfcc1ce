// Who made a request: the result of every authenticator (OIDC bearer token, browser session, static token).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace airlock::gateway::auth {

using UnixMillis = std::int64_t;

struct Identity {
  std::string subject;             // `sub` (the static token's user for static tokens)
  std::string preferred_username;  // `preferred_username`, else the subject: the name the audit log records
  std::string email;
  std::string name;
  std::vector<std::string> roles;  // realm roles and the configured clients' roles; sorted, without repeats
  std::string issuer;              // `iss`; "static" for a static token
  UnixMillis expires_at = 0;       // `exp` in milliseconds; 0 for a static token (it does not expire)

  bool has_role(std::string_view role) const;
  // preferred_username when set, else subject.
  const std::string& user() const { return preferred_username.empty() ? subject : preferred_username; }
};

}  // namespace airlock::gateway::auth
