#include "airlock/gateway/auth/jwt_verifier.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "airlock/gateway/auth/crypto.h"

namespace airlock::gateway::auth {
namespace {

using nlohmann::json;
using runtime::Error;
using runtime::Result;
using runtime::Status;

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBuildDeleter {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

struct Jwk {
  std::string kid;
  std::string kty;  // "RSA" or "EC"
  std::string alg;  // may be empty
  std::shared_ptr<EVP_PKEY> key;
};
using KeySet = std::vector<Jwk>;

BnPtr bignum(std::string_view bytes) {
  return BnPtr(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
}

std::shared_ptr<EVP_PKEY> key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  std::shared_ptr<EVP_PKEY> key(raw, PkeyDeleter());
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> check(EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

Result<std::shared_ptr<EVP_PKEY>> rsa_key(const json& jwk) {
  if (!jwk.contains("n") || !jwk["n"].is_string() || !jwk.contains("e") || !jwk["e"].is_string()) {
    return Error{"RSA key without n or e"};
  }
  const auto n = base64url_decode(jwk["n"].get<std::string>());
  const auto e = base64url_decode(jwk["e"].get<std::string>());
  if (!n || !e) return Error{"RSA key with bad base64url in n or e"};
  BnPtr modulus = bignum(*n);
  BnPtr exponent = bignum(*e);
  if (!modulus || !exponent) return Error{"RSA key: out of memory"};
  if (BN_num_bits(modulus.get()) < 2048) {
    return Error{"RSA key of " + std::to_string(BN_num_bits(modulus.get())) + " bits (at least 2048 needed)"};
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBuildDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return Error{"RSA key: cannot build parameters"};
  }
  auto key = key_from_params("RSA", bld.get());
  if (!key) return Error{"RSA key rejected by OpenSSL"};
  return key;
}

Result<std::shared_ptr<EVP_PKEY>> ec_key(const json& jwk) {
  if (!jwk.contains("crv") || jwk["crv"] != "P-256") return Error{"EC key on a curve other than P-256"};
  if (!jwk.contains("x") || !jwk["x"].is_string() || !jwk.contains("y") || !jwk["y"].is_string()) {
    return Error{"EC key without x or y"};
  }
  const auto x = base64url_decode(jwk["x"].get<std::string>());
  const auto y = base64url_decode(jwk["y"].get<std::string>());
  if (!x || !y || x->size() != 32 || y->size() != 32) return Error{"EC key with x or y not 32 bytes of base64url"};
  const std::string point = std::string(1, '\x04') + *x + *y;  // uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBuildDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return Error{"EC key: cannot build parameters"};
  }
  auto key = key_from_params("EC", bld.get());
  if (!key) return Error{"EC key rejected by OpenSSL (not a point on P-256)"};
  return key;
}

// Keys we cannot use (encryption keys, other types, short RSA) are left out; the rest are kept.
Result<KeySet> parse_jwks(std::string_view body) {
  const json document = json::parse(body, nullptr, false);
  if (document.is_discarded() || !document.is_object()) return Error{"JWKS is not a JSON object"};
  if (!document.contains("keys") || !document["keys"].is_array()) return Error{"JWKS has no keys array"};
  KeySet keys;
  for (const json& jwk : document["keys"]) {
    if (!jwk.is_object() || !jwk.contains("kty") || !jwk["kty"].is_string()) continue;
    if (jwk.contains("use") && jwk["use"] != "sig") continue;
    Jwk key;
    key.kty = jwk["kty"].get<std::string>();
    if (jwk.contains("kid") && jwk["kid"].is_string()) key.kid = jwk["kid"].get<std::string>();
    if (jwk.contains("alg") && jwk["alg"].is_string()) key.alg = jwk["alg"].get<std::string>();
    Result<std::shared_ptr<EVP_PKEY>> parsed = Error{"unsupported key type"};
    if (key.kty == "RSA") {
      parsed = rsa_key(jwk);
    } else if (key.kty == "EC") {
      parsed = ec_key(jwk);
    }
    if (!parsed) continue;
    key.key = std::move(*parsed);
    keys.push_back(std::move(key));
  }
  return keys;
}

std::string rfc3339(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 253402300799.0) return std::to_string(seconds);
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

bool verify_signature(const Jwk& key, std::string_view alg, std::string_view signed_part, std::string_view signature) {
  std::string der;
  if (alg == "ES256") {
    // JOSE sends r || s, 32 bytes each; OpenSSL wants an ASN.1 DER ECDSA-Sig-Value.
    if (signature.size() != 64) return false;
    std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> sig(ECDSA_SIG_new());
    BnPtr r = bignum(signature.substr(0, 32));
    BnPtr s = bignum(signature.substr(32));
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
    r.release();  // owned by sig now
    s.release();
    unsigned char* out = nullptr;
    const int length = i2d_ECDSA_SIG(sig.get(), &out);
    if (length <= 0) return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(length));
    OPENSSL_free(out);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_ctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &key_ctx, EVP_sha256(), nullptr, key.key.get()) != 1) return false;
  if (alg == "RS256" && EVP_PKEY_CTX_set_rsa_padding(key_ctx, RSA_PKCS1_PADDING) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

std::string string_claim(const json& claims, const char* name) {
  const auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void add_roles(const json& holder, std::vector<std::string>& roles) {
  if (!holder.is_object()) return;
  const auto it = holder.find("roles");
  if (it == holder.end() || !it->is_array()) return;
  for (const json& role : *it) {
    if (role.is_string()) roles.push_back(role.get<std::string>());
  }
}

std::string join_json(const json& value) { return value.dump(); }

std::string without_trailing_slash(std::string_view text) {
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  return std::string(text);
}

struct TokenKind {
  bool id_token = false;
  std::string_view nonce;
};

}  // namespace

struct JwtVerifier::State {
  explicit State(JwtVerifierOptions o) : options(std::move(o)), http(options.http) {}

  JwtVerifierOptions options;
  HttpClient http;

  mutable std::mutex mutex;  // guards everything below but the fetch lock and the counter
  std::shared_ptr<const KeySet> keys;
  UnixMillis keys_fetched_at = 0;
  std::optional<UnixMillis> last_fetch_attempt;
  std::optional<ProviderMetadata> metadata;

  mutable std::mutex fetch_mutex;  // one fetch at a time
  mutable std::atomic<std::size_t> fetches{0};

  Result<ProviderMetadata> discover() const {
    const std::string url = without_trailing_slash(options.issuer) + "/.well-known/openid-configuration";
    auto response = http.send({"GET", url, {{"Accept", "application/json"}}, ""});
    if (!response) return Error{"OIDC discovery failed: " + response.message()};
    if (response->status != 200) {
      return Error{"OIDC discovery failed: " + url + " answered HTTP " + std::to_string(response->status)};
    }
    const json document = json::parse(response->body, nullptr, false);
    if (document.is_discarded() || !document.is_object()) return Error{"OIDC discovery: " + url + " is not JSON"};
    ProviderMetadata metadata;
    metadata.issuer = string_claim(document, "issuer");
    metadata.authorization_endpoint = string_claim(document, "authorization_endpoint");
    metadata.token_endpoint = string_claim(document, "token_endpoint");
    metadata.jwks_uri = string_claim(document, "jwks_uri");
    metadata.end_session_endpoint = string_claim(document, "end_session_endpoint");
    if (metadata.issuer != options.issuer) {
      return Error{"OIDC discovery: the document's issuer \"" + metadata.issuer + "\" is not the configured \"" +
                   options.issuer + "\""};
    }
    if (metadata.jwks_uri.empty()) return Error{"OIDC discovery: " + url + " has no jwks_uri"};
    return metadata;
  }

  Result<ProviderMetadata> provider_metadata() {
    {
      std::lock_guard lock(mutex);
      if (metadata) return *metadata;
    }
    auto fetched = discover();
    if (!fetched) return fetched;
    std::lock_guard lock(mutex);
    metadata = *fetched;
    return *fetched;
  }

  Status fetch_keys(UnixMillis now) {
    fetches.fetch_add(1);
    std::string uri = options.jwks_uri;
    if (uri.empty()) {
      auto found = provider_metadata();
      if (!found) return found.error();
      uri = found->jwks_uri;
    }
    auto response = http.send({"GET", uri, {{"Accept", "application/json"}}, ""});
    if (!response) return Error{"JWKS fetch failed: " + response.message()};
    if (response->status != 200) {
      return Error{"JWKS fetch failed: " + uri + " answered HTTP " + std::to_string(response->status)};
    }
    auto parsed = parse_jwks(response->body);
    if (!parsed) return Error{"JWKS from " + uri + ": " + parsed.message()};
    std::lock_guard lock(mutex);
    keys = std::make_shared<const KeySet>(std::move(*parsed));
    keys_fetched_at = now;
    return Status::ok();
  }

  // Fetches unless another fetch was attempted less than jwks_refetch_interval ago (or `force`).
  // "Ago" counts both ways: callers' clocks may differ by a little (threads read the time before they
  // queue here), and a clock that jumped back further than the interval allows a fetch again.
  // Returns whether a fetch happened, and its error if it failed.
  std::pair<bool, Status> maybe_fetch(UnixMillis now, bool force) {
    std::lock_guard fetch_lock(fetch_mutex);
    {
      std::lock_guard lock(mutex);
      const UnixMillis interval = std::chrono::milliseconds(options.jwks_refetch_interval).count();
      const UnixMillis since = last_fetch_attempt ? now - *last_fetch_attempt : 0;
      if (!force && last_fetch_attempt && since < interval && -since < interval) {
        return {false, Status::ok()};
      }
      last_fetch_attempt = now;
    }
    return {true, fetch_keys(now)};
  }

  std::shared_ptr<const KeySet> snapshot(UnixMillis* fetched_at = nullptr) const {
    std::lock_guard lock(mutex);
    if (fetched_at) *fetched_at = keys_fetched_at;
    return keys;
  }

  Result<Jwk> find_key(const KeySet& set, const std::string& kid, bool has_kid, const std::string& alg) const {
    const std::string wanted_kty = alg == "ES256" ? "EC" : "RSA";
    if (has_kid) {
      for (const Jwk& key : set) {
        if (key.kid != kid) continue;
        if (key.kty != wanted_kty) {
          return Error{"token algorithm " + alg + " does not fit key \"" + kid + "\" of type " + key.kty};
        }
        if (!key.alg.empty() && key.alg != alg) {
          return Error{"token algorithm " + alg + " does not match key \"" + kid + "\"'s algorithm " + key.alg};
        }
        return key;
      }
      return Error{"unknown signing key kid \"" + kid + "\""};
    }
    std::vector<const Jwk*> candidates;
    for (const Jwk& key : set) {
      if (key.kty == wanted_kty && (key.alg.empty() || key.alg == alg)) candidates.push_back(&key);
    }
    if (candidates.size() == 1) return *candidates.front();
    return Error{"token has no kid and the JWKS holds " + std::to_string(candidates.size()) + " keys for " + alg};
  }

  Result<Jwk> key_for(const std::string& kid, bool has_kid, const std::string& alg, UnixMillis now) {
    UnixMillis fetched_at = 0;
    auto keys_now = snapshot(&fetched_at);
    bool fetched = false;
    Status fetch_status;
    const UnixMillis max_age = std::chrono::milliseconds(options.jwks_max_age).count();
    if (!keys_now || now - fetched_at >= max_age) {
      std::tie(fetched, fetch_status) = maybe_fetch(now, false);
      keys_now = snapshot();
    }
    if (!keys_now) {
      if (!fetch_status) return Error{"no signing keys: " + fetch_status.message()};
      return Error{"no signing keys yet (the last JWKS fetch failed; next try after the refetch interval)"};
    }
    auto key = find_key(*keys_now, kid, has_kid, alg);
    if (key || fetched) {
      if (!key && !fetch_status) return Error{key.message() + " (JWKS refetch failed: " + fetch_status.message() + ")"};
      return key;
    }
    // A kid we do not know: the provider may have rotated its keys. Refetch, but not more often than allowed.
    std::tie(fetched, fetch_status) = maybe_fetch(now, false);
    if (!fetched) {
      return Error{key.message() + " (JWKS refetched less than " +
                   std::to_string(options.jwks_refetch_interval.count()) + " s ago)"};
    }
    if (!fetch_status) return Error{key.message() + " (JWKS refetch failed: " + fetch_status.message() + ")"};
    keys_now = snapshot();
    return find_key(*keys_now, kid, has_kid, alg);
  }

  Result<Identity> verify(std::string_view token, UnixMillis now, const TokenKind& kind) {
    if (token.empty()) return Error{"empty token"};
    if (token.size() > options.max_token_bytes) {
      return Error{"token of " + std::to_string(token.size()) + " bytes is over the limit"};
    }
    const auto first_dot = token.find('.');
    const auto second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
      return Error{"token is not a JWS in compact form (three dot-separated parts)"};
    }
    const auto header_bytes = base64url_decode(token.substr(0, first_dot));
    const auto payload_bytes = base64url_decode(token.substr(first_dot + 1, second_dot - first_dot - 1));
    const auto signature = base64url_decode(token.substr(second_dot + 1));
    if (!header_bytes) return Error{"token header is not base64url"};
    if (!payload_bytes) return Error{"token payload is not base64url"};
    if (!signature) return Error{"token signature is not base64url"};

    const json header = json::parse(*header_bytes, nullptr, false);
    if (header.is_discarded() || !header.is_object()) return Error{"token header is not a JSON object"};
    if (!header.contains("alg") || !header["alg"].is_string()) return Error{"token header has no alg"};
    const std::string alg = header["alg"].get<std::string>();
    const bool supported = alg == "RS256" || alg == "ES256";
    if (!supported ||
        std::find(options.algorithms.begin(), options.algorithms.end(), alg) == options.algorithms.end()) {
      return Error{"token algorithm \"" + alg + "\" is not allowed"};
    }
    if (header.contains("crit")) return Error{"token header has crit: no critical extension is supported"};
    const bool has_kid = header.contains("kid");
    if (has_kid && !header["kid"].is_string()) return Error{"token header kid is not a string"};
    const std::string kid = has_kid ? header["kid"].get<std::string>() : std::string();
    if (signature->empty()) return Error{"token has no signature"};

    auto key = key_for(kid, has_kid, alg, now);
    if (!key) return key.error();
    if (!verify_signature(*key, alg, token.substr(0, second_dot), *signature)) {
      return Error{"token signature does not verify with key \"" + key->kid + "\""};
    }

    const json claims = json::parse(*payload_bytes, nullptr, false);
    if (claims.is_discarded() || !claims.is_object()) return Error{"token payload is not a JSON object"};
    return check_claims(claims, now, kind);
  }

  Result<Identity> check_claims(const json& claims, UnixMillis now, const TokenKind& kind) const {
    const std::string issuer = string_claim(claims, "iss");
    if (issuer != options.issuer) {
      return Error{"issuer \"" + issuer + "\" is not the configured \"" + options.issuer + "\""};
    }
    const double now_seconds = static_cast<double>(now) / 1000.0;
    const double leeway = static_cast<double>(options.leeway.count());
    const auto exp = claims.find("exp");
    if (exp == claims.end()) return Error{"token has no exp"};
    if (!exp->is_number()) return Error{"token exp is not a number"};
    const double expires = exp->get<double>();
    if (!(now_seconds <= expires + leeway)) {
      return Error{"token expired at " + rfc3339(expires) + " (now " + rfc3339(now_seconds) + ")"};
    }
    if (const auto nbf = claims.find("nbf"); nbf != claims.end()) {
      if (!nbf->is_number()) return Error{"token nbf is not a number"};
      if (now_seconds + leeway < nbf->get<double>()) {
        return Error{"token not valid before " + rfc3339(nbf->get<double>()) + " (now " + rfc3339(now_seconds) + ")"};
      }
    }
    if (const auto iat = claims.find("iat"); iat != claims.end()) {
      if (!iat->is_number()) return Error{"token iat is not a number"};
      if (now_seconds + leeway < iat->get<double>()) {
        return Error{"token issued in the future, at " + rfc3339(iat->get<double>())};
      }
    }

    std::vector<std::string> audience;
    if (const auto aud = claims.find("aud"); aud != claims.end()) {
      if (aud->is_string()) {
        audience.push_back(aud->get<std::string>());
      } else if (aud->is_array()) {
        for (const json& entry : *aud) {
          if (entry.is_string()) audience.push_back(entry.get<std::string>());
        }
      }
    }
    const std::vector<std::string> accepted =
        kind.id_token ? std::vector<std::string>{options.client_id} : options.audiences;
    const bool audience_ok = std::any_of(accepted.begin(), accepted.end(), [&](const std::string& wanted) {
      return !wanted.empty() && std::find(audience.begin(), audience.end(), wanted) != audience.end();
    });
    if (!audience_ok) {
      return Error{"audience " + join_json(json(audience)) + " does not include " +
                   (accepted.size() == 1 ? accepted.front() : join_json(json(accepted)))};
    }
    const std::string azp = string_claim(claims, "azp");
    if (kind.id_token) {
      if (audience.size() > 1 && azp.empty()) return Error{"ID token with several audiences has no azp"};
      if (!azp.empty() && azp != options.client_id) {
        return Error{"authorized party \"" + azp + "\" is not " + options.client_id};
      }
      const std::string nonce = string_claim(claims, "nonce");
      if (nonce.empty() || !constant_time_equals(nonce, kind.nonce)) return Error{"ID token nonce does not match"};
    } else {
      if (!azp.empty() && !options.authorized_parties.empty() &&
          std::find(options.authorized_parties.begin(), options.authorized_parties.end(), azp) ==
              options.authorized_parties.end()) {
        return Error{"authorized party \"" + azp + "\" is not one of " + join_json(json(options.authorized_parties))};
      }
      // Keycloak marks its ID tokens typ "ID": one must not pass as an access token.
      if (string_claim(claims, "typ") == "ID") return Error{"an ID token is not an access token"};
    }

    Identity identity;
    identity.subject = string_claim(claims, "sub");
    if (identity.subject.empty()) return Error{"token has no sub"};
    identity.preferred_username = string_claim(claims, "preferred_username");
    identity.email = string_claim(claims, "email");
    identity.name = string_claim(claims, "name");
    identity.issuer = issuer;
    identity.expires_at = static_cast<UnixMillis>(std::min(expires, 9.2e15 / 1000.0) * 1000.0);
    if (const auto realm = claims.find("realm_access"); realm != claims.end()) add_roles(*realm, identity.roles);
    if (const auto resources = claims.find("resource_access"); resources != claims.end() && resources->is_object()) {
      std::vector<std::string> clients = options.role_clients;
      if (!options.client_id.empty()) clients.push_back(options.client_id);
      for (const std::string& client : clients) {
        if (const auto entry = resources->find(client); entry != resources->end()) add_roles(*entry, identity.roles);
      }
    }
    std::sort(identity.roles.begin(), identity.roles.end());
    identity.roles.erase(std::unique(identity.roles.begin(), identity.roles.end()), identity.roles.end());
    return identity;
  }
};

JwtVerifier::JwtVerifier(JwtVerifierOptions options) : state_(std::make_unique<State>(std::move(options))) {}
JwtVerifier::~JwtVerifier() = default;

Result<Identity> JwtVerifier::verify(std::string_view token, UnixMillis now) const {
  return state_->verify(token, now, TokenKind{});
}

Result<Identity> JwtVerifier::verify_id_token(std::string_view token, std::string_view nonce, UnixMillis now) const {
  if (nonce.empty()) return Error{"no nonce to check the ID token against"};
  if (state_->options.client_id.empty()) return Error{"no client_id configured to check the ID token's audience"};
  return state_->verify(token, now, TokenKind{true, nonce});
}

Result<ProviderMetadata> JwtVerifier::provider_metadata(UnixMillis) const { return state_->provider_metadata(); }

Status JwtVerifier::refresh_keys(UnixMillis now) const { return state_->maybe_fetch(now, true).second; }

std::size_t JwtVerifier::jwks_fetches() const { return state_->fetches.load(); }

const JwtVerifierOptions& JwtVerifier::options() const { return state_->options; }

bool Identity::has_role(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

}  // namespace airlock::gateway::auth
