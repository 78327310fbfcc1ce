// The test API server (see test_api_server.h for the semantics it follows) and tests of those semantics.
#include "test_api_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "airlock/k8s/client.h"

namespace airlock::k8s::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Route {
  std::string collection;  // "/apis/batch/v1/namespaces/ns/jobs" or cluster-wide "/apis/batch/v1/jobs"
  std::string type;        // "/apis/batch/v1/jobs" (the collection without the namespace)
  std::string ns;
  std::string name;
  bool status = false;
  bool valid = false;
};

Route parse_route(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  Route route;
  std::size_t at;
  std::string prefix;
  if (parts.size() >= 2 && parts[0] == "api") {
    prefix = "/api/" + parts[1];
    at = 2;
  } else if (parts.size() >= 3 && parts[0] == "apis") {
    prefix = "/apis/" + parts[1] + "/" + parts[2];
    at = 3;
  } else {
    return route;
  }
  if (parts.size() > at + 1 && parts[at] == "namespaces") {
    route.ns = parts[at + 1];
    at += 2;
  }
  if (parts.size() <= at) return route;
  route.type = prefix + "/" + parts[at];
  route.collection = route.ns.empty() ? route.type : prefix + "/namespaces/" + route.ns + "/" + parts[at];
  if (parts.size() > at + 1) route.name = parts[at + 1];
  if (parts.size() > at + 2) {
    if (parts[at + 2] != "status" || parts.size() > at + 3) return route;
    route.status = true;
  }
  route.valid = true;
  return route;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> values;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(start, end - start);
    std::size_t equals = pair.find('=');
    std::string key = pair.substr(0, equals);
    std::string value = equals == std::string::npos ? "" : pair.substr(equals + 1);
    std::string decoded;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '%' && i + 2 < value.size()) {
        decoded.push_back(static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        decoded.push_back(value[i] == '+' ? ' ' : value[i]);
      }
    }
    values[key] = decoded;
    start = end + 1;
  }
  return values;
}

bool matches_selector(const Json& object, const std::string& selector) {
  if (selector.empty()) return true;
  Json labels = object["metadata"].value("labels", Json::object());
  std::size_t start = 0;
  while (start <= selector.size()) {
    std::size_t end = selector.find(',', start);
    if (end == std::string::npos) end = selector.size();
    std::string term = selector.substr(start, end - start);
    start = end + 1;
    if (term.empty()) continue;
    std::size_t not_equal = term.find("!=");
    std::size_t equal = term.find('=');
    if (not_equal != std::string::npos) {
      std::string key = term.substr(0, not_equal);
      if (labels.contains(key) && labels[key] == term.substr(not_equal + 2)) return false;
    } else if (equal != std::string::npos) {
      std::string key = term.substr(0, equal);
      std::string value = term.substr(equal + (term.compare(equal, 2, "==") == 0 ? 2 : 1));
      if (!labels.contains(key) || labels[key] != value) return false;
    } else if (!labels.contains(term)) {
      return false;
    }
  }
  return true;
}

Json status_object(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
          {"status", "Failure"}, {"message", message}, {"reason", reason},
          {"code", code}};
}

// Leaf paths of a value: objects recurse, everything else (lists included) is a leaf.
void leaf_paths(const Json& value, const std::string& prefix, std::set<std::string>& out) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, item] : value.items()) leaf_paths(item, prefix + "/" + key, out);
  } else {
    out.insert(prefix);
  }
}

const Json* at_path(const Json& value, const std::string& path) {
  const Json* current = &value;
  std::size_t start = 1;
  while (start <= path.size() && !path.empty()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string key = path.substr(start, end - start);
    if (!current->is_object() || !current->contains(key)) return nullptr;
    current = &(*current)[key];
    start = end + 1;
  }
  return current;
}

void erase_path(Json& value, const std::string& path) {
  std::size_t slash = path.rfind('/');
  std::string parent = path.substr(0, slash);
  std::string key = path.substr(slash + 1);
  Json* current = &value;
  std::size_t start = 1;
  while (start <= parent.size() && !parent.empty()) {
    std::size_t end = parent.find('/', start);
    if (end == std::string::npos) end = parent.size();
    std::string part = parent.substr(start, end - start);
    if (!current->is_object() || !current->contains(part)) return;
    current = &(*current)[part];
    start = end + 1;
  }
  if (current->is_object()) current->erase(key);
}

