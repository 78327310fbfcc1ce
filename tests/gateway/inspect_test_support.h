// Helpers for the inspector tests: temporary folders, archives written with libarchive at test time.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "airlock/gateway/inspect/pipeline.h"

namespace airlock::gateway::inspect::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "airlock-inspect-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ArchiveFile {
  std::string name;
  std::string content;      // written as is...
  std::uint64_t zeros = 0;  // ...or this many zero bytes, streamed
};

// Writes an archive with libarchive: format "zip", "tar" or "tar.gz"; options such as
// "zip:encryption=zipcrypt" with a passphrase.
inline void write_archive(const std::string& path, const std::string& format, const std::vector<ArchiveFile>& files,
                          const std::string& options = "", const std::string& passphrase = "") {
  struct archive* a = archive_write_new();
  if (format == "zip") {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    if (format == "tar.gz") archive_write_add_filter_gzip(a);
  }
  if (!options.empty()) {
    ASSERT_EQ(archive_write_set_options(a, options.c_str()), ARCHIVE_OK) << archive_error_string(a);
  }
  if (!passphrase.empty()) {
    ASSERT_EQ(archive_write_set_passphrase(a, passphrase.c_str()), ARCHIVE_OK);
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  std::vector<char> zeros(1 << 20, 0);
  for (const auto& file : files) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, file.name.c_str());
    const bool directory = file.name.ends_with("/");
    archive_entry_set_filetype(entry, directory ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(entry, directory ? 0755 : 0644);
    archive_entry_set_size(entry, directory ? 0 : static_cast<la_int64_t>(file.zeros + file.content.size()));
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (!file.content.empty()) archive_write_data(a, file.content.data(), file.content.size());
    for (std::uint64_t left = file.zeros; left > 0;) {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, zeros.size()));
      ASSERT_EQ(archive_write_data(a, zeros.data(), n), static_cast<la_ssize_t>(n));
      left -= n;
    }
    archive_entry_free(entry);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
}

// Runs a file through a pipeline in chunks, as an upload would arrive, and finishes it.
inline InspectionPipeline inspect_file(const std::string& path, InspectionOptions options,
                                       std::size_t chunk_size = 256 << 10, runtime::Status* status = nullptr) {
  InspectionPipeline pipeline(std::move(options));
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buffer(chunk_size);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    auto update = pipeline.update(std::span<const char>(buffer.data(), n));
    EXPECT_TRUE(update.is_ok()) << update.message();
  }
  auto finished = pipeline.finish(path);
  if (status != nullptr) *status = finished;
  return pipeline;
}

// The EICAR test string, assembled so the source file itself is not a test virus.
inline std::string eicar() {
  return std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS" + "-TEST-FILE!$H+H*";
}

// A real clamd on a unix socket in a temporary folder, with one signature database of our own: an
// .ndb signature for the EICAR string. Absent clamd (no /usr/sbin/clamd), running() is false.
class ClamdProcess {
 public:
  static constexpr const char* kBinary = "/usr/sbin/clamd";
  static constexpr const char* kSignature = "Airlock.Test.EICAR";

  ClamdProcess() {
    if (::access(kBinary, X_OK) != 0) return;
    std::filesystem::create_directories(dir_.file("db"));
    std::string hex;
    for (unsigned char c : eicar()) {
      static constexpr char kHex[] = "0123456789abcdef";
      hex.push_back(kHex[c >> 4]);
      hex.push_back(kHex[c & 0xF]);
    }
    write_file(dir_.file("db/airlock-test.ndb"), std::string(kSignature) + ":0:*:" + hex + "\n");
    socket_ = dir_.file("clamd.sock");
    write_file(dir_.file("clamd.conf"), "Foreground yes\nLocalSocket " + socket_ + "\nDatabaseDirectory " +
                                            dir_.file("db") + "\nTemporaryDirectory " + dir_.path() + "\nLogFile " +
                                            dir_.file("clamd.log") +
                                            "\nStreamMaxLength 2M\nMaxThreads 2\nBytecode no\n");
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string config = "--config-file=" + dir_.file("clamd.conf");
      int null = ::open("/dev/null", O_WRONLY);  // its log is in clamd.log
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execl(kBinary, kBinary, config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ClamdOptions options;
    options.address = socket_;
    options.timeout = std::chrono::milliseconds(2000);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      if (clamd_command(options, "zPING") == "PONG") {
        ready_ = true;
        break;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~ClamdProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  ClamdProcess(const ClamdProcess&) = delete;
  ClamdProcess& operator=(const ClamdProcess&) = delete;

  static bool installed() { return ::access(kBinary, X_OK) == 0; }
  bool running() const { return ready_; }
  const std::string& socket() const { return socket_; }
  std::string log() const { return read_file(dir_.file("clamd.log")); }

 private:
  TempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace airlock::gateway::inspect::testing
