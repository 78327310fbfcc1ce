// Test helpers: start the real `airlock serve` on port 0 in a fresh data directory, talk to it with curl,
// stop it with SIGTERM or SIGKILL. Every wait polls with a deadline; nothing sleeps blindly.
#pragma once

#include <fcntl.h>
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

inline std::string write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace airlock::testing
