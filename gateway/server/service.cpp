#include "service.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"
#include "tus.h"

namespace airlock::gateway::server {
namespace {

using runtime::Error;
using runtime::Result;
using runtime::Status;

constexpr std::string_view kReviewerRoles[] = {"data-approver", "governance-lead", "platform-admin"};

}  // namespace

std::string timestamp_text(UnixMillis millis) {
  if (millis == 0) return "";
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(millis % 1000));
  return text;
}

namespace {

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty() || text.size() > 19) return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "not_found: ..." -> 404 and so on (store.h's error codes).
unsigned status_of_store_error(const std::string& message) {
  if (message.starts_with("not_found:")) return 404;
  if (message.starts_with("conflict:")) return 409;
  if (message.starts_with("invalid:")) return 400;
  if (message.starts_with("forbidden:")) return 403;
  return 500;
}

std::string error_code_of_store_error(const std::string& message) {
  std::size_t colon = message.find(':');
  if (colon == std::string::npos || colon > 12) return "internal";
  return message.substr(0, colon);
}

// The path segment after `prefix` when it is one segment ("/files/abc" -> "abc").
std::optional<std::string> one_segment(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view rest = path.substr(prefix.size());
  if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(rest);
}

bool valid_id(std::string_view id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

nlohmann::json parse_json_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  return value.is_discarded() ? nlohmann::json(nullptr) : value;
}

}  // namespace

nlohmann::ordered_json transfer_json(const Transfer& transfer, bool full) {
  nlohmann::ordered_json out{
      {"id", transfer.id},
      {"channel", transfer.channel},
      {"owner", transfer.owner},
      {"workspace", transfer.workspace},
      {"datasource", transfer.datasource},
      {"project", transfer.project},
      {"filename", transfer.filename},
      {"declared_type", transfer.declared_type},
      {"length", transfer.length ? nlohmann::ordered_json(*transfer.length) : nlohmann::ordered_json(nullptr)},
      {"offset", transfer.offset},
      {"state", state_name(transfer.state)},
      {"reason", transfer.reason},
      {"sha256", transfer.sha256},
      {"created_at", timestamp_text(transfer.created_at)},
      {"updated_at", timestamp_text(transfer.updated_at)},
      {"expires_at", timestamp_text(transfer.expires_at)},
  };
  nlohmann::json decision = parse_json_or_null(transfer.decision_json);
  out["outcome"] = decision.is_object() && decision.contains("outcome") ? decision["outcome"] : nlohmann::json(nullptr);
  if (full) {
    out["justification"] = transfer.justification;
    out["metadata"] = parse_json_or_null(transfer.metadata_json);
    out["decision"] = decision;
    out["facts"] = parse_json_or_null(transfer.facts_json);
  }
  return out;
}

namespace {

std::string dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool header_present(const RequestHeader& header, std::string_view name) { return header.find(name) != header.end(); }

std::string header_value(const RequestHeader& header, std::string_view name) {
  auto it = header.find(name);
  return it == header.end() ? std::string() : std::string(it->value());
}

void set_tus_headers(Response& response) { response.set("Tus-Resumable", std::string(kTusVersion)); }

bool is_unfinished(TransferState state) {
  return state == TransferState::kCreated || state == TransferState::kReceiving;
}

}  // namespace

void Log::write(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields) const {
  if (!logger_->should_log(level)) return;
  if (json_) {
    nlohmann::ordered_json line = nlohmann::ordered_json::object();
    line["msg"] = message;
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) line[key] = value;
    }
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // The pattern supplies {"ts":...,"level":..., and this supplies the rest of the object.
    logger_->log(level, "{}", std::string_view(text).substr(1));
  } else {
    std::string text(message);
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) {
        text += " " + key + "=" + value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
    logger_->log(level, "{}", text);
  }
}

bool Principal::is_reviewer() const {
  return std::any_of(roles.begin(), roles.end(), [](const std::string& role) {
    return std::find(std::begin(kReviewerRoles), std::end(kReviewerRoles), role) != std::end(kReviewerRoles);
  });
}

UnixMillis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Service::Service(Config config, Log log) : config_(std::move(config)), log_(std::move(log)) {}
Service::~Service() = default;

Result<std::unique_ptr<Service>> Service::open(const Config& config, Log log) {
  std::unique_ptr<Service> service(new Service(config, std::move(log)));
  std::error_code error;
  std::filesystem::create_directories(config.data_dir, error);
  if (error) return Error{config.data_dir + ": cannot create the data directory: " + error.message()};
  ::chmod(config.data_dir.c_str(), 0700);

  Result<std::unique_ptr<TransferStore>> store = TransferStore::open(config.data_dir + "/airlock.db");
  if (!store) return Error{"cannot open the state store: " + store.message()};
  service->store_ = std::move(*store);
  Result<std::unique_ptr<FileStore>> files = FileStore::open(config.data_dir);
  if (!files) return Error{"cannot open the file store: " + files.message()};
  service->files_ = std::move(*files);

  std::vector<std::string> paths{config.policies_dir};
  Result<std::vector<compiler::SourceFile>> sources = compiler::load_policy_files(paths);
  if (!sources) return Error{"cannot load the policies: " + sources.message()};
  if (sources->empty()) return Error{config.policies_dir + ": no *.policy files; the gateway needs policies"};
  compiler::CompiledPolicySet compiled = compiler::compile_policy_set(*sources);
  if (!compiled.ok()) {
    std::string text;
    for (const compiler::Diagnostic& diagnostic : compiled.diagnostics) text += "\n" + diagnostic.render();
    return Error{config.policies_dir + ": the policies do not compile:" + text};
  }
  service->program_ = compiled.program;
  service->early_ = std::make_unique<EarlyDecisions>(compiled.program);
  service->inspection_ = std::make_unique<inspect::InspectionExecutor>(inspect::InspectionExecutorOptions{
      .threads = config.inspection_threads,
      .max_queued_bytes = static_cast<std::size_t>(config.limits.max_inspection_queue_bytes)});

  for (const TokenConfig& token : config.tokens) {
    service->tokens_.emplace(token.token, Principal{token.user, token.roles});
  }
  if (config.tokens.empty()) {
    // A local token for a gateway started without configuration (`make run`): written beside the data
    // (mode 0600) so scripts on this machine can read it, and printed in the start-up log.
    Result<std::string> token = random_hex(24);
    if (!token) return Error{token.message()};
    service->local_token_ = "local-" + *token;
    std::string path = config.data_dir + "/local-token";
    {
      std::ofstream file(path, std::ios::trunc);
      file << service->local_token_ << "\n";
      if (!file) return Error{path + ": cannot write the local token"};
    }
    ::chmod(path.c_str(), 0600);
    service->tokens_.emplace(service->local_token_, Principal{"local", {"researcher"}});
  }
  if (Status identity = service->open_identity(); !identity) return Error{identity.message()};  // --- identity
  service->webhooks_ = WebhookLoop::start(config.webhooks, *service->store_, service->log_);   // --- reviews
  return service;
}

Service::Route Service::route(const RequestHeader& header) {
  std::string_view path = target_path(header.target());
  if (header.method() == http::verb::patch && path.starts_with("/files/")) return Route::kStream;
  if (header.method() == http::verb::post && (path == "/files" || path == "/files/" || path == "/api/v1/transfers")) {
    auto type = header.find(http::field::content_type);
    if (type != header.end() && type->value() == kOffsetOctetStream) return Route::kStream;
  }
  return Route::kBuffered;
}

