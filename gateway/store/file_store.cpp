// Quarantine and release on a local directory tree, with POSIX calls so that every step that must be
// durable (file data, directory entries) is synced explicitly.
#include "airlock/gateway/file_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace airlock::gateway {

using runtime::Error;
using runtime::Result;
using runtime::Status;

namespace {

constexpr std::size_t kCopyBuffer = 1 << 20;
// Bytes appended to a quarantine file between two requests to start writing them back to disk. The disk
// then works while the upload streams, so the fdatasync that ends a large PATCH has little left to wait
// for (it was most of a 1 GiB upload's time), and the page cache holds few dirty pages of any upload.
constexpr std::uint64_t kWritebackBytes = 8u << 20;

Error errno_error(std::string_view what, const std::string& path, int error_number) {
  return Error{"storage: " + std::string(what) + " " + path + ": " + std::strerror(error_number)};
}

// Closes a descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Status sync_directory(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("cannot open directory", path, errno);
  if (::fsync(fd.get()) != 0) return errno_error("cannot sync directory", path, errno);
  return Status::ok();
}

std::string parent_of(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

// mkdir with mode 0700 when missing; syncs the parent when it made the directory, so that the entry
// survives a crash.
Status make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return sync_directory(parent_of(path));
  if (errno != EEXIST) return errno_error("cannot create directory", path, errno);
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return errno_error("cannot inspect", path, errno);
  if (!S_ISDIR(info.st_mode)) return Error{"storage: " + path + " exists and is not a directory"};
  return Status::ok();
}

// What pwrite_all() did: the bytes written, and the errno that stopped it early (0 when all were written).
struct Written {
  std::size_t bytes = 0;
  int error = 0;
};

// pwrite(2) of `size` bytes at `offset`, retrying EINTR and short writes; a write of nothing is ENOSPC.
Written pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset) {
  Written written;
  while (written.bytes < size) {
    ssize_t n = ::pwrite(fd, data + written.bytes, size - written.bytes, static_cast<off_t>(offset + written.bytes));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      written.error = n < 0 ? errno : ENOSPC;
      break;
    }
    written.bytes += static_cast<std::size_t>(n);
  }
  return written;
}

// pwritev(2) of `pieces` at `offset`, retrying as pwrite_all() does; `pieces` is used up.
Written pwritev_all(int fd, std::vector<iovec>& pieces, std::uint64_t offset) {
  Written written;
  std::size_t first = 0;
  while (first < pieces.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - first, IOV_MAX));
    ssize_t n = ::pwritev(fd, pieces.data() + first, count, static_cast<off_t>(offset + written.bytes));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      written.error = n < 0 ? errno : ENOSPC;
      break;
    }
    written.bytes += static_cast<std::size_t>(n);
    for (auto left = static_cast<std::size_t>(n); left > 0 && first < pieces.size();) {
      const std::size_t take = std::min(left, pieces[first].iov_len);
      pieces[first].iov_base = static_cast<char*>(pieces[first].iov_base) + take;
      pieces[first].iov_len -= take;
      left -= take;
      if (pieces[first].iov_len == 0) ++first;
    }
  }
  return written;
}

Status write_all(int fd, const char* data, std::size_t size, std::uint64_t offset, const std::string& path) {
  const Written written = pwrite_all(fd, data, size, offset);
  return written.error == 0 ? Status::ok() : errno_error("cannot write", path, written.error);
}

std::string hex_of(const unsigned char* bytes, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex += kHex[bytes[i] >> 4];
    hex += kHex[bytes[i] & 0x0f];
  }
  return hex;
}

// Reads `fd` from its start to its end and returns the SHA-256 of its bytes, in hex.
Result<std::string> sha256_of(int fd, const std::string& path) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    return Error{"storage: SHA-256 is unavailable"};
  }
  std::vector<char> buffer(kCopyBuffer);
  std::uint64_t offset = 0;
  while (true) {
    ssize_t got = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read", path, errno);
    }
    if (got == 0) break;
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(got));
    offset += static_cast<std::uint64_t>(got);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) return Error{"storage: SHA-256 failed"};
  return hex_of(digest, length);
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

