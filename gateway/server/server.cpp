// The network side: a listener, one asynchronous session per connection (plain or TLS), signal handling
// and graceful shutdown. The shape follows Beast's http_server_async and advanced_server_flex examples.
// No exceptions on the data path: every Asio and Beast call uses an error_code overload.
#include "airlock/gateway/server.h"

#include <openssl/ssl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include "http.h"
#include "service.h"

namespace airlock::gateway {
namespace server {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using runtime::Error;
using runtime::Result;

// Mozilla's "intermediate" TLS 1.2 ciphers; TLS 1.3 suites are OpenSSL's defaults.
constexpr const char* kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// Upload body bytes handed to the disk and the inspectors at once. Each hand-over costs a few thread wake-ups
// and each disk write a request to the device, which on a virtual machine cost more than the bytes' copy: on
// the benchmark machine 1 MiB rather than 256 KiB took 2-12% off the gateway's CPU for a 1 GiB upload. But
// each upload then holds about 4 MiB more (its buffers, and the three chunks its text inspectors hold), which
// 100 concurrent uploads cannot afford, and more large chunks than cores gain nothing: so at most
// kLargeChunkUploads uploads at a time take kLargeChunkBytes, the others kChunkBytes (docs/performance.md,
// twelfth round).
constexpr std::size_t kChunkBytes = 256u << 10;
constexpr std::size_t kLargeChunkBytes = 1u << 20;
constexpr std::size_t kLargeChunkUploads = 2;
constexpr std::size_t kReadBytes = 64u << 10;          // Beast's largest read
constexpr auto kLingerTime = std::chrono::seconds(2);  // how long a closing connection drains a client's bytes

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // SIGTERM: idle connections close now; a request in progress finishes (or is checkpointed later).
  virtual void shutdown() = 0;
  // The shutdown deadline passed: an upload still receiving keeps what arrived, and the connection closes.
  virtual void checkpoint() = 0;
};

// What every session shares: the service, the shutdown flag, and the live sessions.
class ServerState {
 public:
  explicit ServerState(Service& service) : service_(service) {}
  Service& service() { return service_; }
  bool stopping() const { return stopping_.load(); }
  void set_stopping() { stopping_.store(true); }

  // One of the kLargeChunkUploads places for an upload read in large chunks; false when all are taken.
  bool take_large_chunk() {
    std::size_t taken = large_chunks_.load();
    while (taken < kLargeChunkUploads) {
      if (large_chunks_.compare_exchange_weak(taken, taken + 1)) return true;
    }
    return false;
  }
  void give_back_large_chunk() { large_chunks_.fetch_sub(1); }

  // A new connection's network thread: the one with the fewest open connections. Called by the listener
  // only (one thread), so two connections never both take the same count for the lowest.
  std::size_t open_connection() {
    Metrics& metrics = service_.metrics();
    std::size_t best = 0;
    for (std::size_t thread = 1; thread < metrics.network_threads(); ++thread) {
      if (metrics.connections(thread) < metrics.connections(best)) best = thread;
    }
    metrics.connection_opened(best);
    return best;
  }
  void close_connection(std::size_t thread) { service_.metrics().connection_closed(thread); }

  void add(const std::shared_ptr<SessionBase>& session) {
    std::lock_guard lock(mutex_);
    std::erase_if(sessions_, [](const std::weak_ptr<SessionBase>& weak) { return weak.expired(); });
    sessions_.push_back(session);
  }
  std::vector<std::shared_ptr<SessionBase>> live() {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<SessionBase>> out;
    for (const auto& weak : sessions_) {
      if (auto session = weak.lock()) out.push_back(std::move(session));
    }
    return out;
  }

 private:
  Service& service_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> large_chunks_{0};
  std::mutex mutex_;
  std::vector<std::weak_ptr<SessionBase>> sessions_;
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `thread`: the network thread the connection was given (ServerState::open_connection()).
  Session(Stream stream, ServerState& server, std::size_t thread, std::string peer)
      : stream_(std::move(stream)),
        server_(server),
        thread_(thread),
        service_(server.service()),
        peer_(std::move(peer)),
        watchdog_(stream_.get_executor()) {
    // Beast reads at most the buffer's free capacity (and at most 64 KiB) per read: without room the reads
    // stay at the few KiB the request head needed, and per-read overhead dominates a fast upload.
    buffer_.reserve(kReadBytes);
  }

