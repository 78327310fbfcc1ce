// The least work a receiver that hashes and stores an upload must do, as a yardstick for `airlock serve` on the
// same machine (scripts/bench-gateway.sh). No TLS, no tus, no state store, no inspector but SHA-256, no policy:
// accept one connection at a time, read the request head, then for the body only recv(2) into 1 MiB buffers,
// SHA-256 each (OpenSSL EVP), write(2) each to a file (O_DIRECT where the file system takes it, as the gateway
// does), fdatasync(2) the file, and answer 204 with the digest. It is the least work, not the fastest way to do
// it: on the disk the gateway's own writer did better (docs/performance.md, fourteenth round). With the data in
// memory, what this program reaches shows what the cores allow a receiver that hashes every byte.
//
// usage: bare_receiver DIR PORT_FILE MODE
//   DIR        where each body is written (body-N, deleted once answered)
//   PORT_FILE  the port it listens on (127.0.0.1, chosen by the kernel) is written here once it listens
//   MODE       inline: receive, hash and write on one thread; writer: write(2) on a thread of its own;
//              hasher: SHA-256 on a thread of its own; both: each on its own, as the gateway does (the
//              buffers handed over through queues, up to 8 in flight)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kBufferBytes = 1 << 20;
constexpr std::size_t kBuffers = 8;
constexpr std::size_t kBlock = 4096;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

struct Buffer {
  char* data = nullptr;
  std::size_t size = 0;
  int users = 0;  // stages still reading it (guarded by Pipeline::mutex)
};

// The buffers and the two queues of the three-thread form: a buffer goes to the writer and to the hasher, and is
// free again once both are done with it. A buffer of size 0 ends the body.
struct Pipeline {
  std::array<Buffer, kBuffers> buffers{};
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::size_t> free_list, to_write, to_hash;

  Pipeline() {
    for (std::size_t i = 0; i < kBuffers; ++i) {
      buffers[i].data = static_cast<char*>(std::aligned_alloc(kBlock, kBufferBytes));
      if (buffers[i].data == nullptr) die("aligned_alloc");
      free_list.push_back(i);
    }
  }
  ~Pipeline() {
    for (auto& buffer : buffers) std::free(buffer.data);
  }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  std::size_t take_free() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !free_list.empty(); });
    const std::size_t index = free_list.front();
    free_list.pop_front();
    return index;
  }
  void hand_over(std::size_t index, std::size_t size, bool writer, bool hasher) {
    {
      const std::lock_guard lock(mutex);
      buffers[index].size = size;
      buffers[index].users = int{writer} + int{hasher};
      if (writer) to_write.push_back(index);
      if (hasher) to_hash.push_back(index);
    }
    changed.notify_all();
  }
  // Waits for the queue to hold a buffer, then takes every buffer it holds, in order.
  std::vector<std::size_t> take_all(std::deque<std::size_t>& queue) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !queue.empty(); });
    std::vector<std::size_t> taken(queue.begin(), queue.end());
    queue.clear();
    return taken;
  }
  void done(std::size_t index) {
    {
      const std::lock_guard lock(mutex);
      if (--buffers[index].users == 0) free_list.push_back(index);
    }
    changed.notify_all();
  }
};

// Writes whole blocks direct; the tail that is not a whole block goes through the page cache.
void write_all(int fd, const char* data, std::size_t size, bool& direct) {
  if (direct && size % kBlock != 0) {
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) != 0) die("fcntl");
    direct = false;
  }
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// writev(2) of the full buffers in `pieces`, retrying short writes; `pieces` is left empty.
void writev_all(int fd, std::vector<iovec>& pieces) {
  std::size_t first = 0;
  while (first < pieces.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - first, IOV_MAX));
    ssize_t n = ::writev(fd, pieces.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("writev");
    }
    for (; first < pieces.size() && static_cast<std::size_t>(n) >= pieces[first].iov_len; ++first) {
      n -= static_cast<ssize_t>(pieces[first].iov_len);
    }
    if (n > 0) {
      pieces[first].iov_base = static_cast<char*>(pieces[first].iov_base) + n;
      pieces[first].iov_len -= static_cast<std::size_t>(n);
    }
  }
  pieces.clear();
}

// Fills the buffer from the socket: the leftover of the request head first, then recv(2) until it is full or the
// body ends. Returns the bytes in it.
std::size_t fill(int socket, char* buffer, std::size_t want, std::string& leftover) {
  std::size_t have = std::min(want, leftover.size());
  std::memcpy(buffer, leftover.data(), have);
  leftover.erase(0, have);
  while (have < want) {
    const ssize_t n = ::recv(socket, buffer + have, want - have, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recv");
    }
    have += static_cast<std::size_t>(n);
  }
  return have;
}

std::string hex(const unsigned char* digest, unsigned size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 15];
  }
  return out;
}

