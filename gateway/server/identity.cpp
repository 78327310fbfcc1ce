// Who sends a request, and the browser sign-in (docs/identity.md, contract in the #5 notes):
//   1. `Authorization: Bearer` with a static token from the configuration (`tokens:`, or the local token);
//   2. else a bearer JWT verified against the OpenID provider's keys (when `auth.oidc` is configured);
//   3. else the session cookie set by /auth/callback (OIDC) or /auth/token (a static token), with the
//      X-CSRF-Token header required on every state-changing method.
// The routes under /auth/ start and end browser sessions. Failures are logged with their reason; clients get
// only 401 (or 403 for a failed CSRF check, 400 for a broken callback).
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

#include "airlock/gateway/auth/crypto.h"
#include "airlock/gateway/auth/static_tokens.h"
#include "service.h"

namespace airlock::gateway::server {
namespace {

using runtime::Error;
using runtime::Result;
using runtime::Status;

constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

std::string dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_safe_method(http::verb method) {
  return method == http::verb::get || method == http::verb::head || method == http::verb::options;
}

std::string header_text(const RequestHeader& header, std::string_view name) {
  auto it = header.find(name);
  return it == header.end() ? std::string() : std::string(it->value());
}

// The value of a cookie in the request's Cookie header(s).
std::optional<std::string> request_cookie(const RequestHeader& header, std::string_view name) {
  auto [begin, end] = header.equal_range(http::field::cookie);
  for (auto it = begin; it != end; ++it) {
    if (std::optional<std::string> value = auth::cookie_value(it->value(), name)) return value;
  }
  return std::nullopt;
}

// A compact JWS has three dot-separated parts; anything else is not worth the verifier's time.
bool looks_like_jwt(std::string_view token) { return std::count(token.begin(), token.end(), '.') == 2; }

Principal principal_of(const auth::Identity& identity, std::string session_id = {}) {
  Principal principal;
  principal.user = identity.user();
  principal.roles = identity.roles;
  principal.name = identity.name;
  principal.session_id = std::move(session_id);
  return principal;
}

// "application/json; charset=utf-8" -> true.
bool is_json_content_type(std::string_view value) {
  std::string_view media = value.substr(0, value.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json";
}

// A login_hint passed on to the provider: a short user name, nothing that could break the URL or a log line.
bool acceptable_login_hint(std::string_view hint) {
  return !hint.empty() && hint.size() <= 128 && std::all_of(hint.begin(), hint.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '@' || c == '+';
  });
}

// An OAuth error code from the provider's redirect (RFC 6749 4.1.2.1), kept only when it looks like one.
std::string provider_error_code(std::string_view code) {
  if (code.size() > 64 || !std::all_of(code.begin(), code.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || c == '_';
      })) {
    return "error";
  }
  return std::string(code);
}

void no_store(Response& response) { response.set(http::field::cache_control, "no-store"); }

}  // namespace