std::optional<Response> Service::check_tus(const RequestHeader& header) const {
  auto it = header.find("Tus-Resumable");
  if (it != header.end() && it->value() == kTusVersion) return std::nullopt;
  Response response =
      error_response(412, "precondition_failed",
                     it == header.end() ? "the Tus-Resumable header is required (1.0.0)"
                                        : "unsupported Tus-Resumable version (this server speaks 1.0.0)",
                     header.version(), wants_keep_alive(header));
  response.set("Tus-Version", std::string(kTusVersion));
  set_tus_headers(response);
  return response;
}

Response Service::handle(const RequestHeader& header, const std::string& body) {
  std::string_view path = target_path(header.target());
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  http::verb method = header.method();

  if (path == "/healthz")
    return method == http::verb::get || method == http::verb::head
               ? health(header)
               : error_response(405, "method_not_allowed", "use GET", version, keep_alive);
  if (path == "/readyz")
    return method == http::verb::get || method == http::verb::head
               ? ready(header)
               : error_response(405, "method_not_allowed", "use GET", version, keep_alive);

  if (std::optional<Response> response = handle_sign_in(header, body)) return std::move(*response);
  if (std::optional<Response> response = handle_web(header)) return std::move(*response);

  std::variant<Principal, Response> authenticated = authenticate(header);
  if (Response* refused = std::get_if<Response>(&authenticated)) return std::move(*refused);
  const Principal* principal = &std::get<Principal>(authenticated);

  if (path == "/metrics") {
    if (method != http::verb::get) return error_response(405, "method_not_allowed", "use GET", version, keep_alive);
    Response response{http::status::ok, version};
    response.set(http::field::content_type, "text/plain; version=0.0.4");
    response.keep_alive(keep_alive);
    response.body() = metrics_.prometheus_text({.queued_bytes = inspection_->queued_bytes(),
                                                .side_lanes_open = inspection_->side_lanes_open(),
                                                .side_lanes_bound = inspection_->options().max_side_lanes});
    response.prepare_payload();
    return response;
  }

  bool tus_collection = path == "/files" || path == "/files/";
  std::optional<std::string> tus_id = one_segment(path, "/files/");
  if (tus_collection || tus_id || (path == "/api/v1/transfers" && method == http::verb::post)) {
    if (method == http::verb::options) return options(header);
    if (std::optional<Response> bad = check_tus(header)) return std::move(*bad);
    if (tus_collection || path == "/api/v1/transfers") {
      if (method != http::verb::post) {
        Response response =
            error_response(405, "method_not_allowed", "use POST to create an upload", version, keep_alive);
        response.set(http::field::allow, "POST, OPTIONS");
        return response;
      }
      std::variant<Response, Created> created = create(header, *principal);
      if (Response* response = std::get_if<Response>(&created)) return std::move(*response);
      return created_response(header, std::get<Created>(created).transfer, false);
    }
    switch (method) {
      case http::verb::head: return head(header, *principal, *tus_id);
      case http::verb::delete_: return terminate(header, *principal, *tus_id);
      case http::verb::patch: {
        // A PATCH whose Content-Type is not application/offset+octet-stream lands here.
        Response response =
            error_response(415, "unsupported_media_type", "PATCH needs Content-Type: application/offset+octet-stream",
                           version, keep_alive);
        set_tus_headers(response);
        return response;
      }
      default: {
        Response response =
            error_response(405, "method_not_allowed", "use HEAD, PATCH or DELETE on an upload", version, keep_alive);
        response.set(http::field::allow, "HEAD, PATCH, DELETE, OPTIONS");
        return response;
      }
    }
  }

  if (std::optional<Response> response = handle_reviews(header, body, *principal)) return std::move(*response);
  if (std::optional<Response> response = handle_registry(header, body, *principal)) return std::move(*response);

  if (path == "/api/v1/transfers") {
    if (method != http::verb::get) {
      return error_response(405, "method_not_allowed", "use GET to list, POST to create", version, keep_alive);
    }
    return list(header, *principal);
  }
  if (path.starts_with("/api/v1/transfers/")) {
    std::string_view rest = path.substr(std::string_view("/api/v1/transfers/").size());
    bool decision = false;
    if (rest.ends_with("/decision")) {
      decision = true;
      rest.remove_suffix(std::string_view("/decision").size());
    }
    if (rest.empty() || rest.find('/') != std::string_view::npos) {
      return error_response(404, "not_found", "no such resource", version, keep_alive);
    }
    if (method != http::verb::get) return error_response(405, "method_not_allowed", "use GET", version, keep_alive);
    return get(header, *principal, std::string(rest), decision);
  }
  return error_response(404, "not_found", "no such resource: " + std::string(path), version, keep_alive);
}

Response Service::health(const RequestHeader& header) {
  return json_response(200, R"({"status":"ok"})", header.version(), wants_keep_alive(header));
}

Response Service::ready(const RequestHeader& header) {
  TransferFilter filter;
  filter.limit = 1;
  Result<std::vector<Transfer>> probe = store_->list(filter);
  if (!probe || program_ == nullptr) {
    return error_response(503, "not_ready", probe ? "no policies loaded" : "the state store fails: " + probe.message(),
                          header.version(), wants_keep_alive(header));
  }
  nlohmann::ordered_json body{
      {"status", "ready"}, {"policies", program_->policies.size()}, {"policy_set", program_->policy_set}};
  return json_response(200, dump(body), header.version(), wants_keep_alive(header));
}

Response Service::options(const RequestHeader& header) {
  Response response = empty_response(204, header.version(), wants_keep_alive(header));
  set_tus_headers(response);
  response.set("Tus-Version", std::string(kTusVersion));
  response.set("Tus-Extension", std::string(kTusExtensions));
  response.set("Tus-Max-Size", std::to_string(config_.limits.max_upload_size));
  response.set("Tus-Checksum-Algorithm", std::string(kTusChecksumAlgorithms));
  return response;
}

Response Service::store_error(const RequestHeader& header, const std::string& message) const {
  unsigned status = status_of_store_error(message);
  if (status == 500) log_.error("store error", {{"error", message}});
  return error_response(status, status == 500 ? "internal" : error_code_of_store_error(message),
                        status == 500 ? "the gateway could not complete the request; try again later" : message,
                        header.version(), wants_keep_alive(header));
}

Response Service::denied_response(const RequestHeader& header, const Transfer& transfer,
                                  const std::string& reason) const {
  Response response = error_response(403, "denied", reason, header.version(), false);
  response.set(http::field::location, "/files/" + transfer.id);
  response.set("Airlock-Transfer-Id", transfer.id);
  response.set("Airlock-Transfer-State", std::string(state_name(TransferState::kDenied)));
  set_tus_headers(response);
  return response;
}

std::shared_ptr<UploadState> Service::state_for(const std::string& id) {
  std::lock_guard lock(states_mutex_);
  std::shared_ptr<UploadState>& state = states_[id];
  if (!state) state = std::make_shared<UploadState>();
  return state;
}

void Service::drop_state(const std::string& id) {
  std::lock_guard lock(states_mutex_);
  states_.erase(id);
}

bool Service::acquire_upload_slot(const std::string& user) {
  std::lock_guard lock(slots_mutex_);
  std::uint32_t& count = slots_[user];
  if (count >= config_.limits.max_concurrent_uploads_per_user) return false;
  ++count;
  return true;
}