// The quarantine file is written with O_DIRECT where the file system allows it: the bytes go from the
// writer's staging buffer to the disk without a copy into the page cache, which costs the gateway more CPU
// than any inspector but SHA-256 on a large upload, and would fill the cache with files nobody reads soon.
// Direct writes must start and end on block boundaries and come from aligned memory: bytes that come so (the
// server reads upload bodies into aligned buffers) are written from where they are, others are staged in an
// aligned buffer and written kDirectBytes at a time; sync() writes the unaligned tail through the
// ordinary descriptor (the next direct write covers that block again). A file system that refuses O_DIRECT
// (some network and older file systems) gets ordinary writes, with early writeback.
constexpr std::size_t kDirectAlign = kQuarantineAlignment;  // covers common block sizes and DMA alignments
constexpr std::size_t kDirectBytes = 256u << 10;  // one write; a multiple of kDirectAlign

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

// The direct writes a writer has lent memory for (QuarantineWriter::append_lent), done in order by the store's
// DiskWriter thread. Guarded by `mutex`.
struct LentWrites {
  struct Range {
    std::uint64_t sequence;
    const char* data;
    std::size_t size;
  };
  std::mutex mutex;
  std::condition_variable progress;
  std::uint64_t submitted = 0;  // the sequence number of the last write handed over
  std::uint64_t completed = 0;  // every write up to this one is done
  std::deque<Range> pending;    // handed over and not done, in order
  int error = 0;                // errno of the first write that failed
  bool refused = false;         // a direct write was refused (EINVAL) and written through the page cache
};

// A thread that does direct writes for the writers of one file store. A direct write returns when the device
// has the bytes (on the benchmark machine 0.2 ms for 256 KiB, as long as receiving them): done here, the
// thread that received the bytes goes on receiving the next while the disk writes these.
class DiskWriter {
 public:
  // At most this many lent writes, or this many bytes, are merged into one.
  static constexpr std::size_t kMaxMerged = 16;
  static constexpr std::size_t kMaxMergedBytes = 4u << 20;