  ~Session() override {
    if (large_chunk_) server_.give_back_large_chunk();
    server_.close_connection(thread_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::on_start, this->shared_from_this()));
  }

  void shutdown() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stopping_ = true;
      if (self->idle_ || self->lingering_) self->close_now();
    });
  }

  void checkpoint() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stop_watchdog();
      self->flush_and_end_upload("the gateway is shutting down");
      self->close_now();
    });
  }

 private:
  enum class CutOff : std::uint8_t { kNone, kIdle, kTooSlow };  // why the watchdog ended a body

  const Config& config() const { return service_.config(); }

  void on_start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      read_header();
    } else {
      beast::get_lowest_layer(stream_).expires_after(config().limits.idle_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&Session::on_handshake, this->shared_from_this()));
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      service_.log().write(spdlog::level::debug, "TLS handshake failed", {{"peer", peer_}, {"error", ec.message()}});
      return;
    }
    read_header();
  }

  void read_header() {
    if (stopping_ || server_.stopping()) {
      close_now();
      return;
    }
    parser_.emplace();
    parser_->header_limit(config().limits.max_header_bytes);
    parser_->body_limit(boost::none);  // enforced per route, as the body streams
    body_.clear();
    drop_upload();
    direct_ = false;
    direct_remaining_ = 0;
    idle_ = true;
    beast::get_lowest_layer(stream_).expires_after(config().limits.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, this->shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    idle_ = false;
    started_ = std::chrono::steady_clock::now();
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == net::error::eof || ec == net::error::connection_reset) {
      close_now();
      return;
    }
    if (ec) {
      bool too_large = ec == http::error::header_limit;
      Response response = error_response(too_large ? 431 : 400, too_large ? "headers_too_large" : "bad_request",
                                         too_large ? "the request headers are larger than the gateway accepts"
                                                   : "malformed HTTP request: " + ec.message(),
                                         11, false);
      send(std::move(response), true);
      return;
    }
    const RequestHeader& header = parser_->get().base();
    if (Service::route(header) == Service::Route::kStream) {
      std::variant<Response, std::unique_ptr<UploadStream>> begun = service_.begin_stream(header);
      if (Response* response = std::get_if<Response>(&begun)) {
        send(std::move(*response), !parser_->is_done());
        return;
      }
      upload_ = std::move(std::get<std::unique_ptr<UploadStream>>(begun));
      // An upload body of known length is read straight from the socket into chunk_ (see read_body_direct);
      // a chunked one goes through the parser.
      if (auto length = parser_->content_length(); length && !parser_->chunked()) {
        direct_ = true;
        direct_remaining_ = *length;
      }
    } else {
      auto length = parser_->content_length();
      if (length && *length > config().limits.max_json_body_bytes) {
        send(error_response(413, "too_large", "the request body is larger than the gateway accepts", header.version(),
                            false),
             true);
        return;
      }
    }
    body_started_ = std::chrono::steady_clock::now();
    body_bytes_ = 0;
    pending_ = 0;
    // An upload's body is read a chunk at a time; another body (JSON, at most max_json_body_bytes) a read at a
    // time. The buffer is made when the first body needs it, so that a connection without one holds none.
    region_ = kReadBytes;
    if (upload_) {
      large_chunk_ = server_.take_large_chunk();
      region_ = large_chunk_ ? kLargeChunkBytes : kChunkBytes;
    }
    if (chunk_.size() < region_ + kQuarantineAlignment) {
      chunk_.resize(region_ + kQuarantineAlignment);
      align_chunk();
    }
    cut_off_ = CutOff::kNone;
    if (parser_->is_done()) {
      finish_request();
      return;
    }
    auto expect = header.find(http::field::expect);
    if (expect != header.end() && beast::iequals(expect->value(), "100-continue")) {
      continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_, header.version());
      http::async_write(stream_, *continue_,
                        beast::bind_front_handler(&Session::on_continue, this->shared_from_this()));
      return;
    }
    read_body();
  }

  void on_continue(beast::error_code ec, std::size_t) {
    continue_.reset();
    if (ec) {
      end_upload("the client went away");
      close_now();
      return;
    }
    read_body();
  }

  // The body is read piece by piece (whatever arrived, at most 64 KiB a read) into chunk_, which is handed
  // to the upload when it is full or the body ends, so the disk and the inspectors see a chunk at a time.
  // A watchdog timer (body_tick) cuts off a body that stalls or arrives too slowly.
  void read_body() {
    if (direct_) {
      read_body_direct();
      return;
    }
    auto& body = parser_->get().body();
    body.data = chunk_.data() + base_ + pending_;
    body.size = region_ - pending_;
    beast::get_lowest_layer(stream_).expires_never();
    if (!watching_) {
      watching_ = true;
      last_byte_ = std::chrono::steady_clock::now();
      arm_watchdog();
    }
    http::async_read_some(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Session::on_body, this->shared_from_this()));
  }

  // An upload body of known length, read without the parser: the bytes Beast already read past the head
  // first, then socket reads straight into chunk_, as large as the room left in it (up to a chunk a read,
  // where the parser reads at most 64 KiB, into its own buffer, and then copies them).
  void read_body_direct() {
    beast::get_lowest_layer(stream_).expires_never();
    if (!watching_) {
      watching_ = true;
      last_byte_ = std::chrono::steady_clock::now();
      arm_watchdog();
    }
    const std::size_t room = std::min<std::uint64_t>(region_ - pending_, direct_remaining_);
    if (buffer_.size() > 0) {
      const std::size_t n = std::min(room, buffer_.size());
      net::buffer_copy(net::buffer(chunk_.data() + base_ + pending_, n), buffer_.data());
      buffer_.consume(n);
      net::post(stream_.get_executor(), beast::bind_front_handler(&Session::on_body_direct, this->shared_from_this(),
                                                                  beast::error_code{}, n));
      return;
    }
    stream_.async_read_some(net::buffer(chunk_.data() + base_ + pending_, room),
                            beast::bind_front_handler(&Session::on_body_direct, this->shared_from_this()));
  }

  void on_body_direct(beast::error_code ec, std::size_t bytes) {
    if (closed_) return;
    pending_ += bytes;
    body_bytes_ += bytes;
    direct_remaining_ -= bytes;
    if (bytes > 0) last_byte_ = std::chrono::steady_clock::now();
    if (!ec && bytes == 0 && direct_remaining_ > 0) ec = net::error::eof;
    if (ec) {
      end_body_on_error(ec);
      return;
    }
    if (pending_ > 0 && (pending_ == region_ || direct_remaining_ == 0)) {
      if (!write_pending()) return;
    }
    if (!body_settled(direct_remaining_ == 0)) read_body_direct();
  }

  // Every tick (a quarter of the idle timeout, between 50 ms and 1 s) while a body is being read: no byte
  // for idle_timeout, or after min_rate_grace fewer than min_rate_bytes_per_second on average, cancels the
  // read, and on_body answers 408.
  void arm_watchdog() {
    auto tick = std::clamp<std::chrono::steady_clock::duration>(config().limits.idle_timeout / 4,
                                                                std::chrono::milliseconds(50), std::chrono::seconds(1));
    watchdog_.expires_after(tick);
    watchdog_.async_wait(beast::bind_front_handler(&Session::on_watchdog, this->shared_from_this()));
  }

  void on_watchdog(beast::error_code ec) {
    if (ec || !watching_ || closed_) return;
    auto now = std::chrono::steady_clock::now();
    const LimitsConfig& limits = config().limits;
    double elapsed = std::chrono::duration<double>(now - body_started_).count();
    if (now - last_byte_ >= limits.idle_timeout) {
      cut_off_ = CutOff::kIdle;
    } else if (limits.min_rate_bytes_per_second > 0 && elapsed > static_cast<double>(limits.min_rate_grace.count()) &&
               static_cast<double>(body_bytes_) / elapsed < static_cast<double>(limits.min_rate_bytes_per_second)) {
      cut_off_ = CutOff::kTooSlow;
    }
    if (cut_off_ == CutOff::kNone) {
      arm_watchdog();
      return;
    }
    beast::get_lowest_layer(stream_).cancel();  // the pending read ends with operation_aborted
  }

  void stop_watchdog() {
    if (!watching_) return;
    watching_ = false;
    watchdog_.cancel();
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (closed_) return;
    if (ec == http::error::need_buffer) ec = {};
    std::size_t filled = region_ - parser_->get().body().size;
    std::size_t bytes = filled - pending_;
    pending_ = filled;
    body_bytes_ += bytes;
    if (bytes > 0) last_byte_ = std::chrono::steady_clock::now();
    if (!upload_ && pending_ > 0) {
      if (body_.size() + pending_ > config().limits.max_json_body_bytes) {
        stop_watchdog();
        send(error_response(413, "too_large", "the request body is larger than the gateway accepts", 11, false), true);
        return;
      }
      body_.append(chunk_.data() + base_, pending_);
      pending_ = 0;
    }
    if (ec) {
      end_body_on_error(ec);
      return;
    }
    if (upload_ && pending_ > 0 && (pending_ == region_ || parser_->is_done())) {
      if (!write_pending()) return;
    }
    if (!body_settled(parser_->is_done())) read_body();
  }

  // A body read ended with an error: the watchdog's cut-off (answered 408), or the client went away.
  void end_body_on_error(beast::error_code ec) {
    stop_watchdog();
    CutOff cut_off = std::exchange(cut_off_, CutOff::kNone);
    if (cut_off != CutOff::kNone && ec == net::error::operation_aborted && !stopping_) {
      respond_cut_off(cut_off);
    } else {
      flush_and_end_upload("the client went away: " + ec.message());
      close_now();
    }
  }

  // After a body read that stored its bytes: the request is answered when the body is `done`, or when the
  // watchdog fired as this read completed (its cancel found nothing to cancel). False: read on.
  bool body_settled(bool done) {
    if (done) {
      stop_watchdog();
      finish_request();
      return true;
    }
    if (cut_off_ != CutOff::kNone) {
      stop_watchdog();
      respond_cut_off(std::exchange(cut_off_, CutOff::kNone));
      return true;
    }
    return false;
  }

  void respond_cut_off(CutOff cut_off) {
    bool slow = cut_off == CutOff::kTooSlow;
    service_.log().write(spdlog::level::info, slow ? "body too slow: cut off" : "body idle: cut off",
                         {{"peer", peer_}, {"bytes", body_bytes_}});
    flush_and_end_upload(slow ? "slower than the minimum rate" : "idle timeout");
    send(slow ? error_response(408, "too_slow",
                               "the body arrived slower than " +
                                   std::to_string(config().limits.min_rate_bytes_per_second) + " bytes per second",
                               11, false)
              : error_response(408, "timeout", "no bytes arrived for too long", 11, false),
         true);
  }

  // Finds base_ in chunk_, which is a new buffer after each hand-over to the inspectors.
  void align_chunk() {
    const auto address = reinterpret_cast<std::uintptr_t>(chunk_.data());
    base_ = static_cast<std::size_t>((kQuarantineAlignment - address % kQuarantineAlignment) % kQuarantineAlignment);
  }

  // Hands the bytes in chunk_ to the upload; false when the upload stopped (the response is on its way).
  // The inspectors take chunk_ itself and leave another buffer of the same size in its place.
  bool write_pending() {
    std::size_t n = std::exchange(pending_, 0);
    std::optional<Response> stop = upload_->write(chunk_, base_, n);
    align_chunk();
    if (stop) {
      drop_upload();
      stop_watchdog();
      send(std::move(*stop), true);
      return false;
    }
    return true;
  }

  // The body ends early: the bytes already read are stored, then the upload keeps what arrived.
  void flush_and_end_upload(const std::string& why) {
    if (upload_ && pending_ > 0 && !write_pending()) return;
    pending_ = 0;
    end_upload(why);
  }

  void finish_request() {
    if (upload_) {
      Response response = upload_->finish();
      drop_upload();
      send(std::move(response), false);
      return;
    }
    send(service_.handle(parser_->get().base(), body_), false);
  }

  void end_upload(const std::string& why) {
    if (!upload_) return;
    upload_->abort(why);
    drop_upload();
  }

  // The upload ended: its place for large chunks is given back, and a large buffer with it (the connection
  // may stay open for long, and its next upload may get only small chunks).
  void drop_upload() {
    upload_.reset();
    if (!large_chunk_) return;
    large_chunk_ = false;
    server_.give_back_large_chunk();
    if (pending_ == 0) std::vector<char>().swap(chunk_);
  }

  void send(Response response, bool close) {
    if (close || stopping_ || server_.stopping()) response.keep_alive(false);
    close_after_ = !response.keep_alive();
    unsigned status = response.result_int();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    service_.metrics().request(status, seconds);
    if (parser_) {
      const RequestHeader& header = parser_->get().base();
      service_.log().write(status >= 500 ? spdlog::level::warn : spdlog::level::info, "request",
                           {{"method", std::string(header.method_string())},
                            {"path", std::string(target_path(header.target()))},
                            {"status", status},
                            {"ms", static_cast<std::int64_t>(seconds * 1000)},
                            {"peer", peer_}});
    }
    response_ = std::make_shared<Response>(std::move(response));
    beast::get_lowest_layer(stream_).expires_after(config().limits.idle_timeout);
    http::async_write(stream_, *response_, beast::bind_front_handler(&Session::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    response_.reset();
    if (ec) {
      close_now();
      return;
    }
    if (close_after_) {
      linger();
      return;
    }
    read_header();
  }

  // A response sent before the request's body was read (a denial after the first chunk, 413, 408) is followed
  // by a lingering close: closing a socket that still holds unread bytes makes the kernel send a reset, and a
  // reset can destroy the response before the client has read it. So the gateway ends TLS with close_notify
  // (a client must not take the end of the stream for a truncation), sends its FIN, then reads and discards
  // what still arrives until the client closes or kLingerTime passes, and only then closes.
  void linger() {
    if (closed_) return;
    stop_watchdog();
    flush_and_end_upload("the connection closed");
    lingering_ = true;
    beast::get_lowest_layer(stream_).expires_after(kLingerTime);  // one deadline for the whole close
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      drain_after_fin();
    } else {
      stream_.async_shutdown(beast::bind_front_handler(&Session::on_tls_shutdown, this->shared_from_this()));
    }
  }

  void on_tls_shutdown(beast::error_code) {  // whatever came of it, the TCP side closes next
    if (!closed_) drain_after_fin();
  }

  void drain_after_fin() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      close_now();
      return;
    }
    discard_.resize(kReadBytes);
    drain();
  }

  void drain() {
    beast::get_lowest_layer(stream_).async_read_some(
        net::buffer(discard_), beast::bind_front_handler(&Session::on_drained, this->shared_from_this()));
  }

  void on_drained(beast::error_code ec, std::size_t) {
    if (closed_) return;
    if (ec) {  // the client's FIN, a reset, or the deadline
      close_now();
      return;
    }
    drain();
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    stop_watchdog();
    flush_and_end_upload("the connection closed");
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  Stream stream_;
  ServerState& server_;
  std::size_t thread_;
  Service& service_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  // Body bytes are read into region_ bytes of chunk_ from base_, an address aligned to kQuarantineAlignment:
  // full chunks then go to the quarantine file without a copy (file_store.h).
  std::vector<char> chunk_;
  std::size_t base_ = 0;
  std::size_t region_ = kReadBytes;  // kChunkBytes or kLargeChunkBytes for an upload's body
  bool large_chunk_ = false;         // this upload holds one of the places for large chunks
  std::string body_;
  std::unique_ptr<UploadStream> upload_;
  std::shared_ptr<Response> response_;
  std::vector<char> discard_;  // what arrives after a closing response, read and dropped
  std::shared_ptr<http::response<http::empty_body>> continue_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point body_started_;
  std::uint64_t body_bytes_ = 0;
  std::size_t pending_ = 0;  // body bytes in chunk_ not yet handed to the upload
  bool direct_ = false;      // the body is read by read_body_direct(), not by the parser
  std::uint64_t direct_remaining_ = 0;  // body bytes still to come (direct_ only)
  CutOff cut_off_ = CutOff::kNone;
  net::steady_timer watchdog_;
  bool watching_ = false;
  std::chrono::steady_clock::time_point last_byte_;
  bool idle_ = false;
  bool lingering_ = false;
  bool stopping_ = false;
  bool close_after_ = false;
  bool closed_ = false;
};

