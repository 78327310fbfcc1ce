// Identity through the real `airlock serve`: bearer JWTs (from a real OpenID provider, and forged ones against
// a JWKS served by the test), the browser sign-in (Authorization Code + PKCE against tests/oidc/provider.js,
// played by a plain HTTP client with a cookie jar), the session cookie with its CSRF check (the JSON API and
// tus uploads), /auth/token with a static token, and the `auth:` configuration's validation.
// The provider tests need node (skipped without it) and tests/oidc/node_modules (npm ci --prefix tests/oidc).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>

#include "../auth/test_http_server.h"
#include "../auth/test_jwt_signer.h"
#include "airlock/gateway/auth/http_client.h"
#include "airlock/gateway/auth/jwt_verifier.h"
#include "airlock/gateway/auth/sign_in.h"
#include "airlock/gateway/config.h"
#include "gateway_process.h"

extern char** environ;

namespace airlock::testing {
namespace {

using gateway::auth::HttpClient;
using gateway::auth::HttpClientOptions;
using gateway::auth::HttpRequest;
using gateway::auth::HttpResponse;
using gateway::auth::testing::TestHttpServer;
using gateway::auth::testing::TestKey;
using gateway::auth::testing::TestRequest;
using gateway::auth::testing::TestResponse;
using gateway::auth::testing::unsigned_token;
using nlohmann::json;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A port nobody listens on now: bound, read and released (the gateway binds it a moment later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string find_node() {
  for (const char* candidate : {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

// tests/oidc/provider.js, with a pipe on stdin (it stops when the pipe closes) and one on stdout (its first
// line says where it listens).
class ProviderProcess {
 public:
  bool start(const std::vector<std::string>& arguments, std::string* error) {
    const std::string node = find_node();
    const std::string script = std::string(AIRLOCK_SOURCE_DIR) + "/tests/oidc/provider.js";
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return fail(error, "pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<std::string> words{node, script};
    words.insert(words.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, node.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    if (spawned != 0) return fail(error, "cannot start node");
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return fail(error, "the provider did not start within 30 s");
      pollfd fd{stdout_, POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(stdout_, buffer, sizeof buffer);
      if (n <= 0) return fail(error, "the provider exited before listening");
      line.append(buffer, static_cast<std::size_t>(n));
    }
    info_ = json::parse(line.substr(0, line.find('\n')), nullptr, false);
    if (info_.is_discarded() || !info_.contains("issuer")) return fail(error, "unexpected first line: " + line);
    return true;
  }
  ~ProviderProcess() {
    if (stdin_ >= 0) ::close(stdin_);
    if (stdout_ >= 0) ::close(stdout_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  const json& info() const { return info_; }
  std::string issuer() const { return info_["issuer"].get<std::string>(); }

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

HttpClient loopback_client() {
  HttpClientOptions options;
  options.allow_http_loopback = true;
  options.timeout = std::chrono::seconds(30);
  return HttpClient(options);
}

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

std::string query_value(const std::string& url, const std::string& name) {
  const auto start = url.find('?');
  if (start == std::string::npos) return "";
  std::string_view rest = std::string_view(url).substr(start + 1);
  while (!rest.empty()) {
    const auto end = rest.find('&');
    const std::string_view pair = rest.substr(0, end);
    const auto equals = pair.find('=');
    if (url_decode(pair.substr(0, equals)) == name) {
      return equals == std::string_view::npos ? "" : url_decode(pair.substr(equals + 1));
    }
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  return "";
}

// A browser, as far as these tests need one: a cookie jar (one for every host, by name: the gateway and the
// provider are both 127.0.0.1) and requests that never follow redirects on their own.
class Browser {
 public:
  HttpResponse send(const std::string& method, const std::string& url,
                    std::vector<std::pair<std::string, std::string>> headers = {}, std::string body = "") {
    HttpRequest request{method, url, std::move(headers), std::move(body)};
    std::string cookie_header;
    for (const auto& [name, value] : cookies_)
      cookie_header += (cookie_header.empty() ? "" : "; ") + name + "=" + value;
    if (!cookie_header.empty()) request.headers.emplace_back("Cookie", cookie_header);
    auto response = http_.send(request);
    EXPECT_TRUE(response.is_ok()) << method << " " << url << ": " << response.message();
    if (!response) return {};
    for (const std::string& set_cookie : response->headers_named("Set-Cookie")) {
      const std::string pair = set_cookie.substr(0, set_cookie.find(';'));
      const auto equals = pair.find('=');
      std::string lower = set_cookie;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.find("max-age=0") != std::string::npos || lower.find("expires=thu, 01 jan 1970") != std::string::npos) {
        cookies_.erase(pair.substr(0, equals));
      } else {
        cookies_[pair.substr(0, equals)] = pair.substr(equals + 1);
      }
    }
    return std::move(*response);
  }
  HttpResponse get(const std::string& url) { return send("GET", url); }

  // Follows redirects (relative ones against `origin`) until the next URL starts with `stop_at`; a login form
  // on the way is filled in with `user`. Returns the URL it stopped at, or "" (with a test failure).
  std::string follow(std::string url, const std::string& origin, const std::string& stop_at, const std::string& user) {
    for (int hop = 0; hop < 15; ++hop) {
      if (url.rfind(stop_at, 0) == 0) return url;
      HttpResponse response = get(url);
      if (response.status == 200 && response.body.find("<form") != std::string::npos) {
        EXPECT_NE(response.body.find("<label for=\"username\">Username</label>"), std::string::npos) << response.body;
        login_forms_ += 1;
        const auto action = response.body.find("action=\"");
        if (action == std::string::npos) break;
        const std::string path = response.body.substr(action + 8, response.body.find('"', action + 8) - (action + 8));
        response =
            send("POST", origin + path, {{"Content-Type", "application/x-www-form-urlencoded"}}, "username=" + user);
      }
      if (response.status != 302 && response.status != 303) {
        ADD_FAILURE() << "HTTP " << response.status << " at " << url << ": " << response.body;
        return "";
      }
      url = response.header("Location");
      if (!url.empty() && url.front() == '/') url = origin + url;
    }
    ADD_FAILURE() << "too many redirects";
    return "";
  }

  std::optional<std::string> cookie(const std::string& name) const {
    auto it = cookies_.find(name);
    if (it == cookies_.end()) return std::nullopt;
    return it->second;
  }
  void set_cookie(const std::string& name, const std::string& value) { cookies_[name] = value; }
  int login_forms() const { return login_forms_; }

 private:
  HttpClient http_ = loopback_client();
  std::map<std::string, std::string> cookies_;
  int login_forms_ = 0;
};

std::vector<std::string> transfer_ids(const HttpResponse& response) {
  std::vector<std::string> ids;
  const json body = json::parse(response.body, nullptr, false);
  if (!body.is_object()) return ids;
  for (const auto& item : body["transfers"]) ids.push_back(item["id"]);
  return ids;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

std::vector<std::pair<std::string, std::string>> tus_headers(std::vector<std::pair<std::string, std::string>> more) {
  more.emplace_back("Tus-Resumable", "1.0.0");
  return more;
}

// ---------------------------------------------------------------------------------------------------------
// The browser sign-in and bearer tokens from the real provider.

class IdentityWithProvider : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (find_node().empty()) {
      skip_ = "node is not installed";
      return;
    }
    const int port = free_port();
    ASSERT_GT(port, 0);
    origin_ = "http://127.0.0.1:" + std::to_string(port);
    provider_ = new ProviderProcess();
    std::string error;
    ASSERT_TRUE(std::filesystem::exists(std::string(AIRLOCK_SOURCE_DIR) + "/tests/oidc/node_modules/oidc-provider"))
        << "tests/oidc/node_modules is missing: npm ci --prefix tests/oidc";
    ASSERT_TRUE(provider_->start({"--redirect-uri", origin_ + "/auth/callback"}, &error)) << error;
    gateway_ = new GatewayProcess(test_config(R"(
auth:
  public_url: )" + origin_ + R"(
  oidc:
    issuer: )" + provider_->issuer() + R"(
    client_id: airlock
    client_secret: )" + provider_->info()["client_secret"].get<std::string>() +
                                              R"(
    scopes: [openid, profile, email, roles, api]
)"));
    gateway_->start("127.0.0.1:" + std::to_string(port));
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete provider_;
    provider_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_NE(gateway_, nullptr);
  }
  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) std::cerr << "gateway log:\n" << gateway_->log();
  }

  // The whole sign-in: /auth/login -> provider (its login form, or login_hint) -> /auth/callback.
  // Returns the callback's response.
  static HttpResponse sign_in(Browser& browser, const std::string& user, const std::string& query, bool use_form) {
    HttpResponse login = browser.get(origin_ + "/auth/login" + query + (use_form ? "" : "&login_hint=" + user));
    EXPECT_EQ(login.status, 302) << login.body;
    EXPECT_EQ(login.header("Location").rfind(provider_->issuer(), 0), 0u) << login.header("Location");
    EXPECT_TRUE(browser.cookie("airlock_sign_in").has_value());
    const std::string callback =
        browser.follow(login.header("Location"), provider_->issuer(), origin_ + "/auth/callback", user);
    if (callback.empty()) return {};
    return browser.get(callback);
  }

  // An access token (ES256 JWT, aud airlock) for `user`, as an API client gets it: the code flow with PKCE
  // against the provider's own test redirect URI, the library playing the client.
  static std::string access_token(const std::string& user) {
    gateway::auth::JwtVerifierOptions options;
    options.issuer = provider_->issuer();
    options.audiences = {"airlock"};
    options.client_id = "airlock";
    options.http.allow_http_loopback = true;
    gateway::auth::JwtVerifier verifier(options);
    gateway::auth::OidcClientOptions client_options;
    client_options.client_id = "airlock";
    client_options.client_secret = provider_->info()["client_secret"].get<std::string>();
    client_options.redirect_uri = provider_->info()["redirect_uri"].get<std::string>();
    client_options.scopes = {"openid", "profile", "email", "roles", "api"};
    client_options.extra_authorization_parameters = {{"login_hint", user}};
    gateway::auth::OidcClient client(client_options, verifier, loopback_client());
    auto begun = client.begin("/", now_seconds() * 1000);
    EXPECT_TRUE(begun.is_ok()) << begun.message();
    if (!begun) return "";
    Browser browser;
    const std::string callback = browser.follow(begun->url, provider_->issuer(), client_options.redirect_uri, user);
    auto signed_in = client.finish(query_value(callback, "code"), begun->pending, now_seconds() * 1000);
    EXPECT_TRUE(signed_in.is_ok()) << signed_in.message();
    return signed_in ? signed_in->tokens.access_token : "";
  }

  static inline std::string skip_;
  static inline std::string origin_;
  static inline ProviderProcess* provider_ = nullptr;
  static inline GatewayProcess* gateway_ = nullptr;
};

TEST_F(IdentityWithProvider, SessionSaysSignedOutAndWhereToSignIn) {
  Browser browser;
  HttpResponse session = browser.get(origin_ + "/auth/session");
  ASSERT_EQ(session.status, 200) << session.body;
  const json body = json::parse(session.body);
  EXPECT_EQ(body["signed_in"], false);
  EXPECT_EQ(body["sign_in_url"], "/auth/login");
  EXPECT_EQ(body["token_sign_in"], true);
  EXPECT_EQ(session.header("Cache-Control"), "no-store");
}

TEST_F(IdentityWithProvider, ABrowserSignsInWithTheLoginFormAndUsesTheApiWithItsCookie) {
  Browser browser;
  HttpResponse callback = sign_in(browser, "alice", "?return_to=%2Fui%2Ftransfers", true);
  EXPECT_EQ(browser.login_forms(), 1);
  ASSERT_EQ(callback.status, 303) << callback.body;
  EXPECT_EQ(callback.header("Location"), "/ui/transfers");
  ASSERT_TRUE(browser.cookie("airlock_session").has_value());
  EXPECT_FALSE(browser.cookie("airlock_sign_in").has_value());  // cleared: used once
  for (const std::string& set_cookie : callback.headers_named("Set-Cookie")) {
    if (set_cookie.rfind("airlock_session=", 0) == 0) {
      EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
      EXPECT_NE(set_cookie.find("SameSite=Lax"), std::string::npos) << set_cookie;
    }
  }

  HttpResponse session = browser.get(origin_ + "/auth/session");
  const json me = json::parse(session.body);
  EXPECT_EQ(me["signed_in"], true);
  EXPECT_EQ(me["user"], "alice");
  EXPECT_EQ(me["name"], "Alice Researcher");
  EXPECT_EQ(me["roles"], json::array({"researcher"}));
  const std::string csrf = me["csrf_token"].get<std::string>();
  ASSERT_FALSE(csrf.empty());

  HttpResponse listed = browser.get(origin_ + "/api/v1/transfers");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const std::size_t before = transfer_ids(listed).size();

  // Creating an upload changes something: without the CSRF header, or with another one, it is refused.
  const std::vector<std::pair<std::string, std::string>> create{{"Upload-Length", "8"},
                                                                {"Upload-Metadata", metadata("cookie.csv")}};
  HttpResponse no_token = browser.send("POST", origin_ + "/files", tus_headers(create));
  EXPECT_EQ(no_token.status, 403) << no_token.body;
  EXPECT_EQ(json::parse(no_token.body, nullptr, false)["error"], "csrf");
  auto wrong = tus_headers(create);
  wrong.emplace_back("X-CSRF-Token", "AAAA" + csrf.substr(4));
  HttpResponse wrong_token = browser.send("POST", origin_ + "/files", wrong);
  EXPECT_EQ(wrong_token.status, 403) << wrong_token.body;
  EXPECT_EQ(transfer_ids(browser.get(origin_ + "/api/v1/transfers")).size(), before);  // nothing was created

  // With the token: a tus upload, creation and PATCH (the streaming path), as tus-js-client sends it.
  auto with_token = tus_headers(create);
  with_token.emplace_back("X-CSRF-Token", csrf);
  HttpResponse created = browser.send("POST", origin_ + "/files", with_token);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string location = created.header("Location");
  const std::vector<std::pair<std::string, std::string>> patch{{"Upload-Offset", "0"},
                                                               {"Content-Type", "application/offset+octet-stream"}};
  HttpResponse unprotected_patch = browser.send("PATCH", origin_ + location, tus_headers(patch), "a,b\n1,2\n");
  EXPECT_EQ(unprotected_patch.status, 403) << unprotected_patch.body;
  const std::string id = location.substr(std::string("/files/").size());
  HttpResponse unchanged = browser.get(origin_ + "/api/v1/transfers/" + id);
  EXPECT_EQ(json::parse(unchanged.body, nullptr, false)["offset"], 0);  // the refused PATCH stored nothing
  auto protected_patch = tus_headers(patch);
  protected_patch.emplace_back("X-CSRF-Token", csrf);
  HttpResponse patched = browser.send("PATCH", origin_ + location, protected_patch, "a,b\n1,2\n");
  EXPECT_EQ(patched.status, 204) << patched.body;
  HttpResponse transfer = browser.get(origin_ + "/api/v1/transfers/" + id);
  ASSERT_EQ(transfer.status, 200) << transfer.body;
  EXPECT_EQ(json::parse(transfer.body)["owner"], "alice");
  EXPECT_EQ(json::parse(transfer.body)["offset"], 8);

  // Signing out needs the token too, then ends the session for good.
  const std::string cookie = *browser.cookie("airlock_session");
  EXPECT_EQ(browser.send("POST", origin_ + "/auth/logout").status, 403);
  HttpResponse logout = browser.send("POST", origin_ + "/auth/logout", {{"X-CSRF-Token", csrf}});
  EXPECT_EQ(logout.status, 204) << logout.body;
  EXPECT_FALSE(browser.cookie("airlock_session").has_value());
  browser.set_cookie("airlock_session", cookie);  // the old cookie, replayed
  EXPECT_EQ(browser.get(origin_ + "/api/v1/transfers").status, 401);
  EXPECT_EQ(json::parse(browser.get(origin_ + "/auth/session").body)["signed_in"], false);
}

TEST_F(IdentityWithProvider, TheLoginHintSignsInWithoutAFormAndReturnToElsewhereIsIgnored) {
  Browser browser;
  HttpResponse callback = sign_in(browser, "carol", "?return_to=%2F%2Fevil.example%2Fsteal", false);
  EXPECT_EQ(browser.login_forms(), 0);
  ASSERT_EQ(callback.status, 303) << callback.body;
  EXPECT_EQ(callback.header("Location"), "/");
  const json me = json::parse(browser.get(origin_ + "/auth/session").body);
  EXPECT_EQ(me["user"], "carol");
  EXPECT_EQ(me["roles"], json::array({"data-approver", "output-checker"}));
}

TEST_F(IdentityWithProvider, ACallbackWithAnotherStateIsRefused) {
  Browser browser;
  HttpResponse login = browser.get(origin_ + "/auth/login?return_to=%2Fui%2F");
  ASSERT_EQ(login.status, 302);
  ASSERT_TRUE(browser.cookie("airlock_sign_in").has_value());
  HttpResponse wrong = browser.get(origin_ + "/auth/callback?code=abc&state=not-the-state");
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  EXPECT_EQ(wrong.header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(wrong.body)["error"], "invalid_state");
  EXPECT_FALSE(browser.cookie("airlock_session").has_value());

  // The right state from another browser (no sign-in cookie): refused as well.
  const std::string state = query_value(login.header("Location"), "state");
  Browser other;
  HttpResponse injected = other.get(origin_ + "/auth/callback?code=abc&state=" + state);
  EXPECT_EQ(injected.status, 400) << injected.body;
  EXPECT_FALSE(other.cookie("airlock_session").has_value());
  // A provider's error comes back as 400 too.
  EXPECT_EQ(browser.get(origin_ + "/auth/callback?error=access_denied&state=" + state).status, 400);
}

TEST_F(IdentityWithProvider, BearerJwtsFromTheProviderCarryTheirRoles) {
  const std::string alice = access_token("alice");
  const std::string bob = access_token("bob");  // data-approver (a client role): a reviewer
  ASSERT_FALSE(alice.empty());
  ASSERT_FALSE(bob.empty());
  HttpResult created = create_upload(*gateway_, alice.c_str(), "4", metadata("jwt.csv"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string location = created.header("location");
  HttpResult patched =
      patch_upload(*gateway_, alice.c_str(), location, 0, write_file(gateway_->root() + "/jwt.csv", "x,y\n"));
  EXPECT_EQ(patched.status, 204) << patched.body;
  const std::string alices = location.substr(std::string("/files/").size());
  HttpResult others = create_upload(*gateway_, kBobToken, "4", metadata("static.csv"));  // static bob: researcher
  ASSERT_EQ(others.status, 201) << others.body;
  const std::string statics = others.header("location").substr(std::string("/files/").size());

  auto ids = [&](const std::string& token) {
    HttpResult listed = curl(join(auth(token.c_str()), {gateway_->url("/api/v1/transfers")}));
    EXPECT_EQ(listed.status, 200) << listed.body;
    std::vector<std::string> out;
    const json body = listed.json();
    for (const auto& item : body["transfers"]) out.push_back(item["id"]);
    return out;
  };
  EXPECT_TRUE(contains(ids(alice), alices));
  EXPECT_FALSE(contains(ids(alice), statics));
  EXPECT_TRUE(contains(ids(bob), alices));
  EXPECT_TRUE(contains(ids(bob), statics));
  HttpResult transfer = curl(join(auth(bob.c_str()), {gateway_->url("/api/v1/transfers/" + alices)}));
  EXPECT_EQ(transfer.json()["owner"], "alice");

  // One character changed in the signature: refused.
  std::string tampered = alice;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(curl(join(auth(tampered.c_str()), {gateway_->url("/api/v1/transfers")})).status, 401);
}

// ---------------------------------------------------------------------------------------------------------
// Forged and broken bearer JWTs against a JWKS the test serves.

class IdentityWithJwks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestKey(TestKey::rsa("rsa-1"));
    stray_ = new TestKey(TestKey::rsa("rsa-1"));  // the same kid, another key
    provider_ = new TestHttpServer([](const TestRequest& request) -> TestResponse {
      const std::string issuer = provider_url();
      if (request.target == "/realms/sde/.well-known/openid-configuration") {
        const json document = {{"issuer", issuer},
                               {"jwks_uri", issuer + "/certs"},
                               {"authorization_endpoint", issuer + "/auth"},
                               {"token_endpoint", issuer + "/token"}};
        return {200, {{"Content-Type", "application/json"}}, document.dump()};
      }
      if (request.target == "/realms/sde/certs") {
        return {200, {{"Content-Type", "application/json"}}, json{{"keys", json::array({rsa_->jwk()})}}.dump()};
      }
      return {404, {}, "not found"};
    });
    gateway_ = new GatewayProcess(test_config(R"(
auth:
  public_url: http://127.0.0.1:8080
  oidc:
    issuer: )" + provider_url() + R"(
    client_id: airlock
    audience: [airlock]
    leeway: 30s
)"));
    gateway_->start();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete provider_;
    provider_ = nullptr;
    delete rsa_;
    rsa_ = nullptr;
    delete stray_;
    stray_ = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_->log();
  }
  static std::string provider_url() { return provider_->url("/realms/sde"); }

  static json claims(const std::string& user, const std::vector<std::string>& roles) {
    const std::int64_t now = now_seconds();
    return {{"iss", provider_url()}, {"sub", "id-" + user}, {"preferred_username", user},        {"aud", "airlock"},
            {"exp", now + 300},      {"iat", now},          {"realm_access", {{"roles", roles}}}};
  }
  static int status_with(const std::string& token) {
    return curl(join(auth(token.c_str()), {gateway_->url("/api/v1/transfers")})).status;
  }

  static inline TestKey* rsa_ = nullptr;
  static inline TestKey* stray_ = nullptr;
  static inline TestHttpServer* provider_ = nullptr;
  static inline GatewayProcess* gateway_ = nullptr;
};

TEST_F(IdentityWithJwks, AValidTokenIsAcceptedAndItsRealmRolesApply) {
  HttpResult created = create_upload(*gateway_, kAliceToken, "4", metadata("mine.csv"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.header("location").substr(std::string("/files/").size());

  const std::string reviewer = rsa_->sign({}, claims("rita", {"data-approver"}));
  HttpResult listed = curl(join(auth(reviewer.c_str()), {gateway_->url("/api/v1/transfers")}));
  ASSERT_EQ(listed.status, 200) << listed.body;
  bool seen = false;
  const json body = listed.json();
  for (const auto& item : body["transfers"]) seen = seen || item["id"] == id;
  EXPECT_TRUE(seen) << "a data-approver sees every transfer: " << listed.body;

  const std::string researcher = rsa_->sign({}, claims("zed", {"researcher"}));
  HttpResult own = curl(join(auth(researcher.c_str()), {gateway_->url("/api/v1/transfers")}));
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_TRUE(own.json()["transfers"].empty()) << own.body;
  // Roles of another client do not count.
  json other_client = claims("zed", {"researcher"});
  other_client["resource_access"] = {{"account", {{"roles", {"data-approver"}}}}};
  HttpResult still_own = curl(join(auth(rsa_->sign({}, other_client).c_str()), {gateway_->url("/api/v1/transfers")}));
  EXPECT_TRUE(still_own.json()["transfers"].empty()) << still_own.body;
}

TEST_F(IdentityWithJwks, ExpiredWrongAudienceAndWrongIssuerAre401) {
  json expired = claims("rita", {"data-approver"});
  expired["exp"] = now_seconds() - 3600;
  expired["iat"] = now_seconds() - 7200;
  EXPECT_EQ(status_with(rsa_->sign({}, expired)), 401);
  json audience = claims("rita", {"data-approver"});
  audience["aud"] = "account";
  EXPECT_EQ(status_with(rsa_->sign({}, audience)), 401);
  json issuer = claims("rita", {"data-approver"});
  issuer["iss"] = provider_url() + "/";
  EXPECT_EQ(status_with(rsa_->sign({}, issuer)), 401);
  json no_subject = claims("rita", {"data-approver"});
  no_subject.erase("sub");
  EXPECT_EQ(status_with(rsa_->sign({}, no_subject)), 401);
  EXPECT_EQ(status_with(rsa_->sign({}, claims("rita", {"data-approver"}))), 200);  // the control
}

TEST_F(IdentityWithJwks, ForgedTokensAre401) {
  const json payload = claims("mallory", {"platform-admin"});
  // A kid the JWKS does not know.
  EXPECT_EQ(status_with(rsa_->sign({{"kid", "rsa-9"}}, payload)), 401);
  // The right kid, signed by another key.
  EXPECT_EQ(status_with(stray_->sign({}, payload)), 401);
  // alg none, with and without a signature part.
  EXPECT_EQ(status_with(unsigned_token({{"alg", "none"}, {"kid", "rsa-1"}}, payload)), 401);
  EXPECT_EQ(status_with(unsigned_token({{"alg", "none"}, {"kid", "rsa-1"}}, payload, "x")), 401);
  // HS256 with the RSA public key as the HMAC secret (the classic confusion).
  const json hs_header = {{"alg", "HS256"}, {"kid", "rsa-1"}, {"typ", "JWT"}};
  const std::string input =
      gateway::auth::base64url_encode(hs_header.dump()) + "." + gateway::auth::base64url_encode(payload.dump());
  const std::string hs256 =
      input + "." + gateway::auth::base64url_encode(gateway::auth::hmac_sha256(rsa_->public_pem(), input));
  EXPECT_EQ(status_with(hs256), 401);
  // A valid token whose payload is swapped for a more generous one, the signature kept.
  const std::string valid = rsa_->sign({}, claims("mallory", {"researcher"}));
  ASSERT_EQ(status_with(valid), 200);
  const auto first = valid.find('.');
  const auto second = valid.find('.', first + 1);
  const std::string tampered =
      valid.substr(0, first + 1) + gateway::auth::base64url_encode(payload.dump()) + valid.substr(second);
  EXPECT_EQ(status_with(tampered), 401);
  // Not a JWT and not a static token.
  EXPECT_EQ(status_with("not.a-token"), 401);
  HttpResult refused = curl(join(auth(tampered.c_str()), {gateway_->url("/api/v1/transfers")}));
  EXPECT_EQ(refused.json()["error"], "unauthorized");
  EXPECT_FALSE(refused.header("www-authenticate").empty());
}

TEST_F(IdentityWithJwks, StaticTokensStillWorkBesideTheProvider) {
  EXPECT_EQ(status_with(kAliceToken), 200);
  EXPECT_EQ(status_with("alice-token-0123456789abcdeX"), 401);
}

// ---------------------------------------------------------------------------------------------------------
// /auth/token: a static token starts a browser session (the embedded default, no provider).

class TokenSignIn : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && gateway_) std::cerr << "gateway log:\n" << gateway_->log();
  }
  void start(const std::string& config = test_config()) {
    gateway_ = std::make_unique<GatewayProcess>(config);
    gateway_->start();
  }
  std::string url(const std::string& path) const { return gateway_->url(path); }
  HttpResponse token_sign_in(Browser& browser, const std::string& token) {
    return browser.send("POST", url("/auth/token"), {{"Content-Type", "application/json"}},
                        json{{"token", token}}.dump());
  }
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(TokenSignIn, AStaticTokenStartsASessionAndAWrongOneIs401) {
  start();
  Browser browser;
  const json before = json::parse(browser.get(url("/auth/session")).body);
  EXPECT_EQ(before["signed_in"], false);
  EXPECT_TRUE(before["sign_in_url"].is_null());  // no provider configured
  EXPECT_EQ(before["token_sign_in"], true);
  EXPECT_EQ(browser.get(url("/auth/login")).status, 404);

  HttpResponse wrong = token_sign_in(browser, "not-a-token-0123456789");
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_FALSE(browser.cookie("airlock_session").has_value());
  HttpResponse form = browser.send("POST", url("/auth/token"), {{"Content-Type", "application/x-www-form-urlencoded"}},
                                   std::string("token=") + kReviewerToken);
  EXPECT_EQ(form.status, 415) << form.body;

  HttpResponse signed_in = token_sign_in(browser, kReviewerToken);
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const json me = json::parse(signed_in.body);
  EXPECT_EQ(me["signed_in"], true);
  EXPECT_EQ(me["user"], "rita");
  EXPECT_EQ(me["roles"], json::array({"data-approver"}));
  ASSERT_TRUE(browser.cookie("airlock_session").has_value());
  EXPECT_EQ(json::parse(browser.get(url("/auth/session")).body)["csrf_token"], me["csrf_token"]);
  EXPECT_EQ(browser.get(url("/api/v1/transfers")).status, 200);
  // A bearer header decides on its own: a wrong one is not rescued by the cookie.
  EXPECT_EQ(browser.send("GET", url("/api/v1/transfers"), {{"Authorization", "Bearer nope-0123456789abc"}}).status,
            401);
}

TEST_F(TokenSignIn, CanBeDisabled) {
  start(test_config("auth:\n  token_sign_in: false\n"));
  Browser browser;
  EXPECT_EQ(json::parse(browser.get(url("/auth/session")).body)["token_sign_in"], false);
  HttpResponse refused = token_sign_in(browser, kAliceToken);
  EXPECT_EQ(refused.status, 404) << refused.body;
  EXPECT_FALSE(browser.cookie("airlock_session").has_value());
}

TEST_F(TokenSignIn, ASecureCookieIsHostPrefixed) {
  start(test_config("auth:\n  session: {secure_cookie: true, lifetime: 2h}\n"));
  Browser browser;
  HttpResponse signed_in = token_sign_in(browser, kAliceToken);
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const std::string set_cookie = signed_in.header("Set-Cookie");
  EXPECT_EQ(set_cookie.rfind("__Host-airlock_session=", 0), 0u) << set_cookie;
  EXPECT_NE(set_cookie.find("; Secure"), std::string::npos) << set_cookie;
  EXPECT_NE(set_cookie.find("Max-Age=7200"), std::string::npos) << set_cookie;
}

// ---------------------------------------------------------------------------------------------------------
// The `auth:` configuration.

std::string config_error(const std::string& yaml) {
  auto config = gateway::parse_config(yaml, "airlock.yaml");
  return config ? "" : config.message();
}

TEST(IdentityConfig, ReadsEveryAuthKey) {
  auto config = gateway::parse_config(R"(
auth:
  public_url: https://airlock.example.org/
  token_sign_in: false
  session: {lifetime: 4h, idle_timeout: 30m}
  oidc:
    issuer: https://keycloak.example.org/realms/sde
    client_id: airlock
    client_secret: s3cret
    scopes: [openid, profile]
    role_clients: [reviews]
    leeway: 2m
    jwks_refetch_interval: 10s
)",
                                      "airlock.yaml");
  ASSERT_TRUE(config.is_ok()) << config.message();
  const gateway::AuthConfig& auth = config->auth;
  EXPECT_EQ(auth.public_url, "https://airlock.example.org");
  EXPECT_FALSE(auth.token_sign_in);
  EXPECT_EQ(auth.session.lifetime, std::chrono::hours(4));
  EXPECT_EQ(auth.session.idle_timeout, std::chrono::minutes(30));
  EXPECT_EQ(auth.oidc.redirect_uri, "https://airlock.example.org/auth/callback");
  EXPECT_EQ(auth.oidc.audiences, std::vector<std::string>{"airlock"});  // the client id by default
  EXPECT_EQ(auth.oidc.scopes, (std::vector<std::string>{"openid", "profile"}));
  EXPECT_EQ(auth.oidc.role_clients, std::vector<std::string>{"reviews"});
  EXPECT_EQ(auth.oidc.leeway, std::chrono::minutes(2));
  EXPECT_EQ(auth.oidc.jwks_refetch_interval, std::chrono::seconds(10));
  EXPECT_TRUE(gateway::secure_cookie_for(*config));
}

TEST(IdentityConfig, ReadsTheClientSecretFromAFile) {
  char pattern[] = "/tmp/airlock-secret-XXXXXX";
  const int fd = ::mkstemp(pattern);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(pattern) << "from-the-file\n";
  auto config = gateway::parse_config(std::string(R"(
auth:
  oidc:
    issuer: http://127.0.0.1:9000/realms/sde
    client_id: airlock
    client_secret_file: )") + pattern + R"(
    redirect_uri: http://127.0.0.1:8080/auth/callback
)",
                                      "airlock.yaml");
  std::filesystem::remove(pattern);
  ASSERT_TRUE(config.is_ok()) << config.message();
  EXPECT_EQ(config->auth.oidc.client_secret, "from-the-file");
}

TEST(IdentityConfig, ErrorsNameTheKey) {
  const std::string oidc = "  oidc:\n    client_id: airlock\n";
  EXPECT_NE(
      config_error("auth:\n  public_url: https://a.example\n  oidc:\n    issuer: http://keycloak.example.org/realms/x\n"
                   "    client_id: airlock\n")
          .find("`auth.oidc.issuer`: must be https"),
      std::string::npos);
  EXPECT_NE(config_error("auth:\n  public_url: https://a.example\n" + oidc).find("`auth.oidc.issuer`: is required"),
            std::string::npos);
  EXPECT_NE(config_error("auth:\n  public_url: https://a.example\n  oidc:\n    issuer: https://k.example/r\n")
                .find("`auth.oidc.client_id`"),
            std::string::npos);
  EXPECT_NE(config_error("auth:\n  oidc:\n    issuer: https://k.example/r\n    client_id: airlock\n")
                .find("`auth.public_url`: is required with auth.oidc"),
            std::string::npos);
  EXPECT_NE(config_error("auth:\n  public_url: https://a.example\n  oidc:\n    issuer: https://k.example/r\n"
                         "    client_id: a\n    client_secret: x\n    client_secret_file: /etc/x\n")
                .find("`auth.oidc.client_secret_file`"),
            std::string::npos);
  EXPECT_NE(config_error("auth:\n  public_url: https://a.example\n  oidc:\n    issuer: https://k.example/r\n"
                         "    client_id: a\n    scopes: [profile]\n")
                .find("`auth.oidc.scopes`: must include `openid`"),
            std::string::npos);
  EXPECT_NE(config_error("auth:\n  public_url: https://a.example/airlock\n").find("`auth.public_url`"),
            std::string::npos);
  EXPECT_NE(config_error("auth:\n  public_url: http://airlock.example.org\n").find("`auth.public_url`"),
            std::string::npos);
  EXPECT_EQ(config_error("auth:\n  public_url: http://airlock.example.org\n  session: {secure_cookie: false}\n"), "");
  EXPECT_NE(config_error("auth:\n  session: {secure_cookie: maybe}\n").find("`auth.session.secure_cookie`"),
            std::string::npos);
  EXPECT_NE(config_error("auth:\n  session: {lifetime: 10s}\n").find("`auth.session.lifetime`"), std::string::npos);
  EXPECT_NE(config_error("auth:\n  sesion: {}\n").find("unknown key `auth.sesion`"), std::string::npos);
  EXPECT_NE(config_error("auth:\n  public_url: https://a.example\n  oidc:\n    issuer: https://k.example/r\n"
                         "    client_id: a\n    redirect_uri: https://a.example/callback\n")
                .find("`auth.oidc.redirect_uri`"),
            std::string::npos);
}

TEST(IdentityConfig, TheCookieIsSecureUnlessPlainHttpOnLoopback) {
  gateway::Config config;
  config.listen = "127.0.0.1:8080";
  EXPECT_FALSE(gateway::secure_cookie_for(config));
  config.listen = "0.0.0.0:8080";
  EXPECT_TRUE(gateway::secure_cookie_for(config));
  config.listen = "127.0.0.1:8443";
  config.tls.cert = "cert.pem";
  EXPECT_TRUE(gateway::secure_cookie_for(config));
  config.tls = {};
  config.auth.public_url = "https://airlock.example.org";  // behind a TLS proxy on the same host
  EXPECT_TRUE(gateway::secure_cookie_for(config));
  config.auth.session.secure_cookie = false;
  EXPECT_FALSE(gateway::secure_cookie_for(config));
}

}  // namespace
}  // namespace airlock::testing
