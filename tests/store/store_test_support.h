// What the store tests share: a temporary directory per test and a ready-made transfer request.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "airlock/gateway/store.h"

namespace airlock::gateway::store_test {

class TempDir {
 public:
  explicit TempDir(const std::string& base = {}) {
    std::string parent = base;
    if (parent.empty()) {
      const char* tmpdir = std::getenv("TMPDIR");
      parent = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
    }
    std::string pattern = parent + "/airlock-store-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed in " + parent);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& relative) const { return (path_ / relative).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

inline NewTransfer upload_request(const std::string& owner = "alice") {
  NewTransfer request;
  request.channel = "upload";
  request.owner = owner;
  request.workspace = "ws-cardio";
  request.datasource = "cohort";
  request.project = "proj-1";
  request.filename = "counts.csv";
  request.declared_type = "text/csv";
  request.justification = "aggregate counts for the paper";
  request.length = 1024;
  return request;
}

inline StateChange to(TransferState state, const std::string& actor = "system") {
  StateChange change;
  change.to = state;
  change.actor = actor;
  return change;
}

inline std::unique_ptr<TransferStore> open_store(const std::string& path) {
  Result<std::unique_ptr<TransferStore>> store = TransferStore::open(path);
  if (!store) throw std::runtime_error(store.message());
  return std::move(*store);
}

}  // namespace airlock::gateway::store_test
