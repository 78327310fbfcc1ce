// The verifier against a JWKS served by a local server, with keys made in the test: every token that must be
// refused is refused with the reason in the message, and key rotation refetches within the rate limit.
#include "airlock/gateway/auth/jwt_verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "airlock/gateway/auth/crypto.h"
#include "airlock/gateway/auth/static_tokens.h"
#include "test_http_server.h"
#include "test_jwt_signer.h"

namespace airlock::gateway::auth {
namespace {

using nlohmann::json;
using testing::TestHttpServer;
using testing::TestKey;
using testing::TestRequest;
using testing::TestResponse;
using testing::unsigned_token;

constexpr UnixMillis kNow = 1'750'000'000'000;  // 2025-06-15
constexpr std::int64_t kNowSeconds = kNow / 1000;

// A provider: discovery and a JWKS whose keys the test can change.
class FakeProvider {
 public:
  FakeProvider() : server_([this](const TestRequest& request) { return handle(request); }) {}

  std::string issuer() const { return server_.url("/realms/sde"); }
  void publish(std::vector<json> keys) {
    std::lock_guard lock(mutex_);
    keys_ = std::move(keys);
  }
  int jwks_requests() const {
    std::lock_guard lock(mutex_);
    return jwks_requests_;
  }
  void set_discovery_issuer(std::string issuer) {
    std::lock_guard lock(mutex_);
    discovery_issuer_ = std::move(issuer);
  }

 private:
  TestResponse handle(const TestRequest& request) {
    std::lock_guard lock(mutex_);
    if (request.target == "/realms/sde/.well-known/openid-configuration") {
      const json document = {{"issuer", discovery_issuer_.empty() ? issuer() : discovery_issuer_},
                             {"jwks_uri", issuer() + "/protocol/openid-connect/certs"},
                             {"authorization_endpoint", issuer() + "/protocol/openid-connect/auth"},
                             {"token_endpoint", issuer() + "/protocol/openid-connect/token"}};
      return {200, {{"Content-Type", "application/json"}}, document.dump()};
    }
    if (request.target == "/realms/sde/protocol/openid-connect/certs") {
      ++jwks_requests_;
      return {200, {{"Content-Type", "application/json"}}, json{{"keys", keys_}}.dump()};
    }
    return {404, {}, "not found"};
  }

  mutable std::mutex mutex_;
  std::vector<json> keys_;
  int jwks_requests_ = 0;
  std::string discovery_issuer_;
  TestHttpServer server_;  // last: stopped first
};

class JwtVerifierTest : public ::testing::Test {
 protected:
  JwtVerifierTest() : rsa_(TestKey::rsa("rsa-1")), ec_(TestKey::ec("ec-1")) {
    provider_.publish({rsa_.jwk(), ec_.jwk()});
  }

  JwtVerifierOptions options() const {
    JwtVerifierOptions options;
    options.issuer = provider_.issuer();
    options.audiences = {"airlock"};
    options.authorized_parties = {"airlock-web", "airlock"};
    options.client_id = "airlock";
    options.http.allow_http_loopback = true;
    options.http.timeout = std::chrono::seconds(5);
    return options;
  }

  json claims() const {
    return {{"iss", provider_.issuer()},
            {"sub", "f3a9c2d0-7d1e-4b55-9e0a-0c1d2e3f4a5b"},
            {"aud", json::array({"airlock", "account"})},
            {"azp", "airlock-web"},
            {"exp", kNowSeconds + 300},
            {"iat", kNowSeconds - 10},
            {"nbf", kNowSeconds - 10},
            {"preferred_username", "alice"},
            {"email", "alice@example.org"},
            {"name", "Alice Example"},
            {"realm_access", {{"roles", {"researcher", "offline_access"}}}},
            {"resource_access",
             {{"airlock", {{"roles", {"data-approver"}}}}, {"other-app", {{"roles", {"platform-admin"}}}}}}};
  }

  std::string refusal(const std::string& token, UnixMillis now = kNow) {
    JwtVerifier verifier(options());
    auto result = verifier.verify(token, now);
    EXPECT_FALSE(result.is_ok()) << "accepted: " << token;
    return result.is_ok() ? std::string() : result.message();
  }

