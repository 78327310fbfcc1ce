#include "airlock/gateway/file_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "store_test_support.h"

// Fault injection for the file store's direct writes. The store is linked statically into this binary, so
// its pwrite(2) calls come here. Armed, writes to descriptors opened with O_DIRECT are accepted a given
// number of times; the next one writes its first block and stops short, as a write cut by a failure does,
// and every later one is refused with EINVAL, as by a file system that takes O_DIRECT at open but not the
// writes. Calls from every thread count, the file store's disk thread too.
namespace {
std::atomic<bool> g_refusing{false};
std::atomic<long> g_accepted_left{0};
std::atomic<bool> g_cut_short{false};
std::atomic<long> g_refused_here{0};
std::atomic<long> g_refused_elsewhere{0};
std::thread::id g_test_thread;
}  // namespace

// The disk thread writes with pwritev(2), which the same rules govern; it may first be held back for a while
// (g_hold_first_write_ms), so that lent writes queue up behind its first one. The writes of more than one
// piece are counted.
std::atomic<int> g_hold_first_write_ms{0};
std::atomic<long> g_merged_writes{0};

namespace {
// -1 with errno EINVAL for a refused write; otherwise how many of `size` bytes to write.
ssize_t direct_write_allowance(int fd, size_t size) {
  if (g_refusing.load() && (::fcntl(fd, F_GETFL) & O_DIRECT) != 0 && g_accepted_left.fetch_sub(1) <= 0) {
    if (g_cut_short.exchange(false) && size > airlock::gateway::kQuarantineAlignment) {
      return static_cast<ssize_t>(airlock::gateway::kQuarantineAlignment);
    }
    ++(std::this_thread::get_id() == g_test_thread ? g_refused_here : g_refused_elsewhere);
    errno = EINVAL;
    return -1;
  }
  return static_cast<ssize_t>(size);
}
}  // namespace

extern "C" ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) {
  const ssize_t allowed = direct_write_allowance(fd, size);
  if (allowed < 0) return -1;
  return ::syscall(SYS_pwrite64, fd, data, static_cast<size_t>(allowed), offset);
}

extern "C" ssize_t pwritev(int fd, const struct iovec* pieces, int count, off_t offset) {
  if (const int hold = g_hold_first_write_ms.exchange(0); hold > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(hold));
  }
  if (count > 1) ++g_merged_writes;
  size_t size = 0;
  for (int i = 0; i < count; ++i) size += pieces[i].iov_len;
  const ssize_t allowed = direct_write_allowance(fd, size);
  if (allowed < 0) return -1;
  if (static_cast<size_t>(allowed) < size) {  // cut short: the first block of the first piece
    return ::syscall(SYS_pwrite64, fd, pieces[0].iov_base, static_cast<size_t>(allowed), offset);
  }
  return ::syscall(SYS_pwritev, fd, pieces, count, static_cast<unsigned long>(offset), 0UL);  // offset's high half
}

namespace airlock::gateway {
namespace {

namespace fs = std::filesystem;

const std::string kId = "0123456789abcdef0123456789abcdef";

std::unique_ptr<FileStore> open_files(const std::string& root, FileStoreOptions options = {}) {
  Result<std::unique_ptr<FileStore>> files = FileStore::open(root, options);
  if (!files) throw std::runtime_error(files.message());
  return std::move(*files);
}

void quarantine(FileStore& files, const std::string& id, const std::string& bytes) {
  auto writer = files.open_for_append(id, 0);
  ASSERT_TRUE(writer) << writer.message();
  ASSERT_TRUE((*writer)->append(bytes));
  ASSERT_TRUE((*writer)->sync());
}

std::size_t entries_in(const std::string& directory) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(directory)) ++count;
  return count;
}

TEST(FileStore, LaysOutPrivateDirectories) {
  store_test::TempDir dir;
  auto files = open_files(dir.file("root"));
  for (const char* name : {"quarantine", "released", "denied"}) {
    struct stat info {};
    ASSERT_EQ(::stat(dir.file(std::string("root/") + name).c_str(), &info), 0) << name;
    EXPECT_TRUE(S_ISDIR(info.st_mode));
    EXPECT_EQ(info.st_mode & 0777, 0700u) << name;
  }
  EXPECT_EQ(files->quarantine_path(kId), dir.file("root/quarantine/" + kId + "/data"));
}

