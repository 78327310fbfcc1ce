// Test helpers: start the real `airlock serve` on port 0 in a fresh data directory, talk to it with curl,
// stop it with SIGTERM or SIGKILL. Every wait polls with a deadline; nothing sleeps blindly.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace airlock::testing {

inline constexpr const char* kAliceToken = "alice-token-0123456789abcdef";
inline constexpr const char* kBobToken = "bob-token-0123456789abcdef";
inline constexpr const char* kReviewerToken = "rita-token-0123456789abcdef";

// A configuration with three users: alice and bob (researchers) and rita (a data approver).
inline std::string test_config(const std::string& extra = "") {
  return std::string(R"(
limits:
  max_upload_size: 16 GiB
  max_chunk_bytes: 64 MiB
  idle_timeout: 30s
  max_concurrent_uploads_per_user: 4
log: {level: info, format: json}
tokens:
  - {token: alice-token-0123456789abcdef, user: alice, roles: [researcher]}
  - {token: bob-token-0123456789abcdef, user: bob, roles: [researcher]}
  - {token: rita-token-0123456789abcdef, user: rita, roles: [data-approver]}
)") + extra;
}

inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

inline std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Runs a shell command and returns its standard output and exit status.
inline std::pair<std::string, int> run_command(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  std::array<char, 65536> buffer;
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  int status = ::pclose(pipe);
  return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// `curl -s -i ARGS...`; interim 1xx responses are skipped.
inline HttpResult curl(const std::vector<std::string>& args) {
  std::string command = "curl -s -i --http1.1 --max-time 60";
  for (const std::string& arg : args) command += " " + shell_quote(arg);
  auto [output, code] = run_command(command);
  HttpResult result;
  std::size_t position = 0;
  while (true) {
    std::size_t end = output.find("\r\n\r\n", position);
    if (end == std::string::npos) {
      result.body = output.substr(position);
      return result;
    }
    std::istringstream head(output.substr(position, end - position));
    std::string line;
    std::getline(head, line);
    std::istringstream status_line(line);
    std::string version;
    status_line >> version >> result.status;
    result.headers.clear();
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      result.headers[name] = value;
    }
    position = end + 4;
    if (result.status >= 200) {
      result.body = output.substr(position);
      return result;
    }
  }
}