  FakeProvider provider_;
  TestKey rsa_;
  TestKey ec_;
};

TEST_F(JwtVerifierTest, AcceptsAnRs256TokenAndReadsWhoItIs) {
  JwtVerifier verifier(options());
  auto identity = verifier.verify(rsa_.sign({}, claims()), kNow);
  ASSERT_TRUE(identity.is_ok()) << identity.message();
  EXPECT_EQ(identity->subject, "f3a9c2d0-7d1e-4b55-9e0a-0c1d2e3f4a5b");
  EXPECT_EQ(identity->preferred_username, "alice");
  EXPECT_EQ(identity->user(), "alice");
  EXPECT_EQ(identity->email, "alice@example.org");
  EXPECT_EQ(identity->name, "Alice Example");
  EXPECT_EQ(identity->issuer, provider_.issuer());
  EXPECT_EQ(identity->expires_at, (kNowSeconds + 300) * 1000);
}

TEST_F(JwtVerifierTest, TakesRolesFromTheRealmAndFromThisClientOnly) {
  JwtVerifier verifier(options());
  auto identity = verifier.verify(rsa_.sign({}, claims()), kNow);
  ASSERT_TRUE(identity.is_ok()) << identity.message();
  EXPECT_EQ(identity->roles, (std::vector<std::string>{"data-approver", "offline_access", "researcher"}));
  EXPECT_FALSE(identity->has_role("platform-admin"));
}

TEST_F(JwtVerifierTest, AcceptsAnEs256Token) {
  JwtVerifier verifier(options());
  auto identity = verifier.verify(ec_.sign({}, claims()), kNow);
  ASSERT_TRUE(identity.is_ok()) << identity.message();
  EXPECT_TRUE(identity->has_role("researcher"));
}

TEST_F(JwtVerifierTest, FetchesTheKeysOnceForManyTokens) {
  JwtVerifier verifier(options());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(verifier.verify(rsa_.sign({}, claims()), kNow + i).is_ok());
  EXPECT_EQ(provider_.jwks_requests(), 1);
  EXPECT_EQ(verifier.jwks_fetches(), 1u);
}

TEST_F(JwtVerifierTest, RefusesAnExpiredToken) {
  json payload = claims();
  payload["exp"] = kNowSeconds - 120;
  EXPECT_EQ(refusal(rsa_.sign({}, payload)), "token expired at 2025-06-15T15:04:40Z (now 2025-06-15T15:06:40Z)");
}

TEST_F(JwtVerifierTest, AllowsClockSkewWithinTheLeeway) {
  json payload = claims();
  payload["exp"] = kNowSeconds - 30;
  payload["nbf"] = kNowSeconds + 30;
  JwtVerifier verifier(options());
  EXPECT_TRUE(verifier.verify(rsa_.sign({}, payload), kNow).is_ok());
}

TEST_F(JwtVerifierTest, RefusesATokenNotYetValid) {
  json payload = claims();
  payload["nbf"] = kNowSeconds + 600;
  EXPECT_NE(refusal(rsa_.sign({}, payload)).find("token not valid before 2025-06-15T15:16:40Z"), std::string::npos);
}

TEST_F(JwtVerifierTest, RefusesATokenIssuedInTheFuture) {
  json payload = claims();
  payload["iat"] = kNowSeconds + 600;
  EXPECT_NE(refusal(rsa_.sign({}, payload)).find("issued in the future"), std::string::npos);
}

TEST_F(JwtVerifierTest, RefusesATokenWithoutExp) {
  json payload = claims();
  payload.erase("exp");
  EXPECT_EQ(refusal(rsa_.sign({}, payload)), "token has no exp");
}

TEST_F(JwtVerifierTest, RefusesTheWrongAudience) {
  json payload = claims();
  payload["aud"] = "account";
  EXPECT_EQ(refusal(rsa_.sign({}, payload)), "audience [\"account\"] does not include airlock");
}

TEST_F(JwtVerifierTest, RefusesTheWrongIssuer) {
  json payload = claims();
  payload["iss"] = provider_.issuer() + "/";
  EXPECT_NE(refusal(rsa_.sign({}, payload)).find("is not the configured"), std::string::npos);
}

TEST_F(JwtVerifierTest, RefusesAnAuthorizedPartyNotConfigured) {
  json payload = claims();
  payload["azp"] = "some-other-client";
  EXPECT_NE(refusal(rsa_.sign({}, payload)).find("authorized party \"some-other-client\""), std::string::npos);
}

TEST_F(JwtVerifierTest, RefusesAnUnknownKid) {
  const TestKey stranger = TestKey::rsa("never-published");
  EXPECT_NE(refusal(stranger.sign({}, claims())).find("unknown signing key kid \"never-published\""),
            std::string::npos);
}

TEST_F(JwtVerifierTest, RefusesAKnownKidSignedWithAnotherKey) {
  const TestKey impostor = TestKey::rsa("rsa-1");
  EXPECT_EQ(refusal(impostor.sign({}, claims())), "token signature does not verify with key \"rsa-1\"");
}

TEST_F(JwtVerifierTest, RefusesAlgNone) {
  EXPECT_EQ(refusal(unsigned_token({{"alg", "none"}, {"typ", "JWT"}}, claims())),
            "token algorithm \"none\" is not allowed");
  EXPECT_EQ(refusal(unsigned_token({{"alg", "none"}, {"kid", "rsa-1"}}, claims(), "x")),
            "token algorithm \"none\" is not allowed");
  EXPECT_EQ(refusal(unsigned_token({{"alg", "None"}}, claims())), "token algorithm \"None\" is not allowed");
}

TEST_F(JwtVerifierTest, RefusesHs256SignedWithTheRsaPublicKey) {
  // The classic confusion attack: the public key (as PEM, or as the JWK's n) used as an HMAC secret.
  const json header = {{"alg", "HS256"}, {"kid", "rsa-1"}, {"typ", "JWT"}};
  const std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims().dump());
  for (const std::string& secret : {rsa_.public_pem(), rsa_.jwk()["n"].get<std::string>()}) {
    const std::string token = input + "." + base64url_encode(hmac_sha256(secret, input));
    EXPECT_EQ(refusal(token), "token algorithm \"HS256\" is not allowed");
  }
}

TEST_F(JwtVerifierTest, RefusesAnAlgorithmThatDoesNotFitTheKey) {
  // An ES256 header naming the RSA key's kid, signed by an EC key.
  const TestKey ec_other = TestKey::ec("rsa-1");
  EXPECT_EQ(refusal(ec_other.sign({}, claims())), "token algorithm ES256 does not fit key \"rsa-1\" of type RSA");
}

TEST_F(JwtVerifierTest, RefusesAnAlgorithmNotInTheConfiguredList) {
  JwtVerifierOptions only_rsa = options();
  only_rsa.algorithms = {"RS256"};
  JwtVerifier verifier(only_rsa);
  auto result = verifier.verify(ec_.sign({}, claims()), kNow);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.message(), "token algorithm \"ES256\" is not allowed");
}