TEST(FileStore, RefusesIdsThatAreNotHex) {
  store_test::TempDir dir;
  auto files = open_files(dir.path());
  for (const std::string& id : {std::string("../../etc"), std::string(32, 'g'),
                                std::string("ABCDEF0123456789ABCDEF0123456789"), std::string(31, 'a'), std::string()}) {
    EXPECT_EQ(files->quarantine_path(id), "") << id;
    auto writer = files->open_for_append(id, 0);
    ASSERT_FALSE(writer) << id;
    EXPECT_TRUE(writer.message().starts_with("invalid:")) << writer.message();
    EXPECT_FALSE(files->release(id, "ds", "a.csv"));
    EXPECT_FALSE(files->retain_denied(id));
    EXPECT_FALSE(files->remove(id));
  }
  EXPECT_TRUE(valid_transfer_id(kId));
}

TEST(FileStore, AppendsAndReportsTheSize) {
  store_test::TempDir dir;
  auto files = open_files(dir.path());
  auto writer = files->open_for_append(kId, 0);
  ASSERT_TRUE(writer) << writer.message();
  EXPECT_EQ((*writer)->size(), 0u);
  ASSERT_TRUE((*writer)->append(std::string("hello ")));
  ASSERT_TRUE((*writer)->append(std::string("world")));
  ASSERT_TRUE((*writer)->sync());
  EXPECT_EQ((*writer)->size(), 11u);
  EXPECT_EQ(store_test::read_file(files->quarantine_path(kId)), "hello world");
}

TEST(FileStore, ReopeningTruncatesBytesPastTheRecordedOffset) {
  store_test::TempDir dir;
  auto files = open_files(dir.path());
  quarantine(*files, kId, "0123456789");
  auto writer = files->open_for_append(kId, 4);
  ASSERT_TRUE(writer) << writer.message();
  EXPECT_EQ((*writer)->size(), 4u);
  EXPECT_EQ(store_test::read_file(files->quarantine_path(kId)), "0123");
  ASSERT_TRUE((*writer)->append(std::string("abc")));
  ASSERT_TRUE((*writer)->sync());
  EXPECT_EQ(store_test::read_file(files->quarantine_path(kId)), "0123abc");
}

// The writer writes whole aligned blocks past the page cache where it can (from the caller's memory when they
// come aligned, on another thread when lent, else staged), and the partial last block through it: appends of
// every size and alignment, lent or not, syncs anywhere, and a reopening at any recorded offset (with
// unrecorded bytes after it) must leave exactly the recorded bytes in the file.
// With direct writes (the default), and through the page cache as on a file system without O_DIRECT.
class FileStoreWrites : public testing::TestWithParam<bool> {};

void write_randomly_and_check(FileStore& store) {
  FileStore* const files = &store;
  std::mt19937 random(7);
  std::string pool(1u << 20, '\0');
  for (char& c : pool) c = static_cast<char>(random());
  const std::size_t aligned_bytes = kQuarantineAlignment * 96;
  std::unique_ptr<char, decltype(&std::free)> aligned(
      static_cast<char*>(std::aligned_alloc(kQuarantineAlignment, aligned_bytes)), &std::free);
  ASSERT_NE(aligned, nullptr);
  for (std::size_t i = 0; i < aligned_bytes; ++i) aligned.get()[i] = static_cast<char>(random());
  const std::size_t sizes[] = {1, 7, 511, 4095, 4096, 4097, 65536, 262143, 262144, 262145, 700001};
  std::string recorded;
  for (int round = 0; round < 16; ++round) {
    auto writer = files->open_for_append(kId, recorded.size());
    ASSERT_TRUE(writer) << writer.message();
    ASSERT_EQ((*writer)->size(), recorded.size());
    std::string appended;
    for (int i = 0; i < 4; ++i) {
      const std::size_t size = sizes[random() % std::size(sizes)];
      std::span<const char> bytes(pool.data() + random() % (pool.size() - size), size);
      if (random() % 2 == 0) {
        // Whole aligned blocks from aligned memory, which the writer may write from where they are.
        const std::size_t blocks = 1 + random() % 80;
        bytes = std::span<const char>(aligned.get() + kQuarantineAlignment * (random() % 16),
                                      kQuarantineAlignment * blocks);
      }
      appended.append(bytes.data(), bytes.size());
      if (random() % 2 == 0) {
        ASSERT_TRUE((*writer)->append(bytes));
      } else {
        // Lent: the memory is reused as soon as it is reclaimed, as a server reads the next bytes into it.
        ASSERT_TRUE((*writer)->append_lent(bytes));
        ASSERT_TRUE((*writer)->reclaim(bytes));
        if (bytes.data() >= aligned.get() && bytes.data() < aligned.get() + aligned_bytes) {
          for (std::size_t k = 0; k < bytes.size(); k += 512) aligned.get()[bytes.data() - aligned.get() + k] ^= 0x5A;
        }
      }
      if (random() % 3 == 0) {
        ASSERT_TRUE((*writer)->sync());
      }
    }
    EXPECT_EQ((*writer)->size(), recorded.size() + appended.size());
    if (round % 4 == 3) continue;  // closed without recording its bytes: the next opening cuts them away
    ASSERT_TRUE((*writer)->sync());
    recorded += appended;
    const std::string stored = store_test::read_file(files->quarantine_path(kId));
    ASSERT_EQ(stored.size(), recorded.size()) << "round " << round;
    EXPECT_TRUE(stored == recorded) << "round " << round;
  }
}

