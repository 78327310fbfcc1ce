// The web pages' static files, embedded in the binary at build time: web/src/* and tus-js-client's browser
// bundle, turned into a generated source by web/embed_assets.cmake (see gateway/CMakeLists.txt).
#pragma once

#include <span>
#include <string_view>

namespace airlock::gateway::server {

struct WebAsset {
  std::string_view name;    // the file name: served as /assets/NAME ("app.js")
  std::string_view bytes;   // the file's content
  std::string_view sha256;  // hex SHA-256 of the bytes: the ETag
};

// Every embedded asset (the generated web_assets.cpp defines it).
std::span<const WebAsset> web_assets();

}  // namespace airlock::gateway::server
