// Browser sign-in: the OIDC Authorization Code flow with PKCE (S256), state and nonce.
//
//   GET /auth/login      -> OidcClient::begin(): keep the PendingSignIn server-side (SessionStore) under its
//                           state, set a short-lived cookie holding the state, redirect to `url`.
//   GET /auth/callback   -> the query's state must equal the cookie's; SessionStore::take_sign_in(state);
//                           OidcClient::finish(code, pending) exchanges the code (with the code_verifier),
//                           verifies the ID token (nonce) and returns the Identity; then SessionStore::create.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/gateway/auth/http_client.h"
#include "airlock/gateway/auth/identity.h"
#include "airlock/gateway/auth/jwt_verifier.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway::auth {

// RFC 7636: a verifier of 32 random bytes, base64url (43 characters), and its S256 challenge.
struct Pkce {
  std::string verifier;
  std::string challenge;
};
Pkce make_pkce();
std::string pkce_s256_challenge(std::string_view verifier);

struct OidcClientOptions {
  std::string client_id;
  std::string client_secret;  // empty: a public client (token_endpoint_auth_method "none"); else client_secret_basic
  std::string redirect_uri;   // https://airlock.example.org/auth/callback
  std::vector<std::string> scopes{"openid", "profile", "email"};
  std::vector<std::pair<std::string, std::string>> extra_authorization_parameters;  // e.g. {"login_hint", "..."}
};

// What the gateway keeps between the redirect to the provider and the callback.
struct PendingSignIn {
  std::string state;          // 32 random bytes, base64url
  std::string nonce;          // 32 random bytes, base64url; must come back in the ID token
  std::string code_verifier;  // PKCE
  std::string return_to;      // a local path to go back to after sign-in ("/reviews/abc")
  UnixMillis created_at = 0;
};

struct AuthorizationRedirect {
  std::string url;  // where to send the browser
  PendingSignIn pending;
};

struct TokenSet {
  std::string access_token;
  std::string id_token;
  std::string refresh_token;
  std::string token_type;
  std::int64_t expires_in = 0;
};

struct SignedIn {
  Identity identity;  // from the verified ID token (roles from its claims, else from the access token's)
  TokenSet tokens;
};

// Thread-safe (holds no mutable state of its own). The verifier must be configured for the same issuer,
// with client_id set to this client.
class OidcClient {
 public:
  OidcClient(OidcClientOptions options, const JwtVerifier& verifier, HttpClient http);

  // Builds the authorization URL (response_type=code, code_challenge_method=S256, state, nonce).
  // `return_to` is kept only when it is a local path ("/..." but not "//..."), else "/".
  runtime::Result<AuthorizationRedirect> begin(std::string_view return_to, UnixMillis now) const;
  // The token request alone: POST to the token endpoint with the code and the code_verifier.
  runtime::Result<TokenSet> exchange_code(std::string_view code, std::string_view code_verifier, UnixMillis now) const;
  // exchange_code, then the ID token verified (signature, iss, aud = client_id, exp, nonce) into an Identity.
  runtime::Result<SignedIn> finish(std::string_view code, const PendingSignIn& pending, UnixMillis now) const;

 private:
  OidcClientOptions options_;
  const JwtVerifier& verifier_;
  HttpClient http_;
};

// "/reviews?x=1" stays; "https://evil.example", "//evil.example", "/\\evil", "" become "/".
std::string safe_return_path(std::string_view path);

}  // namespace airlock::gateway::auth