TEST_P(FileStoreWrites, KeepEveryRecordedByteWhateverTheSizesOfAppendsAndWhereSyncsAndReopeningsFall) {
  store_test::TempDir dir;
  auto files = open_files(dir.path(), {.direct_writes = GetParam()});
  write_randomly_and_check(*files);
}

// As a server lends its read buffers: two aligned buffers in turn, each reclaimed before it is filled again. A
// write still reading a buffer when it is refilled, or not done when sync() returns, leaves other bytes.
TEST_P(FileStoreWrites, WriteLentBytesBeforeTheirMemoryIsReclaimed) {
  store_test::TempDir dir;
  auto files = open_files(dir.path(), {.direct_writes = GetParam()});
  constexpr std::size_t kBuffer = 256u << 10;
  std::unique_ptr<char, decltype(&std::free)> memory(
      static_cast<char*>(std::aligned_alloc(kQuarantineAlignment, 2 * kBuffer)), &std::free);
  ASSERT_NE(memory, nullptr);
  auto writer = files->open_for_append(kId, 0);
  ASSERT_TRUE(writer) << writer.message();
  std::string expected;
  for (std::size_t i = 0; i < 48; ++i) {
    char* buffer = memory.get() + (i % 2) * kBuffer;
    std::memset(buffer, static_cast<int>('a' + i % 26), kBuffer);
    buffer[(i * 4099) % kBuffer] = 'Z';
    const std::span<const char> bytes(buffer, kBuffer);
    expected.append(bytes.data(), bytes.size());
    ASSERT_TRUE((*writer)->append_lent(bytes));
    char* next = memory.get() + ((i + 1) % 2) * kBuffer;
    ASSERT_TRUE((*writer)->reclaim({next, kBuffer}));
  }
  ASSERT_TRUE((*writer)->sync());
  EXPECT_EQ((*writer)->size(), expected.size());
  const std::string stored = store_test::read_file(files->quarantine_path(kId));
  ASSERT_EQ(stored.size(), expected.size());
  EXPECT_TRUE(stored == expected);
}

INSTANTIATE_TEST_SUITE_P(DirectAndBuffered, FileStoreWrites, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "Direct" : "Buffered"; });

// A writer that lends the memory the test says it lends: reclaim() of such memory is a wait, recorded, and frees
// it, as the end of its write would; of other memory it returns at once.
class ScriptedWriter final : public QuarantineWriter {
 public:
  runtime::Status append(std::span<const char>) override { return runtime::Status::ok(); }
  runtime::Status sync() override { return runtime::Status::ok(); }
  std::uint64_t size() const override { return 0; }
  bool lends(std::span<const char> memory) override { return lent.count(memory.data()) > 0; }
  runtime::Status reclaim(std::span<const char> memory) override {
    if (lent.erase(memory.data()) > 0) reclaimed.push_back(memory.data());
    return runtime::Status::ok();
  }
  std::set<const char*> lent;
  std::vector<const void*> reclaimed;  // void: printed as addresses
};

