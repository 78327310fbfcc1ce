#include "airlock/gateway/inspect/clamd.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

namespace airlock::gateway::inspect {
namespace {

using Clock = std::chrono::steady_clock;

// INSTREAM chunks are at most this long; clamd reads each into memory.
constexpr std::size_t kMaxChunk = 1u << 20;
constexpr std::size_t kMaxReply = 4096;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits until the socket is ready for `events`; false on timeout or error (errno says which).
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = ETIMEDOUT;
    return n > 0;
  }
}

// A connected non-blocking socket, or -1 with `error` set.
int connect_to(const std::string& address, Clock::time_point deadline, std::string& error) {
  std::string_view where = address;
  bool unix_socket = where.starts_with("unix:") || where.starts_with("/") || where.find(':') == std::string_view::npos;
  if (where.starts_with("unix:")) where.remove_prefix(5);
  if (unix_socket) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (where.size() >= sizeof(addr.sun_path)) {
      error = "clamd socket path is too long: " + std::string(where);
      return -1;
    }
    std::memcpy(addr.sun_path, where.data(), where.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = errno_text("socket");
      return -1;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS &&
        errno != EAGAIN) {
      error = errno_text(("cannot connect to clamd at " + std::string(where)).c_str());
      ::close(fd);
      return -1;
    }
    return fd;
  }
  auto colon = where.rfind(':');
  std::string host(where.substr(0, colon));
  std::string port(where.substr(colon + 1));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &results); rc != 0) {
    error = "cannot resolve clamd host " + host + ": " + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  error = "cannot connect to clamd at " + std::string(where);
  for (addrinfo* ai = results; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS && wait_for(fd, POLLOUT, deadline)) {
      int so_error = 0;
      socklen_t length = sizeof(so_error);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
      if (so_error == 0) break;
      errno = so_error;
    }
    error = errno_text(("cannot connect to clamd at " + std::string(where)).c_str());
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(results);
  return fd;
}

bool send_bytes(int fd, const iovec* parts, int count, Clock::time_point deadline, std::string& error) {
  iovec local[2];
  for (int i = 0; i < count; ++i) local[i] = parts[i];
  int first = 0;
  while (first < count) {
    msghdr message{};
    message.msg_iov = local + first;
    message.msg_iovlen = static_cast<std::size_t>(count - first);
    ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLOUT, deadline)) continue;
      error = errno_text("sending to clamd");
      return false;
    }
    auto written = static_cast<std::size_t>(n);
    while (first < count && written >= local[first].iov_len) {
      written -= local[first].iov_len;
      ++first;
    }
    if (first < count) {
      local[first].iov_base = static_cast<char*>(local[first].iov_base) + written;
      local[first].iov_len -= written;
    }
  }
  return true;
}

// Reads clamd's NUL-terminated reply (or up to EOF).
bool receive_reply(int fd, Clock::time_point deadline, std::string& reply, std::string& error) {
  char buffer[512];
  while (reply.size() < kMaxReply) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      reply.append(buffer, static_cast<std::size_t>(n));
      auto nul = reply.find('\0');
      if (nul != std::string::npos) {
        reply.resize(nul);
        break;
      }
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLIN, deadline)) continue;
    error = errno_text("reading clamd's reply");
    return false;
  }
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
  return true;
}

}  // namespace

std::string clamd_command(const ClamdOptions& options, const std::string& command) {
  auto deadline = Clock::now() + options.timeout;
  std::string error;
  int fd = connect_to(options.address, deadline, error);
  if (fd < 0) return "error: " + error;
  iovec part{const_cast<char*>(command.c_str()), command.size() + 1};
  std::string reply;
  bool ok = send_bytes(fd, &part, 1, deadline, error) && receive_reply(fd, deadline, reply, error);
  ::close(fd);
  return ok ? reply : "error: " + error;
}

ClamdStream::ClamdStream(ClamdOptions options) : options_(std::move(options)) {}

ClamdStream::~ClamdStream() { close_socket(); }

void ClamdStream::close_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void ClamdStream::fail(std::string detail) {
  if (failed_) return;
  failed_ = true;
  detail_ = std::move(detail);
  close_socket();
}

bool ClamdStream::start() {
  started_ = true;
  std::string error;
  fd_ = connect_to(options_.address, Clock::now() + options_.timeout, error);
  if (fd_ < 0) {
    fail(error);
    return false;
  }
  static constexpr char kCommand[] = "zINSTREAM";  // sent with its NUL
  return send_all(kCommand, sizeof(kCommand), nullptr, 0);
}

bool ClamdStream::send_all(const char* header, std::size_t header_size, const char* data, std::size_t size) {
  iovec parts[2] = {{const_cast<char*>(header), header_size}, {const_cast<char*>(data), size}};
  std::string error;
  if (send_bytes(fd_, parts, size > 0 ? 2 : 1, Clock::now() + options_.timeout, error)) return true;
  // clamd may have closed the stream with a reason ("INSTREAM size limit exceeded").
  std::string reply;
  std::string ignored;
  if (receive_reply(fd_, Clock::now() + std::chrono::milliseconds(200), reply, ignored) && !reply.empty()) {
    error = "clamd: " + reply;
  }
  fail(error);
  return false;
}

void ClamdStream::update(std::span<const char> data) {
  if (!enabled() || failed_ || data.empty()) return;
  if (!started_ && !start()) return;
  if (sent_ + data.size() > options_.max_stream_bytes) {
    fail("the file is larger than the malware scanner's limit of " + std::to_string(options_.max_stream_bytes) +
         " bytes");
    return;
  }
  while (!data.empty()) {
    std::size_t size = std::min(data.size(), kMaxChunk);
    auto length = static_cast<std::uint32_t>(size);
    const char header[4] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                            static_cast<char>(length >> 8), static_cast<char>(length)};
    if (!send_all(header, sizeof(header), data.data(), size)) return;
    sent_ += size;
    data = data.subspan(size);
  }
}

ScanReport ClamdStream::finish() {
  ScanReport report;
  if (!enabled()) {
    report.result = "skipped";
    report.detail = "no malware scanner is configured";
    return report;
  }
  if (!started_) start();  // an empty file is scanned too
  std::string reply;
  if (!failed_) {
    static constexpr char kEnd[4] = {0, 0, 0, 0};
    std::string error;
    if (send_all(kEnd, sizeof(kEnd), nullptr, 0)) {
      if (!receive_reply(fd_, Clock::now() + options_.timeout, reply, error)) fail(error);
    }
  }
  close_socket();

  std::string version = clamd_command(options_, "zVERSION");
  if (version.starts_with("ClamAV")) {
    report.engine = version.substr(0, version.find('/'));
  } else {
    report.engine = "ClamAV";
  }
  if (failed_) {
    report.result = "error";
    report.detail = detail_;
    return report;
  }
  // "stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR".
  std::string_view answer = reply;
  if (answer.starts_with("stream: ")) answer.remove_prefix(8);
  if (answer == "OK") {
    report.result = "clean";
  } else if (answer.ends_with(" FOUND")) {
    report.result = "infected";
    report.signature = std::string(answer.substr(0, answer.size() - 6));
  } else {
    report.result = "error";
    report.detail = reply.empty() ? "clamd closed the connection without a verdict" : "clamd: " + reply;
  }
  return report;
}

}  // namespace airlock::gateway::inspect