TEST_F(JwtVerifierTest, RefusesATamperedPayload) {
  const std::string token = rsa_.sign({}, claims());
  json changed = claims();
  changed["realm_access"]["roles"] = {"platform-admin"};
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  const std::string tampered = token.substr(0, first + 1) + base64url_encode(changed.dump()) + token.substr(second);
  EXPECT_EQ(refusal(tampered), "token signature does not verify with key \"rsa-1\"");
  // And an EC signature with one bit flipped.
  std::string ec_token = ec_.sign({}, claims());
  const auto sig_at = ec_token.rfind('.') + 1;
  auto signature = *base64url_decode(ec_token.substr(sig_at));
  signature[5] = static_cast<char>(signature[5] ^ 1);
  EXPECT_EQ(refusal(ec_token.substr(0, sig_at) + base64url_encode(signature)),
            "token signature does not verify with key \"ec-1\"");
}

TEST_F(JwtVerifierTest, RefusesCriticalHeaderExtensions) {
  EXPECT_EQ(refusal(rsa_.sign({{"crit", {"exp"}}, {"exp", 1}}, claims())),
            "token header has crit: no critical extension is supported");
}

TEST_F(JwtVerifierTest, RefusesLooseBase64AndMalformedTokens) {
  const std::string token = rsa_.sign({}, claims());
  EXPECT_EQ(refusal(token + "="), "token signature is not base64url");
  EXPECT_EQ(refusal(token + "." + "abc"), "token is not a JWS in compact form (three dot-separated parts)");
  EXPECT_EQ(refusal("not a token"), "token is not a JWS in compact form (three dot-separated parts)");
  EXPECT_EQ(refusal(base64url_encode("[1]") + ".e30.AAAA"), "token header is not a JSON object");
  EXPECT_EQ(refusal(""), "empty token");
}