TEST(LentBuffers, GiveANewBufferWhileTheWriterReadsTheOldOneThenWaitForTheOldest) {
  std::atomic<std::size_t> shared{0};
  ScriptedWriter writer;
  std::vector<char> buffer(1000, 'x');
  const void* const a = buffer.data();
  {
    LentBuffers buffers(2, shared, 64);
    ASSERT_TRUE(buffers.make_free(writer, buffer));  // not lent: kept as it is
    EXPECT_EQ(static_cast<const void*>(buffer.data()), a);
    EXPECT_EQ(buffers.added(), 0u);

    writer.lent.insert(static_cast<const char*>(a));
    ASSERT_TRUE(buffers.make_free(writer, buffer));  // lent: a new one of the same size, no wait
    const void* const b = buffer.data();
    EXPECT_NE(b, a);
    EXPECT_EQ(buffer.size(), 1000u);
    EXPECT_TRUE(writer.reclaimed.empty());
    writer.lent.insert(static_cast<const char*>(b));
    ASSERT_TRUE(buffers.make_free(writer, buffer));
    const void* const c = buffer.data();
    EXPECT_TRUE(c != a && c != b);
    EXPECT_EQ(buffers.added(), 2u);
    EXPECT_EQ(shared.load(), 2u);

    writer.lent.insert(static_cast<const char*>(c));  // a, b, c lent and two added: the oldest, a, is waited for
    ASSERT_TRUE(buffers.make_free(writer, buffer));
    EXPECT_EQ(static_cast<const void*>(buffer.data()), a);
    EXPECT_EQ(writer.reclaimed, std::vector<const void*>{a});
    EXPECT_FALSE(writer.lends({buffer.data(), buffer.size()}));

    writer.lent.insert(static_cast<const char*>(a));
    writer.lent.erase(static_cast<const char*>(b));  // b's write ended: given without a wait
    ASSERT_TRUE(buffers.make_free(writer, buffer));
    EXPECT_EQ(static_cast<const void*>(buffer.data()), b);
    EXPECT_EQ(writer.reclaimed.size(), 1u);
    EXPECT_EQ(buffers.added(), 2u);
  }
  EXPECT_EQ(shared.load(), 0u);  // given back with the buffers
}

TEST(LentBuffers, AddNoMoreThanTheirSharedLimitTogether) {
  std::atomic<std::size_t> shared{0};
  ScriptedWriter writer;
  auto lend_and_free = [&](LentBuffers& buffers, std::vector<char>& buffer) {
    writer.lent.insert(buffer.data());
    EXPECT_TRUE(buffers.make_free(writer, buffer));
    EXPECT_FALSE(writer.lends({buffer.data(), buffer.size()}));
  };
  std::vector<char> first(64), second(64);
  auto one = std::make_unique<LentBuffers>(4, shared, 3);
  LentBuffers two(4, shared, 3);
  lend_and_free(*one, first);
  lend_and_free(*one, first);
  lend_and_free(two, second);
  EXPECT_EQ(shared.load(), 3u);
  EXPECT_TRUE(writer.reclaimed.empty());
  lend_and_free(two, second);  // the shared limit: waits for its oldest
  EXPECT_EQ(writer.reclaimed.size(), 1u);
  EXPECT_EQ(two.added(), 1u);
  EXPECT_EQ(shared.load(), 3u);
  one.reset();
  EXPECT_EQ(shared.load(), 1u);
  lend_and_free(two, second);  // room again
  EXPECT_EQ(writer.reclaimed.size(), 1u);
  EXPECT_EQ(two.added(), 2u);
}

// Whatever the writer lends: the buffer given is never one it reads, always of the same size, and the buffers
// in use are at most the reader's own and those added.
TEST(LentBuffers, NeverGiveABufferTheWriterStillReads) {
  std::atomic<std::size_t> shared{0};
  ScriptedWriter writer;
  std::mt19937 random(11);
  LentBuffers buffers(3, shared, 64);
  std::vector<char> buffer(4096);
  std::set<const char*> seen;
  for (int step = 0; step < 2000; ++step) {
    writer.lent.insert(buffer.data());  // the bytes just read are lent to the writer
    for (const char* p : std::set<const char*>(writer.lent)) {
      if (random() % 3 == 0) writer.lent.erase(p);  // some writes end
    }
    ASSERT_TRUE(buffers.make_free(writer, buffer));
    ASSERT_FALSE(writer.lends({buffer.data(), buffer.size()})) << "step " << step;
    ASSERT_EQ(buffer.size(), 4096u);
    seen.insert(buffer.data());
  }
  EXPECT_LE(buffers.added(), 3u);
  EXPECT_LE(seen.size(), 4u);
  EXPECT_GT(seen.size(), 1u);
}

