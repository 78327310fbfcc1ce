// Sign-in against a real OpenID provider: tests/oidc/provider.js (the npm package oidc-provider) started on
// 127.0.0.1. The test plays the browser: it follows the provider's redirects with a cookie jar until the
// provider redirects to the client's callback, then the gateway's side exchanges the code (PKCE,
// client_secret_basic) and verifies the ID token (RS256) and the access token (ES256) with the verifier.
// Skipped when node or tests/oidc/node_modules is missing (npm ci --prefix tests/oidc).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "airlock/gateway/auth/jwt_verifier.h"
#include "airlock/gateway/auth/session.h"
#include "airlock/gateway/auth/sign_in.h"

extern char** environ;

namespace airlock::gateway::auth {
namespace {

using nlohmann::json;

UnixMillis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string find_node() {
  for (const char* candidate : {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

// The provider process: started with a pipe on stdin (it stops when the pipe closes) and one on stdout
// (its first line says where it listens).
class ProviderProcess {
 public:
  bool start(std::string* error) {
    const std::string node = find_node();
    const std::string script = std::string(AIRLOCK_SOURCE_DIR) + "/tests/oidc/provider.js";
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return fail(error, "pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    char* argv[] = {const_cast<char*>(node.c_str()), const_cast<char*>(script.c_str()), nullptr};
    const int spawned = posix_spawn(&pid_, node.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    if (spawned != 0) return fail(error, "cannot start node");
    // Poll with a deadline for the first line.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return fail(error, "the provider did not start within 30 s");
      pollfd fd{stdout_, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t n = read(stdout_, buffer, sizeof buffer);
      if (n <= 0) return fail(error, "the provider exited before listening");
      line.append(buffer, static_cast<std::size_t>(n));
    }
    info_ = json::parse(line.substr(0, line.find('\n')), nullptr, false);
    if (info_.is_discarded() || !info_.contains("issuer")) return fail(error, "unexpected first line: " + line);
    return true;
  }

  ~ProviderProcess() {
    if (stdin_ >= 0) close(stdin_);
    if (stdout_ >= 0) close(stdout_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

  const json& info() const { return info_; }

 private:
  bool fail(std::string* error, std::string message) {
    *error = std::move(message);
    return false;
  }
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  json info_;
};

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> query_of(const std::string& url) {
  std::map<std::string, std::string> query;
  const auto start = url.find('?');
  if (start == std::string::npos) return query;
  std::string_view rest = std::string_view(url).substr(start + 1);
  while (!rest.empty()) {
    const auto end = rest.find('&');
    const std::string_view pair = rest.substr(0, end);
    const auto equals = pair.find('=');
    query[url_decode(pair.substr(0, equals))] =
        equals == std::string_view::npos ? "" : url_decode(pair.substr(equals + 1));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  return query;
}

// The browser: follows redirects, keeps cookies, stops at the client's redirect URI.
runtime::Result<std::string> follow_to_callback(const HttpClient& http, std::string url, const std::string& issuer,
                                                const std::string& redirect_uri) {
  std::map<std::string, std::string> cookies;
  for (int hop = 0; hop < 10; ++hop) {
    if (url.rfind(redirect_uri, 0) == 0) return url;
    HttpRequest request{"GET", url, {}, ""};
    std::string cookie_header;
    for (const auto& [name, value] : cookies) cookie_header += (cookie_header.empty() ? "" : "; ") + name + "=" + value;
    if (!cookie_header.empty()) request.headers.emplace_back("Cookie", cookie_header);
    auto response = http.send(request);
    if (!response) return response.error();
    for (const std::string& set_cookie : response->headers_named("Set-Cookie")) {
      const std::string pair = set_cookie.substr(0, set_cookie.find(';'));
      const auto equals = pair.find('=');
      std::string lower = set_cookie;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.find("expires=thu, 01 jan 1970") != std::string::npos || lower.find("max-age=0") != std::string::npos) {
        cookies.erase(pair.substr(0, equals));
      } else {
        cookies[pair.substr(0, equals)] = pair.substr(equals + 1);
      }
    }
    if (response->status != 302 && response->status != 303) {
      return runtime::Error{"HTTP " + std::to_string(response->status) + " at " + url + ": " + response->body};
    }
    url = response->header("Location");
    if (!url.empty() && url.front() == '/') url = issuer + url;
  }
  return runtime::Error{"too many redirects"};
}

class OidcProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_node().empty()) GTEST_SKIP() << "node is not installed";
    if (!std::filesystem::exists(std::string(AIRLOCK_SOURCE_DIR) + "/tests/oidc/node_modules/oidc-provider")) {
      GTEST_SKIP() << "tests/oidc/node_modules is missing (npm ci --prefix tests/oidc)";
    }
    std::string error;
    ASSERT_TRUE(provider_.start(&error)) << error;
    issuer_ = provider_.info()["issuer"].get<std::string>();

    JwtVerifierOptions options;
    options.issuer = issuer_;
    options.audiences = {"airlock"};
    options.authorized_parties = {"airlock"};
    options.client_id = "airlock";
    options.http.allow_http_loopback = true;
    verifier_ = std::make_unique<JwtVerifier>(options);

    client_options_.client_id = "airlock";
    client_options_.client_secret = provider_.info()["client_secret"].get<std::string>();
    client_options_.redirect_uri = provider_.info()["redirect_uri"].get<std::string>();
    client_options_.scopes = {"openid", "profile", "email", "roles", "api"};
    client_options_.extra_authorization_parameters = {{"login_hint", "bob"}};
  }

  HttpClient http() const {
    HttpClientOptions options;
    options.allow_http_loopback = true;
    return HttpClient(options);
  }

  // Begins a sign-in, plays the browser, and returns the pending sign-in and the callback URL.
  std::pair<PendingSignIn, std::string> authorize(const OidcClient& client, SessionStore& sessions) {
    auto redirect = client.begin("/reviews/42", now_millis());
    EXPECT_TRUE(redirect.is_ok()) << redirect.message();
    if (!redirect) return {};
    sessions.begin_sign_in(redirect->pending);
    auto callback = follow_to_callback(http(), redirect->url, issuer_, client_options_.redirect_uri);
    EXPECT_TRUE(callback.is_ok()) << callback.message();
    return {redirect->pending, callback ? *callback : std::string()};
  }

  ProviderProcess provider_;
  std::string issuer_;
  std::unique_ptr<JwtVerifier> verifier_;
  OidcClientOptions client_options_;
};

TEST_F(OidcProviderTest, SignsInWithTheCodeFlowAndPkceAndVerifiesBothTokens) {
  const OidcClient client(client_options_, *verifier_, http());
  SessionStore sessions(SessionOptions{});
  auto [pending, callback] = authorize(client, sessions);
  ASSERT_FALSE(callback.empty());
  const auto query = query_of(callback);
  ASSERT_TRUE(query.count("code")) << callback;
  EXPECT_EQ(query.at("iss"), issuer_);

  // The callback: the state names the pending sign-in, once.
  auto taken = sessions.take_sign_in(query.at("state"), now_millis());
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->return_to, "/reviews/42");
  EXPECT_FALSE(sessions.take_sign_in(query.at("state"), now_millis()).has_value());

  auto signed_in = client.finish(query.at("code"), *taken, now_millis());
  ASSERT_TRUE(signed_in.is_ok()) << signed_in.message();
  EXPECT_EQ(signed_in->identity.subject, "bob");
  EXPECT_EQ(signed_in->identity.email, "bob@example.org");
  EXPECT_EQ(signed_in->identity.name, "Bob Approver");
  EXPECT_EQ(signed_in->identity.issuer, issuer_);
  EXPECT_EQ(signed_in->identity.roles, (std::vector<std::string>{"data-approver", "researcher"}));

  // The access token is an ES256 JWT for audience "airlock": what an API client would send as a bearer.
  auto bearer = verifier_->verify(signed_in->tokens.access_token, now_millis());
  ASSERT_TRUE(bearer.is_ok()) << bearer.message();
  EXPECT_EQ(bearer->user(), "bob");
  EXPECT_TRUE(bearer->has_role("data-approver"));
  // The ID token holds only for the nonce of this sign-in.
  EXPECT_FALSE(verifier_->verify_id_token(signed_in->tokens.id_token, "another-nonce", now_millis()).is_ok());

  // A session follows, behind its cookie.
  const std::string id = sessions.create(signed_in->identity, now_millis());
  auto session = sessions.find(id, now_millis());
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->identity.user(), "bob");
}

TEST_F(OidcProviderTest, RefusesACodeUsedTwiceOrWithTheWrongVerifier) {
  const OidcClient client(client_options_, *verifier_, http());
  SessionStore sessions(SessionOptions{});
  auto [pending, callback] = authorize(client, sessions);
  ASSERT_FALSE(callback.empty());
  const std::string code = query_of(callback).at("code");

  auto wrong_verifier = client.exchange_code(code, make_pkce().verifier, now_millis());
  ASSERT_FALSE(wrong_verifier.is_ok());
  EXPECT_NE(wrong_verifier.message().find("invalid_grant"), std::string::npos) << wrong_verifier.message();

  auto [pending2, callback2] = authorize(client, sessions);
  ASSERT_FALSE(callback2.empty());
  const std::string code2 = query_of(callback2).at("code");
  ASSERT_TRUE(client.finish(code2, pending2, now_millis()).is_ok());
  auto replay = client.finish(code2, pending2, now_millis());
  ASSERT_FALSE(replay.is_ok());
  EXPECT_NE(replay.message().find("invalid_grant"), std::string::npos) << replay.message();
}

TEST_F(OidcProviderTest, RefusesAnIdTokenForAnotherSignIn) {
  const OidcClient client(client_options_, *verifier_, http());
  SessionStore sessions(SessionOptions{});
  auto [pending, callback] = authorize(client, sessions);
  ASSERT_FALSE(callback.empty());
  PendingSignIn other = pending;
  other.nonce = "a-nonce-from-another-sign-in";  // an attacker's injected code: its ID token has our nonce
  auto result = client.finish(query_of(callback).at("code"), other, now_millis());
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.message(), "ID token rejected: ID token nonce does not match");
}

TEST_F(OidcProviderTest, RefusesTheWrongClientSecret) {
  OidcClientOptions wrong = client_options_;
  wrong.client_secret = "not-the-secret";
  const OidcClient client(wrong, *verifier_, http());
  SessionStore sessions(SessionOptions{});
  auto [pending, callback] = authorize(client, sessions);
  ASSERT_FALSE(callback.empty());
  auto result = client.finish(query_of(callback).at("code"), pending, now_millis());
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find("HTTP 401"), std::string::npos) << result.message();
}

}  // namespace
}  // namespace airlock::gateway::auth
