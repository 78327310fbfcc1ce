// Server-side browser sessions behind a cookie, and CSRF tokens bound to them.
//
// The cookie holds only a random 256-bit session id; everything else stays in the gateway's memory (a
// restart signs everyone out). The cookie is `__Host-airlock_session=<id>; Path=/; HttpOnly; Secure;
// SameSite=Lax`: the __Host- prefix makes the browser refuse it unless it is Secure, has Path=/ and no
// Domain, so a sibling subdomain cannot plant or overwrite it; HttpOnly keeps it from scripts; Lax sends it
// on top-level navigations (the redirect back from the provider) but not on cross-site POSTs. Where Secure
// cannot be used (the gateway on plain http, other than on localhost, which browsers treat as secure) the
// options turn secure_cookie off and the cookie becomes `airlock_session` without the prefix: local
// development only. docs/identity.md says more.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/gateway/auth/identity.h"
#include "airlock/gateway/auth/sign_in.h"

namespace airlock::gateway::auth {

struct SessionOptions {
  std::chrono::seconds lifetime{8 * 3600};    // absolute: sign in again after this
  std::chrono::seconds idle_timeout{3600};    // no request for this long ends the session
  std::size_t max_sessions = 10000;           // past this, the least recently used session is dropped
  std::chrono::seconds sign_in_timeout{600};  // how long a pending sign-in (state) waits for its callback
  std::size_t max_pending_sign_ins = 1000;    // past this, the oldest pending sign-in is dropped
  bool secure_cookie = true;                  // false: plain-http development, no __Host- prefix
};

struct Session {
  std::string id;  // the cookie value
  Identity identity;
  UnixMillis created_at = 0;
  UnixMillis last_seen = 0;
  UnixMillis expires_at = 0;  // created_at + lifetime (idle timeout aside)
};

// Thread-safe, in memory. Session ids are looked up by their SHA-256, so a lookup's timing says nothing
// useful about stored ids.
class SessionStore {
 public:
  explicit SessionStore(SessionOptions options);
  ~SessionStore();

  // A new session for a signed-in identity; returns its id (32 random bytes, base64url).
  std::string create(const Identity& identity, UnixMillis now);
  // The live session with that id (touching its idle timer), or nullopt (unknown, expired, idle too long).
  std::optional<Session> find(std::string_view id, UnixMillis now);
  void remove(std::string_view id);
  std::size_t size() const;

  // Pending sign-ins, keyed by state; take_sign_in returns each at most once, and only before it times out.
  void begin_sign_in(const PendingSignIn& pending);
  std::optional<PendingSignIn> take_sign_in(std::string_view state, UnixMillis now);

  // Set-Cookie values.
  std::string cookie_name() const;
  std::string session_cookie(std::string_view id) const;  // lives as long as the session's lifetime
  std::string clear_session_cookie() const;
  // The cookie that binds a pending sign-in to the browser that started it (name: <prefix>airlock_sign_in).
  std::string sign_in_cookie_name() const;
  std::string sign_in_cookie(std::string_view state) const;
  std::string clear_sign_in_cookie() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The value of one cookie in a `Cookie` request header, or nullopt.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

// CSRF tokens for state-changing forms: HMAC-SHA256(key, "airlock-csrf:" + session id), base64url. Put in a
// hidden field; check on every POST (constant time). Bound to the session, so a token from another session
// (or none) fails, and nothing needs storing.
class CsrfProtector {
 public:
  // The key should be 32 random bytes kept across restarts; a shorter (or empty) key is replaced by 32 random
  // bytes, which is fine while sessions live in memory (a restart ends them anyway).
  explicit CsrfProtector(std::string key);
  std::string token_for(std::string_view session_id) const;
  bool check(std::string_view session_id, std::string_view token) const;

 private:
  std::string key_;
};

}  // namespace airlock::gateway::auth