// True where the file system of `directory` takes O_DIRECT at open.
bool takes_direct_writes(const store_test::TempDir& dir) {
  const int probe = ::open(dir.file("probe").c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
  if (probe < 0) return false;
  ::close(probe);
  return true;
}

// While armed, direct writes are refused after `accepted` of them (see pwrite() above).
class RefuseDirectWrites {
 public:
  explicit RefuseDirectWrites(long accepted) {
    g_test_thread = std::this_thread::get_id();
    g_accepted_left = accepted;
    g_cut_short = true;
    g_refusing = true;
  }
  RefuseDirectWrites(const RefuseDirectWrites&) = delete;
  RefuseDirectWrites& operator=(const RefuseDirectWrites&) = delete;
  ~RefuseDirectWrites() { g_refusing = false; }
};

// As a server lends its buffers while the disk is behind: a ring of buffers, each reused only once the writer
// no longer lends it. The disk thread's first write is held back, so the writes lent meanwhile queue behind it;
// they are done as one (a write of several pieces), in order. With direct writes refused partway (the merged
// write cut short, then refused), what is left of them goes through the page cache. Every byte lands in order.
TEST(FileStore, LentWritesQueuedBehindASlowOneAreWrittenTogetherInOrder) {
  for (const long refuse_after : {-1L, 2L}) {
    SCOPED_TRACE(refuse_after);
    store_test::TempDir dir;
    if (!takes_direct_writes(dir)) GTEST_SKIP() << "this file system refuses O_DIRECT";
    auto files = open_files(dir.path());
    constexpr std::size_t kBuffer = 64u << 10;
    constexpr std::size_t kBuffers = 8;
    std::unique_ptr<char, decltype(&std::free)> memory(
        static_cast<char*>(std::aligned_alloc(kQuarantineAlignment, kBuffers * kBuffer)), &std::free);
    ASSERT_NE(memory, nullptr);
    auto writer = files->open_for_append(kId, 0);
    ASSERT_TRUE(writer) << writer.message();
    std::optional<RefuseDirectWrites> refuse;
    if (refuse_after >= 0) refuse.emplace(refuse_after);
    g_merged_writes = 0;
    std::string expected;
    for (std::size_t i = 0; i < 40; ++i) {
      const std::span<const char> bytes(memory.get() + (i % kBuffers) * kBuffer, kBuffer);
      if (i >= kBuffers) {
        ASSERT_TRUE((*writer)->reclaim(bytes));
      }
      EXPECT_FALSE((*writer)->lends(bytes));
      char* buffer = memory.get() + (i % kBuffers) * kBuffer;
      std::memset(buffer, static_cast<int>('a' + i % 26), kBuffer);
      buffer[(i * 4099) % kBuffer] = 'Z';
      expected.append(bytes.data(), bytes.size());
      // The first lent write is the writer's own; the disk thread's first one waits.
      if (i == 1) g_hold_first_write_ms = 500;
      ASSERT_TRUE((*writer)->append_lent(bytes));
      if (i == kBuffers - 1 && refuse_after < 0) {
        EXPECT_TRUE((*writer)->lends({memory.get() + kBuffer, kBuffer}));  // held back
      }
    }
    ASSERT_TRUE((*writer)->sync());
    EXPECT_FALSE((*writer)->lends({memory.get(), kBuffers * kBuffer}));
    EXPECT_GT(g_merged_writes.load(), 0);
    const std::string stored = store_test::read_file(files->quarantine_path(kId));
    ASSERT_EQ(stored.size(), expected.size());
    EXPECT_TRUE(stored == expected);
  }
}

// Resident pages of the file at `path` in the page cache.
std::size_t cached_pages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SIZE_MAX;
  struct stat info {};
  (void)::fstat(fd, &info);
  const auto size = static_cast<std::size_t>(info.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return SIZE_MAX;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  const int got = ::mincore(map, size, resident.data());
  ::munmap(map, size);
  if (got != 0) return SIZE_MAX;
  return static_cast<std::size_t>(
      std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; }));
}

