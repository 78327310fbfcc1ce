// Bytes on disk: a quarantine directory per transfer, and the released area per data source.
// Release is an atomic rename on the same file system; nothing is ever half-released.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "airlock/runtime/result.h"

namespace airlock::gateway {

// An open quarantine file, appended to chunk by chunk.
class QuarantineWriter {
 public:
  virtual ~QuarantineWriter() = default;
  virtual runtime::Status append(std::span<const char> bytes) = 0;
  // fdatasync: after this returns, the bytes written so far survive a crash or SIGKILL.
  virtual runtime::Status sync() = 0;
  virtual std::uint64_t size() const = 0;
};

class FileStore {
 public:
  // Lays out root/quarantine, root/released, root/denied (created if missing, mode 0700).
  static runtime::Result<std::unique_ptr<FileStore>> open(const std::string& root);
  virtual ~FileStore() = default;

  // root/quarantine/<id>/data. Ids are validated (hex only), so no path ever comes from a client.
  virtual std::string quarantine_path(const std::string& id) const = 0;
  // Opens the quarantine file for appending at `offset`: bytes past it (written but never recorded
  // as durable before a crash) are truncated away; a file shorter than `offset` is an error.
  virtual runtime::Result<std::unique_ptr<QuarantineWriter>> open_for_append(const std::string& id,
                                                                             std::uint64_t offset) = 0;
  // Moves the quarantined file to root/released/<datasource>/<id>/<safe file name> atomically
  // (rename + directory fsync). Returns the released path. `datasource` and `filename` are sanitised.
  virtual runtime::Result<std::string> release(const std::string& id, const std::string& datasource,
                                               const std::string& filename) = 0;
  // Moves the quarantine directory to root/denied/<id> (kept for the retention period).
  virtual runtime::Status retain_denied(const std::string& id) = 0;
  // Deletes whatever is stored for the transfer (quarantine or denied).
  virtual runtime::Status remove(const std::string& id) = 0;
};

}  // namespace airlock::gateway
