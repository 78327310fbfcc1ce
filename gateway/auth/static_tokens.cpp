#include "airlock/gateway/auth/static_tokens.h"

#include <algorithm>
#include <cctype>

#include "airlock/gateway/auth/crypto.h"
#include "airlock/gateway/auth/jwt_verifier.h"

namespace airlock::gateway::auth {

using runtime::Error;
using runtime::Result;

StaticTokenAuthenticator::StaticTokenAuthenticator(const std::vector<StaticToken>& tokens) {
  for (const StaticToken& token : tokens) {
    if (token.token.empty()) continue;  // an empty token would match an empty credential
    Entry entry;
    entry.digest = sha256(token.token);
    entry.identity.subject = token.user;
    entry.identity.preferred_username = token.user;
    entry.identity.roles = token.roles;
    std::sort(entry.identity.roles.begin(), entry.identity.roles.end());
    entry.identity.roles.erase(std::unique(entry.identity.roles.begin(), entry.identity.roles.end()),
                               entry.identity.roles.end());
    entry.identity.issuer = "static";
    entries_.push_back(std::move(entry));
  }
}

Result<Identity> StaticTokenAuthenticator::authenticate(std::string_view token) const {
  // Every entry is compared, whatever matched before: the time taken does not say which entry matched.
  const std::string digest = sha256(token);
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    if (constant_time_equals(entry.digest, digest) && found == nullptr) found = &entry;
  }
  if (token.empty() || found == nullptr) return Error{"unknown static token"};
  return found->identity;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || header[kScheme.size()] != ' ') return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.find(' ') != std::string_view::npos) return std::nullopt;
  return token;
}

Result<Identity> BearerAuthenticator::authenticate(std::string_view authorization_header, UnixMillis now) const {
  const auto token = bearer_token(authorization_header);
  if (!token) return Error{"no bearer token in the Authorization header"};
  if (static_tokens_ != nullptr && !static_tokens_->empty()) {
    auto identity = static_tokens_->authenticate(*token);
    if (identity) return identity;
  }
  const bool looks_like_jwt = std::count(token->begin(), token->end(), '.') == 2;
  if (jwt_ != nullptr && looks_like_jwt) return jwt_->verify(*token, now);
  if (jwt_ == nullptr) return Error{"unknown static token"};
  return Error{"unknown static token, and not a JWT"};
}

}  // namespace airlock::gateway::auth