// Whole blocks written directly leave no copy in the page cache; written through it, they stay there. Skipped
// where the file system refuses O_DIRECT, or keeps every file in the page cache anyway (tmpfs).
TEST(FileStore, DirectWritesLeaveNoCopyInThePageCache) {
  store_test::TempDir dir;
  struct statfs file_system {};
  ASSERT_EQ(::statfs(dir.path().c_str(), &file_system), 0);
  if (file_system.f_type == TMPFS_MAGIC) GTEST_SKIP() << "tmpfs keeps every file in the page cache";
  const int probe = ::open(dir.file("probe").c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
  if (probe < 0) GTEST_SKIP() << "this file system refuses O_DIRECT";
  ::close(probe);
  constexpr std::size_t kBytes = 1u << 20;
  std::unique_ptr<char, decltype(&std::free)> bytes(
      static_cast<char*>(std::aligned_alloc(kQuarantineAlignment, kBytes)), &std::free);
  ASSERT_NE(bytes, nullptr);
  std::memset(bytes.get(), 'x', kBytes);
  for (bool direct : {true, false}) {
    auto files = open_files(dir.file(direct ? "direct" : "buffered"), {.direct_writes = direct});
    auto writer = files->open_for_append(kId, 0);
    ASSERT_TRUE(writer) << writer.message();
    ASSERT_TRUE((*writer)->append({bytes.get(), kBytes}));
    ASSERT_TRUE((*writer)->sync());
    const std::size_t cached = cached_pages(files->quarantine_path(kId));
    ASSERT_NE(cached, SIZE_MAX);
    if (direct) {
      EXPECT_EQ(cached, 0u);
    } else {
      EXPECT_GT(cached, 0u);
    }
  }
}

// A file system mounted for one test (as root), unmounted when it ends.
class Mount {
 public:
  Mount(const std::string& type, const std::string& target) : target_(target) {
    fs::create_directories(target);
    mounted_ = ::mount(type.c_str(), target.c_str(), type.c_str(), 0, nullptr) == 0;
    error_ = errno;
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  ~Mount() {
    if (mounted_) ::umount2(target_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  std::string error() const { return std::strerror(error_); }

 private:
  std::string target_;
  bool mounted_;
  int error_;
};

// On a file system that refuses O_DIRECT (ramfs), a store asked for direct writes (the default) writes every
// byte through the page cache instead, with the same results. Skipped where ramfs cannot be mounted here.
TEST(FileStore, WritesThroughThePageCacheWhereTheFileSystemRefusesDirectWrites) {
  store_test::TempDir dir;
  Mount ramfs("ramfs", dir.file("ramfs"));
  if (!ramfs.mounted()) GTEST_SKIP() << "cannot mount ramfs here: " << ramfs.error();
  const int probe = ::open(dir.file("ramfs/probe").c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
  if (probe >= 0) ::close(probe);
  ASSERT_LT(probe, 0) << "ramfs accepted O_DIRECT: the test would not exercise the fallback";
  auto files = open_files(dir.file("ramfs/store"));
  write_randomly_and_check(*files);
}

// A file system may take O_DIRECT at open and refuse the writes (EINVAL), even after some worked, or cut one
// short first. A refused write of the writer's own, or of the disk thread's, goes through the page cache
// instead, and the writer leaves direct writes: every recorded byte stays in the file.
TEST(FileStore, DirectWritesRefusedPartwayGoThroughThePageCacheInstead) {
  g_refused_here = 0;
  g_refused_elsewhere = 0;
  for (long accepted : {0L, 1L, 2L, 3L, 5L, 8L, 20L}) {
    SCOPED_TRACE(accepted);
    store_test::TempDir dir;
    auto files = open_files(dir.path());
    RefuseDirectWrites refuse(accepted);
    write_randomly_and_check(*files);
  }
  EXPECT_GT(g_refused_here.load(), 0);
  // Lent bytes: the first direct write is the writer's own, the later ones the disk thread's, which is
  // refused after cutting its first write short.
  for (long accepted : {1L, 2L}) {
    SCOPED_TRACE(accepted);
    store_test::TempDir dir;
    auto files = open_files(dir.path());
    constexpr std::size_t kBuffer = 256u << 10;
    std::unique_ptr<char, decltype(&std::free)> memory(
        static_cast<char*>(std::aligned_alloc(kQuarantineAlignment, kBuffer)), &std::free);
    ASSERT_NE(memory, nullptr);
    auto writer = files->open_for_append(kId, 0);
    ASSERT_TRUE(writer) << writer.message();
    RefuseDirectWrites refuse(accepted);
    std::string expected;
    for (int i = 0; i < 6; ++i) {
      std::memset(memory.get(), 'a' + i, kBuffer);
      const std::span<const char> bytes(memory.get(), kBuffer);
      expected.append(bytes.data(), bytes.size());
      ASSERT_TRUE((*writer)->append_lent(bytes));
      ASSERT_TRUE((*writer)->reclaim(bytes));
    }
    const std::string tail = "tail";
    ASSERT_TRUE((*writer)->append(tail));
    expected += tail;
    ASSERT_TRUE((*writer)->sync());
    EXPECT_TRUE(store_test::read_file(files->quarantine_path(kId)) == expected);
  }
  EXPECT_GT(g_refused_elsewhere.load(), 0);
}

TEST(FileStore, AFileShorterThanItsOffsetIsAnError) {
  store_test::TempDir dir;
  auto files = open_files(dir.path());
  quarantine(*files, kId, "0123");
  auto writer = files->open_for_append(kId, 10);
  ASSERT_FALSE(writer);
  EXPECT_TRUE(writer.message().starts_with("storage:")) << writer.message();
  EXPECT_EQ(store_test::read_file(files->quarantine_path(kId)), "0123");  // nothing is lost
}

TEST(FileStore, ReleasesByRenameIntoTheDataSourcesArea) {
  store_test::TempDir dir;
  auto files = open_files(dir.path());
  quarantine(*files, kId, "a,b\n1,2\n");
  Result<std::string> released = files->release(kId, "cohort", "counts.csv");
  ASSERT_TRUE(released) << released.message();
  EXPECT_EQ(*released, dir.file("released/cohort/" + kId + "/counts.csv"));
  EXPECT_EQ(store_test::read_file(*released), "a,b\n1,2\n");
  EXPECT_FALSE(fs::exists(dir.file("quarantine/" + kId)));
  // Releasing again (a crash came between the rename and the state change) finds it released.
  Result<std::string> again = files->release(kId, "cohort", "counts.csv");
  ASSERT_TRUE(again) << again.message();
  EXPECT_EQ(*again, *released);
  Result<std::string> nothing = files->release("ffffffffffffffffffffffffffffffff", "cohort", "x");
  ASSERT_FALSE(nothing);
  EXPECT_TRUE(nothing.message().starts_with("not_found:")) << nothing.message();
}

TEST(FileStore, ReleaseSanitisesTheDataSourceAndTheFileName) {
  store_test::TempDir dir;
  auto files = open_files(dir.file("root"));
  quarantine(*files, kId, "secret");
  Result<std::string> released = files->release(kId, "../../..", "../../etc/passwd");
  ASSERT_TRUE(released) << released.message();
  EXPECT_EQ(*released, dir.file("root/released/default/" + kId + "/passwd"));
  EXPECT_TRUE(fs::exists(*released));
  EXPECT_EQ(entries_in(dir.path()), 1u);  // nothing escaped the root
}

TEST(SafeName, KeepsOnlyASafeBaseName) {
  EXPECT_EQ(safe_name("counts.csv"), "counts.csv");
  EXPECT_EQ(safe_name("../../etc/passwd"), "passwd");
  EXPECT_EQ(safe_name("C:\\Users\\eve\\run.exe"), "run.exe");
  EXPECT_EQ(safe_name("a\nb\tc\x01\x7f.txt"), "abc.txt");
  EXPECT_EQ(safe_name(".bashrc"), "bashrc");
  EXPECT_EQ(safe_name("..."), "file");
  EXPECT_EQ(safe_name(".."), "file");
  EXPECT_EQ(safe_name(""), "file");
  EXPECT_EQ(safe_name("dir/"), "file");
  EXPECT_EQ(safe_name("\n\r"), "file");
  EXPECT_EQ(safe_name("", "default"), "default");
  EXPECT_EQ(safe_name("données é.csv"), "données é.csv");
}

TEST(SafeName, CapsTheLengthWithoutSplittingACharacter) {
  EXPECT_EQ(safe_name(std::string(500, 'x')).size(), kMaxSafeNameBytes);
  std::string name = std::string(kMaxSafeNameBytes - 1, 'x') + "é";  // é is two bytes: it does not fit
  EXPECT_EQ(safe_name(name), std::string(kMaxSafeNameBytes - 1, 'x'));
  EXPECT_EQ(safe_name("ok\xff\xfe.csv"), "ok.csv");  // malformed UTF-8 is dropped
}

TEST(FileStore, RetainsDeniedBytesThenRemovesThem) {
  store_test::TempDir dir;
  auto files = open_files(dir.path());
  quarantine(*files, kId, "bad bytes");
  ASSERT_TRUE(files->retain_denied(kId));
  EXPECT_FALSE(fs::exists(dir.file("quarantine/" + kId)));
  EXPECT_EQ(store_test::read_file(dir.file("denied/" + kId + "/data")), "bad bytes");
  EXPECT_TRUE(files->retain_denied(kId));  // already retained: nothing to do
  ASSERT_TRUE(files->remove(kId));
  EXPECT_FALSE(fs::exists(dir.file("denied/" + kId)));
  EXPECT_TRUE(files->remove(kId));  // nothing left: still fine

  quarantine(*files, kId, "abandoned upload");
  ASSERT_TRUE(files->remove(kId));
  EXPECT_FALSE(fs::exists(dir.file("quarantine/" + kId)));
}

TEST(CopyVerifyRename, CopiesChecksAndMovesIntoPlace) {
  store_test::TempDir dir;
  std::string source = dir.file("source");
  std::string bytes;
  for (int i = 0; i < 300000; ++i) bytes += static_cast<char>(i * 7);
  { std::ofstream(source, std::ios::binary) << bytes; }
  std::string target = dir.file("target.bin");
  ASSERT_TRUE(copy_verify_rename(source, target));
  EXPECT_EQ(store_test::read_file(target), bytes);
  EXPECT_FALSE(fs::exists(source));
  EXPECT_EQ(entries_in(dir.path()), 1u);  // no temporary file left behind
  Status missing = copy_verify_rename(dir.file("absent"), dir.file("other"));
  ASSERT_FALSE(missing);
  EXPECT_FALSE(fs::exists(dir.file("other")));
}

// While a large file is released across file systems, a watcher never sees a partial target.
TEST(FileStore, ReleaseAcrossFileSystemsIsCompleteOrAbsent) {
  store_test::TempDir dir;
  if (!fs::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm";
  store_test::TempDir other("/dev/shm");
  struct stat here {
  }, there{};
  ASSERT_EQ(::stat(dir.path().c_str(), &here), 0);
  ASSERT_EQ(::stat(other.path().c_str(), &there), 0);
  if (here.st_dev == there.st_dev) GTEST_SKIP() << "/dev/shm is on the same file system as the temp dir";
  // released/ lives on another file system: rename(2) fails with EXDEV and release copies.
  fs::create_directories(dir.file("root"));
  fs::create_directory_symlink(other.path(), dir.file("root/released"));
  auto files = open_files(dir.file("root"));
  std::string bytes(24 << 20, 'q');
  quarantine(*files, kId, bytes);
  std::string target = other.path() + "/cohort/" + kId + "/big.bin";

  std::atomic<bool> done{false};
  std::atomic<int> partial{0};
  std::atomic<int> seen{0};
  std::thread watcher([&] {
    while (!done) {
      struct stat info {};
      if (::stat(target.c_str(), &info) == 0) {
        ++seen;
        if (static_cast<std::size_t>(info.st_size) != bytes.size()) ++partial;
      }
    }
  });
  Result<std::string> released = files->release(kId, "cohort", "big.bin");
  done = true;
  watcher.join();
  ASSERT_TRUE(released) << released.message();
  EXPECT_EQ(*released, dir.file("root/released/cohort/" + kId + "/big.bin"));
  EXPECT_EQ(partial.load(), 0);
  EXPECT_EQ(store_test::read_file(target), bytes);
  EXPECT_EQ(entries_in(other.path() + "/cohort/" + kId), 1u);
  EXPECT_FALSE(fs::exists(dir.file("root/quarantine/" + kId)));
}

// The same watch on one file system, where release is a single rename.
TEST(FileStore, ReleaseOnOneFileSystemIsCompleteOrAbsent) {
  store_test::TempDir dir;
  auto files = open_files(dir.path());
  std::string bytes(8 << 20, 'r');
  quarantine(*files, kId, bytes);
  std::string target = dir.file("released/ds/" + kId + "/f.bin");
  std::atomic<bool> done{false};
  std::atomic<int> partial{0};
  std::thread watcher([&] {
    while (!done) {
      struct stat info {};
      if (::stat(target.c_str(), &info) == 0 && static_cast<std::size_t>(info.st_size) != bytes.size()) ++partial;
    }
  });
  Result<std::string> released = files->release(kId, "ds", "f.bin");
  done = true;
  watcher.join();
  ASSERT_TRUE(released) << released.message();
  EXPECT_EQ(partial.load(), 0);
  EXPECT_EQ(fs::file_size(target), bytes.size());
}

}  // namespace
}  // namespace airlock::gateway