  DiskWriter() : thread_([this] { run(); }) {}
  ~DiskWriter() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_.notify_one();
    thread_.join();
  }
  DiskWriter(const DiskWriter&) = delete;
  DiskWriter& operator=(const DiskWriter&) = delete;

  // Writes `size` bytes at `data` to `fd` at `offset` on the thread; `writes` hears when it is done. If the file
  // system refuses the direct write (EINVAL), what is left of it goes through `ordinary_fd`, the same file's
  // descriptor without O_DIRECT.
  void submit(int fd, int ordinary_fd, const char* data, std::size_t size, std::uint64_t offset,
              std::shared_ptr<LentWrites> writes) {
    {
      std::lock_guard lent(writes->mutex);
      writes->pending.push_back({++writes->submitted, data, size});
    }
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back({fd, ordinary_fd, data, size, offset, std::move(writes)});
    }
    work_.notify_one();
  }

 private:
  struct Job {
    int fd;
    int ordinary_fd;
    const char* data;
    std::size_t size;
    std::uint64_t offset;
    std::shared_ptr<LentWrites> writes;
  };

  void run() {
    std::unique_lock lock(mutex_);
    std::vector<Job> batch;
    std::vector<iovec> pieces;
    for (;;) {
      work_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      // The first job and those queued behind it that go on where it ends in the same file: one write.
      batch.clear();
      std::size_t bytes = 0;
      do {
        bytes += jobs_.front().size;
        batch.push_back(std::move(jobs_.front()));
        jobs_.pop_front();
      } while (!jobs_.empty() && batch.size() < kMaxMerged && bytes < kMaxMergedBytes &&
               jobs_.front().fd == batch.front().fd && jobs_.front().offset == batch.front().offset + bytes);
      lock.unlock();
      pieces.clear();
      for (const Job& job : batch) pieces.push_back({const_cast<char*>(job.data), job.size});
      const Written direct = pwritev_all(batch.front().fd, pieces, batch.front().offset);
      const bool refused = direct.error == EINVAL;
      int error = direct.error;
      if (refused) {
        // What the direct write left goes through the ordinary descriptor.
        error = 0;
        std::size_t done = direct.bytes;
        for (const Job& job : batch) {
          const std::size_t skip = std::min(done, job.size);
          done -= skip;
          if (error == 0 && skip < job.size) {
            error = pwrite_all(job.ordinary_fd, job.data + skip, job.size - skip, job.offset + skip).error;
          }
        }
      }
      const std::shared_ptr<LentWrites>& writes = batch.front().writes;
      {
        std::lock_guard lent(writes->mutex);
        if (error != 0 && writes->error == 0) writes->error = error;
        if (refused) writes->refused = true;
        for (std::size_t i = 0; i < batch.size(); ++i) {
          writes->completed = writes->pending.front().sequence;
          writes->pending.pop_front();
        }
      }
      writes->progress.notify_all();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the members it uses exist
};

class LocalQuarantineWriter final : public QuarantineWriter {
 public:
  LocalQuarantineWriter(FileDescriptor fd, std::string path, std::uint64_t size, std::shared_ptr<DiskWriter> disk)
      : fd_(std::move(fd)),
        path_(std::move(path)),
        size_(size),
        written_back_(size),
        direct_end_(size),
        disk_(std::move(disk)),
        lent_(std::make_shared<LentWrites>()) {}

  ~LocalQuarantineWriter() override { (void)reclaim({}); }  // the descriptors and the memory outlive the writes
  LocalQuarantineWriter(const LocalQuarantineWriter&) = delete;
  LocalQuarantineWriter& operator=(const LocalQuarantineWriter&) = delete;

  // Opens a second descriptor with O_DIRECT and stages the file's last partial block, so that direct writes
  // start on a block boundary. Any failure leaves the writer with ordinary writes.
  void try_direct() {
#ifdef O_DIRECT
    FileDescriptor direct(::open(path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOFOLLOW));
    if (!direct.valid()) return;
    std::unique_ptr<char, FreeDeleter> staging(static_cast<char*>(std::aligned_alloc(kDirectAlign, kDirectBytes)));
    if (!staging) return;
    const std::size_t head = static_cast<std::size_t>(size_ % kDirectAlign);
    const std::uint64_t start = size_ - head;
    std::size_t got = 0;
    while (got < head) {
      ssize_t n = ::pread(fd_.get(), staging.get() + got, head - got, static_cast<off_t>(start + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      got += static_cast<std::size_t>(n);
    }
    direct_fd_ = std::move(direct);
    staging_ = std::move(staging);
    staged_ = head;
    direct_end_ = start;
#endif
  }

  Status append(std::span<const char> bytes) override {
    if (Status status = leave_direct_if_refused(); !status) return status;
    if (!direct_fd_.valid()) return append_buffered(bytes);
    if (staged_ == 0 && aligned(bytes)) return write_direct_from(bytes);  // straight from the caller's memory
    while (!bytes.empty()) {
      const std::size_t n = std::min(kDirectBytes - staged_, bytes.size());
      std::memcpy(staging_.get() + staged_, bytes.data(), n);
      staged_ += n;
      size_ += n;
      bytes = bytes.subspan(n);
      if (staged_ == kDirectBytes) {
        if (Status status = write_direct(kDirectBytes); !status) return status;
        if (!direct_fd_.valid()) return append_buffered(bytes);  // refused: the rest through the page cache
      }
    }
    return Status::ok();
  }

  // Aligned bytes with nothing staged go to the disk thread once a first direct write of this writer worked
  // (done here: a file system that refuses it gets ordinary writes, see write_direct_from()); other bytes as
  // append() takes them.
  Status append_lent(std::span<const char> bytes) override {
    if (Status status = leave_direct_if_refused(); !status) return status;
    if (!direct_fd_.valid() || !direct_written_ || staged_ != 0 || !aligned(bytes)) return append(bytes);
    if (Status status = lent_error(); !status) return status;
    disk_->submit(direct_fd_.get(), fd_.get(), bytes.data(), bytes.size(), direct_end_, lent_);
    direct_end_ += bytes.size();
    size_ += bytes.size();
    return Status::ok();
  }

  bool lends(std::span<const char> memory) override {
    std::lock_guard lock(lent_->mutex);
    return std::any_of(lent_->pending.begin(), lent_->pending.end(), [&](const LentWrites::Range& range) {
      return range.data < memory.data() + memory.size() && memory.data() < range.data + range.size;
    });
  }

  Status reclaim(std::span<const char> memory) override {
    std::unique_lock lock(lent_->mutex);
    std::uint64_t last = 0;  // the last pending write that reads `memory`
    for (const LentWrites::Range& range : lent_->pending) {
      if (memory.empty() || (range.data < memory.data() + memory.size() && memory.data() < range.data + range.size)) {
        last = range.sequence;
      }
    }
    lent_->progress.wait(lock, [&] { return lent_->completed >= last; });
    return lent_->error == 0 ? Status::ok() : errno_error("cannot write", path_, lent_->error);
  }

  Status sync() override {
    if (Status status = reclaim({}); !status) return status;
    if (Status status = leave_direct_if_refused(); !status) return status;
    if (direct_fd_.valid() && staged_ > 0) {
      const std::size_t aligned = staged_ - staged_ % kDirectAlign;
      if (aligned > 0) {
        if (Status status = write_direct(aligned); !status) return status;
      }
      // The partial block stays staged for the next direct write, and is written now through the page cache.
      if (direct_fd_.valid() && staged_ > 0) {
        if (Status status = write_all(fd_.get(), staging_.get(), staged_, direct_end_, path_); !status) return status;
      }
    }
    while (::fdatasync(fd_.get()) != 0) {
      if (errno != EINTR) return errno_error("cannot sync", path_, errno);
    }
    return Status::ok();
  }

  std::uint64_t size() const override { return size_; }

 private:
  static bool aligned(std::span<const char> bytes) {
    return !bytes.empty() && reinterpret_cast<std::uintptr_t>(bytes.data()) % kDirectAlign == 0 &&
           bytes.size() % kDirectAlign == 0;
  }

  Status lent_error() {
    std::lock_guard lock(lent_->mutex);
    return lent_->error == 0 ? Status::ok() : errno_error("cannot write", path_, lent_->error);
  }

  Status append_buffered(std::span<const char> bytes) {
    // pwrite at our own idea of the end: a partial write leaves size_ at what did land.
    const Written written = pwrite_all(fd_.get(), bytes.data(), bytes.size(), size_);
    size_ += written.bytes;
    if (written.error != 0) return errno_error("cannot write", path_, written.error);
    if (size_ - written_back_ >= kWritebackBytes) start_writeback();
    return Status::ok();
  }

  // Writes the first `bytes` staged bytes (a multiple of kDirectAlign) at direct_end_ and moves the rest to
  // the buffer's start. A file system that refuses a direct write (EINVAL: an alignment it does not accept)
  // gets what is staged through the ordinary descriptor, and ordinary writes from then on.
  Status write_direct(std::size_t bytes) {
    const Written written = pwrite_all(direct_fd_.get(), staging_.get(), bytes, direct_end_);
    direct_end_ += written.bytes;
    staged_ -= written.bytes;
    if (staged_ > 0) std::memmove(staging_.get(), staging_.get() + written.bytes, staged_);
    if (written.error == EINVAL) return leave_direct();
    return written.error == 0 ? Status::ok() : errno_error("cannot write", path_, written.error);
  }

  // Writes the caller's aligned bytes at direct_end_ (nothing is staged). A refused direct write leaves the
  // writer with ordinary writes, as in write_direct().
  Status write_direct_from(std::span<const char> bytes) {
    const Written written = pwrite_all(direct_fd_.get(), bytes.data(), bytes.size(), direct_end_);
    direct_end_ += written.bytes;
    size_ += written.bytes;
    if (written.error == EINVAL) {
      Status status = leave_direct();
      return status ? append_buffered(bytes.subspan(written.bytes)) : status;
    }
    if (written.error != 0) return errno_error("cannot write", path_, written.error);
    direct_written_ = true;
    return Status::ok();
  }

  // After the disk thread found a lent write refused, the writer leaves direct writes as it does when one of
  // its own is refused.
  Status leave_direct_if_refused() {
    if (!direct_fd_.valid()) return Status::ok();
    {
      std::lock_guard lock(lent_->mutex);
      if (!lent_->refused) return Status::ok();
    }
    return leave_direct();
  }

  Status leave_direct() {
    if (Status status = reclaim({}); !status) return status;
    Status status = write_all(fd_.get(), staging_.get(), staged_, direct_end_, path_);
    direct_fd_.reset();
    staging_.reset();
    staged_ = 0;
    written_back_ = direct_end_;
    return status;
  }

  // Asks the kernel to start writing the bytes appended since the last call back to disk, without waiting.
  // Only a hint: a file system without it changes nothing, and sync() still reports any write error.
  void start_writeback() {
#ifdef SYNC_FILE_RANGE_WRITE
    (void)::sync_file_range(fd_.get(), static_cast<off_t>(written_back_), static_cast<off_t>(size_ - written_back_),
                            SYNC_FILE_RANGE_WRITE);
#endif
    written_back_ = size_;
  }

  FileDescriptor fd_;
  std::string path_;
  std::uint64_t size_;          // bytes appended, staged ones included
  std::uint64_t written_back_;  // ordinary writes: bytes before this offset were handed to writeback
  // Direct writes: the descriptor (invalid when not used), the staging buffer, the bytes in it, and the
  // file offset of its first byte (a multiple of kDirectAlign).
  FileDescriptor direct_fd_;
  std::unique_ptr<char, FreeDeleter> staging_;
  std::size_t staged_ = 0;
  std::uint64_t direct_end_;
  bool direct_written_ = false;  // a direct write from the caller's memory worked: later ones may be lent
  std::shared_ptr<DiskWriter> disk_;
  std::shared_ptr<LentWrites> lent_;
};

class LocalFileStore final : public FileStore {
 public:
  LocalFileStore(std::string root, FileStoreOptions options)
      : options_(options),
        root_(std::move(root)),
        quarantine_(root_ + "/quarantine"),
        released_(root_ + "/released"),
        denied_(root_ + "/denied"),
        disk_(std::make_shared<DiskWriter>()) {}

  Status lay_out() {
    std::error_code error;
    std::filesystem::create_directories(root_, error);
    if (error) return Error{"storage: cannot create " + root_ + ": " + error.message()};
    for (const std::string& directory : {quarantine_, released_, denied_}) {
      if (Status status = make_directory(directory); !status) return status;
    }
    return Status::ok();
  }

  std::string quarantine_path(const std::string& id) const override {
    if (!valid_transfer_id(id)) return {};
    return quarantine_ + "/" + id + "/data";
  }

  Result<std::unique_ptr<QuarantineWriter>> open_for_append(const std::string& id, std::uint64_t offset) override {
    if (!valid_transfer_id(id)) return Error{"invalid: `" + id + "` is not a transfer id"};
    const std::string directory = quarantine_ + "/" + id;
    if (Status status = make_directory(directory); !status) return Error{status.message()};
    const std::string path = directory + "/data";
    const bool is_new = !exists(path);
    FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return errno_error("cannot open", path, errno);
    if (is_new) {
      if (Status status = sync_directory(directory); !status) return Error{status.message()};
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) return errno_error("cannot inspect", path, errno);
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size < offset) {
      return Error{"storage: " + path + " holds " + std::to_string(size) + " bytes, fewer than the " +
                   std::to_string(offset) + " recorded as received"};
    }
    if (size > offset) {
      // Bytes written but never recorded as durable (a crash between write and advance_offset).
      if (::ftruncate(fd.get(), static_cast<off_t>(offset)) != 0) return errno_error("cannot truncate", path, errno);
      if (::fdatasync(fd.get()) != 0) return errno_error("cannot sync", path, errno);
    }
    auto writer = std::make_unique<LocalQuarantineWriter>(std::move(fd), path, offset, disk_);
    if (options_.direct_writes) writer->try_direct();
    return std::unique_ptr<QuarantineWriter>(std::move(writer));
  }

  Result<std::string> release(const std::string& id, const std::string& datasource,
                              const std::string& filename) override {
    if (!valid_transfer_id(id)) return Error{"invalid: `" + id + "` is not a transfer id"};
    const std::string source_directory = quarantine_ + "/" + id;
    const std::string source = source_directory + "/data";
    const std::string datasource_directory = released_ + "/" + safe_name(datasource, "default");
    const std::string target_directory = datasource_directory + "/" + id;
    const std::string target = target_directory + "/" + safe_name(filename);
    if (!exists(source)) {
      // Released before a crash that came before the state change: releasing again is a no-op.
      if (exists(target)) return target;
      return Error{"not_found: no quarantined bytes for transfer " + id};
    }
    for (const std::string& directory : {datasource_directory, target_directory}) {
      if (Status status = make_directory(directory); !status) return Error{status.message()};
    }
    if (::rename(source.c_str(), target.c_str()) != 0) {
      if (errno != EXDEV) return errno_error("cannot move to " + target + " from", source, errno);
      if (Status status = copy_verify_rename(source, target); !status) return Error{status.message()};
    } else {
      if (Status status = sync_directory(target_directory); !status) return Error{status.message()};
      if (Status status = sync_directory(source_directory); !status) return Error{status.message()};
    }
    // The emptied quarantine directory goes; failing to remove it loses nothing.
    if (::rmdir(source_directory.c_str()) == 0) (void)sync_directory(quarantine_);
    return target;
  }

  Status retain_denied(const std::string& id) override {
    if (!valid_transfer_id(id)) return Error{"invalid: `" + id + "` is not a transfer id"};
    const std::string source = quarantine_ + "/" + id;
    const std::string target = denied_ + "/" + id;
    if (!exists(source)) return Status::ok();  // nothing received, or retained already
    if (exists(target)) {
      std::error_code error;
      std::filesystem::remove_all(target, error);
      if (error) return Error{"storage: cannot replace " + target + ": " + error.message()};
    }
    if (::rename(source.c_str(), target.c_str()) != 0)
      return errno_error("cannot move to " + target + " from", source, errno);
    if (Status status = sync_directory(denied_); !status) return status;
    return sync_directory(quarantine_);
  }

  Status remove(const std::string& id) override {
    if (!valid_transfer_id(id)) return Error{"invalid: `" + id + "` is not a transfer id"};
    for (const std::string& parent : {quarantine_, denied_}) {
      std::string path = parent;
      path += "/";
      path += id;
      if (!exists(path)) continue;
      std::error_code error;
      std::filesystem::remove_all(path, error);
      if (error) return Error{"storage: cannot delete " + path + ": " + error.message()};
      if (Status status = sync_directory(parent); !status) return status;
    }
    return Status::ok();
  }

 private:
  FileStoreOptions options_;
  std::string root_;
  std::string quarantine_;
  std::string released_;
  std::string denied_;
  std::shared_ptr<DiskWriter> disk_;  // its thread runs while this store or any of its writers lives
};

// The length of the UTF-8 sequence that `lead` starts, or 0 for a byte that cannot start one.
std::size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 0;
}

}  // namespace

