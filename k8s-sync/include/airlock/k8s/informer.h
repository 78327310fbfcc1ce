// LIST then WATCH one collection from the list's resourceVersion, with bookmarks; a relist on 410 Gone (whether the
// server answers the watch request with 410 or sends it as an ERROR event inside the stream).
// The informer keeps no cache: reconcilers read fresh objects, the informer only says which keys to look at.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "airlock/k8s/client.h"

namespace airlock::k8s {

class Informer {
 public:
  // `on_object` is called for every listed object (type "SYNC") and every watch event (ADDED, MODIFIED, DELETED).
  using Handler = std::function<void(std::string_view type, const Json& object)>;

  Informer(KubeClient& client, std::string collection_path, std::string label_selector, Handler on_object);

  runtime::Status list();
  // One watch request from the current resourceVersion.
  WatchEnd watch_once(const std::function<bool()>& should_stop, std::chrono::seconds timeout);
  // list(); then watch, rewatch on close, relist on Gone, back off (`retry_delay`, real time) on failures.
  void run(const std::function<bool()>& should_stop, std::chrono::milliseconds retry_delay = std::chrono::seconds(1),
           std::chrono::seconds watch_timeout = std::chrono::seconds(300));

  std::string resource_version() const;
  int lists() const { return lists_.load(); }
  int bookmarks() const { return bookmarks_.load(); }
  bool synced() const { return lists_.load() > 0; }

 private:
  KubeClient& client_;
  std::string collection_path_;
  std::string label_selector_;
  Handler on_object_;
  mutable std::mutex mutex_;
  std::string resource_version_;
  std::atomic<int> lists_{0};
  std::atomic<int> bookmarks_{0};
};

}  // namespace airlock::k8s
