#include "airlock/gateway/auth/session.h"

#include <gtest/gtest.h>

#include "airlock/gateway/auth/crypto.h"
#include "airlock/gateway/auth/sign_in.h"
#include "airlock/gateway/auth/static_tokens.h"

namespace airlock::gateway::auth {
namespace {

constexpr UnixMillis kNow = 1'750'000'000'000;

Identity alice() {
  Identity identity;
  identity.subject = "alice-id";
  identity.preferred_username = "alice";
  identity.roles = {"researcher"};
  return identity;
}

TEST(SessionStore, FindsASessionByItsCookieValue) {
  SessionStore sessions(SessionOptions{});
  const std::string id = sessions.create(alice(), kNow);
  EXPECT_EQ(base64url_decode(id)->size(), 32u);  // 256 random bits
  auto session = sessions.find(id, kNow + 1000);
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->identity.user(), "alice");
  EXPECT_FALSE(sessions.find(id + "x", kNow).has_value());
  EXPECT_FALSE(sessions.find("", kNow).has_value());
  EXPECT_NE(sessions.create(alice(), kNow), id);
}

TEST(SessionStore, EndsSessionsAfterTheLifetimeOrWhenIdle) {
  SessionOptions options;
  options.lifetime = std::chrono::hours(8);
  options.idle_timeout = std::chrono::hours(1);
  SessionStore sessions(options);
  const std::string idle = sessions.create(alice(), kNow);
  EXPECT_FALSE(sessions.find(idle, kNow + 3'600'000).has_value());

  const std::string busy = sessions.create(alice(), kNow);
  for (int step = 0; step < 10; ++step) {  // a request every 50 minutes, for 7.5 hours
    EXPECT_TRUE(sessions.find(busy, kNow + step * 3'000'000).has_value()) << step;
  }
  EXPECT_FALSE(sessions.find(busy, kNow + 8 * 3'600'000).has_value());  // 30 minutes idle, but 8 hours old
}

TEST(SessionStore, DropsTheLeastRecentlyUsedSessionPastTheMaximum) {
  SessionOptions options;
  options.max_sessions = 2;
  SessionStore sessions(options);
  const std::string first = sessions.create(alice(), kNow);
  const std::string second = sessions.create(alice(), kNow + 1);
  ASSERT_TRUE(sessions.find(first, kNow + 2).has_value());  // first is now the most recent
  const std::string third = sessions.create(alice(), kNow + 3);
  EXPECT_EQ(sessions.size(), 2u);
  EXPECT_TRUE(sessions.find(first, kNow + 4).has_value());
  EXPECT_FALSE(sessions.find(second, kNow + 4).has_value());
  EXPECT_TRUE(sessions.find(third, kNow + 4).has_value());
}

TEST(SessionStore, RemovesASessionOnSignOut) {
  SessionStore sessions(SessionOptions{});
  const std::string id = sessions.create(alice(), kNow);
  sessions.remove(id);
  EXPECT_FALSE(sessions.find(id, kNow).has_value());
}

TEST(SessionStore, GivesAPendingSignInBackOnceAndOnlyInTime) {
  SessionStore sessions(SessionOptions{});
  PendingSignIn pending{"state-1", "nonce-1", "verifier-1", "/reviews", kNow};
  sessions.begin_sign_in(pending);
  EXPECT_FALSE(sessions.take_sign_in("state-2", kNow).has_value());
  auto taken = sessions.take_sign_in("state-1", kNow + 1000);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->code_verifier, "verifier-1");
  EXPECT_FALSE(sessions.take_sign_in("state-1", kNow + 1000).has_value());

