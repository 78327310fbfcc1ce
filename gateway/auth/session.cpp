#include "airlock/gateway/auth/session.h"

#include <list>
#include <map>
#include <mutex>
#include <unordered_map>

#include "airlock/gateway/auth/crypto.h"

namespace airlock::gateway::auth {
namespace {

UnixMillis millis(std::chrono::seconds seconds) { return std::chrono::milliseconds(seconds).count(); }

}  // namespace

struct SessionStore::State {
  explicit State(SessionOptions o) : options(o) {}

  struct Entry {
    Session session;
    std::list<std::string>::iterator recency;  // position in `by_recency` (front: most recent)
  };

  SessionOptions options;
  mutable std::mutex mutex;
  std::unordered_map<std::string, Entry> sessions;  // key: SHA-256 of the session id
  std::list<std::string> by_recency;
  std::map<std::string, PendingSignIn> pending;  // key: SHA-256 of the state
  std::list<std::string> pending_order;          // oldest first

  bool live(const Session& session, UnixMillis now) const {
    return now < session.expires_at && now - session.last_seen < millis(options.idle_timeout);
  }

  void erase(std::unordered_map<std::string, Entry>::iterator it) {
    by_recency.erase(it->second.recency);
    sessions.erase(it);
  }

  void make_room(UnixMillis now) {
    if (sessions.size() < options.max_sessions) return;
    for (auto it = sessions.begin(); it != sessions.end();) {
      auto next = std::next(it);
      if (!live(it->second.session, now)) erase(it);
      it = next;
    }
    while (!sessions.empty() && sessions.size() >= options.max_sessions) erase(sessions.find(by_recency.back()));
  }

  std::string prefix() const { return options.secure_cookie ? "__Host-" : ""; }
  std::string attributes() const {
    return std::string("; Path=/; HttpOnly") + (options.secure_cookie ? "; Secure" : "") + "; SameSite=Lax";
  }
};

SessionStore::SessionStore(SessionOptions options) : state_(std::make_unique<State>(options)) {}
SessionStore::~SessionStore() = default;

std::string SessionStore::create(const Identity& identity, UnixMillis now) {
  Session session;
  session.id = base64url_encode(random_bytes(32));
  session.identity = identity;
  session.created_at = now;
  session.last_seen = now;
  session.expires_at = now + millis(state_->options.lifetime);
  const std::string key = sha256(session.id);
  std::lock_guard lock(state_->mutex);
  state_->make_room(now);
  state_->by_recency.push_front(key);
  state_->sessions.emplace(key, State::Entry{session, state_->by_recency.begin()});
  return session.id;
}

std::optional<Session> SessionStore::find(std::string_view id, UnixMillis now) {
  if (id.empty()) return std::nullopt;
  const std::string key = sha256(id);
  std::lock_guard lock(state_->mutex);
  const auto it = state_->sessions.find(key);
  if (it == state_->sessions.end()) return std::nullopt;
  if (!state_->live(it->second.session, now)) {
    state_->erase(it);
    return std::nullopt;
  }
  it->second.session.last_seen = std::max(it->second.session.last_seen, now);
  state_->by_recency.splice(state_->by_recency.begin(), state_->by_recency, it->second.recency);
  return it->second.session;
}

void SessionStore::remove(std::string_view id) {
  const std::string key = sha256(id);
  std::lock_guard lock(state_->mutex);
  const auto it = state_->sessions.find(key);
  if (it != state_->sessions.end()) state_->erase(it);
}

std::size_t SessionStore::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->sessions.size();
}

void SessionStore::begin_sign_in(const PendingSignIn& pending) {
  const std::string key = sha256(pending.state);
  std::lock_guard lock(state_->mutex);
  const UnixMillis timeout = millis(state_->options.sign_in_timeout);
  while (!state_->pending_order.empty()) {
    const auto oldest = state_->pending.find(state_->pending_order.front());
    const bool stale = oldest == state_->pending.end() || pending.created_at - oldest->second.created_at >= timeout;
    if (!stale && state_->pending.size() < state_->options.max_pending_sign_ins) break;
    if (oldest != state_->pending.end()) state_->pending.erase(oldest);
    state_->pending_order.pop_front();
  }
  if (state_->pending.emplace(key, pending).second) state_->pending_order.push_back(key);
}

std::optional<PendingSignIn> SessionStore::take_sign_in(std::string_view state, UnixMillis now) {
  if (state.empty()) return std::nullopt;
  const std::string key = sha256(state);
  std::lock_guard lock(state_->mutex);
  const auto it = state_->pending.find(key);
  if (it == state_->pending.end()) return std::nullopt;
  PendingSignIn pending = std::move(it->second);
  state_->pending.erase(it);  // its entry in pending_order is skipped when reached
  if (now - pending.created_at >= millis(state_->options.sign_in_timeout) || now < pending.created_at) {
    return std::nullopt;
  }
  return pending;
}

std::string SessionStore::cookie_name() const { return state_->prefix() + "airlock_session"; }

std::string SessionStore::session_cookie(std::string_view id) const {
  return cookie_name() + "=" + std::string(id) + state_->attributes() +
         "; Max-Age=" + std::to_string(state_->options.lifetime.count());
}

std::string SessionStore::clear_session_cookie() const {
  return cookie_name() + "=" + state_->attributes() + "; Max-Age=0";
}

std::string SessionStore::sign_in_cookie_name() const { return state_->prefix() + "airlock_sign_in"; }

std::string SessionStore::sign_in_cookie(std::string_view state) const {
  return sign_in_cookie_name() + "=" + std::string(state) + state_->attributes() +
         "; Max-Age=" + std::to_string(state_->options.sign_in_timeout.count());
}

std::string SessionStore::clear_sign_in_cookie() const {
  return sign_in_cookie_name() + "=" + state_->attributes() + "; Max-Age=0";
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos || pair.substr(0, equals) != name) continue;
    std::string_view value = pair.substr(equals + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return std::nullopt;
}

CsrfProtector::CsrfProtector(std::string key) : key_(key.size() >= 32 ? std::move(key) : random_bytes(32)) {}

std::string CsrfProtector::token_for(std::string_view session_id) const {
  return base64url_encode(hmac_sha256(key_, "airlock-csrf:" + std::string(session_id)));
}

bool CsrfProtector::check(std::string_view session_id, std::string_view token) const {
  if (session_id.empty() || token.empty()) return false;
  return constant_time_equals(token_for(session_id), token);
}

}  // namespace airlock::gateway::auth