// Accepts connections on the first network thread and gives each to the thread with the fewest open ones.
// Every network thread runs an io_context of its own: a connection's handlers, and the completions the
// inspection and disk threads post back to it, all run on its thread, so no network thread ever wakes
// another to hand it work (with one io_context shared by all, those wake-ups cost 6-13% of the gateway's CPU
// for a 1 GiB upload: docs/performance.md, thirteenth round).
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // `contexts`: one per network thread; the listener runs on the first.
  Listener(std::span<net::io_context* const> contexts, ssl::context* tls, ServerState& server)
      : contexts_(contexts.begin(), contexts.end()), tls_(tls), server_(server), acceptor_(*contexts_.front()) {}

  Result<tcp::endpoint> open(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return Error{"cannot listen on " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) + ": " +
                   ec.message()};
    protocol_ = endpoint.protocol();
    tcp::endpoint bound = acceptor_.local_endpoint(ec);
    if (ec) return Error{"cannot read the bound address: " + ec.message()};
    return bound;
  }

  void start() { accept(); }

  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }

 private:
  void accept() { acceptor_.async_accept(beast::bind_front_handler(&Listener::on_accept, shared_from_this())); }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec && !server_.stopping()) {
      beast::error_code peer_ec;
      tcp::endpoint peer = socket.remote_endpoint(peer_ec);
      std::string peer_text = peer_ec ? "" : peer.address().to_string() + ":" + std::to_string(peer.port());
      const std::size_t thread = server_.open_connection();
      std::optional<tcp::socket> on_thread = move_to(std::move(socket), thread);
      if (!on_thread) {
        server_.close_connection(thread);
      } else if (tls_ != nullptr) {
        auto session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            beast::ssl_stream<beast::tcp_stream>(std::move(*on_thread), *tls_), server_, thread, peer_text);
        server_.add(session);
        session->start();
      } else {
        auto session = std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(*on_thread)), server_,
                                                                    thread, peer_text);
        server_.add(session);
        session->start();
      }
    }
    if (server_.stopping()) return;
    accept();
  }

  // The accepted socket on the io_context of `thread`, or nothing when it cannot be moved there (the
  // connection is then closed).
  std::optional<tcp::socket> move_to(tcp::socket socket, std::size_t thread) {
    if (thread == 0) return std::optional<tcp::socket>(std::move(socket));
    beast::error_code ec;
    tcp::socket::native_handle_type handle = socket.release(ec);
    if (ec) return std::nullopt;
    tcp::socket moved(*contexts_[thread]);
    moved.assign(protocol_, handle, ec);
    if (ec) {
      ::close(handle);
      return std::nullopt;
    }
    return std::optional<tcp::socket>(std::move(moved));
  }

  std::vector<net::io_context*> contexts_;
  ssl::context* tls_;
  ServerState& server_;
  tcp::acceptor acceptor_;
  tcp protocol_ = tcp::v4();
};

