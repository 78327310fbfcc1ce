// The gateway's request handling, apart from the network: tus uploads, the transfer API, health and
// metrics. Sessions (session.cpp) parse HTTP and call in here; one Service is shared by every thread.
#pragma once

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "airlock/gateway/auth/jwt_verifier.h"  // --- identity
#include "airlock/gateway/auth/session.h"       // --- identity
#include "airlock/gateway/auth/sign_in.h"       // --- identity
#include "airlock/gateway/config.h"
#include "airlock/gateway/file_store.h"
#include "airlock/gateway/inspect/inspection_executor.h"
#include "airlock/gateway/inspect/pipeline.h"
#include "airlock/gateway/store.h"
#include "airlock/runtime/program.h"
#include "early_decision.h"
#include "http.h"
#include "metrics.h"
#include "webhooks.h"  // --- reviews

namespace airlock::gateway::server {

// Structured logs: one JSON object per line (or `msg key=value` text), never a raw client string unescaped.
class Log {
 public:
  Log(std::shared_ptr<spdlog::logger> logger, bool json) : logger_(std::move(logger)), json_(json) {}
  void write(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields = {}) const;
  void info(std::string_view message, const nlohmann::json& fields = {}) const {
    write(spdlog::level::info, message, fields);
  }
  void warn(std::string_view message, const nlohmann::json& fields = {}) const {
    write(spdlog::level::warn, message, fields);
  }
  void error(std::string_view message, const nlohmann::json& fields = {}) const {
    write(spdlog::level::err, message, fields);
  }
  void flush() const { logger_->flush(); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  bool json_;
};

struct Principal {
  std::string user;
  std::vector<std::string> roles;
  // --- identity
  std::string name;        // display name (the token's `name`; empty for static tokens)
  std::string session_id;  // set when the session cookie authenticated the request (browser)
  // --- end identity
  // data-approver, governance-lead and platform-admin see every transfer.
  bool is_reviewer() const;
};

UnixMillis now_millis();

// --- reviews
// RFC 3339 UTC with milliseconds ("2026-11-29T04:17:38.327Z"); "" for 0 (service.cpp).
std::string timestamp_text(UnixMillis millis);
// The TRANSFER JSON of docs/api.md without its review fields (service.cpp); `full` adds justification,
// metadata, decision and facts.
nlohmann::ordered_json transfer_json(const Transfer& transfer, bool full);
// reviews_api.cpp: the review fields of the TRANSFER JSON: review, reviewed_by, waiting_for, reviewer_workspace.
// `review` is the transfer's entry of TransferStore::transfer_reviews (nullptr: never reviewed).
void add_review_fields(nlohmann::ordered_json& out, const Transfer& transfer, const TransferReview* review);
// --- end reviews

// "Someone is sending bytes to this upload": a lock that one request holds from its headers to its end,
// across asynchronous reads that may resume on another thread (a std::mutex must be unlocked by the
// thread that locked it; this flag need not be). A second request for the same upload gets 423.
class BusyFlag {
 public:
  bool try_lock() { return !busy_.exchange(true, std::memory_order_acquire); }
  void lock() {
    while (busy_.exchange(true, std::memory_order_acquire)) busy_.wait(true, std::memory_order_relaxed);
  }
  void unlock() {
    busy_.store(false, std::memory_order_release);
    busy_.notify_one();
  }

 private:
  std::atomic<bool> busy_{false};
};

// The in-memory side of one unfinished upload: its inspection pipeline, fed every byte stored so far.
// Not persisted: after a restart the first PATCH replays the quarantined bytes through a fresh pipeline.
struct UploadState {
  BusyFlag busy;  // held by the request streaming into this upload
  std::unique_ptr<inspect::InspectionPipeline> pipeline;
  std::uint64_t inspected = 0;  // bytes the pipeline has seen
  bool prefix_checked = false;  // the early decision on the sniffed type ran
};

class UploadStream;

class Service {
 public:
  static runtime::Result<std::unique_ptr<Service>> open(const Config& config, Log log);
  ~Service();

  enum class Route : std::uint8_t { kBuffered, kStream };
  // Uploads with bytes (PATCH, POST with application/offset+octet-stream) stream; the rest is buffered.
  static Route route(const RequestHeader& header);

  // A buffered request whose body has been read whole.
  Response handle(const RequestHeader& header, const std::string& body);
  // Starts a streaming request: the stream that receives its body, or the response that ends it now.
  std::variant<Response, std::unique_ptr<UploadStream>> begin_stream(const RequestHeader& header);