void Service::release_upload_slot(const std::string& user) {
  std::lock_guard lock(slots_mutex_);
  auto it = slots_.find(user);
  if (it == slots_.end()) return;
  if (--it->second == 0) slots_.erase(it);
}

runtime::Facts Service::base_facts(const Transfer& transfer, const Principal& principal, UnixMillis now) const {
  runtime::Facts facts(*program_->schema);
  auto set = [&](std::string_view path, runtime::Value value) { (void)facts.set(path, std::move(value)); };
  set("transfer.id", runtime::Value::string(transfer.id));
  set("transfer.channel", runtime::Value::string("upload"));
  set("transfer.direction", runtime::Value::string("ingress"));
  set("transfer.workspace", runtime::Value::string(transfer.workspace));
  set("transfer.datasource", runtime::Value::string(transfer.datasource));
  if (!transfer.project.empty()) set("transfer.project", runtime::Value::string(transfer.project));
  set("transfer.files", runtime::Value::integer(1));
  if (transfer.length) set("transfer.total_size", runtime::Value::integer(static_cast<std::int64_t>(*transfer.length)));
  set("transfer.justification", runtime::Value::string(transfer.justification));
  set("transfer.created_at",
      runtime::Value::timestamp(
          {transfer.created_at / 1000, static_cast<std::int32_t>(transfer.created_at % 1000) * 1'000'000}));
  set("actor.id", runtime::Value::string(principal.user));
  runtime::List roles;
  for (const std::string& role : principal.roles) roles.push_back(runtime::Value::string(role));
  set("actor.roles", runtime::Value::list(std::move(roles)));
  set("datasource.name", runtime::Value::string(transfer.datasource));
  set("now", runtime::Value::timestamp({now / 1000, static_cast<std::int32_t>(now % 1000) * 1'000'000}));
  return facts;
}

Status Service::prepare_pipeline(const Transfer& transfer, UploadState& state) {
  inspect::InspectionOptions options;
  options.clamd.address = config_.clamd_socket;
  options.declared.name = transfer.filename;
  options.declared.type = transfer.declared_type;
  options.declared.size = transfer.length;
  if (inspection_->options().threads >= 2) {
    options.side_lane = inspection_->side_lane_function();
    options.side_lanes = inspection_->options().threads - 1;
  }
  state.pipeline = std::make_unique<inspect::InspectionPipeline>(std::move(options));
  state.inspected = 0;
  state.prefix_checked = false;
  if (transfer.offset == 0) return Status::ok();
  // After a restart (or a discarded chunk) the inspectors start again from the first byte.
  std::ifstream file(files_->quarantine_path(transfer.id), std::ios::binary);
  if (!file) return Error{"storage: cannot read the quarantined bytes of " + transfer.id};
  std::vector<char> buffer(1u << 20);
  std::uint64_t left = transfer.offset;
  while (left > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    file.read(buffer.data(), static_cast<std::streamsize>(want));
    if (static_cast<std::size_t>(file.gcount()) != want) {
      return Error{"storage: the quarantined file of " + transfer.id + " is shorter than its stored offset"};
    }
    if (Status status = state.pipeline->update({buffer.data(), want}); !status) return status;
    left -= want;
  }
  state.inspected = transfer.offset;
  log_.info("inspection replayed", {{"transfer", transfer.id}, {"bytes", transfer.offset}});
  return Status::ok();
}

std::optional<Response> Service::decide_early(const RequestHeader& header, const Transfer& transfer,
                                              const Principal& principal, UploadState& state, bool before_bytes) {
  auto started = std::chrono::steady_clock::now();
  runtime::Facts facts = base_facts(transfer, principal, now_millis());
  state.pipeline->facts_so_far(facts);
  if (before_bytes) {
    // Before any byte the sniffed type is unknown, whatever the pipeline says.
    if (std::optional<runtime::FactSlot> slot = facts.schema().find("file.type"); slot && facts.is_set(*slot)) {
      return std::nullopt;
    }
  }
  std::optional<runtime::Decision> deny = early_->final_deny(facts);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!deny) return std::nullopt;
  metrics_.decision("deny", Metrics::Stage::kEarly, seconds);
  StateChange change{.to = TransferState::kDenied,
                     .actor = "system",
                     .reason = deny->reason,
                     .decision_json = deny->to_json(),
                     .facts_json = facts.to_json(),
                     .detail_json = dump({{"early", true}, {"bytes_received", state.inspected}})};
  Result<Transfer> denied = store_->transition(transfer.id, change, now_millis());
  if (!denied) {
    fail(transfer.id, "recording an early denial failed: " + denied.message(), false);
    return store_error(header, denied.message());
  }
  if (Status status = files_->retain_denied(transfer.id); !status) {
    log_.error("retaining denied bytes failed", {{"transfer", transfer.id}, {"error", status.message()}});
  }
  drop_state(transfer.id);
  log_.info("denied early", {{"transfer", transfer.id}, {"reason", deny->reason}, {"bytes_received", state.inspected}});
  return denied_response(header, *denied, deny->reason);
}

void Service::fail(const std::string& id, const std::string& reason, bool retryable) {
  log_.error("transfer failed", {{"transfer", id}, {"reason", reason}});
  metrics_.upload_failed();
  StateChange change{.to = TransferState::kFailed, .actor = "system", .reason = reason, .retryable = retryable};
  if (Result<Transfer> failed = store_->transition(id, change, now_millis()); !failed) {
    log_.error("recording a failure failed", {{"transfer", id}, {"error", failed.message()}});
  }
  drop_state(id);
}

