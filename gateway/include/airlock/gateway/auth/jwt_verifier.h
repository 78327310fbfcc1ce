// Verifies OIDC bearer tokens (Keycloak in production) against the issuer's published keys.
//
//   JwtVerifierOptions options;
//   options.issuer = "https://keycloak.example.org/realms/sde";
//   options.audiences = {"airlock"};
//   options.client_id = "airlock";          // roles from resource_access.airlock.roles
//   JwtVerifier verifier(options);
//   Result<Identity> who = verifier.verify(token, now_millis);   // error: log it, answer 401
//
// Keys come from the JWKS that `<issuer>/.well-known/openid-configuration` names (`jwks_uri`), fetched on
// first use, kept, refreshed after `jwks_max_age`, and refetched when a token names an unknown `kid` but at
// most once per `jwks_refetch_interval` (so a flood of made-up kids cannot turn into a flood of requests).
// Only the algorithms in `algorithms` (RS256, ES256) are accepted; the token's `alg` must also match the
// key's type and the key's own `alg` when the JWKS gives one: `none` and HS* never verify. Error messages
// say exactly what failed, for the logs; the HTTP layer answers only 401.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/auth/http_client.h"
#include "airlock/gateway/auth/identity.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway::auth {

struct JwtVerifierOptions {
  std::string issuer;                  // compared exactly with `iss` and with the discovery document's issuer
  std::vector<std::string> audiences;  // `aud` must contain one of them
  // `azp`, when the token has one, must be one of these (empty: not checked). Keycloak puts the client that
  // asked for the token there.
  std::vector<std::string> authorized_parties;
  std::string client_id;                  // the OIDC client (ID tokens' `aud`); its resource_access roles count
  std::vector<std::string> role_clients;  // more resource_access.<client> entries whose roles count
  std::chrono::seconds leeway{60};        // clock skew allowed on exp, nbf and iat
  std::vector<std::string> algorithms{"RS256", "ES256"};  // a subset of these two; anything else is refused
  std::string jwks_uri;                                   // skips discovery when set
  std::chrono::seconds jwks_refetch_interval{30};
  std::chrono::seconds jwks_max_age{3600};
  std::size_t max_token_bytes = 16u << 10;
  HttpClientOptions http;
};

// The endpoints a relying party needs, from the discovery document.
struct ProviderMetadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string end_session_endpoint;  // may be empty
};

// Thread-safe. Fetches happen under a lock of their own, so concurrent requests for an unknown kid wait
// for one fetch instead of each making one; verifications with known keys never wait for a fetch.
class JwtVerifier {
 public:
  explicit JwtVerifier(JwtVerifierOptions options);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // An access token (the `Authorization: Bearer` value, without the scheme).
  runtime::Result<Identity> verify(std::string_view token, UnixMillis now) const;
  // An ID token from the token endpoint: as verify(), and `aud` must contain client_id, `azp` (if any)
  // must be client_id, and `nonce` must equal the one sent in the authorization request.
  runtime::Result<Identity> verify_id_token(std::string_view token, std::string_view nonce, UnixMillis now) const;

  // The discovery document (fetched once, then kept; a failed fetch is retried on the next call).
  runtime::Result<ProviderMetadata> provider_metadata(UnixMillis now) const;
  // Fetches the JWKS now (at start-up, to fail early on a wrong issuer). Ignores the rate limit.
  runtime::Status refresh_keys(UnixMillis now) const;
  // How many times the JWKS was fetched (successfully or not): for tests and metrics.
  std::size_t jwks_fetches() const;

  const JwtVerifierOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace airlock::gateway::auth
