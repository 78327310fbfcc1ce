// Bytes on disk: a quarantine directory per transfer, and the released area per data source.
// Release is an atomic rename on the same file system; nothing is ever half-released.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/result.h"

namespace airlock::gateway {

// An append whose bytes start at an address aligned to this, at a file offset aligned to it, and whose size is
// a multiple of it, goes from the caller's memory to the disk without a copy where the file system allows it.
inline constexpr std::size_t kQuarantineAlignment = 4096;

// An open quarantine file, appended to chunk by chunk.
class QuarantineWriter {
 public:
  virtual ~QuarantineWriter() = default;
  // Appended bytes may wait in the writer's memory until sync(): read the file only after it.
  virtual runtime::Status append(std::span<const char> bytes) = 0;
  // append() for a caller that reuses its buffers: the writer may go on reading `bytes` after this returns
  // (aligned bytes are written by another thread while the caller goes on), until reclaim() of that memory,
  // sync() or the writer's end. The errors of such writes come from reclaim() and sync().
  virtual runtime::Status append_lent(std::span<const char> bytes) { return append(bytes); }
  // Waits until the writer reads nothing of `memory` (an empty span: of any lent memory); the first error of
  // a lent write, if any.
  virtual runtime::Status reclaim(std::span<const char> memory) {
    (void)memory;
    return runtime::Status::ok();
  }
  // True while a lent write still reads some of `memory` (reclaim() would wait); does not wait.
  virtual bool lends(std::span<const char> memory) {
    (void)memory;
    return false;
  }
  // Waits for lent writes, writes what is staged, then fdatasync: after this returns, the bytes appended so
  // far are in the file and survive a crash or SIGKILL.
  virtual runtime::Status sync() = 0;
  // Bytes in the file once sync() returns: those it held at opening plus those appended since.
  virtual std::uint64_t size() const = 0;
};

// The buffers of a reader that lends them to a QuarantineWriter (append_lent) and fills them again. A buffer the
// writer still reads when it is to be filled again is kept aside and a new one of the same size given in its
// place: the disk then falls a few writes behind (and merges them) rather than stopping the reader at each.
// At most `own_limit` buffers are added so, and at most `shared_limit` by all the LentBuffers that share
// `shared_count`; past either, the oldest kept buffer is waited for (reclaim) and given. Destroy it only after
// the writer has finished its writes (the writer's own end waits for them).
class LentBuffers {
 public:
  LentBuffers(std::size_t own_limit, std::atomic<std::size_t>& shared_count, std::size_t shared_limit)
      : own_limit_(own_limit), shared_count_(shared_count), shared_limit_(shared_limit) {}
  ~LentBuffers() { shared_count_ -= added_; }
  LentBuffers(const LentBuffers&) = delete;
  LentBuffers& operator=(const LentBuffers&) = delete;

  // `buffer` is to be filled again: makes it one that `writer` no longer reads; the first error of a lent write.
  runtime::Status make_free(QuarantineWriter& writer, std::vector<char>& buffer);
  std::size_t added() const { return added_; }  // buffers added beside the reader's own

 private:
  std::size_t own_limit_;
  std::atomic<std::size_t>& shared_count_;
  std::size_t shared_limit_;
  std::size_t added_ = 0;
  std::deque<std::vector<char>> kept_;  // oldest first
};

struct FileStoreOptions {
  // Write quarantine files with O_DIRECT where the file system takes it; false: through the page cache.
  bool direct_writes = true;
};

class FileStore {
 public:
  // Lays out root/quarantine, root/released, root/denied (created if missing, mode 0700).
  static runtime::Result<std::unique_ptr<FileStore>> open(const std::string& root, FileStoreOptions options = {});
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

// A transfer id as the store makes them: exactly 32 lower-case hex characters.
bool valid_transfer_id(std::string_view id);

// A name that is safe as one path component: the part after the last '/' or '\\', without control
// characters or leading dots, at most kMaxSafeNameBytes bytes (never splitting a UTF-8 sequence);
// `fallback` when nothing is left (or only "." / "..").
inline constexpr std::size_t kMaxSafeNameBytes = 200;
std::string safe_name(std::string_view name, std::string_view fallback = "file");

// What release() does when rename(2) fails with EXDEV: copies `source` into a temporary file beside
// `target`, syncs it, checks that its SHA-256 equals the source's, renames it to `target`, syncs the
// directory, then deletes `source`. A crash leaves either no `target` or a complete one.
runtime::Status copy_verify_rename(const std::string& source, const std::string& target);

}  // namespace airlock::gateway