// Reads the request head; returns the Content-Length and leaves the body bytes read past the head in `leftover`.
std::size_t read_head(int socket, std::string& leftover) {
  std::string head;
  char chunk[4096];
  std::size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(socket, chunk, sizeof chunk, 0);
    if (n <= 0) return 0;
    head.append(chunk, static_cast<std::size_t>(n));
  }
  leftover = head.substr(end + 4);
  head.resize(end);
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto at = lower.find("\r\ncontent-length:");
  return at == std::string::npos ? 0 : std::strtoull(head.c_str() + at + 17, nullptr, 10);
}

struct Stages {
  bool own_writer = false;  // write(2) on a thread of its own, else on the receiving thread
  bool own_hasher = false;  // SHA-256 on a thread of its own, else on the receiving thread
};

std::string receive(int socket, int fd, bool direct, std::size_t length, std::string& leftover, Stages stages,
                    Pipeline& pipeline) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  const auto hash = [&](const char* data, std::size_t size) { EVP_DigestUpdate(context, data, size); };
  const auto store = [&](const char* data, std::size_t size) { write_all(fd, data, size, direct); };
  // A stage on a thread of its own takes the buffers from its queue until the empty one. The hasher hashes
  // them one by one; the writer writes the full ones that wait together with one writev(2), as the gateway's
  // disk thread does, and a partial one (the body's end) on its own.
  const auto stage = [&](std::deque<std::size_t>& queue, bool writes) {
    std::vector<iovec> pieces;
    for (;;) {
      const std::vector<std::size_t> taken = pipeline.take_all(queue);
      bool end = false;
      for (const std::size_t index : taken) {
        const Buffer& buffer = pipeline.buffers[index];
        end = end || buffer.size == 0;
        if (!writes) {
          if (buffer.size > 0) hash(buffer.data, buffer.size);
        } else if (buffer.size == kBufferBytes) {
          pieces.push_back({buffer.data, buffer.size});
          continue;  // written below with the others
        } else {
          writev_all(fd, pieces);
          if (buffer.size > 0) store(buffer.data, buffer.size);
        }
      }
      if (writes) writev_all(fd, pieces);
      for (const std::size_t index : taken) pipeline.done(index);
      if (end) return;
    }
  };
  std::thread writer, hasher;
  if (stages.own_writer) writer = std::thread([&] { stage(pipeline.to_write, true); });
  if (stages.own_hasher) hasher = std::thread([&] { stage(pipeline.to_hash, false); });
  const bool hands_over = stages.own_writer || stages.own_hasher;
  std::size_t left = length;
  for (;;) {
    const std::size_t index = hands_over ? pipeline.take_free() : 0;
    char* buffer = pipeline.buffers[index].data;
    const std::size_t n = left == 0 ? 0 : fill(socket, buffer, std::min(left, kBufferBytes), leftover);
    if (n > 0 && !stages.own_hasher) hash(buffer, n);
    if (n > 0 && !stages.own_writer) store(buffer, n);
    if (hands_over) pipeline.hand_over(index, n, stages.own_writer, stages.own_hasher);
    if (n == 0) break;
    left -= n;
  }
  if (writer.joinable()) writer.join();
  if (hasher.joinable()) hasher.join();
  if (left > 0) std::fprintf(stderr, "the body ended %zu bytes short\n", left);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  EVP_DigestFinal_ex(context, digest, &size);
  EVP_MD_CTX_free(context);
  return left > 0 ? std::string() : hex(digest, size);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc == 4 ? argv[3] : "";
  if (mode != "inline" && mode != "writer" && mode != "hasher" && mode != "both") {
    std::fprintf(stderr, "usage: bare_receiver DIR PORT_FILE inline|writer|hasher|both\n");
    return 2;
  }
  const std::string dir = argv[1];
  const Stages stages{.own_writer = mode == "writer" || mode == "both",
                      .own_hasher = mode == "hasher" || mode == "both"};
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) die("socket");
  const int yes = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) die("bind");
  if (::listen(listener, 16) != 0) die("listen");
  socklen_t length = sizeof address;
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) die("getsockname");
  {
    const std::string temporary = std::string(argv[2]) + ".tmp";
    std::ofstream(temporary) << "127.0.0.1:" << ntohs(address.sin_port) << '\n';
    if (std::rename(temporary.c_str(), argv[2]) != 0) die("rename");
  }

  Pipeline pipeline;
  for (unsigned long count = 0;; ++count) {
    const int socket = ::accept(listener, nullptr, nullptr);
    if (socket < 0) {
      if (errno == EINTR) continue;
      die("accept");
    }
    std::string leftover;
    const std::size_t body = read_head(socket, leftover);
    const std::string path = dir + "/body-" + std::to_string(count);
    bool direct = true;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EINVAL) {  // a file system without O_DIRECT (tmpfs)
      direct = false;
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    if (fd < 0) die("open");
    const std::string digest = receive(socket, fd, direct, body, leftover, stages, pipeline);
    if (::fdatasync(fd) != 0) die("fdatasync");
    ::close(fd);
    ::unlink(path.c_str());
    const std::string answer =
        digest.empty() ? std::string("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                       : "HTTP/1.1 204 No Content\r\nX-Sha-256: " + digest + "\r\nConnection: close\r\n\r\n";
    (void)!::write(socket, answer.data(), answer.size());
    ::close(socket);
  }
}
