#include "airlock/k8s/informer.h"

#include <thread>

namespace airlock::k8s {

Informer::Informer(KubeClient& client, std::string collection_path, std::string label_selector, Handler on_object)
    : client_(client),
      collection_path_(std::move(collection_path)),
      label_selector_(std::move(label_selector)),
      on_object_(std::move(on_object)) {}

std::string Informer::resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

runtime::Status Informer::list() {
  std::string target = collection_path_;
  if (!label_selector_.empty()) target += "?labelSelector=" + url_encode(label_selector_);
  ApiResponse response = client_.get(target);
  if (!response.ok()) return runtime::Error{"list " + collection_path_ + ": " + response.describe()};
  if (!response.body.is_object()) return runtime::Error{"list " + collection_path_ + ": not a JSON object"};
  if (response.body.contains("items") && response.body["items"].is_array()) {
    for (const Json& item : response.body["items"]) on_object_("SYNC", item);
  }
  {
    std::lock_guard lock(mutex_);
    const Json& metadata = response.body.contains("metadata") ? response.body["metadata"] : Json::object();
    resource_version_ = metadata.is_object() ? metadata.value("resourceVersion", "") : "";
  }
  lists_.fetch_add(1);
  return runtime::Status::ok();
}

WatchEnd Informer::watch_once(const std::function<bool()>& should_stop, std::chrono::seconds timeout) {
  std::string target = collection_path_ +
                       "?watch=1&allowWatchBookmarks=true&resourceVersion=" + url_encode(resource_version()) +
                       "&timeoutSeconds=" + std::to_string(timeout.count());
  if (!label_selector_.empty()) target += "&labelSelector=" + url_encode(label_selector_);
  return client_.watch(
      target,
      [&](const Json& event) {
        const Json object = event.contains("object") && event["object"].is_object() ? event["object"] : Json::object();
        const Json metadata =
            object.contains("metadata") && object["metadata"].is_object() ? object["metadata"] : Json::object();
        std::string version = metadata.value("resourceVersion", "");
        std::string type = event.value("type", "");
        if (!version.empty()) {
          std::lock_guard lock(mutex_);
          resource_version_ = version;
        }
        if (type == "BOOKMARK") {
          bookmarks_.fetch_add(1);
          return;
        }
        on_object_(type, object);
      },
      should_stop);
}

void Informer::run(const std::function<bool()>& should_stop, std::chrono::milliseconds retry_delay,
                   std::chrono::seconds watch_timeout) {
  auto pause = [&] {
    auto until = std::chrono::steady_clock::now() + retry_delay;
    while (!should_stop() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  bool need_list = true;
  while (!should_stop()) {
    if (need_list) {
      if (!list()) {
        pause();
        continue;
      }
      need_list = false;
    }
    switch (watch_once(should_stop, watch_timeout)) {
      case WatchEnd::kStopped: return;
      case WatchEnd::kClosed: break;
      case WatchEnd::kGone: need_list = true; break;
      case WatchEnd::kFailed: pause(); break;
    }
  }
}

}  // namespace airlock::k8s