void deep_merge(Json& target, const Json& patch) {
  for (const auto& [key, value] : patch.items()) {
    if (value.is_object() && target.contains(key) && target[key].is_object()) {
      deep_merge(target[key], value);
    } else {
      target[key] = value;
    }
  }
}

Json without_metadata_and_status(const Json& object) {
  Json copy = object;
  copy.erase("metadata");
  copy.erase("status");
  return copy;
}

struct Event {
  std::int64_t version;
  std::string type;
  std::string kind_path;  // Route::type
  std::string ns;
  Json object;
};

}  // namespace

struct TestApiServer::Impl {
  // The store.
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, std::map<std::string, std::map<std::string, Json>>> store;  // type -> ns -> name -> object
  std::map<std::string, std::map<std::string, std::set<std::string>>> ownership;    // uid -> manager -> leaf paths
  std::int64_t version = 100;
  std::int64_t compacted = 0;
  std::int64_t uid_counter = 0;
  std::vector<Event> events;
  std::int64_t gone_generation = 0;
  std::int64_t bookmark_generation = 0;
  bool gone_as_http = false;
  std::function<int(const std::string&, const std::string&)> fault;
  std::function<Reply(const std::string&, const std::string&, const std::string&, const std::string&)> extra_route;
  std::vector<std::string> request_log;
  int open_watches = 0;
  int watch_requests = 0;

  // The network.
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  unsigned short port = 0;
  std::thread accept_thread;
  std::mutex connections_mutex;
  std::list<std::pair<std::shared_ptr<tcp::socket>, std::thread>> connections;
  std::atomic<bool> stopping{false};

  std::string now_text() const { return "2026-01-01T00:00:00Z"; }

  void record(const std::string& type, const std::string& kind_path, const Json& object) {
    events.push_back({std::stoll(object["metadata"]["resourceVersion"].get<std::string>()), type, kind_path,
                      object["metadata"].value("namespace", ""), object});
    changed.notify_all();
  }

  std::string next_version() { return std::to_string(++version); }

  // Removes an object (finalizers already empty) and collects the garbage it owned.
  void erase_object(const std::string& type, const std::string& ns, const std::string& name) {
    auto& objects = store[type][ns];
    auto found = objects.find(name);
    if (found == objects.end()) return;
    Json object = found->second;
    objects.erase(found);
    std::string uid = object["metadata"].value("uid", "");
    ownership.erase(uid);
    object["metadata"]["resourceVersion"] = next_version();
    record("DELETED", type, object);
    std::vector<std::tuple<std::string, std::string, std::string>> dependents;
    for (auto& [other_type, namespaces] : store) {
      for (auto& [other_ns, named] : namespaces) {
        for (auto& [other_name, other] : named) {
          for (const Json& owner : other["metadata"].value("ownerReferences", Json::array())) {
            if (owner.value("uid", "") == uid) dependents.emplace_back(other_type, other_ns, other_name);
          }
        }
      }
    }
    for (const auto& [other_type, other_ns, other_name] : dependents) delete_object(other_type, other_ns, other_name);
  }

  std::pair<int, Json> delete_object(const std::string& type, const std::string& ns, const std::string& name) {
    auto& objects = store[type][ns];
    auto found = objects.find(name);
    if (found == objects.end()) return {404, status_object(404, "NotFound", name + " not found")};
    Json& object = found->second;
    if (!object["metadata"].value("finalizers", Json::array()).empty()) {
      if (!object["metadata"].contains("deletionTimestamp")) {
        object["metadata"]["deletionTimestamp"] = now_text();
        object["metadata"]["resourceVersion"] = next_version();
        record("MODIFIED", type, object);
      }
      return {200, object};
    }
    Json copy = object;
    erase_object(type, ns, name);
    return {200, copy};
  }

  // Stores `updated` in place of `old` (same name), bumping generation and resourceVersion when anything changed.
  std::pair<int, Json> commit(const Route& route, const Json& old, Json updated) {
    Json& metadata = updated["metadata"];
    for (const char* kept : {"uid", "creationTimestamp", "deletionTimestamp", "namespace", "name"}) {
      if (old["metadata"].contains(kept)) metadata[kept] = old["metadata"][kept];
    }
    std::int64_t generation = old["metadata"].value("generation", 1);
    if (without_metadata_and_status(old) != without_metadata_and_status(updated)) ++generation;
    metadata["generation"] = generation;
    metadata["resourceVersion"] = old["metadata"]["resourceVersion"];
    if (updated == old) return {200, old};
    metadata["resourceVersion"] = next_version();
    std::string name = old["metadata"]["name"];
    store[route.type][route.ns][name] = updated;
    if (metadata.contains("deletionTimestamp") && metadata.value("finalizers", Json::array()).empty()) {
      erase_object(route.type, route.ns, name);
      return {200, updated};
    }
    record("MODIFIED", route.type, updated);
    return {200, updated};
  }

