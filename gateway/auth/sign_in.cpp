#include "airlock/gateway/auth/sign_in.h"

#include <nlohmann/json.hpp>

#include "airlock/gateway/auth/crypto.h"

namespace airlock::gateway::auth {

using nlohmann::json;
using runtime::Error;
using runtime::Result;

Pkce make_pkce() {
  Pkce pkce;
  pkce.verifier = base64url_encode(random_bytes(32));
  pkce.challenge = pkce_s256_challenge(pkce.verifier);
  return pkce;
}

std::string pkce_s256_challenge(std::string_view verifier) { return base64url_encode(sha256(verifier)); }

std::string safe_return_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 2048) return "/";
  if (path.size() > 1 && (path[1] == '/' || path[1] == '\\')) return "/";  // "//host" is another site
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '\\') return "/";
  }
  return std::string(path);
}

OidcClient::OidcClient(OidcClientOptions options, const JwtVerifier& verifier, HttpClient http)
    : options_(std::move(options)), verifier_(verifier), http_(std::move(http)) {}

Result<AuthorizationRedirect> OidcClient::begin(std::string_view return_to, UnixMillis now) const {
  auto metadata = verifier_.provider_metadata(now);
  if (!metadata) return metadata.error();
  if (metadata->authorization_endpoint.empty()) return Error{"the provider names no authorization_endpoint"};
  AuthorizationRedirect redirect;
  const Pkce pkce = make_pkce();
  redirect.pending.state = base64url_encode(random_bytes(32));
  redirect.pending.nonce = base64url_encode(random_bytes(32));
  redirect.pending.code_verifier = pkce.verifier;
  redirect.pending.return_to = safe_return_path(return_to);
  redirect.pending.created_at = now;

  std::string scope;
  for (const std::string& entry : options_.scopes) scope += (scope.empty() ? "" : " ") + entry;
  std::vector<std::pair<std::string, std::string>> query = {
      {"response_type", "code"},
      {"client_id", options_.client_id},
      {"redirect_uri", options_.redirect_uri},
      {"scope", scope},
      {"state", redirect.pending.state},
      {"nonce", redirect.pending.nonce},
      {"code_challenge", pkce.challenge},
      {"code_challenge_method", "S256"},
  };
  query.insert(query.end(), options_.extra_authorization_parameters.begin(),
               options_.extra_authorization_parameters.end());
  const std::string& endpoint = metadata->authorization_endpoint;
  redirect.url = endpoint + (endpoint.find('?') == std::string::npos ? "?" : "&") + form_encode(query);
  return redirect;
}

Result<TokenSet> OidcClient::exchange_code(std::string_view code, std::string_view code_verifier,
                                           UnixMillis now) const {
  if (code.empty()) return Error{"no authorization code"};
  auto metadata = verifier_.provider_metadata(now);
  if (!metadata) return metadata.error();
  if (metadata->token_endpoint.empty()) return Error{"the provider names no token_endpoint"};
  std::vector<std::pair<std::string, std::string>> form = {
      {"grant_type", "authorization_code"},
      {"code", std::string(code)},
      {"redirect_uri", options_.redirect_uri},
      {"code_verifier", std::string(code_verifier)},
  };
  HttpRequest request{"POST", metadata->token_endpoint, {}, ""};
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.headers.emplace_back("Accept", "application/json");
  if (options_.client_secret.empty()) {
    form.emplace_back("client_id", options_.client_id);  // a public client: token_endpoint_auth_method none
  } else {
    // client_secret_basic: RFC 6749 2.3.1 form-encodes both parts before base64.
    const std::string credentials = url_encode(options_.client_id) + ":" + url_encode(options_.client_secret);
    std::string basic = base64url_encode(credentials);
    // base64url -> base64 with padding, which Basic requires.
    for (char& c : basic) c = c == '-' ? '+' : (c == '_' ? '/' : c);
    while (basic.size() % 4 != 0) basic += '=';
    request.headers.emplace_back("Authorization", "Basic " + basic);
  }
  request.body = form_encode(form);
  auto response = http_.send(request);
  if (!response) return Error{"token request failed: " + response.message()};
  const json document = json::parse(response->body, nullptr, false);
  if (response->status != 200) {
    std::string detail;
    if (!document.is_discarded() && document.is_object()) {
      detail = document.value("error", std::string()) + ": " + document.value("error_description", std::string());
    }
    return Error{"token request answered HTTP " + std::to_string(response->status) +
                 (detail.empty() ? std::string() : " (" + detail + ")")};
  }
  if (document.is_discarded() || !document.is_object()) return Error{"token response is not a JSON object"};
  TokenSet tokens;
  const auto text = [&](const char* name) {
    const auto it = document.find(name);
    return it != document.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  tokens.access_token = text("access_token");
  tokens.id_token = text("id_token");
  tokens.refresh_token = text("refresh_token");
  tokens.token_type = text("token_type");
  if (const auto it = document.find("expires_in"); it != document.end() && it->is_number_integer()) {
    tokens.expires_in = it->get<std::int64_t>();
  }
  if (tokens.id_token.empty()) return Error{"token response has no id_token (is the openid scope requested?)"};
  return tokens;
}

Result<SignedIn> OidcClient::finish(std::string_view code, const PendingSignIn& pending, UnixMillis now) const {
  auto tokens = exchange_code(code, pending.code_verifier, now);
  if (!tokens) return tokens.error();
  auto identity = verifier_.verify_id_token(tokens->id_token, pending.nonce, now);
  if (!identity) return Error{"ID token rejected: " + identity.message()};
  SignedIn result{std::move(*identity), std::move(*tokens)};
  // Keycloak puts roles in the access token by default, not always in the ID token: take them from there
  // when the access token is a JWT for us that verifies and names the same subject.
  if (!result.tokens.access_token.empty()) {
    auto access = verifier_.verify(result.tokens.access_token, now);
    if (access && access->subject == result.identity.subject) {
      std::vector<std::string> roles = result.identity.roles;
      roles.insert(roles.end(), access->roles.begin(), access->roles.end());
      std::sort(roles.begin(), roles.end());
      roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
      result.identity.roles = std::move(roles);
    }
  }
  return result;
}

}  // namespace airlock::gateway::auth
