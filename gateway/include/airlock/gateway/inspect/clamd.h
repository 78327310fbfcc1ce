// A streaming client of clamd's INSTREAM protocol (unix socket or TCP).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace airlock::gateway::inspect {

struct ClamdOptions {
  // "/run/clamav/clamd.ctl" (a unix socket), "unix:/path", or "host:port"; empty: no scanning.
  std::string address;
  // Every connect, send and receive gives up after this long.
  std::chrono::milliseconds timeout{30'000};
  // Keep at or under clamd's StreamMaxLength: a larger file is not scanned (result "error").
  std::uint64_t max_stream_bytes = 100ull << 20;
};

// What LANGUAGE.md calls scan.result, scan.signature and scan.engine, with the reason for an error.
struct ScanReport {
  std::string result;     // clean, infected, error or skipped
  std::string signature;  // when infected
  std::string engine;     // "ClamAV 1.0.7" (from VERSION), or "ClamAV" when it did not answer
  std::string detail;     // why the result is error or skipped
};

// Streams one file to clamd as it arrives: connect on the first chunk, one INSTREAM chunk per
// update, the terminator and the verdict in finish(). The first failure ends the stream (result "error").
class ClamdStream {
 public:
  explicit ClamdStream(ClamdOptions options);
  ~ClamdStream();
  ClamdStream(const ClamdStream&) = delete;
  ClamdStream& operator=(const ClamdStream&) = delete;

  bool enabled() const { return !options_.address.empty(); }
  void update(std::span<const char> data);
  ScanReport finish();

 private:
  bool start();
  bool send_all(const char* header, std::size_t header_size, const char* data, std::size_t size);
  void fail(std::string detail);
  void close_socket();

  ClamdOptions options_;
  int fd_ = -1;
  bool started_ = false;
  bool failed_ = false;
  std::uint64_t sent_ = 0;
  std::string detail_;
};

// Sends one command ("zVERSION") and returns clamd's answer without its terminator, or an error text
// starting with "error: ".
std::string clamd_command(const ClamdOptions& options, const std::string& command);

}  // namespace airlock::gateway::inspect
