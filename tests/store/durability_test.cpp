// A gateway killed with SIGKILL keeps every offset it recorded, and the bytes written after the last
// recorded offset are cut away when the upload resumes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "airlock/gateway/file_store.h"
#include "airlock/gateway/store.h"
#include "store_test_support.h"

namespace airlock::gateway {
namespace {

using S = TransferState;
constexpr UnixMillis kNow = 1'780'000'000'000;

// In the child: create a transfer, receive 3 chunks (each synced, then recorded), store a 4th chunk
// without recording it, report "ID OFFSET" on the pipe, then wait to be killed.
[[noreturn]] void child_upload(const std::string& data_dir, int report_fd) {
  auto store = TransferStore::open(data_dir + "/airlock.db");
  auto files = FileStore::open(data_dir + "/files");
  if (!store || !files) ::_exit(3);
  NewTransfer request = store_test::upload_request();
  request.length = std::nullopt;
  Result<Transfer> transfer = (*store)->create(request, kNow);
  if (!transfer || !(*store)->transition(transfer->id, store_test::to(S::kReceiving), kNow)) ::_exit(4);
  auto writer = (*files)->open_for_append(transfer->id, 0);
  if (!writer) ::_exit(5);
  std::uint64_t offset = 0;
  for (char fill : {'a', 'b', 'c'}) {
    std::string chunk(1000, fill);
    if (!(*writer)->append(chunk) || !(*writer)->sync()) ::_exit(6);
    if (!(*store)->advance_offset(transfer->id, offset, offset + chunk.size(), kNow)) ::_exit(7);
    offset += chunk.size();
  }
  // Stored but not recorded: the gateway killed between sync() and advance_offset().
  std::string unrecorded(500, 'z');
  if (!(*writer)->append(unrecorded) || !(*writer)->sync()) ::_exit(8);
  std::string report = transfer->id + " " + std::to_string(offset) + "\n";
  if (::write(report_fd, report.data(), report.size()) != static_cast<ssize_t>(report.size())) ::_exit(9);
  while (true) ::pause();
}

TEST(StoreDurability, OffsetsSurviveSigkillAndUnrecordedBytesAreTruncated) {
  store_test::TempDir dir;
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(report[0]);
    child_upload(dir.path(), report[1]);
  }
  ::close(report[1]);
  std::string line;
  char c;
  while (::read(report[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(report[0]);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited early with status " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  std::size_t space = line.find(' ');
  ASSERT_NE(space, std::string::npos) << "child report: " << line;
  std::string id = line.substr(0, space);
  std::uint64_t recorded = std::stoull(line.substr(space + 1));
  ASSERT_EQ(recorded, 3000u);

  auto store = store_test::open_store(dir.path() + "/airlock.db");
  Result<Transfer> transfer = store->get(id);
  ASSERT_TRUE(transfer) << transfer.message();
  EXPECT_EQ(transfer->state, S::kReceiving);
  EXPECT_EQ(transfer->offset, recorded);
  EXPECT_TRUE(store->verify_audit()->intact);

  auto files = FileStore::open(dir.path() + "/files");
  ASSERT_TRUE(files);
  EXPECT_EQ(store_test::read_file((*files)->quarantine_path(id)).size(), 3500u);  // the unrecorded tail is there
  auto writer = (*files)->open_for_append(id, transfer->offset);
  ASSERT_TRUE(writer) << writer.message();
  EXPECT_EQ((*writer)->size(), 3000u);
  ASSERT_TRUE((*writer)->append(std::string(10, 'd')));
  ASSERT_TRUE((*writer)->sync());
  ASSERT_TRUE(store->advance_offset(id, 3000, 3010, kNow));
  std::string bytes = store_test::read_file((*files)->quarantine_path(id));
  EXPECT_EQ(bytes, std::string(1000, 'a') + std::string(1000, 'b') + std::string(1000, 'c') + std::string(10, 'd'));
}

}  // namespace
}  // namespace airlock::gateway
