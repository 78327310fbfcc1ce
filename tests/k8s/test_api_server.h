// An in-process Kubernetes API server for the k8s-sync tests (127.0.0.1, port 0, its own threads), written to follow
// the documented semantics of the Kubernetes API (https://kubernetes.io/docs/reference/using-api/api-concepts/):
//  - resourceVersion: one cluster-wide counter; an update (PUT, merge patch) carrying a stale resourceVersion gets
//    409 Conflict; an update without one is unconditional; a no-op write does not bump it;
//  - metadata.generation: 1 on create, bumped only when something outside metadata and status changes;
//  - the /status subresource: PUT .../status changes only status; writes to the main resource ignore status;
//  - server-side apply (PATCH application/apply-patch+yaml, fieldManager required, force=true), simplified: field
//    ownership per manager over leaf paths, lists atomic; a conflict with another manager's differing value is 409
//    unless forced; fields a manager stops applying are removed;
//  - watch (?watch=1) as chunked JSON lines from a resourceVersion, ADDED/MODIFIED/DELETED, BOOKMARK events when
//    allowWatchBookmarks and the test asks, timeoutSeconds; a resourceVersion older than the compaction point gets
//    an ERROR event with a 410 Status (or an HTTP 410, if configured); tests can inject 410 ERROR events into open
//    streams;
//  - DELETE with finalizers sets deletionTimestamp; the object goes when its finalizers are emptied; objects whose
//    ownerReferences name a deleted uid are deleted too (garbage collection, simplified);
//  - label selectors (k=v, k!=v, k) on list and watch. Job status is whatever the test writes to /status.
// Not implemented: authentication, admission, defaulting, schema validation, strategic merge patch, dry run.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace airlock::k8s::testing {

using Json = nlohmann::json;

class TestApiServer {
 public:
  TestApiServer();
  ~TestApiServer();
  TestApiServer(const TestApiServer&) = delete;
  TestApiServer& operator=(const TestApiServer&) = delete;

  int port() const;
  std::string url() const;  // http://127.0.0.1:PORT
  // Stops serving (closing every connection, ending watches) and starts again on the same port; the store survives.
  void stop();
  void start();

  // Direct access to the store (no HTTP). `collection` is an API path without the name, e.g.
  // "/apis/batch/v1/namespaces/ns/jobs". Returns null when absent.
  Json object(const std::string& collection, const std::string& name) const;
  std::vector<Json> objects(const std::string& collection) const;
  // Creates or replaces (as a PUT without resourceVersion), and writes status (as PUT .../status).
  Json put(const std::string& collection, Json object);
  Json put_status(const std::string& collection, const std::string& name, const Json& status);

  // Every watch from a resourceVersion below the current one becomes too old (410).
  void compact();
  // Sends an ERROR event with a 410 Status into every open watch stream, which the server then closes.
  void inject_gone();
  // Sends a BOOKMARK with the current resourceVersion to every open watch that allows bookmarks.
  void send_bookmarks();
  // Answer too-old watches with an HTTP 410 instead of an ERROR event.
  void set_gone_as_http_status(bool value);
  // Called for each request before routing; return 0 to serve it, an HTTP status to fail it with, or -1 to drop the
  // connection without an answer (a crash from the client's point of view).
  void set_fault(std::function<int(const std::string& method, const std::string& target)> fault);
  // Extra routes (for a fake gateway); return status 0 to fall through.
  struct Reply {
    int status = 0;
    std::string body;
  };
  void set_extra_route(std::function<Reply(const std::string& method, const std::string& target,
                                           const std::string& body, const std::string& authorization)>
                           route);

  int open_watches() const;
  int watch_requests() const;
  std::vector<std::string> requests() const;  // "METHOD target" in order
  std::string resource_version() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace airlock::k8s::testing
