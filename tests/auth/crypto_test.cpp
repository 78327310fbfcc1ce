#include "airlock/gateway/auth/crypto.h"

#include <gtest/gtest.h>

#include "airlock/gateway/auth/http_client.h"

namespace airlock::gateway::auth {
namespace {

TEST(Base64Url, EncodesWithoutPaddingAndDecodesBack) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  for (const std::string sample : {"", "a", "ab", "abc", "abcd", "\x00\xff\x10 binary"}) {
    EXPECT_EQ(base64url_decode(base64url_encode(sample)), sample);
  }
}

TEST(Base64Url, RefusesEverythingButTheOneCanonicalEncoding) {
  EXPECT_FALSE(base64url_decode("Zg==").has_value());    // padding
  EXPECT_FALSE(base64url_decode("Zm9v\n").has_value());  // whitespace
  EXPECT_FALSE(base64url_decode("+/8").has_value());     // base64, not base64url
  EXPECT_FALSE(base64url_decode("Z").has_value());       // impossible length
  EXPECT_FALSE(base64url_decode("Zh").has_value());      // non-zero unused bits ("Zg" is the encoding of "f")
  EXPECT_EQ(base64url_decode("Zg"), "f");
}

TEST(Hmac, MatchesRfc4231TestCase2) {
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equals("abc", "abc"));
  EXPECT_FALSE(constant_time_equals("abc", "abd"));
  EXPECT_FALSE(constant_time_equals("abc", "abcd"));
  EXPECT_TRUE(constant_time_equals("", ""));
}

TEST(RandomBytes, AreFreshEachTime) {
  EXPECT_EQ(random_bytes(32).size(), 32u);
  EXPECT_NE(random_bytes(32), random_bytes(32));
}

TEST(ParseUrl, SplitsSchemeHostPortAndTarget) {
  auto url = parse_url("https://keycloak.example.org/realms/sde?x=1#frag");
  ASSERT_TRUE(url.is_ok());
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "keycloak.example.org");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->target, "/realms/sde?x=1");
  auto v6 = parse_url("http://[::1]:8080");
  ASSERT_TRUE(v6.is_ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(v6->target, "/");
  EXPECT_FALSE(parse_url("ftp://example.org/").is_ok());
  EXPECT_FALSE(parse_url("https://user:pw@example.org/").is_ok());
  EXPECT_FALSE(parse_url("https://example.org:99999/").is_ok());
  EXPECT_FALSE(parse_url("https:///path").is_ok());
}

TEST(HttpClient, RefusesPlainHttpToAnotherHostEvenWithLoopbackAllowed) {
  HttpClientOptions options;
  options.allow_http_loopback = true;
  auto response = HttpClient(options).send({"GET", "http://example.org/", {}, ""});
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.message(), "refusing plain http to http://example.org/ (https is required)");
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
}

TEST(FormEncode, PercentEncodesReservedCharacters) {
  EXPECT_EQ(form_encode({{"redirect_uri", "https://a.example/cb?x=1"}, {"scope", "openid profile"}}),
            "redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1&scope=openid%20profile");
}

}  // namespace
}  // namespace airlock::gateway::auth