inline std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t bits = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) bits |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(bits >> 18) & 63];
    out += kAlphabet[(bits >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(bits >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[bits & 63] : '=';
  }
  return out;
}

inline std::string metadata(const std::string& filename, const std::string& type = "text/csv",
                            const std::string& workspace = "ws-test", const std::string& datasource = "ds-test") {
  return "filename " + base64(filename) + ",workspace " + base64(workspace) + ",datasource " + base64(datasource) +
         ",filetype " + base64(type);
}

inline std::string sha256_of_file(const std::string& path) {
  auto [output, code] = run_command("sha256sum " + shell_quote(path));
  return output.substr(0, 64);
}

// A running gateway in its own temporary directory.
class GatewayProcess {
 public:
  explicit GatewayProcess(std::string config = test_config()) : config_(std::move(config)) {
    char pattern[] = "/tmp/airlock-gateway-test-XXXXXX";
    root_ = ::mkdtemp(pattern);
    std::ofstream(root_ + "/airlock.yaml") << config_;
  }
  ~GatewayProcess() {
    kill(SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  // Starts the binary; `listen` keeps a previous port across a restart.
  void start(const std::string& listen = "127.0.0.1:0") {
    std::string port_file = root_ + "/port";
    std::filesystem::remove(port_file);
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((root_ + "/gateway.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 2);
      ::dup2(log, 1);
      std::string policies = std::string(AIRLOCK_SOURCE_DIR) + "/policies";
      std::string config = root_ + "/airlock.yaml";
      std::string data = root_ + "/data";
      ::execl(AIRLOCK_BINARY, AIRLOCK_BINARY, "serve", "--config", config.c_str(), "--listen", listen.c_str(), "--data",
              data.c_str(), "--policies", policies.c_str(), "--port-file", port_file.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string address = read_text(port_file);
      if (!address.empty() && address.back() == '\n') {
        address_ = address.substr(0, address.size() - 1);
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "the gateway exited at start:\n" << log();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the gateway did not listen within 60 s:\n" << log();
  }

  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    pid_ = -1;
  }

  std::string url(const std::string& path = "") const { return "http://" + address_ + path; }
  const std::string& address() const { return address_; }
  const std::string& root() const { return root_; }
  std::string data_dir() const { return root_ + "/data"; }
  std::string log() const { return read_text(root_ + "/gateway.log"); }
  int exit_status() const { return exit_status_; }

 private:
  std::string config_;
  std::string root_;
  std::string address_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

inline std::vector<std::string> auth(const char* token) {
  return {"-H", std::string("Authorization: Bearer ") + token};
}

inline std::vector<std::string> join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// POST /files with the tus headers; returns the response (Location holds the upload's path).
inline HttpResult create_upload(const GatewayProcess& gateway, const char* token, const std::string& length,
                                const std::string& upload_metadata) {
  return curl(join(auth(token), {"-X", "POST", gateway.url("/files"), "-H", "Tus-Resumable: 1.0.0", "-H",
                                 "Upload-Length: " + length, "-H", "Upload-Metadata: " + upload_metadata}));
}

// PATCH the bytes of `file` at `offset`.
inline HttpResult patch_upload(const GatewayProcess& gateway, const char* token, const std::string& location,
                               std::uint64_t offset, const std::string& file,
                               const std::vector<std::string>& extra = {}) {
  return curl(join(join(auth(token), {"-X", "PATCH", gateway.url(location), "-H", "Tus-Resumable: 1.0.0", "-H",
                                      "Upload-Offset: " + std::to_string(offset), "-H",
                                      "Content-Type: application/offset+octet-stream", "--data-binary", "@" + file}),
                   extra));
}

// `size` bytes of a 64-bit x86 Linux program: an ELF header (type: executable), then zeros. libmagic calls it
// an executable, which the standard policies deny.
inline std::string elf_executable(std::size_t size) {
  std::string elf(
      "\x7f"
      "ELF\x02\x01\x01\x00",
      8);
  elf += std::string(8, '\0');
  elf += std::string("\x02\x00\x3e\x00\x01\x00\x00\x00", 8);
  elf.resize(size, '\0');
  return elf;
}

inline std::string write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A hand-driven HTTP connection, for clients curl cannot imitate: one that stops sending mid-body, or
// trickles its bytes. Every wait has a deadline.
class RawClient {
 public:
  // `address` is "127.0.0.1:PORT" as the gateway writes it to its port file.
  explicit RawClient(const std::string& address) {
    std::size_t colon = address.rfind(':');
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &peer.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }

  // Sends everything; false when the peer closed or reset the connection.
  bool send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // True when the server has sent something (or closed) within `wait`.
  bool readable(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }

  // Reads until the server closes the connection or the deadline passes; returns what arrived.
  std::string read_until_closed(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string out;
    std::array<char, 4096> buffer;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!readable(std::chrono::milliseconds(100))) continue;
      ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      out.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// The request head of a PATCH sending `length` bytes to `location`.
inline std::string patch_head(const GatewayProcess& gateway, const char* token, const std::string& location,
                              std::uint64_t offset, std::uint64_t length) {
  return "PATCH " + location + " HTTP/1.1\r\nHost: " + gateway.address() + "\r\nAuthorization: Bearer " + token +
         "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " + std::to_string(offset) +
         "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n";
}

// Polls `condition` every 20 ms until it holds or `limit` passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// A Prometheus sample's value from GET /metrics ("airlock_uploads_in_flight" -> 1), or -1.
inline double metric(const GatewayProcess& gateway, const char* token, const std::string& name) {
  HttpResult result = curl(join(auth(token), {gateway.url("/metrics")}));
  std::istringstream lines(result.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

}  // namespace airlock::testing