Result<Transfer> Service::complete(const Transfer& received, const Principal& principal, UploadState& state) {
  Transfer transfer = received;
  metrics_.upload_completed();
  if (transfer.state == TransferState::kCreated) {
    Result<Transfer> receiving = store_->transition(transfer.id, {.to = TransferState::kReceiving, .actor = "system"},
                                                    now_millis(), TransferState::kCreated);
    if (!receiving) return receiving;
    transfer = *receiving;
  }
  // --- reviews: a transfer resubmitted with the same files is inspecting already.
  Result<Transfer> inspecting =
      transfer.state == TransferState::kInspecting
          ? Result<Transfer>(transfer)
          : store_->transition(
                transfer.id, {.to = TransferState::kInspecting, .actor = "system", .reason = "every byte received"},
                now_millis(), TransferState::kReceiving);
  if (!inspecting) return inspecting;

  auto started = std::chrono::steady_clock::now();
  Status inspected = state.pipeline->finish(files_->quarantine_path(transfer.id));
  metrics_.inspection(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (state.pipeline->bytes_received() != transfer.offset) {
    inspected = Error{"the inspectors saw " + std::to_string(state.pipeline->bytes_received()) + " bytes of " +
                      std::to_string(transfer.offset)};
  }

  started = std::chrono::steady_clock::now();
  runtime::Facts facts = base_facts(*inspecting, principal, now_millis());
  state.pipeline->fill(facts);
  runtime::Decision decision = runtime::evaluate(*program_, facts);
  if (!inspected && decision.outcome == runtime::Outcome::kApprove) {
    // An inspection that did not complete never approves: a data approver decides.
    decision.outcome = runtime::Outcome::kEscalate;
    decision.reviewers = runtime::Reviewers{{"data-approver"}, 1};
    decision.reason = "the inspection did not complete (" + inspected.message() + "), so a data approver must review";
    decision.errors.push_back({"gateway", "inspection", inspected.message(), ""});
  }
  std::string outcome(runtime::outcome_name(decision.outcome));
  metrics_.decision(outcome, Metrics::Stage::kFinal,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  std::string sha256 = state.pipeline->report().sha256;
  StateChange decided_change{.to = TransferState::kDecided,
                             .actor = "system",
                             .reason = decision.reason,
                             .decision_json = decision.to_json(),
                             .facts_json = facts.to_json(),
                             .sha256 = sha256,
                             .detail_json = dump({{"outcome", outcome}})};
  if (!inspected) decided_change.detail_json = dump({{"outcome", outcome}, {"inspection_error", inspected.message()}});
  Result<Transfer> decided = store_->transition(transfer.id, decided_change, now_millis(), TransferState::kInspecting);
  if (!decided) return decided;
  drop_state(transfer.id);
  log_.info("decided", {{"transfer", transfer.id},
                        {"outcome", outcome},
                        {"reason", decision.reason},
                        {"sha256", sha256},
                        {"bytes", transfer.offset}});

  switch (decision.outcome) {
    case runtime::Outcome::kApprove: {
      Result<Transfer> approved = store_->transition(
          transfer.id, {.to = TransferState::kApproved, .actor = "system", .reason = decision.reason}, now_millis(),
          TransferState::kDecided);
      if (!approved) return approved;
      return release_approved(*approved);  // --- reviews: shared with the vote that approves a case
    }
    case runtime::Outcome::kDeny: {
      Result<Transfer> denied =
          store_->transition(transfer.id, {.to = TransferState::kDenied, .actor = "system", .reason = decision.reason},
                             now_millis(), TransferState::kDecided);
      if (!denied) return denied;
      if (Status status = files_->retain_denied(transfer.id); !status) {
        log_.error("retaining denied bytes failed", {{"transfer", transfer.id}, {"error", status.message()}});
      }
      return denied;
    }
    case runtime::Outcome::kEscalate: break;
  }
  Result<Transfer> escalated = store_->transition(
      transfer.id,
      {.to = TransferState::kEscalated,
       .actor = "system",
       .reason = decision.reason,
       .detail_json = dump({{"roles", decision.reviewers.roles}, {"approvals", decision.reviewers.approvals}})},
      now_millis(), TransferState::kDecided);
  if (!escalated) return escalated;
  // --- reviews: the case opens at once (escalated -> in_review), enqueuing the "escalated" notifications.
  Result<ReviewCase> opened = store_->start_review(transfer.id, "system", now_millis());
  if (!opened) {
    log_.error("opening the review failed", {{"transfer", transfer.id}, {"error", opened.message()}});
    return escalated;
  }
  if (webhooks_) webhooks_->wake();
  log_.info("review opened", {{"transfer", transfer.id}, {"case", opened->id}, {"round", opened->round}});
  return store_->get(transfer.id);
}

// --- reviews
Result<Transfer> Service::release_approved(const Transfer& approved) {
  Result<std::string> path = files_->release(approved.id, approved.datasource, approved.filename);
  if (!path) return Error{"releasing failed: " + path.message()};
  Result<Transfer> released = store_->transition(approved.id,
                                                 {.to = TransferState::kReleased,
                                                  .actor = "system",
                                                  .reason = "released to " + approved.datasource,
                                                  .detail_json = dump({{"path", *path}})},
                                                 now_millis(), TransferState::kApproved);
  if (!released) return released;
  metrics_.bytes_released(approved.offset);
  log_.info("released", {{"transfer", approved.id}, {"path", *path}});
  return released;
}
// --- end reviews

std::variant<Response, Service::Created> Service::create(const RequestHeader& header, const Principal& principal) {
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  auto bad = [&](unsigned status, std::string_view code, const std::string& message) {
    Response response = error_response(status, code, message, version, keep_alive);
    set_tus_headers(response);
    return response;
  };
  bool has_length = header_present(header, "Upload-Length");
  bool deferred = header_present(header, "Upload-Defer-Length");
  if (has_length == deferred) {
    return bad(400, "bad_request", "give exactly one of Upload-Length and Upload-Defer-Length: 1");
  }
  std::optional<std::uint64_t> length;
  if (has_length) {
    length = parse_number(header_value(header, "Upload-Length"));
    if (!length) return bad(400, "bad_request", "Upload-Length must be a non-negative whole number");
    if (*length > config_.limits.max_upload_size) {
      return bad(413, "too_large",
                 "the upload is " + std::to_string(*length) + " bytes; the largest allowed is " +
                     std::to_string(config_.limits.max_upload_size));
    }
  } else if (header_value(header, "Upload-Defer-Length") != "1") {
    return bad(400, "bad_request", "Upload-Defer-Length must be 1");
  }
  Result<std::map<std::string, std::string>> metadata = parse_upload_metadata(header_value(header, "Upload-Metadata"));
  if (!metadata) return bad(400, "invalid_metadata", metadata.message());
  Result<UploadDescription> description = describe_upload(*metadata);
  if (!description) return bad(400, "invalid_metadata", description.message());
  if (std::optional<Response> refused = check_registration(header, description->datasource)) {  // registry_api.cpp
    set_tus_headers(*refused);
    return std::move(*refused);
  }

  UnixMillis now = now_millis();
  NewTransfer request{
      .channel = "upload",
      .owner = principal.user,
      .workspace = description->workspace,
      .datasource = description->datasource,
      .project = description->project,
      .filename = description->filename,
      .declared_type = description->declared_type,
      .justification = description->justification,
      .length = length,
      .metadata_json = dump(nlohmann::ordered_json(*metadata)),
      .expires_at = now + std::chrono::duration_cast<std::chrono::milliseconds>(config_.upload_expiry).count()};
  Result<Transfer> transfer = store_->create(request, now);
  if (!transfer) return store_error(header, transfer.message());
  metrics_.upload_created();
  log_.info("upload created", {{"transfer", transfer->id},
                               {"user", principal.user},
                               {"filename", transfer->filename},
                               {"workspace", transfer->workspace},
                               {"datasource", transfer->datasource},
                               {"length", length ? nlohmann::json(*length) : nlohmann::json(nullptr)}});

  std::shared_ptr<UploadState> state = state_for(transfer->id);
  std::unique_lock lock(state->busy);
  if (Status status = prepare_pipeline(*transfer, *state); !status) {
    fail(transfer->id, status.message(), false);
    return store_error(header, status.message());
  }
  if (std::optional<Response> denied = decide_early(header, *transfer, principal, *state, true)) {
    return std::move(*denied);
  }
  if (length && *length == 0) {
    // Nothing to receive: the upload is complete at creation.
    Result<std::unique_ptr<QuarantineWriter>> writer = files_->open_for_append(transfer->id, 0);
    Status synced = writer ? (*writer)->sync() : Status(Error{writer.message()});
    if (!synced) {
      fail(transfer->id, synced.message(), true);
      return store_error(header, synced.message());
    }
    Result<Transfer> done = complete(*transfer, principal, *state);
    if (!done) {
      fail(transfer->id, done.message(), false);
      return store_error(header, done.message());
    }
    return Created{*done, state};
  }
  return Created{*transfer, state};
}

Response Service::created_response(const RequestHeader& header, const Transfer& transfer, bool with_offset) const {
  Response response = empty_response(201, header.version(), wants_keep_alive(header));
  set_tus_headers(response);
  response.set(http::field::location, "/files/" + transfer.id);
  response.set("Airlock-Transfer-Id", transfer.id);
  response.set("Airlock-Transfer-State", std::string(state_name(transfer.state)));
  if (is_unfinished(transfer.state) && transfer.expires_at != 0)
    response.set("Upload-Expires", http_date(transfer.expires_at));
  if (with_offset) response.set("Upload-Offset", std::to_string(transfer.offset));
  return response;
}

Response Service::head(const RequestHeader& header, const Principal& principal, const std::string& id) {
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  auto status_only = [&](unsigned status) {
    Response response = empty_response(status, version, keep_alive);
    set_tus_headers(response);
    response.set(http::field::cache_control, "no-store");
    return response;
  };
  if (!valid_id(id)) return status_only(404);
  Result<Transfer> transfer = store_->get(id);
  if (!transfer) return status_only(status_of_store_error(transfer.message()));
  if (transfer->owner != principal.user || transfer->channel != "upload") return status_only(404);
  if (transfer->state == TransferState::kFailed) return status_only(410);
  Response response = status_only(200);
  response.set("Upload-Offset", std::to_string(transfer->offset));
  if (transfer->length) {
    response.set("Upload-Length", std::to_string(*transfer->length));
  } else {
    response.set("Upload-Defer-Length", "1");
  }
  nlohmann::json metadata = parse_json_or_null(transfer->metadata_json);
  if (metadata.is_object()) {
    std::map<std::string, std::string> pairs;
    for (const auto& [key, value] : metadata.items()) {
      if (value.is_string()) pairs[key] = value.get<std::string>();
    }
    response.set("Upload-Metadata", format_upload_metadata(pairs));
  }
  if (is_unfinished(transfer->state) && transfer->expires_at != 0) {
    response.set("Upload-Expires", http_date(transfer->expires_at));
  }
  response.set("Airlock-Transfer-State", std::string(state_name(transfer->state)));
  return response;
}

Response Service::terminate(const RequestHeader& header, const Principal& principal, const std::string& id) {
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  auto reply = [&](Response response) {
    set_tus_headers(response);
    return response;
  };
  if (!valid_id(id)) return reply(error_response(404, "not_found", "no such upload", version, keep_alive));
  Result<Transfer> transfer = store_->get(id);
  if (!transfer) return reply(store_error(header, transfer.message()));
  if (transfer->owner != principal.user || transfer->channel != "upload") {
    return reply(error_response(404, "not_found", "no such upload", version, keep_alive));
  }
  if (transfer->state == TransferState::kFailed) {
    return reply(error_response(410, "gone", "the upload was already terminated or expired", version, keep_alive));
  }
  if (!is_unfinished(transfer->state)) {
    return reply(error_response(
        409, "conflict",
        "the transfer is " + std::string(state_name(transfer->state)) + "; only an unfinished upload can be terminated",
        version, keep_alive));
  }
  std::shared_ptr<UploadState> state = state_for(id);
  std::unique_lock lock(state->busy, std::try_to_lock);
  if (!lock.owns_lock()) {
    return reply(error_response(423, "locked", "bytes are being received for this upload", version, keep_alive));
  }
  Result<Transfer> failed = store_->transition(
      id, {.to = TransferState::kFailed, .actor = principal.user, .reason = "terminated by the client"}, now_millis(),
      transfer->state);
  if (!failed) return reply(store_error(header, failed.message()));
  if (Status status = files_->remove(id); !status) {
    log_.error("deleting a terminated upload's bytes failed", {{"transfer", id}, {"error", status.message()}});
  }
  lock.unlock();
  drop_state(id);
  metrics_.upload_failed();
  log_.info("upload terminated", {{"transfer", id}, {"user", principal.user}});
  return reply(empty_response(204, version, keep_alive));
}

Response Service::list(const RequestHeader& header, const Principal& principal) {
  std::string_view target = header.target();
  TransferFilter filter;
  // k8s-sync reads every transfer of the data sources it reconciles.
  bool sync = std::find(principal.roles.begin(), principal.roles.end(), "k8s-sync") != principal.roles.end();
  if (!principal.is_reviewer() && !sync) filter.owner = principal.user;
  std::string limit = query_parameter(target, "limit");
  if (!limit.empty()) {
    std::optional<std::uint64_t> value = parse_number(limit);
    if (!value || *value == 0 || *value > 1000) {
      return error_response(400, "bad_request", "`limit` must be between 1 and 1000", header.version(),
                            wants_keep_alive(header));
    }
    filter.limit = static_cast<std::size_t>(*value);
  }
  std::string state = query_parameter(target, "state");
  if (!state.empty()) {
    filter.state = parse_state(state);
    if (!filter.state) {
      return error_response(400, "bad_request", "unknown state `" + state + "`", header.version(),
                            wants_keep_alive(header));
    }
  }
  std::string workspace = query_parameter(target, "workspace");
  if (!workspace.empty()) filter.workspace = workspace;
  std::string datasource = query_parameter(target, "datasource");
  if (!datasource.empty()) filter.datasource = datasource;
  filter.after_id = query_parameter(target, "after");
  if (!filter.after_id.empty() && !valid_id(filter.after_id)) {
    return error_response(400, "bad_request", "`after` must be a transfer id", header.version(),
                          wants_keep_alive(header));
  }
  // `namespace`: only data sources registered in it (registry_api.cpp; k8s-sync and import reports register them).
  std::string ns = query_parameter(target, "namespace");
  if (!ns.empty()) filter.datasource_namespace = ns;
  Result<std::vector<Transfer>> transfers = store_->list(filter);
  if (!transfers) return store_error(header, transfers.message());
  // --- reviews: the review fields of every transfer listed, in a fixed number of queries.
  std::vector<std::string> ids;
  for (const Transfer& transfer : *transfers) ids.push_back(transfer.id);
  Result<std::map<std::string, TransferReview>> reviews = store_->transfer_reviews(ids);
  if (!reviews) return store_error(header, reviews.message());
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const Transfer& transfer : *transfers) {
    nlohmann::ordered_json item = transfer_json(transfer, false);
    auto review = reviews->find(transfer.id);
    add_review_fields(item, transfer, review == reviews->end() ? nullptr : &review->second);
    items.push_back(std::move(item));
  }
  nlohmann::ordered_json body{{"transfers", items}};
  body["next"] = transfers->size() == filter.limit && !transfers->empty() ? nlohmann::ordered_json(transfers->back().id)
                                                                          : nlohmann::ordered_json(nullptr);
  return json_response(200, dump(body), header.version(), wants_keep_alive(header));
}

Response Service::get(const RequestHeader& header, const Principal& principal, const std::string& id, bool decision) {
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  if (!valid_id(id)) return error_response(404, "not_found", "no such transfer", version, keep_alive);
  Result<Transfer> transfer = store_->get(id);
  if (!transfer) return store_error(header, transfer.message());
  if (transfer->owner != principal.user && !principal.is_reviewer()) {
    return error_response(404, "not_found", "no such transfer", version, keep_alive);
  }
  if (!decision) {
    // --- reviews: the review fields
    Result<std::map<std::string, TransferReview>> reviews = store_->transfer_reviews({transfer->id});
    if (!reviews) return store_error(header, reviews.message());
    nlohmann::ordered_json body = transfer_json(*transfer, true);
    auto review = reviews->find(transfer->id);
    add_review_fields(body, *transfer, review == reviews->end() ? nullptr : &review->second);
    return json_response(200, dump(body), version, keep_alive);
  }
  if (transfer->decision_json.empty()) {
    return error_response(404, "no_decision",
                          "the transfer is " + std::string(state_name(transfer->state)) + " and has no decision yet",
                          version, keep_alive);
  }
  nlohmann::ordered_json body{{"transfer", transfer->id},
                              {"state", state_name(transfer->state)},
                              {"decision", parse_json_or_null(transfer->decision_json)}};
  return json_response(200, dump(body), version, keep_alive);
}

std::variant<Response, std::unique_ptr<UploadStream>> Service::begin_stream(const RequestHeader& header) {
  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  auto reply = [&](unsigned status, std::string_view code, const std::string& message) {
    Response response = error_response(status, code, message, version, false);
    set_tus_headers(response);
    return response;
  };
  std::variant<Principal, Response> authenticated = authenticate(header);
  if (Response* refused = std::get_if<Response>(&authenticated)) {
    refused->keep_alive(false);
    set_tus_headers(*refused);
    return std::move(*refused);
  }
  const Principal* principal = &std::get<Principal>(authenticated);
  if (std::optional<Response> bad = check_tus(header)) {
    bad->keep_alive(false);
    return std::move(*bad);
  }
  auto content_type = header.find(http::field::content_type);
  if (content_type == header.end() || content_type->value() != kOffsetOctetStream) {
    return reply(415, "unsupported_media_type", "PATCH needs Content-Type: application/offset+octet-stream");
  }
  std::optional<std::uint64_t> content_length;
  if (header_present(header, "Content-Length")) {
    content_length = parse_number(header_value(header, "Content-Length"));
    if (!content_length) return reply(400, "bad_request", "Content-Length must be a whole number");
    if (*content_length > config_.limits.max_chunk_bytes) {
      return reply(413, "too_large",
                   "a request may carry at most " + std::to_string(config_.limits.max_chunk_bytes) +
                       " bytes; send the upload in smaller chunks");
    }
  }
  std::optional<std::string> algorithm;
  std::string digest;
  if (header_present(header, "Upload-Checksum")) {
    Result<ChecksumRequest> checksum = parse_upload_checksum(header_value(header, "Upload-Checksum"));
    if (!checksum) return reply(400, "bad_request", checksum.message());
    algorithm = checksum->algorithm;
    digest = checksum->digest;
  }

  bool created = header.method() == http::verb::post;
  Transfer transfer;
  std::shared_ptr<UploadState> state;
  std::unique_lock<BusyFlag> lock;
  if (created) {
    std::variant<Response, Created> result = create(header, *principal);
    if (Response* response = std::get_if<Response>(&result)) {
      response->keep_alive(false);
      return std::move(*response);
    }
    Created& made = std::get<Created>(result);
    transfer = made.transfer;
    state = made.state;
    lock = std::unique_lock(state->busy, std::try_to_lock);
    if (!lock.owns_lock()) return reply(423, "locked", "bytes are being received for this upload");
    if (transfer.length && *transfer.length == 0) {
      Response response = created_response(header, transfer, true);
      response.keep_alive(false);
      return response;
    }
  } else {
    std::string id = std::string(target_path(header.target()).substr(std::string_view("/files/").size()));
    if (!valid_id(id)) return reply(404, "not_found", "no such upload");
    std::optional<std::uint64_t> offset = parse_number(header_value(header, "Upload-Offset"));
    if (!offset) return reply(400, "bad_request", "Upload-Offset is required: a non-negative whole number");
    Result<Transfer> stored = store_->get(id);
    if (!stored) {
      Response response = store_error(header, stored.message());
      set_tus_headers(response);
      response.keep_alive(false);
      return response;
    }
    if (stored->owner != principal->user || stored->channel != "upload")
      return reply(404, "not_found", "no such upload");
    if (stored->state == TransferState::kDenied) {
      Response response = denied_response(header, *stored, stored->reason);
      return response;
    }
    if (stored->state == TransferState::kFailed) return reply(410, "gone", "the upload ended: " + stored->reason);
    if (!is_unfinished(stored->state)) {
      if (*offset == stored->offset && content_length && *content_length == 0) {
        Response response = empty_response(204, version, keep_alive);
        set_tus_headers(response);
        response.set("Upload-Offset", std::to_string(stored->offset));
        response.set("Airlock-Transfer-State", std::string(state_name(stored->state)));
        return response;
      }
      return reply(409, "conflict", "the upload is complete (" + std::string(state_name(stored->state)) + ")");
    }
    if (*offset != stored->offset) {
      Response response = reply(409, "conflict",
                                "Upload-Offset is " + std::to_string(*offset) + " but the upload is at " +
                                    std::to_string(stored->offset) + "; resume from there");
      response.set("Upload-Offset", std::to_string(stored->offset));
      return response;
    }
    if (header_present(header, "Upload-Length")) {
      std::optional<std::uint64_t> length = parse_number(header_value(header, "Upload-Length"));
      if (!length) return reply(400, "bad_request", "Upload-Length must be a non-negative whole number");
      if (stored->length && *stored->length != *length) {
        return reply(400, "bad_request", "Upload-Length cannot change once set");
      }
      if (*length > config_.limits.max_upload_size) {
        return reply(413, "too_large",
                     "the upload is " + std::to_string(*length) + " bytes; the largest allowed is " +
                         std::to_string(config_.limits.max_upload_size));
      }
      if (*length < stored->offset) return reply(400, "bad_request", "Upload-Length is below the bytes already stored");
      if (!stored->length) {
        if (Status status = store_->set_length(id, *length, now_millis()); !status) {
          Response response = store_error(header, status.message());
          response.keep_alive(false);
          return response;
        }
        stored->length = length;
        drop_state(id);  // the pipeline was built without the length; rebuild it with the declared size
      }
    }
    if (stored->length && content_length && stored->offset + *content_length > *stored->length) {
      return reply(413, "too_large", "the chunk goes past Upload-Length (" + std::to_string(*stored->length) + ")");
    }
    transfer = *stored;
    state = state_for(id);
    lock = std::unique_lock(state->busy, std::try_to_lock);
    if (!lock.owns_lock()) return reply(423, "locked", "another request is sending bytes to this upload");
  }

  if (!acquire_upload_slot(principal->user)) {
    return reply(429, "too_many_uploads",
                 "at most " + std::to_string(config_.limits.max_concurrent_uploads_per_user) +
                     " uploads may send bytes at once per user; wait for one to finish");
  }
  auto give_back = [&] { release_upload_slot(principal->user); };
  if (!state->pipeline || state->inspected != transfer.offset) {
    if (Status status = prepare_pipeline(transfer, *state); !status) {
      give_back();
      fail(transfer.id, status.message(), false);
      Response response = store_error(header, status.message());
      response.keep_alive(false);
      return response;
    }
  }
  Result<std::unique_ptr<QuarantineWriter>> writer = files_->open_for_append(transfer.id, transfer.offset);
  if (!writer) {
    give_back();
    Response response = store_error(header, writer.message());
    response.keep_alive(false);
    return response;
  }
  if (transfer.state == TransferState::kCreated) {
    Result<Transfer> receiving =
        store_->transition(transfer.id, {.to = TransferState::kReceiving, .actor = principal->user}, now_millis(),
                           TransferState::kCreated);
    if (!receiving) {
      give_back();
      Response response = store_error(header, receiving.message());
      response.keep_alive(false);
      return response;
    }
    transfer = *receiving;
  }
  metrics_.uploads_in_flight(1);
  return std::make_unique<UploadStream>(*this, header, *principal, transfer, state, std::move(lock), std::move(*writer),
                                        algorithm, digest, created);
}

// An upload approved (by its decision or by its reviewers) whose release failed stays approved; it is
// released again here once it has been approved for a cleanup interval (so a release in progress is not raced).
void Service::retry_releases(UnixMillis now) {
  TransferFilter filter;
  filter.state = TransferState::kApproved;
  filter.limit = 100;
  Result<std::vector<Transfer>> approved = store_->list(filter);
  if (!approved) {
    log_.error("listing approved transfers failed", {{"error", approved.message()}});
    return;
  }
  for (const Transfer& transfer : *approved) {
    auto settled = std::chrono::duration_cast<std::chrono::milliseconds>(config_.cleanup_interval).count();
    if (transfer.channel != "upload" || now - transfer.updated_at < settled) continue;
    Result<Transfer> released = release_approved(transfer);
    if (!released) {
      log_.error("releasing again failed", {{"transfer", transfer.id}, {"error", released.message()}});
    }
  }
}

void Service::cleanup(UnixMillis now) {
  Result<std::vector<Transfer>> expired = store_->expired(now);
  if (!expired) {
    log_.error("listing expired uploads failed", {{"error", expired.message()}});
  } else {
    for (const Transfer& transfer : *expired) {
      std::shared_ptr<UploadState> state = state_for(transfer.id);
      std::unique_lock lock(state->busy, std::try_to_lock);
      if (!lock.owns_lock()) continue;  // receiving bytes right now
      Result<Transfer> failed = store_->transition(
          transfer.id,
          {.to = TransferState::kFailed, .actor = "system", .reason = "expired before the last byte arrived"}, now,
          transfer.state);
      if (!failed) {
        log_.error("expiring an upload failed", {{"transfer", transfer.id}, {"error", failed.message()}});
        continue;
      }
      if (Status status = files_->remove(transfer.id); !status) {
        log_.error("deleting an expired upload failed", {{"transfer", transfer.id}, {"error", status.message()}});
      }
      lock.unlock();
      drop_state(transfer.id);
      metrics_.upload_failed();
      log_.info("upload expired", {{"transfer", transfer.id}});
    }
  }
  retry_releases(now);
  UnixMillis before = now - std::chrono::duration_cast<std::chrono::milliseconds>(config_.denied_retention).count();
  Result<std::vector<Transfer>> retained = store_->retained_before(before);
  if (!retained) {
    log_.error("listing retained transfers failed", {{"error", retained.message()}});
    return;
  }
  for (const Transfer& transfer : *retained) {
    bool stored = std::filesystem::exists(config_.data_dir + "/denied/" + transfer.id) ||
                  std::filesystem::exists(config_.data_dir + "/quarantine/" + transfer.id);
    if (!stored) continue;
    if (Status status = files_->remove(transfer.id); !status) {
      log_.error("deleting retained bytes failed", {{"transfer", transfer.id}, {"error", status.message()}});
      continue;
    }
    if (Status status = store_->append_event(transfer.id, "system", "bytes_deleted",
                                             dump({{"retention_seconds", config_.denied_retention.count()}}), now);
        !status) {
      log_.error("auditing a deletion failed", {{"transfer", transfer.id}, {"error", status.message()}});
    }
    log_.info("retained bytes deleted", {{"transfer", transfer.id}, {"state", state_name(transfer.state)}});
  }
}

// ---- UploadStream ----

UploadStream::UploadStream(Service& service, const RequestHeader& header, Principal principal, Transfer transfer,
                           std::shared_ptr<UploadState> state, std::unique_lock<BusyFlag> lock,
                           std::unique_ptr<QuarantineWriter> writer, std::optional<std::string> checksum_algorithm,
                           std::string checksum_digest, bool created)
    : service_(service),
      version_(header.version()),
      keep_alive_(wants_keep_alive(header)),
      principal_(std::move(principal)),
      transfer_(std::move(transfer)),
      state_(std::move(state)),
      lock_(std::move(lock)),
      buffers_(kMaxAddedBuffers, service.extra_buffers_, kMaxServerAddedBuffers),
      writer_(std::move(writer)),
      checksum_algorithm_(std::move(checksum_algorithm)),
      checksum_digest_(std::move(checksum_digest)),
      created_(created) {
  limit_ = service_.config_.limits.max_chunk_bytes;
  if (transfer_.length) limit_ = std::min(limit_, *transfer_.length - transfer_.offset);
  if (checksum_algorithm_) {
    checksum_ = EVP_MD_CTX_new();
    const EVP_MD* md = *checksum_algorithm_ == "sha1" ? EVP_sha1() : EVP_sha256();
    if (checksum_ != nullptr && EVP_DigestInit_ex(checksum_, md, nullptr) != 1) {
      EVP_MD_CTX_free(checksum_);
      checksum_ = nullptr;
    }
  }
}

UploadStream::~UploadStream() {
  if (!done_) abort("the request ended early");
  if (checksum_ != nullptr) EVP_MD_CTX_free(checksum_);
}

void UploadStream::release() {
  if (done_) return;
  done_ = true;
  service_.metrics_.uploads_in_flight(-1);
  service_.release_upload_slot(principal_.user);
  if (lock_.owns_lock()) lock_.unlock();
}

std::optional<Response> UploadStream::write(std::span<const char> bytes) {
  return store_and_inspect(bytes, nullptr, 0);
}

std::optional<Response> UploadStream::write(std::vector<char>& buffer, std::size_t offset, std::size_t size) {
  offset = std::min(offset, buffer.size());
  return store_and_inspect({buffer.data() + offset, std::min(size, buffer.size() - offset)}, &buffer, offset);
}

std::optional<Response> UploadStream::store_and_inspect(std::span<const char> bytes, std::vector<char>* owner,
                                                        std::size_t offset) {
  if (done_) return error_response(500, "internal", "the upload already ended", version_, false);
  auto stop = [&](unsigned status, std::string_view code, const std::string& message) {
    abort(message);
    Response response = error_response(status, code, message, version_, false);
    response.set("Tus-Resumable", std::string(kTusVersion));
    return response;
  };
  if (bytes.size() > limit_ - received_) {
    return stop(
        413, "too_large",
        transfer_.length && transfer_.offset + received_ + bytes.size() > *transfer_.length
            ? "the bytes go past Upload-Length (" + std::to_string(*transfer_.length) + ")"
            : "a request may carry at most " + std::to_string(service_.config_.limits.max_chunk_bytes) + " bytes");
  }
  // The server's buffer is lent: the disk may write from it while the next bytes arrive (reclaimed below).
  if (Status status = owner != nullptr ? writer_->append_lent(bytes) : writer_->append(bytes); !status) {
    service_.log_.error("storing bytes failed", {{"transfer", transfer_.id}, {"error", status.message()}});
    return stop(500, "internal", "the gateway could not store the bytes; try again later");
  }
  received_ += bytes.size();
  service_.metrics_.bytes_received(bytes.size());
  if (checksum_ != nullptr) EVP_DigestUpdate(checksum_, bytes.data(), bytes.size());
  if (pipeline_ok_) {
    if (!feed_) feed_ = std::make_unique<inspect::InspectionFeed>(*service_.inspection_, *state_->pipeline);
    // After a hand-over `bytes` belongs to the inspectors: only its size is used below.
    Status status = owner != nullptr ? feed_->hand_over(*owner, offset, bytes.size()) : feed_->update(bytes);
    if (!status) {
      pipeline_ok_ = false;
      return stop(400, "bad_request", status.message());
    }
    state_->inspected += bytes.size();
  }
  // The buffer the server reads into next (the inspectors may have handed back an earlier one) must no longer
  // be read by a write: while the disk is behind, buffers_ gives another one rather than wait.
  if (owner != nullptr) {
    if (Status status = buffers_.make_free(*writer_, *owner); !status) {
      service_.log_.error("storing bytes failed", {{"transfer", transfer_.id}, {"error", status.message()}});
      return stop(500, "internal", "the gateway could not store the bytes; try again later");
    }
  }
  // The early decision on the sniffed type, once the sniffing prefix has arrived (or the whole file, which
  // the final decision then judges).
  std::uint64_t prefix = inspect::InspectionLimits{}.sniff_bytes;
  if (transfer_.length) prefix = std::min<std::uint64_t>(prefix, *transfer_.length);
  std::uint64_t stored = transfer_.offset + received_;
  if (!state_->prefix_checked && pipeline_ok_ && stored >= prefix &&
      !(transfer_.length && stored == *transfer_.length)) {
    state_->prefix_checked = true;
    // The early decision reads what the inspectors found in the prefix.
    if (Status status = feed_->drain(); !status) {
      pipeline_ok_ = false;
      return stop(400, "bad_request", status.message());
    }
    RequestHeader header;
    header.version(version_);
    header.set(http::field::connection, "close");
    // The bytes so far are kept with a denial, so they are made durable first.
    if (Status status = writer_->sync(); !status) {
      service_.log_.error("syncing bytes failed", {{"transfer", transfer_.id}, {"error", status.message()}});
      return stop(500, "internal", "the gateway could not store the bytes; try again later");
    }
    std::optional<Response> denied = service_.decide_early(header, transfer_, principal_, *state_, false);
    if (denied) {
      // decide_early dropped the upload state; this stream ends without storing anything more.
      done_ = true;
      service_.metrics_.uploads_in_flight(-1);
      service_.release_upload_slot(principal_.user);
      if (lock_.owns_lock()) lock_.unlock();
      return denied;
    }
  }
  return std::nullopt;
}

Status UploadStream::settle() {
  if (!feed_) return Status::ok();
  // The feed frees its buffers as it ends: lent writes from them finish first (their errors come from sync()).
  (void)writer_->reclaim({});
  Status status = feed_->drain();
  feed_.reset();
  if (state_->pipeline) state_->pipeline->pause();  // the upload may wait long for its next request
  return status;
}

void UploadStream::abort(std::string_view why) {
  if (done_) return;
  if (!settle()) pipeline_ok_ = false;  // the inspectors failed on these bytes: replay them next time
  std::uint64_t stored = transfer_.offset;
  if (received_ > 0 && !checksum_algorithm_ && pipeline_ok_) {
    // Keep what arrived: tus clients resume from the offset a HEAD reports.
    if (writer_->sync() &&
        service_.store_->advance_offset(transfer_.id, transfer_.offset, transfer_.offset + received_, now_millis())) {
      stored = transfer_.offset + received_;
    } else {
      state_->pipeline.reset();  // the inspectors saw bytes that were not recorded: replay next time
    }
  } else if (received_ > 0) {
    state_->pipeline.reset();
  }
  service_.log_.info("upload interrupted", {{"transfer", transfer_.id}, {"why", why}, {"offset", stored}});
  release();
}

Response UploadStream::finish() {
  auto reply = [&](Response response) {
    response.set("Tus-Resumable", std::string(kTusVersion));
    return response;
  };
  if (done_) return reply(error_response(500, "internal", "the upload already ended", version_, false));
  if (Status inspected = settle(); !inspected) {
    pipeline_ok_ = false;
    abort(inspected.message());
    return reply(error_response(400, "bad_request", inspected.message(), version_, false));
  }
  if (Status status = writer_->sync(); !status) {
    service_.log_.error("syncing bytes failed", {{"transfer", transfer_.id}, {"error", status.message()}});
    state_->pipeline.reset();
    release();
    return reply(
        error_response(500, "internal", "the gateway could not store the bytes; try again later", version_, false));
  }
  if (checksum_algorithm_) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    bool ok = checksum_ != nullptr && EVP_DigestFinal_ex(checksum_, digest, &size) == 1 &&
              checksum_digest_.size() == size && CRYPTO_memcmp(digest, checksum_digest_.data(), size) == 0;
    if (!ok) {
      // The chunk is discarded: the offset stays, the file is cut back on the next PATCH, and the
      // inspectors (which saw the chunk) start again from the stored bytes.
      state_->pipeline.reset();
      service_.log_.warn("checksum mismatch", {{"transfer", transfer_.id}, {"bytes", received_}});
      release();
      Response response = error_response(kStatusChecksumMismatch, "checksum_mismatch",
                                         "the " + *checksum_algorithm_ +
                                             " of the chunk does not match Upload-Checksum; "
                                             "the chunk was discarded, send it again",
                                         version_, keep_alive_);
      response.set("Upload-Offset", std::to_string(transfer_.offset));
      return reply(std::move(response));
    }
  }
  std::uint64_t offset = transfer_.offset + received_;
  if (received_ > 0) {
    if (Status status = service_.store_->advance_offset(transfer_.id, transfer_.offset, offset, now_millis());
        !status) {
      state_->pipeline.reset();
      release();
      Response response = service_.store_error(RequestHeader{}, status.message());
      response.version(version_);
      response.keep_alive(false);
      return reply(std::move(response));
    }
  }
  transfer_.offset = offset;
  Transfer result = transfer_;
  if (transfer_.length && offset == *transfer_.length) {
    Result<Transfer> completed = service_.complete(transfer_, principal_, *state_);
    if (!completed) {
      release();
      service_.fail(transfer_.id, "completing the upload failed: " + completed.message(), false);
      return reply(error_response(500, "internal", "the upload was received but could not be judged; it failed safely",
                                  version_, false));
    }
    result = *completed;
  }
  release();
  Response response =
      created_ ? service_.created_response(RequestHeader{}, result, true) : empty_response(204, version_, keep_alive_);
  response.version(version_);
  response.keep_alive(keep_alive_);
  response.set("Upload-Offset", std::to_string(offset));
  response.set("Airlock-Transfer-State", std::string(state_name(result.state)));
  if (!result.decision_json.empty()) {
    nlohmann::json decision = parse_json_or_null(result.decision_json);
    if (decision.is_object() && decision.contains("outcome") && decision["outcome"].is_string()) {
      response.set("Airlock-Decision", decision["outcome"].get<std::string>());
    }
  }
  if (is_unfinished(result.state) && result.expires_at != 0)
    response.set("Upload-Expires", http_date(result.expires_at));
  return reply(std::move(response));
}

}  // namespace airlock::gateway::server