Status Service::open_identity() {
  auth::SessionOptions session_options;
  session_options.lifetime = config_.auth.session.lifetime;
  session_options.idle_timeout = config_.auth.session.idle_timeout;
  session_options.secure_cookie = secure_cookie_for(config_);
  sessions_ = std::make_unique<auth::SessionStore>(session_options);
  // Sessions live in memory, so a key that changes at every start costs nothing: a restart ends them anyway.
  csrf_ = std::make_unique<auth::CsrfProtector>(auth::random_bytes(32));
  if (!session_options.secure_cookie) {
    log_.warn("the session cookie is not Secure (plain http); fine on localhost, never in production",
              {{"cookie", sessions_->cookie_name()}});
  }

  const OidcConfig& oidc = config_.auth.oidc;
  if (!oidc.enabled()) return Status::ok();
  auth::HttpClientOptions http_options;
  http_options.timeout = std::chrono::seconds(5);
  http_options.ca_file = oidc.ca_file;
  http_options.allow_http_loopback = true;  // the configuration allows plain http only on loopback issuers
  auth::JwtVerifierOptions verifier_options;
  verifier_options.issuer = oidc.issuer;
  verifier_options.audiences = oidc.audiences;
  verifier_options.client_id = oidc.client_id;
  verifier_options.role_clients = oidc.role_clients;
  verifier_options.leeway = oidc.leeway;
  verifier_options.jwks_refetch_interval = oidc.jwks_refetch_interval;
  verifier_options.http = http_options;
  jwt_ = std::make_unique<auth::JwtVerifier>(verifier_options);

  auth::OidcClientOptions client_options;
  client_options.client_id = oidc.client_id;
  client_options.client_secret = oidc.client_secret;
  client_options.redirect_uri = oidc.redirect_uri;
  client_options.scopes = oidc.scopes;
  oidc_ = std::make_unique<auth::OidcClient>(client_options, *jwt_, auth::HttpClient(http_options));

  // Fetch the keys now: a wrong issuer shows in the start-up log rather than at the first request. The
  // provider may start after the gateway, so this is a warning; the verifier fetches again on first use.
  if (Status keys = jwt_->refresh_keys(now_millis()); !keys) {
    log_.warn("the OpenID provider's keys could not be fetched at start; retrying on first use",
              {{"issuer", oidc.issuer}, {"error", keys.message()}});
  } else {
    log_.info("OpenID provider ready",
              {{"issuer", oidc.issuer}, {"client_id", oidc.client_id}, {"redirect_uri", oidc.redirect_uri}});
  }
  return Status::ok();
}

std::variant<Principal, Response> Service::authenticate(const RequestHeader& header) const {
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  auto unauthorized = [&](std::string_view message) {
    Response response = error_response(401, "unauthorized", message, version, keep_alive);
    response.set(http::field::www_authenticate, "Bearer realm=\"airlock\"");
    return response;
  };

  // 1 and 2: a bearer credential. When one is sent, it decides: no falling back to the cookie.
  if (auto it = header.find(http::field::authorization); it != header.end()) {
    std::optional<std::string_view> token = auth::bearer_token(it->value());
    if (!token || token->empty()) return unauthorized("the Authorization header must be `Bearer TOKEN`");
    // Compare against every token in constant time, so timing says nothing about which prefix matched.
    const Principal* found = nullptr;
    for (const auto& [candidate, principal] : tokens_) {
      if (candidate.size() == token->size() && CRYPTO_memcmp(candidate.data(), token->data(), token->size()) == 0) {
        found = &principal;
      }
    }
    if (found != nullptr) return *found;
    if (jwt_ && looks_like_jwt(*token)) {
      Result<auth::Identity> identity = jwt_->verify(*token, now_millis());
      if (identity) return principal_of(*identity);
      log_.info("bearer token refused", {{"reason", identity.message()}});
    }
    return unauthorized("the bearer token is not valid");
  }

  // 3: the browser session.
  std::optional<std::string> session_id = request_cookie(header, sessions_->cookie_name());
  if (!session_id) return unauthorized("a bearer token or a browser session is required (Authorization: Bearer TOKEN)");
  std::optional<auth::Session> session = sessions_->find(*session_id, now_millis());
  if (!session) return unauthorized("the session has ended; sign in again");
  if (!is_safe_method(header.method())) {
    std::string token = header_text(header, kCsrfHeader);
    if (token.empty() || !csrf_->check(session->id, token)) {
      log_.info("CSRF check failed", {{"user", session->identity.user()},
                                      {"method", std::string(header.method_string())},
                                      {"path", std::string(target_path(header.target()))},
                                      {"token_sent", !token.empty()}});
      return error_response(403, "csrf",
                            token.empty() ? "a request with the session cookie that changes something needs the "
                                            "X-CSRF-Token header (csrf_token from GET /auth/session)"
                                          : "the X-CSRF-Token header does not belong to this session",
                            version, keep_alive);
    }
  }
  return principal_of(session->identity, session->id);
}