Result<std::unique_ptr<ssl::context>> make_tls_context(const TlsConfig& tls) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  beast::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (ec) return Error{"TLS: " + ec.message()};
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) return Error{"TLS: cannot require TLS 1.2"};
  if (SSL_CTX_set_cipher_list(native, kIntermediateCiphers) != 1) return Error{"TLS: cannot set the cipher list"};
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  context->use_certificate_chain_file(tls.cert, ec);
  if (ec) return Error{"tls.cert: " + tls.cert + ": " + ec.message()};
  context->use_private_key_file(tls.key, ssl::context::pem, ec);
  if (ec) return Error{"tls.key: " + tls.key + ": " + ec.message()};
  if (SSL_CTX_check_private_key(native) != 1) return Error{"tls.key does not match tls.cert"};
  return context;
}

std::shared_ptr<spdlog::logger> make_logger(const LogConfig& log) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("airlock", sink);
  if (log.format == "json") {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v)", spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(log.level));
  logger->flush_on(spdlog::level::info);
  return logger;
}

Result<tcp::endpoint> resolve_listen(const std::string& listen) {
  Result<ListenAddress> address = parse_listen_address(listen);
  if (!address) return Error{"listen: " + address.message()};
  std::string host = address->host == "localhost" ? "127.0.0.1" : address->host;
  beast::error_code ec;
  net::ip::address ip = net::ip::make_address(host, ec);
  if (ec) return Error{"listen: `" + address->host + "` is not an IP address"};
  return tcp::endpoint(ip, address->port);
}

}  // namespace
}  // namespace server