bool valid_transfer_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string safe_name(std::string_view name, std::string_view fallback) {
  if (std::size_t slash = name.find_last_of("/\\"); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string cleaned;
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) continue;
    cleaned += c;
  }
  std::size_t dots = cleaned.find_first_not_of('.');
  cleaned.erase(0, dots == std::string::npos ? cleaned.size() : dots);
  // Cap the length without cutting a UTF-8 sequence in two; drop malformed sequences on the way.
  std::string capped;
  for (std::size_t i = 0; i < cleaned.size();) {
    std::size_t length = utf8_sequence_length(static_cast<unsigned char>(cleaned[i]));
    bool well_formed = length > 0 && i + length <= cleaned.size();
    for (std::size_t k = 1; well_formed && k < length; ++k) {
      well_formed = (static_cast<unsigned char>(cleaned[i + k]) & 0xc0) == 0x80;
    }
    if (!well_formed) {
      ++i;
      continue;
    }
    if (capped.size() + length > kMaxSafeNameBytes) break;
    capped.append(cleaned, i, length);
    i += length;
  }
  if (capped.empty()) return std::string(fallback);
  return capped;
}

Status copy_verify_rename(const std::string& source, const std::string& target) {
  FileDescriptor in(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return errno_error("cannot open", source, errno);
  Result<std::string> source_hash = sha256_of(in.get(), source);
  if (!source_hash) return Error{source_hash.message()};

  const std::string directory = parent_of(target);
  unsigned char random[8];
  if (RAND_bytes(random, sizeof random) != 1) return Error{"storage: the random number generator failed"};
  const std::string temporary = directory + "/.airlock-partial-" + hex_of(random, sizeof random);
  FileDescriptor out(::open(temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out.valid()) return errno_error("cannot create", temporary, errno);
  auto discard = [&](Status status) {
    ::unlink(temporary.c_str());
    return status;
  };

  std::vector<char> buffer(kCopyBuffer);
  std::uint64_t offset = 0;
  while (true) {
    ssize_t got = ::pread(in.get(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return discard(errno_error("cannot read", source, errno));
    }
    if (got == 0) break;
    if (Status status = write_all(out.get(), buffer.data(), static_cast<std::size_t>(got), offset, temporary);
        !status) {
      return discard(status);
    }
    offset += static_cast<std::uint64_t>(got);
  }
  if (::fdatasync(out.get()) != 0) return discard(errno_error("cannot sync", temporary, errno));
  // Read back what the target file system holds: the copy is checked, not assumed.
  Result<std::string> copy_hash = sha256_of(out.get(), temporary);
  if (!copy_hash) return discard(Error{copy_hash.message()});
  if (*copy_hash != *source_hash) {
    return discard(Error{"storage: the copy of " + source + " has SHA-256 " + *copy_hash + ", not " + *source_hash});
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    return discard(errno_error("cannot move to " + target + " from", temporary, errno));
  }
  if (Status status = sync_directory(directory); !status) return status;
  if (::unlink(source.c_str()) != 0) return errno_error("cannot delete", source, errno);
  return sync_directory(parent_of(source));
}

Result<std::unique_ptr<FileStore>> FileStore::open(const std::string& root, FileStoreOptions options) {
  if (root.empty()) return Error{"invalid: the file store needs a root directory"};
  auto store = std::make_unique<LocalFileStore>(root, options);
  if (Status status = store->lay_out(); !status) return Error{status.message()};
  return std::unique_ptr<FileStore>(std::move(store));
}

Status LentBuffers::make_free(QuarantineWriter& writer, std::vector<char>& buffer) {
  if (!writer.lends({buffer.data(), buffer.size()})) return Status::ok();
  const std::size_t size = buffer.size();
  kept_.push_back(std::move(buffer));
  const std::vector<char>& oldest = kept_.front();
  if (added_ < own_limit_ && writer.lends({oldest.data(), oldest.size()})) {
    if (shared_count_.fetch_add(1) < shared_limit_) {
      ++added_;
      buffer.assign(size, 0);
      return Status::ok();
    }
    --shared_count_;
  }
  buffer = std::move(kept_.front());
  kept_.pop_front();
  return writer.reclaim({buffer.data(), buffer.size()});
}

}  // namespace airlock::gateway