  std::pair<int, Json> create(const Route& route, Json object, const std::string& manager, bool apply) {
    std::string name = object["metadata"].value("name", "");
    if (name.empty()) return {422, status_object(422, "Invalid", "metadata.name: Required value")};
    auto& objects = store[route.type][route.ns];
    if (objects.count(name) != 0) return {409, status_object(409, "AlreadyExists", name + " already exists")};
    Json& metadata = object["metadata"];
    metadata["namespace"] = route.ns;
    metadata["uid"] = "uid-" + std::to_string(++uid_counter);
    metadata["generation"] = 1;
    metadata["creationTimestamp"] = now_text();
    metadata.erase("deletionTimestamp");
    metadata["resourceVersion"] = next_version();
    if (apply && !manager.empty())
      leaf_paths(without_metadata_and_status(object), "", ownership[metadata["uid"]][manager]);
    objects[name] = object;
    record("ADDED", route.type, object);
    return {201, object};
  }

  std::pair<int, Json> handle(const std::string& method, const Route& route,
                              const std::map<std::string, std::string>& query, const std::string& body,
                              const std::string& content_type) {
    if (!route.valid) return {404, status_object(404, "NotFound", "no such path")};
    Json input;
    if (!body.empty()) {
      input = Json::parse(body, nullptr, false);
      if (input.is_discarded()) return {400, status_object(400, "BadRequest", "body is not JSON")};
    }
    std::lock_guard lock(mutex);
    auto existing_of = [&]() -> Json* {
      auto& objects = store[route.type][route.ns];
      auto found = objects.find(route.name);
      return found == objects.end() ? nullptr : &found->second;
    };
    if (method == "GET" && route.name.empty()) {
      Json items = Json::array();
      std::string selector = query.count("labelSelector") ? query.at("labelSelector") : "";
      for (const auto& [ns, named] : store[route.type]) {
        if (!route.ns.empty() && ns != route.ns) continue;
        for (const auto& [name, object] : named) {
          if (matches_selector(object, selector)) items.push_back(object);
        }
      }
      return {200,
              {{"kind", "List"},
               {"apiVersion", "v1"},
               {"metadata", {{"resourceVersion", std::to_string(version)}}},
               {"items", items}}};
    }
    if (method == "POST") {
      if (!route.name.empty()) return {405, status_object(405, "MethodNotAllowed", "POST to an object")};
      Json object = input;
      object["metadata"]["namespace"] = route.ns;
      return create(route, object, "", false);
    }
    if (route.name.empty()) return {405, status_object(405, "MethodNotAllowed", method + " on a collection")};
    Json* existing = existing_of();
    if (method == "GET") {
      if (existing == nullptr) return {404, status_object(404, "NotFound", route.name + " not found")};
      return {200, *existing};
    }
    if (method == "DELETE") return delete_object(route.type, route.ns, route.name);
    if (method == "PUT") {
      if (existing == nullptr) return {404, status_object(404, "NotFound", route.name + " not found")};
      std::string given = input["metadata"].value("resourceVersion", "");
      if (!given.empty() && given != (*existing)["metadata"]["resourceVersion"]) {
        return {409, status_object(409, "Conflict",
                                   "Operation cannot be fulfilled on " + route.name +
                                       ": the object has been modified; please apply your changes to the latest "
                                       "version and try again")};
      }
      Json updated = input;
      if (route.status) {
        updated = *existing;
        updated["status"] = input.value("status", Json::object());
      } else if (existing->contains("status")) {
        updated["status"] = (*existing)["status"];
      } else {
        updated.erase("status");
      }
      return commit(route, *existing, updated);
    }
    if (method == "PATCH" && content_type.starts_with("application/merge-patch+json")) {
      if (existing == nullptr) return {404, status_object(404, "NotFound", route.name + " not found")};
      std::string given =
          input.is_object() && input.contains("metadata") ? input["metadata"].value("resourceVersion", "") : "";
      if (!given.empty() && given != (*existing)["metadata"]["resourceVersion"]) {
        return {409, status_object(409, "Conflict", "the object has been modified")};
      }
      Json updated = *existing;
      updated.merge_patch(input);
      if (!route.status && existing->contains("status")) updated["status"] = (*existing)["status"];
      return commit(route, *existing, updated);
    }
    if (method == "PATCH" && content_type.starts_with("application/apply-patch+yaml")) {
      std::string manager = query.count("fieldManager") ? query.at("fieldManager") : "";
      if (manager.empty()) return {400, status_object(400, "BadRequest", "fieldManager is required for apply")};
      bool force = query.count("force") && query.at("force") == "true";
      if (input.value("metadata", Json::object()).value("name", "") != route.name) {
        return {400, status_object(400, "BadRequest", "the name in the body does not match the path")};
      }
      if (existing == nullptr) return create(route, input, manager, true);
      Json config = input;
      config.erase("status");
      std::set<std::string> applied;
      leaf_paths(without_metadata_and_status(config), "", applied);
      std::string uid = (*existing)["metadata"]["uid"];
      auto& owners = ownership[uid];
      std::vector<std::string> conflicts;
      for (const std::string& path : applied) {
        for (auto& [other, paths] : owners) {
          if (other == manager || paths.count(path) == 0) continue;
          const Json* current = at_path(*existing, path);
          const Json* wanted = at_path(config, path);
          if (current != nullptr && wanted != nullptr && *current != *wanted)
            conflicts.push_back(path + " (" + other + ")");
        }
      }
      if (!conflicts.empty() && !force) {
        std::string message = "Apply failed with " + std::to_string(conflicts.size()) + " conflict(s):";
        for (const std::string& conflict : conflicts) message += " " + conflict;
        return {409, status_object(409, "Conflict", message)};
      }
      Json updated = *existing;
      std::set<std::string>& mine = owners[manager];
      for (const std::string& path : mine) {
        bool shared = false;
        for (auto& [other, paths] : owners) shared = shared || (other != manager && paths.count(path) != 0);
        if (applied.count(path) == 0 && !shared) erase_path(updated, path);
      }
      deep_merge(updated, config);
      for (auto& [other, paths] : owners) {
        if (other == manager) continue;
        for (const std::string& path : applied) paths.erase(path);
      }
      mine = applied;
      if (existing->contains("status")) updated["status"] = (*existing)["status"];
      return commit(route, *existing, updated);
    }
    return {405, status_object(405, "MethodNotAllowed", method + " " + content_type)};
  }