TEST_F(JwtVerifierTest, RefetchesTheKeysWhenANewKidAppears) {
  JwtVerifier verifier(options());
  ASSERT_TRUE(verifier.verify(rsa_.sign({}, claims()), kNow).is_ok());
  EXPECT_EQ(provider_.jwks_requests(), 1);

  const TestKey rotated = TestKey::rsa("rsa-2");
  provider_.publish({rsa_.jwk(), ec_.jwk(), rotated.jwk()});
  // Past the refetch interval (30 s) since the first fetch, the unknown kid triggers a refetch.
  auto identity = verifier.verify(rotated.sign({}, claims()), kNow + 31'000);
  ASSERT_TRUE(identity.is_ok()) << identity.message();
  EXPECT_EQ(provider_.jwks_requests(), 2);
}

TEST_F(JwtVerifierTest, RefetchesForUnknownKidsAtMostOncePerInterval) {
  JwtVerifier verifier(options());  // jwks_refetch_interval 30 s
  ASSERT_TRUE(verifier.verify(rsa_.sign({}, claims()), kNow).is_ok());
  const TestKey late = TestKey::ec("ec-late");
  // Made-up kids within 30 s of the last fetch: no new request.
  for (int i = 0; i < 5; ++i) {
    auto result = verifier.verify(late.sign({}, claims()), kNow + 1000 * i);
    ASSERT_FALSE(result.is_ok());
    EXPECT_NE(result.message().find("refetched less than 30 s ago"), std::string::npos) << result.message();
  }
  EXPECT_EQ(provider_.jwks_requests(), 1);
  // Once the interval has passed, the key (published meanwhile) is fetched and accepted.
  provider_.publish({rsa_.jwk(), late.jwk()});
  json payload = claims();
  payload["exp"] = kNowSeconds + 3600;
  auto identity = verifier.verify(late.sign({}, payload), kNow + 31'000);
  ASSERT_TRUE(identity.is_ok()) << identity.message();
  EXPECT_EQ(provider_.jwks_requests(), 2);
  // A key removed from the JWKS stays usable until the cache ages out (jwks_max_age), not beyond.
  EXPECT_FALSE(verifier.verify(ec_.sign({}, payload), kNow + 32'000).is_ok());
}

TEST_F(JwtVerifierTest, ManyThreadsWithUnknownKidsCauseOneRefetch) {
  JwtVerifier verifier(options());
  ASSERT_TRUE(verifier.verify(rsa_.sign({}, claims()), kNow).is_ok());
  const TestKey rotated = TestKey::ec("ec-2");
  provider_.publish({rsa_.jwk(), rotated.jwk()});
  const std::string good = rsa_.sign({}, claims());
  const std::string fresh = rotated.sign({}, claims());
  const std::string stranger = TestKey::rsa("made-up").sign({}, claims());
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string& token = (i % 3 == 0) ? stranger : (i % 3 == 1 ? fresh : good);
        auto result = verifier.verify(token, kNow + 31'000 + t);
        (result.is_ok() ? accepted : refused)++;
        if (token == stranger) {
          EXPECT_FALSE(result.is_ok());
        } else {
          EXPECT_TRUE(result.is_ok()) << result.message();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(provider_.jwks_requests(), 2);  // the first fetch and one refetch, whatever the interleaving
  EXPECT_EQ(accepted.load(), 8 * 13);
  EXPECT_EQ(refused.load(), 8 * 7);
}

TEST_F(JwtVerifierTest, DropsKeysThatLeftTheJwksAfterMaxAge) {
  JwtVerifierOptions short_cache = options();
  short_cache.jwks_max_age = std::chrono::seconds(60);
  JwtVerifier verifier(short_cache);
  json payload = claims();
  payload["exp"] = kNowSeconds + 3600;
  ASSERT_TRUE(verifier.verify(rsa_.sign({}, payload), kNow).is_ok());
  provider_.publish({ec_.jwk()});
  EXPECT_TRUE(verifier.verify(rsa_.sign({}, payload), kNow + 59'000).is_ok());
  auto result = verifier.verify(rsa_.sign({}, payload), kNow + 61'000);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find("unknown signing key kid \"rsa-1\""), std::string::npos) << result.message();
  EXPECT_EQ(provider_.jwks_requests(), 2);
}

TEST_F(JwtVerifierTest, VerifiesAnIdTokenAgainstItsNonceAndTheClient) {
  JwtVerifier verifier(options());
  json payload = claims();
  payload["aud"] = "airlock";
  payload["azp"] = "airlock";
  payload["nonce"] = "n-0S6_WzA2Mj";
  const std::string token = rsa_.sign({}, payload);
  EXPECT_TRUE(verifier.verify_id_token(token, "n-0S6_WzA2Mj", kNow).is_ok());
  auto wrong_nonce = verifier.verify_id_token(token, "another", kNow);
  ASSERT_FALSE(wrong_nonce.is_ok());
  EXPECT_EQ(wrong_nonce.message(), "ID token nonce does not match");

  payload["aud"] = "airlock-web";
  auto wrong_client = verifier.verify_id_token(rsa_.sign({}, payload), "n-0S6_WzA2Mj", kNow);
  ASSERT_FALSE(wrong_client.is_ok());
  EXPECT_EQ(wrong_client.message(), "audience [\"airlock-web\"] does not include airlock");
}

TEST_F(JwtVerifierTest, RefusesAKeycloakIdTokenAsAnAccessToken) {
  json payload = claims();
  payload["typ"] = "ID";
  EXPECT_EQ(refusal(rsa_.sign({}, payload)), "an ID token is not an access token");
}

TEST_F(JwtVerifierTest, RefusesADiscoveryDocumentForAnotherIssuer) {
  provider_.set_discovery_issuer("https://evil.example.org/realms/sde");
  const std::string message = refusal(rsa_.sign({}, claims()));
  EXPECT_NE(message.find("the document's issuer \"https://evil.example.org/realms/sde\" is not the configured"),
            std::string::npos)
      << message;
}

TEST_F(JwtVerifierTest, RefusesPlainHttpUnlessAllowed) {
  JwtVerifierOptions strict = options();
  strict.http.allow_http_loopback = false;
  JwtVerifier verifier(strict);
  auto result = verifier.verify(rsa_.sign({}, claims()), kNow);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find("refusing plain http"), std::string::npos) << result.message();
}

TEST_F(JwtVerifierTest, EveryRefusalIsARefusalThroughTheBearerAuthenticator) {
  JwtVerifier verifier(options());
  const StaticTokenAuthenticator static_tokens({{"local-dev-token", "dev", {"researcher"}}});
  const BearerAuthenticator authenticator(&static_tokens, &verifier);
  json expired = claims();
  expired["exp"] = kNowSeconds - 3600;
  json wrong_aud = claims();
  wrong_aud["aud"] = "account";
  const std::vector<std::string> bad = {
      rsa_.sign({}, expired),
      rsa_.sign({}, wrong_aud),
      TestKey::rsa("unknown").sign({}, claims()),
      unsigned_token({{"alg", "none"}}, claims()),
  };
  for (const std::string& token : bad) EXPECT_FALSE(authenticator.authenticate("Bearer " + token, kNow).is_ok());
  auto good = authenticator.authenticate("Bearer " + rsa_.sign({}, claims()), kNow);
  ASSERT_TRUE(good.is_ok()) << good.message();
  EXPECT_EQ(good->user(), "alice");
  auto local = authenticator.authenticate("bearer local-dev-token", kNow);
  ASSERT_TRUE(local.is_ok());
  EXPECT_EQ(local->user(), "dev");
  EXPECT_FALSE(authenticator.authenticate("Basic local-dev-token", kNow).is_ok());
}

}  // namespace
}  // namespace airlock::gateway::auth