  // Expired uploads and denied bytes past their retention. Called by a timer.
  void cleanup(UnixMillis now);

  const Config& config() const { return config_; }
  Metrics& metrics() { return metrics_; }
  const Log& log() const { return log_; }
  // The token generated for a configuration without tokens (empty otherwise).
  const std::string& local_token() const { return local_token_; }
  std::size_t policy_count() const { return program_->policies.size(); }

 private:
  friend class UploadStream;
  Service(Config config, Log log);

  // identity.cpp: who sends the request (static bearer tokens, OIDC bearer JWTs, browser sessions with their
  // CSRF check on state-changing methods), or the 401/403 response that ends it.
  std::variant<Principal, Response> authenticate(const RequestHeader& header) const;
  // identity.cpp: browser sign-in routes (/auth/...) that need no principal; nullopt for other paths.
  std::optional<Response> handle_sign_in(const RequestHeader& header, const std::string& body);
  // web.cpp: the web pages and their assets (/, /ui/..., /assets/...), static; nullopt for other paths.
  std::optional<Response> handle_web(const RequestHeader& header);
  // reviews_api.cpp: review cases, votes, comments, resubmission, revocation, previews, history and reviewer
  // workspaces; nullopt for paths it does not serve.
  std::optional<Response> handle_reviews(const RequestHeader& header, const std::string& body,
                                         const Principal& principal);
  // registry_api.cpp: data sources registered by k8s-sync and import reports; nullopt for other paths.
  std::optional<Response> handle_registry(const RequestHeader& header, const std::string& body,
                                          const Principal& principal);
  // registry_api.cpp: with registry.require_registration, the 422 that refuses an upload to a data source that
  // k8s-sync has not registered as Uploaded; nullopt when the upload may go on.
  std::optional<Response> check_registration(const RequestHeader& header, const std::string& datasource);
  std::optional<Response> check_tus(const RequestHeader& header) const;
  // Approved uploads whose release failed are released again (called by cleanup()).
  void retry_releases(UnixMillis now);

  Response health(const RequestHeader& header);
  Response ready(const RequestHeader& header);
  Response options(const RequestHeader& header);
  Response head(const RequestHeader& header, const Principal& principal, const std::string& id);
  Response terminate(const RequestHeader& header, const Principal& principal, const std::string& id);
  Response list(const RequestHeader& header, const Principal& principal);
  Response get(const RequestHeader& header, const Principal& principal, const std::string& id, bool decision);

  struct Created {
    Transfer transfer;
    std::shared_ptr<UploadState> state;
  };
  // tus creation: the transfer, its state, and the early decision on the declared facts. A response
  // when the request ends here (bad headers, denied early).
  std::variant<Response, Created> create(const RequestHeader& header, const Principal& principal);
  Response created_response(const RequestHeader& header, const Transfer& transfer, bool with_offset) const;

  std::shared_ptr<UploadState> state_for(const std::string& id);
  void drop_state(const std::string& id);

  // Builds a fresh pipeline for `transfer` and feeds it the stored bytes [0, transfer.offset).
  runtime::Status prepare_pipeline(const Transfer& transfer, UploadState& state);
  // The facts known without the inspectors (transfer, actor, declared file) and the time.
  runtime::Facts base_facts(const Transfer& transfer, const Principal& principal, UnixMillis now) const;
  // An early decision: when a deny is final, the transfer moves to denied and the response says why.
  std::optional<Response> decide_early(const RequestHeader& header, const Transfer& transfer,
                                       const Principal& principal, UploadState& state, bool before_bytes);
  // The last byte is stored: inspect, decide, release or retain. Returns the transfer as it ends.
  runtime::Result<Transfer> complete(const Transfer& transfer, const Principal& principal, UploadState& state);
  // Moves a transfer to failed after an internal error (never approving), logging why.
  void fail(const std::string& id, const std::string& reason, bool retryable);

  Response denied_response(const RequestHeader& header, const Transfer& transfer, const std::string& reason) const;
  Response store_error(const RequestHeader& header, const std::string& message) const;

  bool acquire_upload_slot(const std::string& user);
  void release_upload_slot(const std::string& user);

  Config config_;
  Log log_;
  Metrics metrics_;
  std::unique_ptr<TransferStore> store_;
  std::unique_ptr<FileStore> files_;
  std::shared_ptr<const runtime::Program> program_;
  std::unique_ptr<EarlyDecisions> early_;
  // Runs the inspectors beside the network threads (declared after everything the uploads use, so it stops
  // first).
  std::unique_ptr<inspect::InspectionExecutor> inspection_;
  std::map<std::string, Principal, std::less<>> tokens_;
  std::string local_token_;