  void serve_watch(tcp::socket& socket, const Route& route, const std::map<std::string, std::string>& query) {
    std::string selector = query.count("labelSelector") ? query.at("labelSelector") : "";
    bool bookmarks = query.count("allowWatchBookmarks") && query.at("allowWatchBookmarks") == "true";
    int timeout = query.count("timeoutSeconds") ? std::stoi(query.at("timeoutSeconds")) : 1800;
    std::string from_text = query.count("resourceVersion") ? query.at("resourceVersion") : "";
    std::unique_lock lock(mutex);
    ++watch_requests;
    std::int64_t from = from_text.empty() || from_text == "0" ? -1 : std::stoll(from_text);
    beast::error_code ec;
    if (from >= 0 && from < compacted && gone_as_http) {
      lock.unlock();
      http::response<http::string_body> response{http::status::gone, 11};
      response.set(http::field::content_type, "application/json");
      response.body() = status_object(410, "Expired", "too old resource version").dump();
      response.prepare_payload();
      http::write(socket, response, ec);
      return;
    }
    http::response<http::empty_body> header{http::status::ok, 11};
    header.set(http::field::content_type, "application/json");
    header.chunked(true);
    http::response_serializer<http::empty_body> serializer{header};
    lock.unlock();
    http::write_header(socket, serializer, ec);
    if (ec) return;
    lock.lock();
    ++open_watches;
    auto send = [&](const Json& event) {
      std::string line = event.dump() + "\n";
      lock.unlock();
      asio::write(socket, http::make_chunk(asio::buffer(line)), ec);
      lock.lock();
      return !ec;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
    std::size_t next = 0;
    std::int64_t seen_gone = gone_generation;
    std::int64_t seen_bookmark = bookmark_generation;
    bool alive = true;
    if (from >= 0 && from < compacted) {
      send({{"type", "ERROR"}, {"object", status_object(410, "Expired", "too old resource version")}});
      alive = false;
    } else if (from < 0) {  // "" or "0": the current state as ADDED, then changes
      for (const auto& [ns, named] : store[route.type]) {
        if (!route.ns.empty() && ns != route.ns) continue;
        for (const auto& [name, object] : named) {
          if (alive && matches_selector(object, selector)) alive = send({{"type", "ADDED"}, {"object", object}});
        }
      }
      next = events.size();
    } else {
      while (next < events.size() && events[next].version <= from) ++next;
    }
    while (alive && !stopping) {
      while (alive && next < events.size()) {
        const Event& event = events[next++];
        if (event.kind_path != route.type || (!route.ns.empty() && event.ns != route.ns)) continue;
        if (!matches_selector(event.object, selector)) continue;
        Json object = event.object;
        alive = send({{"type", event.type}, {"object", object}});
      }
      if (!alive) break;
      if (gone_generation != seen_gone) {
        send({{"type", "ERROR"}, {"object", status_object(410, "Expired", "too old resource version")}});
        break;
      }
      if (bookmark_generation != seen_bookmark) {
        seen_bookmark = bookmark_generation;
        if (bookmarks) {
          alive =
              send({{"type", "BOOKMARK"},
                    {"object", {{"kind", "Bookmark"}, {"metadata", {{"resourceVersion", std::to_string(version)}}}}}});
          continue;
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      changed.wait_for(lock, std::chrono::milliseconds(50));
    }
    --open_watches;
    lock.unlock();
    if (!stopping) asio::write(socket, http::make_chunk_last(), ec);
  }

  void serve_connection(std::shared_ptr<tcp::socket> socket) {
    beast::flat_buffer buffer;
    while (!stopping) {
      http::request<http::string_body> request;
      beast::error_code ec;
      http::read(*socket, buffer, request, ec);
      if (ec) return;
      std::string target(request.target());
      std::string method(request.method_string());
      std::string path = target.substr(0, target.find('?'));
      std::string query_text = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
      std::function<int(const std::string&, const std::string&)> fault_copy;
      std::function<Reply(const std::string&, const std::string&, const std::string&, const std::string&)> route_copy;
      {
        std::lock_guard lock(mutex);
        request_log.push_back(method + " " + target);
        fault_copy = fault;
        route_copy = extra_route;
      }
      int injected = fault_copy ? fault_copy(method, target) : 0;
      if (injected < 0) {
        socket->shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
      http::response<http::string_body> response{http::status::ok, request.version()};
      response.set(http::field::content_type, "application/json");
      std::map<std::string, std::string> query = parse_query(query_text);
      Reply extra = route_copy
                        ? route_copy(method, target, request.body(), std::string(request[http::field::authorization]))
                        : Reply{};
      if (injected > 0) {
        response.result(static_cast<unsigned>(injected));
        response.body() = status_object(injected, "InternalError", "injected failure").dump();
      } else if (extra.status != 0) {
        response.result(static_cast<unsigned>(extra.status));
        response.body() = extra.body;
      } else {
        Route route = parse_route(path);
        bool watch = method == "GET" && (query["watch"] == "1" || query["watch"] == "true");
        if (watch && route.valid) {
          serve_watch(*socket, route, query);
          return;  // a watch ends its connection
        }
        auto [status, body] =
            handle(method, route, query, request.body(), std::string(request[http::field::content_type]));
        response.result(static_cast<unsigned>(status));
        response.body() = body.dump();
      }
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(*socket, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }

  void accept_loop() {
    while (!stopping) {
      auto socket = std::make_shared<tcp::socket>(io);
      beast::error_code ec;
      acceptor->accept(*socket, ec);
      if (ec || stopping) return;
      std::lock_guard lock(connections_mutex);
      connections.emplace_back(socket, std::thread([this, socket] { serve_connection(socket); }));
    }
  }

  void start() {
    stopping = false;
    acceptor = std::make_unique<tcp::acceptor>(io);
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    acceptor->bind(endpoint);
    acceptor->listen();
    port = acceptor->local_endpoint().port();
    accept_thread = std::thread([this] { accept_loop(); });
  }

  void stop() {
    if (!acceptor) return;
    stopping = true;
    ::shutdown(acceptor->native_handle(), SHUT_RDWR);
    accept_thread.join();
    beast::error_code ec;
    acceptor->close(ec);
    acceptor.reset();
    {
      std::lock_guard lock(mutex);
      changed.notify_all();
    }
    std::list<std::pair<std::shared_ptr<tcp::socket>, std::thread>> closing;
    {
      std::lock_guard lock(connections_mutex);
      closing.swap(connections);
    }
    for (auto& [socket, thread] : closing) ::shutdown(socket->native_handle(), SHUT_RDWR);
    for (auto& [socket, thread] : closing) thread.join();
  }
};

TestApiServer::TestApiServer() : impl_(std::make_unique<Impl>()) { impl_->start(); }
TestApiServer::~TestApiServer() { impl_->stop(); }
int TestApiServer::port() const { return impl_->port; }
std::string TestApiServer::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }
void TestApiServer::stop() { impl_->stop(); }
void TestApiServer::start() { impl_->start(); }

Json TestApiServer::object(const std::string& collection, const std::string& name) const {
  Route route = parse_route(collection + "/" + name);
  std::lock_guard lock(impl_->mutex);
  auto& objects = impl_->store[route.type][route.ns];
  auto found = objects.find(name);
  return found == objects.end() ? Json() : found->second;
}

std::vector<Json> TestApiServer::objects(const std::string& collection) const {
  Route route = parse_route(collection);
  std::lock_guard lock(impl_->mutex);
  std::vector<Json> result;
  for (const auto& [name, object] : impl_->store[route.type][route.ns]) result.push_back(object);
  return result;
}

Json TestApiServer::put(const std::string& collection, Json object) {
  std::string name = object["metadata"]["name"];
  Route route = parse_route(collection + "/" + name);
  std::lock_guard lock(impl_->mutex);
  auto& objects = impl_->store[route.type][route.ns];
  auto found = objects.find(name);
  if (found == objects.end()) return impl_->create(route, object, "", false).second;
  object["metadata"].erase("resourceVersion");
  if (found->second.contains("status") && !object.contains("status")) object["status"] = found->second["status"];
  return impl_->commit(route, found->second, object).second;
}

Json TestApiServer::put_status(const std::string& collection, const std::string& name, const Json& status) {
  Route route = parse_route(collection + "/" + name + "/status");
  std::lock_guard lock(impl_->mutex);
  auto& objects = impl_->store[route.type][route.ns];
  auto found = objects.find(name);
  if (found == objects.end()) return Json();
  Json updated = found->second;
  updated["status"] = status;
  return impl_->commit(route, found->second, updated).second;
}

void TestApiServer::compact() {
  std::lock_guard lock(impl_->mutex);
  impl_->compacted = impl_->version;
}
void TestApiServer::inject_gone() {
  std::lock_guard lock(impl_->mutex);
  ++impl_->gone_generation;
  impl_->changed.notify_all();
}
void TestApiServer::send_bookmarks() {
  std::lock_guard lock(impl_->mutex);
  ++impl_->bookmark_generation;
  impl_->changed.notify_all();
}
void TestApiServer::set_gone_as_http_status(bool value) {
  std::lock_guard lock(impl_->mutex);
  impl_->gone_as_http = value;
}
void TestApiServer::set_fault(std::function<int(const std::string&, const std::string&)> fault) {
  std::lock_guard lock(impl_->mutex);
  impl_->fault = std::move(fault);
}
void TestApiServer::set_extra_route(
    std::function<Reply(const std::string&, const std::string&, const std::string&, const std::string&)> route) {
  std::lock_guard lock(impl_->mutex);
  impl_->extra_route = std::move(route);
}
int TestApiServer::open_watches() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->open_watches;
}
int TestApiServer::watch_requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->watch_requests;
}
std::vector<std::string> TestApiServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->request_log;
}
std::string TestApiServer::resource_version() const {
  std::lock_guard lock(impl_->mutex);
  return std::to_string(impl_->version);
}

// ---- Tests of the server's semantics, through the real client. ----

namespace {

ClusterConfig config_for(const TestApiServer& server) {
  ClusterConfig config;
  EXPECT_TRUE(set_server(config, server.url()));
  return config;
}

const std::string kConfigMaps = "/api/v1/namespaces/ns/configmaps";

Json config_map(const std::string& name, const Json& data) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

}  // namespace

TEST(TestApiServer, StaleResourceVersionGetsConflict) {
  TestApiServer server;
  KubeClient client(config_for(server));
  ApiResponse created = client.create(kConfigMaps, config_map("a", {{"k", "1"}}));
  ASSERT_EQ(created.status, 201);
  Json first = created.body;
  Json changed = first;
  changed["data"]["k"] = "2";
  ASSERT_TRUE(client.update(kConfigMaps + "/a", changed).ok());
  first["data"]["k"] = "3";
  EXPECT_EQ(client.update(kConfigMaps + "/a", first).status, 409);
  EXPECT_EQ(client.get(kConfigMaps + "/a").body["data"]["k"], "2");
}

TEST(TestApiServer, GenerationMovesOnlyWithSpec) {
  TestApiServer server;
  KubeClient client(config_for(server));
  Json object = client.create(kConfigMaps, config_map("a", {{"k", "1"}})).body;
  EXPECT_EQ(object["metadata"]["generation"], 1);
  object["metadata"]["labels"] = {{"x", "y"}};
  object = client.update(kConfigMaps + "/a", object).body;
  EXPECT_EQ(object["metadata"]["generation"], 1);
  object["status"] = {{"phase", "done"}};
  object = client.update_status(kConfigMaps + "/a", object).body;
  EXPECT_EQ(object["metadata"]["generation"], 1);
  EXPECT_EQ(object["status"]["phase"], "done");
  object["data"]["k"] = "2";
  object = client.update(kConfigMaps + "/a", object).body;
  EXPECT_EQ(object["metadata"]["generation"], 2);
  EXPECT_EQ(object["status"]["phase"], "done");  // the main resource does not write status
}

TEST(TestApiServer, ApplyOwnsFieldsPerManager) {
  TestApiServer server;
  KubeClient first(config_for(server));
  KubeClient second(config_for(server));
  first.field_manager = "one";
  second.field_manager = "two";
  ASSERT_TRUE(first.apply(kConfigMaps + "/a", config_map("a", {{"k", "1"}, {"old", "x"}})).ok());
  EXPECT_EQ(second.apply(kConfigMaps + "/a", config_map("a", {{"k", "2"}}), false).status, 409);
  ASSERT_TRUE(second.apply(kConfigMaps + "/a", config_map("a", {{"k", "2"}}), true).ok());
  // `one` stops applying `old`: it goes; `k` now belongs to `two` and stays.
  ASSERT_TRUE(first.apply(kConfigMaps + "/a", config_map("a", Json::object()), false).ok());
  Json data = server.object(kConfigMaps, "a")["data"];
  EXPECT_EQ(data, Json({{"k", "2"}}));
}

TEST(TestApiServer, FinalizersHoldDeletionAndOwnersCollectDependents) {
  TestApiServer server;
  KubeClient client(config_for(server));
  Json owner = config_map("owner", {});
  owner["metadata"]["finalizers"] = {"example.com/f"};
  owner = client.create(kConfigMaps, owner).body;
  Json dependent = config_map("dependent", {});
  dependent["metadata"]["ownerReferences"] = {{{"uid", owner["metadata"]["uid"]}, {"name", "owner"}}};
  ASSERT_EQ(client.create(kConfigMaps, dependent).status, 201);
  ASSERT_TRUE(client.remove(kConfigMaps + "/owner").ok());
  Json held = client.get(kConfigMaps + "/owner").body;
  EXPECT_TRUE(held["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(client.merge_patch(kConfigMaps + "/owner", {{"metadata", {{"finalizers", Json::array()}}}}).ok());
  EXPECT_TRUE(client.get(kConfigMaps + "/owner").not_found());
  EXPECT_TRUE(client.get(kConfigMaps + "/dependent").not_found());
}

TEST(TestApiServer, WatchFromACompactedVersionIsGone) {
  TestApiServer server;
  KubeClient client(config_for(server));
  ASSERT_EQ(client.create(kConfigMaps, config_map("a", {})).status, 201);
  std::string old = server.resource_version();
  ASSERT_EQ(client.create(kConfigMaps, config_map("b", {})).status, 201);
  server.compact();
  std::function<bool()> never = [] { return false; };
  EXPECT_EQ(client.watch(
                kConfigMaps + "?watch=1&resourceVersion=" + old, [](const Json&) {}, never),
            WatchEnd::kGone);
  server.set_gone_as_http_status(true);
  EXPECT_EQ(client.watch(
                kConfigMaps + "?watch=1&resourceVersion=" + old, [](const Json&) {}, never),
            WatchEnd::kGone);
}

}  // namespace airlock::k8s::testing
