// Runs the real `airlock` binary as a subprocess, with stdout, stderr and the exit status kept apart,
// and gives each test a temporary directory that is removed afterwards.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace airlock::cli_test {

inline std::string source_dir() { return AIRLOCK_SOURCE_DIR; }
inline std::string binary_path() { return AIRLOCK_BINARY; }

struct RunResult {
  std::string out;
  std::string err;
  int exit_code = -1;  // -1 when the process did not exit normally
};

// A running `airlock` process with pipes on its three standard streams.
class AirlockProcess {
 public:
  AirlockProcess(const std::vector<std::string>& arguments, const std::string& working_directory = {}) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    std::vector<std::string> argv_strings{binary_path()};
    argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& argument : argv_strings) argv.push_back(argument.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      if (!working_directory.empty() && ::chdir(working_directory.c_str()) != 0) ::_exit(126);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
    ::signal(SIGPIPE, SIG_IGN);  // the child may exit before reading all its input
  }
  AirlockProcess(const AirlockProcess&) = delete;
  AirlockProcess& operator=(const AirlockProcess&) = delete;
  ~AirlockProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {stdin_, stdout_, stderr_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  void write_input(const std::string& text) { pending_input_ += text; }
  void close_input() { close_input_ = true; }

  // Pumps the pipes until stdout holds a complete line or the deadline passes; returns that line (without '\n').
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (std::size_t newline = out_.find('\n', consumed_); newline != std::string::npos) {
        std::string line = out_.substr(consumed_, newline - consumed_);
        consumed_ = newline + 1;
        return line;
      }
      if (stdout_ < 0 || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      pump(deadline);
    }
  }

  // Sends the rest of the input, closes it, reads everything and waits for the exit.
  RunResult finish(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    close_input_ = true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while ((stdout_ >= 0 || stderr_ >= 0) && std::chrono::steady_clock::now() < deadline) pump(deadline);
    RunResult result;
    if (stdout_ >= 0 || stderr_ >= 0) {
      ::kill(pid_, SIGKILL);
      result.err = err_ + "\n[test harness: airlock timed out and was killed]";
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    result.out = out_;
    if (result.err.empty()) result.err = err_;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
  }

 private:
  void pump(std::chrono::steady_clock::time_point deadline) {
    if (close_input_ && pending_input_.empty() && stdin_ >= 0) {
      ::close(stdin_);
      stdin_ = -1;
    }
    std::vector<pollfd> fds;
    if (stdout_ >= 0) fds.push_back({stdout_, POLLIN, 0});
    if (stderr_ >= 0) fds.push_back({stderr_, POLLIN, 0});
    if (stdin_ >= 0 && !pending_input_.empty()) fds.push_back({stdin_, POLLOUT, 0});
    if (fds.empty()) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(left.count(), 0)));
    if (ready <= 0) return;
    for (const pollfd& fd : fds) {
      if (fd.revents == 0) continue;
      if (fd.fd == stdin_) {
        ssize_t n = ::write(stdin_, pending_input_.data(), pending_input_.size());
        if (n > 0) {
          pending_input_.erase(0, static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
          pending_input_.clear();  // the child closed its input
          close_input_ = true;
        }
        continue;
      }
      char buffer[65536];
      ssize_t n = ::read(fd.fd, buffer, sizeof buffer);
      if (n > 0) {
        (fd.fd == stdout_ ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        int& owned = fd.fd == stdout_ ? stdout_ : stderr_;
        ::close(owned);
        owned = -1;
      }
    }
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  std::string pending_input_;
  bool close_input_ = false;
  std::string out_, err_;
  std::size_t consumed_ = 0;
};

struct RunOptions {
  std::string input;              // written to standard input, which is then closed
  std::string working_directory;  // empty: the test's own
};

inline RunResult run_airlock(const std::vector<std::string>& arguments, const RunOptions& options = {}) {
  AirlockProcess process(arguments, options.working_directory);
  process.write_input(options.input);
  return process.finish();
}

// A fresh directory for one test, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/airlock-cli-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to `relative` (creating directories) and returns the full path.
  std::string write(const std::string& relative, const std::string& text) const {
    std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }
  std::string file(const std::string& relative) const { return (path_ / relative).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Splits output into lines (without their '\n').
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

inline std::string last_line(const std::string& text) {
  std::vector<std::string> lines = lines_of(text);
  return lines.empty() ? std::string() : lines.back();
}

inline std::string data_path(const std::string& relative) { return source_dir() + "/tests/data/cli/" + relative; }

}  // namespace airlock::cli_test