  std::mutex states_mutex_;
  std::map<std::string, std::shared_ptr<UploadState>> states_;
  std::mutex slots_mutex_;
  std::map<std::string, std::uint32_t> slots_;
  // Body buffers all uploads added while the disk was behind (UploadStream's LentBuffers): bounded, so that
  // many uploads to a slow disk wait for it rather than grow the memory.
  std::atomic<std::size_t> extra_buffers_{0};

  // --- identity (identity.cpp): the OpenID provider's verifier and client (when auth.oidc is configured),
  // browser sessions and their CSRF tokens. Built by open_identity(), called from open().
  runtime::Status open_identity();
  std::unique_ptr<auth::JwtVerifier> jwt_;
  std::unique_ptr<auth::OidcClient> oidc_;
  std::unique_ptr<auth::SessionStore> sessions_;
  std::unique_ptr<auth::CsrfProtector> csrf_;
  // --- end identity

  // --- reviews (reviews_api.cpp, webhooks.cpp; docs/reviews.md)
  friend class ReviewsApi;
  // approved -> released: moves the bytes to the released area and records it. Used by complete() for an
  // approve decision and by the vote that approves a review case.
  runtime::Result<Transfer> release_approved(const Transfer& approved);
  // The webhook sender; declared last so it stops before the store and the log it uses go away.
  std::unique_ptr<WebhookLoop> webhooks_;
  // --- end reviews
};

// One request streaming bytes into an upload (a PATCH, or a creation with its first bytes).
class UploadStream {
 public:
  UploadStream(Service& service, const RequestHeader& header, Principal principal, Transfer transfer,
               std::shared_ptr<UploadState> state, std::unique_lock<BusyFlag> lock,
               std::unique_ptr<QuarantineWriter> writer, std::optional<std::string> checksum_algorithm,
               std::string checksum_digest, bool created);
  ~UploadStream();
  UploadStream(const UploadStream&) = delete;
  UploadStream& operator=(const UploadStream&) = delete;

  // Stores and inspects the next bytes. A response when the upload must stop now (denied early, more
  // bytes than the upload's length or the chunk limit, a storage error); the connection then closes.
  std::optional<Response> write(std::span<const char> bytes);
  // write() of the `size` bytes of `buffer` from `offset`, which the inspectors then take without a copy:
  // `buffer` comes back as another buffer at least as large, its contents unspecified. Bytes at an address
  // aligned to kQuarantineAlignment go to the disk without a copy too (file_store.h).
  std::optional<Response> write(std::vector<char>& buffer, std::size_t offset, std::size_t size);
  // The body ended: sync, verify the checksum, store the new offset, and decide when it was the last byte.
  Response finish();
  // The body did not end (client gone, timeout, shutdown): the bytes received so far are synced and
  // their offset stored, unless the request carried a checksum (then they are discarded, as tus says).
  void abort(std::string_view why);

  const std::string& user() const { return principal_.user; }
  std::uint64_t received() const { return received_; }

 private:
  void release();
  // write(); with `owner` (whose data `bytes` is) the inspectors take the buffer instead of a copy.
  std::optional<Response> store_and_inspect(std::span<const char> bytes, std::vector<char>* owner, std::size_t offset);
  // Waits for the inspectors to see every byte handed to them and ends the feed; their first error.
  runtime::Status settle();

  Service& service_;
  unsigned version_;
  bool keep_alive_;
  Principal principal_;
  Transfer transfer_;
  std::shared_ptr<UploadState> state_;
  // The bytes on their way to state_->pipeline (destroyed, and so drained, before the state it feeds).
  std::unique_ptr<inspect::InspectionFeed> feed_;
  std::unique_lock<BusyFlag> lock_;
  // The server's buffers the inspectors gave back while the disk still wrote from them (declared before
  // writer_, which finishes its writes as it ends): up to 4 added an upload, 64 for all uploads (256 KiB each,
  // but for the few uploads read in 1 MiB chunks).
  static constexpr std::size_t kMaxAddedBuffers = 4;
  static constexpr std::size_t kMaxServerAddedBuffers = 64;
  LentBuffers buffers_;
  std::unique_ptr<QuarantineWriter> writer_;
  std::optional<std::string> checksum_algorithm_;
  std::string checksum_digest_;
  EVP_MD_CTX* checksum_ = nullptr;
  bool created_;
  bool done_ = false;
  bool pipeline_ok_ = true;
  std::uint64_t received_ = 0;
  std::uint64_t limit_;  // most bytes this request may carry
};

}  // namespace airlock::gateway::server