  sessions.begin_sign_in({"late", "n", "v", "/", kNow});
  EXPECT_FALSE(sessions.take_sign_in("late", kNow + 600'000).has_value());
}

TEST(SessionStore, KeepsAtMostTheConfiguredPendingSignIns) {
  SessionOptions options;
  options.max_pending_sign_ins = 2;
  SessionStore sessions(options);
  sessions.begin_sign_in({"a", "n", "v", "/", kNow});
  sessions.begin_sign_in({"b", "n", "v", "/", kNow + 1});
  sessions.begin_sign_in({"c", "n", "v", "/", kNow + 2});
  EXPECT_FALSE(sessions.take_sign_in("a", kNow + 3).has_value());
  EXPECT_TRUE(sessions.take_sign_in("b", kNow + 3).has_value());
  EXPECT_TRUE(sessions.take_sign_in("c", kNow + 3).has_value());
}

TEST(SessionCookie, IsHostPrefixedHttpOnlySecureAndLax) {
  SessionStore sessions(SessionOptions{});
  EXPECT_EQ(sessions.session_cookie("abc"),
            "__Host-airlock_session=abc; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=28800");
  EXPECT_EQ(sessions.clear_session_cookie(),
            "__Host-airlock_session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0");
  EXPECT_EQ(sessions.sign_in_cookie("st"),
            "__Host-airlock_sign_in=st; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=600");
}

TEST(SessionCookie, DropsThePrefixWhenSecureIsOff) {
  SessionOptions options;
  options.secure_cookie = false;
  SessionStore sessions(options);
  EXPECT_EQ(sessions.session_cookie("abc"), "airlock_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=28800");
}

TEST(CookieValue, FindsOneCookieInTheHeader) {
  EXPECT_EQ(cookie_value("a=1; __Host-airlock_session=xyz; b=2", "__Host-airlock_session"), "xyz");
  EXPECT_EQ(cookie_value("airlock_session=\"q\"", "airlock_session"), "q");
  EXPECT_FALSE(cookie_value("xairlock_session=1", "airlock_session").has_value());
  EXPECT_FALSE(cookie_value("", "airlock_session").has_value());
}

TEST(Csrf, AcceptsTheTokenOfThisSessionOnly) {
  const CsrfProtector csrf(random_bytes(32));
  const std::string token = csrf.token_for("session-a");
  EXPECT_TRUE(csrf.check("session-a", token));
  EXPECT_FALSE(csrf.check("session-b", token));
  EXPECT_FALSE(csrf.check("session-a", ""));
  EXPECT_FALSE(csrf.check("", csrf.token_for("")));
  EXPECT_FALSE(csrf.check("session-a", token.substr(1)));
  const CsrfProtector other_key(random_bytes(32));
  EXPECT_FALSE(other_key.check("session-a", token));
}

TEST(Pkce, MakesAVerifierOf43CharactersAndItsS256Challenge) {
  const Pkce pkce = make_pkce();
  EXPECT_EQ(pkce.verifier.size(), 43u);
  EXPECT_EQ(pkce.challenge, pkce_s256_challenge(pkce.verifier));
  // RFC 7636 appendix B.
  EXPECT_EQ(pkce_s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  EXPECT_NE(make_pkce().verifier, pkce.verifier);
}

TEST(SafeReturnPath, KeepsLocalPathsOnly) {
  EXPECT_EQ(safe_return_path("/reviews/abc?tab=files"), "/reviews/abc?tab=files");
  EXPECT_EQ(safe_return_path("https://evil.example/"), "/");
  EXPECT_EQ(safe_return_path("//evil.example/"), "/");
  EXPECT_EQ(safe_return_path("/\\evil.example/"), "/");
  EXPECT_EQ(safe_return_path(""), "/");
}

TEST(StaticTokens, MapATokenToItsUserAndRoles) {
  const StaticTokenAuthenticator tokens({{"t-alice", "alice", {"researcher"}},
                                         {"t-bob", "bob", {"data-approver", "researcher", "data-approver"}},
                                         {"", "nobody", {"platform-admin"}}});
  auto bob = tokens.authenticate("t-bob");
  ASSERT_TRUE(bob.is_ok());
  EXPECT_EQ(bob->user(), "bob");
  EXPECT_EQ(bob->issuer, "static");
  EXPECT_EQ(bob->roles, (std::vector<std::string>{"data-approver", "researcher"}));
  EXPECT_FALSE(tokens.authenticate("t-bo").is_ok());
  EXPECT_FALSE(tokens.authenticate("t-bobb").is_ok());
  EXPECT_FALSE(tokens.authenticate("").is_ok());  // the empty configured token is ignored
}

TEST(BearerToken, ReadsTheAuthorizationHeader) {
  EXPECT_EQ(bearer_token("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(bearer_token("bearer   abc"), "abc");
  EXPECT_FALSE(bearer_token("Basic abc").has_value());
  EXPECT_FALSE(bearer_token("Bearer").has_value());
  EXPECT_FALSE(bearer_token("Bearer a b").has_value());
  EXPECT_FALSE(bearer_token("Bearerabc").has_value());
}

}  // namespace
}  // namespace airlock::gateway::auth