std::optional<Response> Service::handle_sign_in(const RequestHeader& header, const std::string& body) {
  std::string_view path = target_path(header.target());
  if (path != "/auth" && !path.starts_with("/auth/")) return std::nullopt;
  const unsigned version = header.version();
  const bool keep_alive = wants_keep_alive(header);
  const http::verb method = header.method();
  const UnixMillis now = now_millis();

  auto fail = [&](unsigned status, std::string_view code, std::string_view message) {
    Response response = error_response(status, code, message, version, keep_alive);
    no_store(response);
    return response;
  };
  auto only = [&](std::string_view allowed) {
    Response response = fail(405, "method_not_allowed", "use " + std::string(allowed));
    response.set(http::field::allow, std::string(allowed));
    return response;
  };
  // The signed-in session's JSON (GET /auth/session, POST /auth/token).
  auto session_json = [&](const auth::Session& session) {
    nlohmann::ordered_json out{{"signed_in", true},
                               {"user", session.identity.user()},
                               {"name", session.identity.name},
                               {"roles", session.identity.roles},
                               {"csrf_token", csrf_->token_for(session.id)}};
    return dump(out);
  };
  auto current_session = [&]() -> std::optional<auth::Session> {
    std::optional<std::string> id = request_cookie(header, sessions_->cookie_name());
    if (!id) return std::nullopt;
    return sessions_->find(*id, now);
  };

  if (path == "/auth/session") {
    if (method != http::verb::get && method != http::verb::head) return only("GET");
    std::string text;
    if (std::optional<auth::Session> session = current_session()) {
      text = session_json(*session);
    } else {
      nlohmann::ordered_json out{
          {"signed_in", false},
          {"sign_in_url", oidc_ ? nlohmann::ordered_json("/auth/login") : nlohmann::ordered_json(nullptr)},
          {"token_sign_in", config_.auth.token_sign_in}};
      text = dump(out);
    }
    Response response = json_response(200, std::move(text), version, keep_alive);
    no_store(response);
    return response;
  }

  if (path == "/auth/login") {
    if (method != http::verb::get) return only("GET");
    if (!oidc_) return fail(404, "not_found", "no identity provider is configured (auth.oidc); sign in with a token");
    Result<auth::AuthorizationRedirect> redirect = oidc_->begin(query_parameter(header.target(), "return_to"), now);
    if (!redirect) {
      log_.error("sign-in cannot start: the identity provider is unreachable", {{"error", redirect.message()}});
      return fail(502, "provider_unavailable", "the identity provider cannot be reached; try again later");
    }
    sessions_->begin_sign_in(redirect->pending);
    std::string location = redirect->url;
    // login_hint (OpenID Connect Core 3.1.2.1) is only a hint to the provider's login page: passed on as is.
    if (std::string hint = query_parameter(header.target(), "login_hint"); acceptable_login_hint(hint)) {
      location += "&login_hint=" + auth::url_encode(hint);
    }
    Response response{http::status::found, version};
    response.keep_alive(keep_alive);
    response.set(http::field::location, location);
    response.set(http::field::set_cookie, sessions_->sign_in_cookie(redirect->pending.state));
    no_store(response);
    response.prepare_payload();
    return response;
  }

  if (path == "/auth/callback") {
    if (method != http::verb::get) return only("GET");
    if (!oidc_) return fail(404, "not_found", "no identity provider is configured (auth.oidc)");
    auto refuse = [&](std::string_view code, std::string_view message) {
      Response response = fail(400, code, message);
      response.insert(http::field::set_cookie, sessions_->clear_sign_in_cookie());
      return response;
    };
    if (std::string error = query_parameter(header.target(), "error"); !error.empty()) {
      std::string code = provider_error_code(error);
      log_.info("sign-in refused by the identity provider", {{"error", code}});
      return refuse("sign_in_failed", "the identity provider did not sign you in (" + code + "); start again");
    }
    std::string code = query_parameter(header.target(), "code");
    std::string state = query_parameter(header.target(), "state");
    if (code.empty() || state.empty()) return refuse("invalid_request", "the callback needs `code` and `state`");
    std::optional<std::string> expected = request_cookie(header, sessions_->sign_in_cookie_name());
    if (!expected || !auth::constant_time_equals(*expected, state)) {
      log_.info("sign-in callback refused: its state is not this browser's", {{"state_cookie", expected.has_value()}});
      return refuse("invalid_state", "this sign-in was not started in this browser, or it has expired; start again");
    }
    std::optional<auth::PendingSignIn> pending = sessions_->take_sign_in(state, now);
    if (!pending) {
      return refuse("invalid_state", "this sign-in is unknown, was completed already or has expired; start again");
    }
    Result<auth::SignedIn> signed_in = oidc_->finish(code, *pending, now);
    if (!signed_in) {
      log_.warn("sign-in failed", {{"error", signed_in.message()}});
      return refuse("sign_in_failed", "the sign-in could not be completed; start again");
    }
    if (std::optional<std::string> old = request_cookie(header, sessions_->cookie_name())) sessions_->remove(*old);
    std::string id = sessions_->create(signed_in->identity, now);
    log_.info("signed in", {{"user", signed_in->identity.user()},
                            {"roles", signed_in->identity.roles},
                            {"issuer", signed_in->identity.issuer}});
    Response response{http::status::see_other, version};
    response.keep_alive(keep_alive);
    response.set(http::field::location, pending->return_to);
    response.insert(http::field::set_cookie, sessions_->session_cookie(id));
    response.insert(http::field::set_cookie, sessions_->clear_sign_in_cookie());
    no_store(response);
    response.prepare_payload();
    return response;
  }

  if (path == "/auth/token") {
    if (method != http::verb::post) return only("POST");
    if (!config_.auth.token_sign_in) {
      return fail(404, "not_found", "sign-in with a token is disabled (auth.token_sign_in: false)");
    }
    // JSON only: a cross-site HTML form cannot send it without the browser asking first (CORS preflight).
    if (!is_json_content_type(header_text(header, "Content-Type"))) {
      return fail(415, "unsupported_media_type", "send {\"token\": \"...\"} with Content-Type: application/json");
    }
    nlohmann::json document = nlohmann::json::parse(body, nullptr, false);
    if (document.is_discarded() || !document.is_object() || !document.contains("token") ||
        !document["token"].is_string()) {
      return fail(400, "invalid", "expected {\"token\": \"...\"}");
    }
    const std::string token = document["token"].get<std::string>();
    const Principal* found = nullptr;
    for (const auto& [candidate, principal] : tokens_) {
      if (candidate.size() == token.size() && CRYPTO_memcmp(candidate.data(), token.data(), token.size()) == 0) {
        found = &principal;
      }
    }
    if (found == nullptr) {
      log_.info("token sign-in refused");
      return fail(401, "unauthorized", "the token is not valid");
    }
    auth::Identity identity;
    identity.subject = found->user;
    identity.preferred_username = found->user;
    identity.name = found->name;
    identity.roles = found->roles;
    std::sort(identity.roles.begin(), identity.roles.end());
    identity.roles.erase(std::unique(identity.roles.begin(), identity.roles.end()), identity.roles.end());
    identity.issuer = "static";
    if (std::optional<std::string> old = request_cookie(header, sessions_->cookie_name())) sessions_->remove(*old);
    std::string id = sessions_->create(identity, now);
    std::optional<auth::Session> session = sessions_->find(id, now);
    if (!session) return fail(500, "internal", "the session could not be created");
    log_.info("signed in", {{"user", identity.user()}, {"roles", identity.roles}, {"issuer", "static"}});
    Response response = json_response(200, session_json(*session), version, keep_alive);
    response.set(http::field::set_cookie, sessions_->session_cookie(id));
    no_store(response);
    return response;
  }

  if (path == "/auth/logout") {
    if (method != http::verb::post) return only("POST");
    if (std::optional<auth::Session> session = current_session()) {
      std::string token = header_text(header, kCsrfHeader);
      if (token.empty() || !csrf_->check(session->id, token)) {
        return fail(403, "csrf", "signing out needs the X-CSRF-Token header (csrf_token from GET /auth/session)");
      }
      sessions_->remove(session->id);
      log_.info("signed out", {{"user", session->identity.user()}});
    }
    Response response = empty_response(204, version, keep_alive);
    response.set(http::field::set_cookie, sessions_->clear_session_cookie());
    no_store(response);
    return response;
  }

  return fail(404, "not_found", "no such resource: " + std::string(path));
}

}  // namespace airlock::gateway::server