runtime::Result<int> run_server(const ServerOptions& options) {
  using namespace server;
  const Config& config = options.config;
  Log log(make_logger(config.log), config.log.format == "json");

  Result<tcp::endpoint> endpoint = resolve_listen(config.listen);
  if (!endpoint) return Error{endpoint.message()};
  std::unique_ptr<ssl::context> tls;
  if (config.tls.enabled()) {
    Result<std::unique_ptr<ssl::context>> context = make_tls_context(config.tls);
    if (!context) return Error{context.message()};
    tls = std::move(*context);
  }
  Result<std::unique_ptr<Service>> service = Service::open(config, log);
  if (!service) return Error{service.message()};

  // Before the io_contexts: sessions their handlers still hold when they are destroyed use the state as they end.
  ServerState state(**service);
  (*service)->metrics().set_network_threads(config.threads);
  // One io_context per network thread (see Listener); the first, run by this thread, also holds the listener,
  // the cleanup job and the shutdown's signals and timers.
  std::vector<std::unique_ptr<net::io_context>> owned_contexts;
  std::vector<net::io_context*> contexts;
  for (std::uint32_t i = 0; i < config.threads; ++i) {
    owned_contexts.push_back(std::make_unique<net::io_context>(1));
    contexts.push_back(owned_contexts.back().get());
  }
  net::io_context& io = *contexts.front();
  auto listener = std::make_shared<Listener>(contexts, tls.get(), state);
  Result<tcp::endpoint> bound = listener->open(*endpoint);
  if (!bound) return Error{bound.message()};
  std::string address =
      (bound->address().is_v6() ? "[" + bound->address().to_string() + "]" : bound->address().to_string()) + ":" +
      std::to_string(bound->port());
  std::string scheme = tls ? "https" : "http";
  log.info("listening", {{"address", address},
                         {"url", scheme + "://" + address},
                         {"tls", tls != nullptr},
                         {"data_dir", config.data_dir},
                         {"policies_dir", config.policies_dir},
                         {"policies", (*service)->policy_count()}});
  if (!(*service)->local_token().empty()) {
    log.info("no tokens configured: generated a local token (user `local`, role researcher)",
             {{"token", (*service)->local_token()}, {"token_file", config.data_dir + "/local-token"}});
  }
  if (!options.port_file.empty()) {
    std::string temporary = options.port_file + ".tmp";
    {
      std::ofstream file(temporary, std::ios::trunc);
      file << address << "\n";
      if (!file) return Error{options.port_file + ": cannot write the bound address"};
    }
    std::error_code ec;
    std::filesystem::rename(temporary, options.port_file, ec);
    if (ec) return Error{options.port_file + ": " + ec.message()};
  }
  listener->start();

  // Expired uploads and retained bytes, now and then every cleanup_interval.
  net::steady_timer cleanup(io);
  std::function<void()> schedule_cleanup = [&] {
    cleanup.expires_after(config.cleanup_interval);
    cleanup.async_wait([&](beast::error_code ec) {
      if (ec || state.stopping()) return;
      (*service)->cleanup(now_millis());
      schedule_cleanup();
    });
  };
  net::post(io, [&] { (*service)->cleanup(now_millis()); });
  schedule_cleanup();

  // SIGTERM/SIGINT: stop accepting, let requests finish within the grace period, then checkpoint.
  net::signal_set signals(io, SIGINT, SIGTERM);
  net::steady_timer deadline(io);
  net::steady_timer poll(io);
  std::function<void()> poll_sessions;
  auto finish = [&] {
    beast::error_code ignored;
    cleanup.cancel();
    deadline.cancel();
    poll.cancel();
    signals.cancel(ignored);
  };
  poll_sessions = [&] {
    if (state.live().empty()) {
      finish();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](beast::error_code ec) {
      if (!ec) poll_sessions();
    });
  };
  signals.async_wait([&](beast::error_code ec, int signal) {
    if (ec) return;
    log.info("shutting down",
             {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}, {"grace_seconds", config.shutdown_grace.count()}});
    state.set_stopping();
    listener->stop();
    for (const auto& session : state.live()) session->shutdown();
    deadline.expires_after(config.shutdown_grace);
    deadline.async_wait([&](beast::error_code wait_ec) {
      if (wait_ec) return;
      std::vector<std::shared_ptr<SessionBase>> left = state.live();
      log.warn("shutdown deadline: checkpointing the requests still running", {{"requests", left.size()}});
      for (const auto& session : left) session->checkpoint();
    });
    poll_sessions();
  });

  // The other threads' loops run until this one ends: after the shutdown, when no connection is left.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts.size(); ++i) {
    keep_running.push_back(net::make_work_guard(*contexts[i]));
    threads.emplace_back([context = contexts[i]] { context->run(); });
  }
  io.run();
  for (auto& guard : keep_running) guard.reset();
  for (std::thread& thread : threads) thread.join();
  log.info("stopped", {});
  log.flush();
  return 0;
}

}  // namespace airlock::gateway
