// The import run: fetch each object into the run's staging area, inspect and judge it, then release the whole
// import at once (approve), move it to quarantine (escalate) or discard it (deny, failure).
#include "airlock/gateway/import/importer.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "airlock/compiler/compiler.h"
#include "airlock/gateway/import/ro_crate.h"
#include "airlock/gateway/inspect/inspection_executor.h"
#include "airlock/gateway/inspect/pipeline.h"
#include "airlock/runtime/evaluator.h"
#include "airlock/runtime/format.h"

namespace airlock::gateway::import {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using runtime::Error;
using runtime::Result;
using runtime::Status;
using runtime::Value;

constexpr std::string_view kStagingDirectory = ".airlock-staging";
constexpr std::string_view kReleasedDirectory = "released";
constexpr std::string_view kQuarantineDirectory = "quarantine";

std::string random_run_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Fall back on the clock: the id only has to be unique among this data source's runs.
    auto now = std::chrono::system_clock::now().time_since_epoch().count();
    std::memcpy(bytes, &now, std::min(sizeof now, sizeof bytes));
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id;
  for (unsigned char byte : bytes) {
    id += kDigits[byte >> 4];
    id += kDigits[byte & 0xf];
  }
  return id;
}

runtime::Timestamp now_timestamp() {
  auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return {nanos / 1'000'000'000, static_cast<std::int32_t>(nanos % 1'000'000'000)};
}

std::string iso_now() {
  runtime::Timestamp now = now_timestamp();
  now.nanos = (now.nanos / 1'000'000) * 1'000'000;  // milliseconds are enough for people
  return runtime::format_timestamp(now);
}

// A file name for the crate: no directories, no control characters, no leading dots.
std::string crate_file_name(std::string_view wanted) {
  std::size_t slash = wanted.find_last_of("/\\");
  if (slash != std::string_view::npos) wanted = wanted.substr(slash + 1);
  std::string name;
  for (char c : wanted) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) continue;
    name += c;
  }
  while (!name.empty() && (name.front() == '.' || name.front() == ' ')) name.erase(0, 1);
  if (name.size() > 200) name.resize(200);
  if (name.empty() || name == std::string(kRoCrateMetadataFile)) name = "object-" + name;
  return name;
}

std::string unique_name(std::string name, std::set<std::string>& taken) {
  if (taken.insert(name).second) return name;
  std::size_t dot = name.find('.', 1);
  std::string stem = dot == std::string::npos ? name : name.substr(0, dot);
  std::string extension = dot == std::string::npos ? "" : name.substr(dot);
  for (int i = 2;; ++i) {
    std::string candidate = stem + "-" + std::to_string(i) + extension;
    if (taken.insert(candidate).second) return candidate;
  }
}

Result<std::string> read_credential(const std::string& directory, const Connection& connection, std::string_view role) {
  auto found = connection.credentials.find(std::string(role));
  if (found == connection.credentials.end()) return std::string();
  const std::string& key = found->second;
  bool safe = !key.empty() && key != "." && key != ".." && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
  if (!safe)
    return Error{"connection " + connection.name + ": credentials." + std::string(role) + " \"" + key +
                 "\" is not a valid Secret key"};
  if (directory.empty()) {
    return Error{"connection " + connection.name + " needs credentials (" + key + "): pass --credentials DIR"};
  }
  std::ifstream in(fs::path(directory) / key, std::ios::binary);
  if (!in) return Error{"connection " + connection.name + ": cannot read the credential " + key + " in " + directory};
  std::stringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return value;
}

Status write_all(int fd, std::span<const char> bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return Error{"writing " + path + ": " + std::strerror(errno)};
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
  return Status::ok();
}

Status sync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{"opening " + path.string() + " to sync it: " + std::strerror(errno)};
  int result = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (result != 0) return Error{"syncing " + path.string() + ": " + std::strerror(saved)};
  return Status::ok();
}

// Puts `from` at `to` atomically: a rename when `to` is absent, else an exchange (renameat2 RENAME_EXCHANGE)
// so readers see the old or the new import, never neither; the old one then goes. File systems without
// RENAME_EXCHANGE get two renames (a crash between them leaves no released directory, never a mixed one).
Status replace_directory(const fs::path& from, const fs::path& to, const fs::path& old_aside) {
  std::error_code error;
  if (!fs::exists(to, error)) {
    fs::rename(from, to, error);
    if (error) return Error{"releasing " + from.string() + " to " + to.string() + ": " + error.message()};
    return Status::ok();
  }
#ifdef RENAME_EXCHANGE
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(from, error);  // the previous import, now at `from`
    return Status::ok();
  }
#endif
  fs::rename(to, old_aside, error);
  if (error) return Error{"moving the previous release aside: " + error.message()};
  fs::rename(from, to, error);
  if (error) return Error{"releasing " + from.string() + " to " + to.string() + ": " + error.message()};
  fs::remove_all(old_aside, error);
  return Status::ok();
}

// Where one object comes from, as facts and the crate show it (never with credentials).
struct SourceDescription {
  std::string url;
  std::string host;
};

struct FetchedObject {
  std::string declared_type;
  SourceDescription source;
};

class ImportRun {
 public:
  explicit ImportRun(const ImportOptions& options) : options_(options) {}

  ImportResult run() {
    result_.run_id = options_.run_id.empty() ? random_run_id() : options_.run_id;
    result_.started_at = iso_now();
    created_at_ = now_timestamp();
    if (Status status = prepare(); !status) return finish_failed(status.message());
    std::uint64_t total = 0;
    std::set<std::string> taken{std::string(kRoCrateMetadataFile)};
    const DataSource& source = options_.datasource;
    for (std::size_t i = 0; i < source.objects.size(); ++i) {
      const ImportObject& object = source.objects[i];
      Result<bool> done = import_object(object, taken, total);
      if (!done) return finish_failed(done.message());
      if (result_.files.back().decision.outcome == runtime::Outcome::kDeny) {
        if (i + 1 < source.objects.size()) {
          result_.warnings.push_back("stopped after " + result_.files.back().name + " was denied; " +
                                     std::to_string(source.objects.size() - i - 1) + " objects not fetched");
        }
        break;
      }
    }
    // The final judgement, with the whole import's size known.
    std::vector<runtime::Decision> decisions;
    for (std::size_t i = 0; i < result_.files.size(); ++i) {
      (void)facts_[i].set("transfer.total_size", Value::integer(static_cast<std::int64_t>(total)));
      (void)facts_[i].set("now", Value::timestamp(now_timestamp()));
      runtime::Decision decision = runtime::evaluate(*program_, facts_[i]);
      apply_inspection_error(decision, inspection_errors_[i]);
      result_.files[i].decision = decision;
      result_.files[i].facts_json = facts_[i].to_json();
      decisions.push_back(std::move(decision));
    }
    result_.decision = combine_decisions(decisions);
    return conclude();
  }

 private:
  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  Status prepare() {
    const DataSource& source = options_.datasource;
    if (source.objects.empty()) return Error{"the data source " + source.name + " declares no objects to import"};
    for (const ImportObject& object : source.objects) {
      const Connection* connection = source.find_connection(object.connection);
      if (connection == nullptr) return Error{"no connection named \"" + object.connection + "\""};
      if (connection->type == "databricks") {
        return Error{"connection " + connection->name +
                     ": databricks imports are not implemented yet; export the tables to S3 or PostgreSQL, or "
                     "serve them over https (docs/import.md)"};
      }
      if (connection->type != "https" && connection->type != "postgresql" && connection->type != "s3") {
        return Error{"connection " + connection->name + ": type \"" + connection->type +
                     "\" cannot be imported (https, postgresql and s3 can)"};
      }
    }
    std::vector<std::string> paths{options_.policies_dir};
    Result<std::vector<compiler::SourceFile>> files = compiler::load_policy_files(paths);
    if (!files) return Error{"loading policies: " + files.message()};
    compiler::CompiledPolicySet compiled = compiler::compile_policy_set(*files);
    if (!compiled.ok()) {
      std::string text;
      for (const compiler::Diagnostic& diagnostic : compiled.diagnostics) text += "\n" + diagnostic.render();
      return Error{options_.policies_dir + ": the policies do not compile:" + text};
    }
    program_ = compiled.program;

    std::error_code error;
    fs::path output(options_.output_dir);
    if (options_.output_dir.empty()) return Error{"no output directory: pass --output DIR"};
    fs::create_directories(output, error);
    if (error) return Error{"creating " + output.string() + ": " + error.message()};
    fs::path staging_root = output / kStagingDirectory;
    fs::create_directories(staging_root, error);
    if (error) return Error{"creating " + staging_root.string() + ": " + error.message()};
    // One import runs per data source at a time (the Job's parallelism is 1): what an earlier run left
    // (a crash, a killed Pod) is never released, so it goes.
    for (const auto& entry : fs::directory_iterator(staging_root, error)) {
      if (entry.path().filename() == result_.run_id) continue;
      log("removing the staging area of an earlier run: " + entry.path().string());
      fs::remove_all(entry.path(), error);
    }
    staging_ = staging_root / result_.run_id;
    crate_ = staging_ / "crate";
    fs::create_directories(crate_, error);
    if (error) return Error{"creating " + crate_.string() + ": " + error.message()};
    fs::permissions(crate_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                    fs::perm_options::replace, error);
    return Status::ok();
  }

  runtime::Facts base_facts(const Connection& connection, const SourceDescription& source) const {
    const DataSource& datasource = options_.datasource;
    runtime::Facts facts(*program_->schema);
    auto set = [&](std::string_view path, Value value) { (void)facts.set(path, std::move(value)); };
    set("transfer.id", Value::string(result_.run_id));
    set("transfer.channel", Value::string("import"));
    set("transfer.direction", Value::string("ingress"));
    set("transfer.datasource", Value::string(datasource.name));
    if (!datasource.project.empty()) set("transfer.project", Value::string(datasource.project));
    set("transfer.files", Value::integer(static_cast<std::int64_t>(datasource.objects.size())));
    set("transfer.created_at", Value::timestamp(created_at_));
    set("source.type", Value::string(connection.type));
    set("source.host", Value::string(source.host));
    set("source.url", Value::string(source.url));
    set("datasource.name", Value::string(datasource.name));
    set("datasource.type", Value::string(datasource.type));
    set("datasource.publisher", Value::string(datasource.publisher_organisation));
    set("datasource.license", Value::string(datasource.license));
    set("now", Value::timestamp(now_timestamp()));
    return facts;
  }

  static void apply_inspection_error(runtime::Decision& decision, const std::string& inspection_error) {
    if (inspection_error.empty() || decision.outcome != runtime::Outcome::kApprove) return;
    // An inspection that did not complete never approves: a data approver decides (as for uploads).
    decision.outcome = runtime::Outcome::kEscalate;
    decision.reviewers = runtime::Reviewers{{"data-approver"}, 1};
    decision.reason = "the inspection did not complete (" + inspection_error + "), so a data approver must review";
    decision.errors.push_back({"import", "inspection", inspection_error, ""});
  }

  Result<FetchedObject> fetch_object(const ImportObject& object, const Connection& connection, const ChunkSink& sink) {
    FetchedObject fetched;
    if (connection.type == "postgresql") {
      if (object.kind != ImportObject::Kind::kTable) {
        return Error{"connection " + connection.name + " is PostgreSQL: its objects are tables"};
      }
      PostgresOptions postgres;
      postgres.url = connection.url;
      Result<std::string> user = read_credential(options_.credentials_dir, connection, "userKey");
      if (!user) return user.error();
      Result<std::string> password = read_credential(options_.credentials_dir, connection, "passwordKey");
      if (!password) return password.error();
      postgres.user = *user;
      postgres.password = *password;
      PostgresTable table{object.name, object.schema, object.query};
      fetched.declared_type = "text/csv";
      fetched.source.url = url_without_credentials(connection.url);
      fetched.source.host = url_host(connection.url);
      Result<std::uint64_t> copied = copy_postgres_table(postgres, table, sink);
      if (!copied) return copied.error();
      return fetched;
    }
    if (object.kind != ImportObject::Kind::kFile) {
      return Error{"connection " + connection.name + " is " + connection.type + ": its objects are files"};
    }
    if (connection.type == "s3") {
      std::vector<std::pair<std::string, std::string>> s3_options(connection.options.begin(), connection.options.end());
      Result<S3Location> location = s3_location(connection.url, s3_options, object.path);
      if (!location) return Error{"connection " + connection.name + ": " + location.message()};
      sigv4::Credentials credentials;
      for (auto [role, target] :
           {std::pair{"accessKey", &credentials.access_key}, std::pair{"secretKey", &credentials.secret_key},
            std::pair{"sessionTokenKey", &credentials.session_token}}) {
        Result<std::string> value = read_credential(options_.credentials_dir, connection, role);
        if (!value) return value.error();
        *target = *value;
      }
      fetched.source.host = location->host;
      fetched.source.url = connection.url.starts_with("s3://") ? "s3://" + location->bucket + "/" + location->key
                                                               : url_without_credentials(location->url());
      long long seconds =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      Result<FetchResponse> response = fetch_s3_object(*location, credentials, seconds, options_.fetch, sink);
      if (!response) return response.error();
      fetched.declared_type = response->content_type;
      return fetched;
    }
    // https
    Result<HttpUrl> base = parse_http_url(connection.url);
    if (!base) return Error{"connection " + connection.name + ": " + base.message()};
    std::string url;
    if (object.path.find("://") != std::string::npos) {
      url = object.path;
    } else if (object.path.starts_with("/")) {
      url = resolve_url(*base, object.path);
    } else {
      // The connection's URL is a directory; the object's path is relative to it.
      url = connection.url.substr(0, connection.url.find_first_of("?#"));
      if (!url.ends_with("/")) url += "/";
      url += object.path;
    }
    FetchRequest request;
    request.url = url;
    Result<std::string> token = read_credential(options_.credentials_dir, connection, "tokenKey");
    if (!token) return token.error();
    Result<std::string> user = read_credential(options_.credentials_dir, connection, "userKey");
    if (!user) return user.error();
    Result<std::string> password = read_credential(options_.credentials_dir, connection, "passwordKey");
    if (!password) return password.error();
    if (!token->empty()) {
      request.headers.emplace_back("Authorization", "Bearer " + *token);
    } else if (!user->empty() || !password->empty()) {
      request.headers.emplace_back("Authorization", "Basic " + base64(*user + ":" + *password));
    }
    Result<FetchResponse> response = fetch(request, options_.fetch, sink);
    if (!response) return response.error();
    if (response->status < 200 || response->status >= 300) {
      return Error{"GET " + url_without_credentials(url) + ": HTTP " + std::to_string(response->status)};
    }
    fetched.declared_type = response->content_type;
    fetched.source.url = url_without_credentials(response->url);
    fetched.source.host = url_host(response->url);
    return fetched;
  }

  static std::string base64(std::string_view text) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < text.size(); i += 3) {
      unsigned n = (static_cast<unsigned char>(text[i]) << 16) | (static_cast<unsigned char>(text[i + 1]) << 8) |
                   static_cast<unsigned char>(text[i + 2]);
      for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
    }
    if (i < text.size()) {
      unsigned n = static_cast<unsigned char>(text[i]) << 16;
      if (i + 1 < text.size()) n |= static_cast<unsigned char>(text[i + 1]) << 8;
      out += kAlphabet[(n >> 18) & 63];
      out += kAlphabet[(n >> 12) & 63];
      out += i + 1 < text.size() ? kAlphabet[(n >> 6) & 63] : '=';
      out += '=';
    }
    return out;
  }

  static std::string object_label(const ImportObject& object) {
    if (object.kind == ImportObject::Kind::kFile) return "file " + object.path;
    return "table " + (object.schema.empty() ? "" : object.schema + ".") + object.name;
  }

  Result<bool> import_object(const ImportObject& object, std::set<std::string>& taken, std::uint64_t& total) {
    const Connection& connection = *options_.datasource.find_connection(object.connection);
    std::string wanted = object.kind == ImportObject::Kind::kTable
                             ? (object.schema.empty() ? "" : object.schema + ".") + object.name + ".csv"
                             : object.path.substr(0, object.path.find('?'));
    std::string name = unique_name(crate_file_name(wanted), taken);
    fs::path path = crate_ / name;
    log("importing " + object_label(object) + " from " + connection.name + " (" + connection.type + ") as " + name);

    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return Error{"creating " + path.string() + ": " + std::strerror(errno)};
    inspect::InspectionOptions inspection;
    inspection.clamd.address = options_.clamd;
    inspection.declared.name = name;
    // As the gateway inspects an upload: beside the fetch, in 256 KiB batches, a table's parser in a second
    // lane (table exports are CSV).
    inspection.side_lane = inspection_.side_lane_function();
    inspect::InspectionPipeline pipeline(inspection);
    inspect::InspectionFeed feed(inspection_, pipeline);
    std::uint64_t bytes = 0;
    ChunkSink sink = [&](std::span<const char> chunk) -> Status {
      bytes += chunk.size();
      if (total + bytes > options_.max_total_bytes) {
        return Error{"the import is over its limit of " + std::to_string(options_.max_total_bytes) + " bytes"};
      }
      if (bytes > options_.fetch.max_bytes) {
        return Error{"the object is over the limit of " + std::to_string(options_.fetch.max_bytes) + " bytes"};
      }
      if (Status written = write_all(fd, chunk, path.string()); !written) return written;
      return feed.update(chunk);
    };
    Result<FetchedObject> fetched = fetch_object(object, connection, sink);
    if (Status drained = feed.drain(); fetched && !drained) fetched = Error{drained.message()};
    Status synced = Status::ok();
    if (fetched && ::fsync(fd) != 0) synced = Error{"syncing " + path.string() + ": " + std::strerror(errno)};
    ::close(fd);
    if (!fetched) return Error{object_label(object) + " (connection " + connection.name + "): " + fetched.message()};
    if (!synced) return Error{synced.message()};
    total += bytes;

    Status inspected = pipeline.finish(path.string());
    runtime::Facts facts = base_facts(connection, fetched->source);
    (void)facts.set("transfer.total_size", Value::integer(static_cast<std::int64_t>(total)));
    (void)facts.set("file.path", Value::string(name));
    pipeline.fill(facts);
    if (!fetched->declared_type.empty()) (void)facts.set("file.declared_type", Value::string(fetched->declared_type));
    runtime::Decision decision = runtime::evaluate(*program_, facts);
    apply_inspection_error(decision, inspected ? "" : inspected.message());

    ImportedFile file;
    file.object = object_label(object);
    file.connection = connection.name;
    file.name = name;
    file.source_url = fetched->source.url;
    file.size = pipeline.report().size;
    file.sha256 = pipeline.report().sha256;
    file.type = pipeline.report().type;
    file.declared_type = fetched->declared_type;
    file.decision = decision;
    log("  " + std::to_string(file.size) + " bytes, " + file.type + ", sha256 " + file.sha256 + ": " +
        std::string(runtime::outcome_name(decision.outcome)) + " (" + decision.reason + ")");
    result_.files.push_back(std::move(file));
    facts_.push_back(std::move(facts));
    inspection_errors_.push_back(inspected ? "" : inspected.message());
    return true;
  }

  ImportResult conclude() {
    result_.policy_set = result_.decision.policy_set;
    result_.finished_at = iso_now();
    std::error_code error;
    fs::path output(options_.output_dir);
    switch (result_.decision.outcome) {
      case runtime::Outcome::kApprove: {
        result_.outcome = ImportOutcome::kApproved;
        if (Status written = write_crate(); !written) return finish_failed(written.message());
        fs::path released = output / kReleasedDirectory;
        if (Status moved = replace_directory(crate_, released, staging_ / "previous"); !moved) {
          return finish_failed(moved.message());
        }
        (void)sync_path(output);
        result_.location = released.string();
        result_.reason = "approved: " + std::to_string(result_.files.size()) + " files released to " + result_.location;
        break;
      }
      case runtime::Outcome::kEscalate: {
        result_.outcome = ImportOutcome::kEscalated;
        if (Status written = write_crate(); !written) return finish_failed(written.message());
        fs::path quarantine = output / kQuarantineDirectory;
        fs::create_directories(quarantine, error);
        fs::path kept = quarantine / result_.run_id;
        fs::rename(crate_, kept, error);
        if (error) return finish_failed("moving the import to " + kept.string() + ": " + error.message());
        (void)sync_path(quarantine);
        result_.location = kept.string();
        result_.reason = "escalated to " + join(result_.decision.reviewers.roles) + ": kept for review in " +
                         result_.location + " (" + result_.decision.reason + ")";
        break;
      }
      case runtime::Outcome::kDeny:
        result_.outcome = ImportOutcome::kDenied;
        result_.reason = "denied: " + result_.decision.reason;
        break;
    }
    fs::remove_all(staging_, error);
    if (error) result_.warnings.push_back("cannot remove " + staging_.string() + ": " + error.message());
    return finish();
  }

  static std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
    return out.empty() ? "reviewers" : out;
  }

  Status write_crate() {
    fs::path path = crate_ / kRoCrateMetadataFile;
    std::string text = ro_crate_metadata(options_.datasource, result_);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return Error{"creating " + path.string() + ": " + std::strerror(errno)};
    Status written = write_all(fd, text, path.string());
    if (written && ::fsync(fd) != 0) written = Error{"syncing " + path.string() + ": " + std::strerror(errno)};
    ::close(fd);
    if (!written) return written;
    return sync_path(crate_);
  }

  ImportResult finish_failed(const std::string& reason) {
    result_.outcome = ImportOutcome::kFailed;
    result_.reason = "failed: " + reason;
    result_.location.clear();
    if (result_.finished_at.empty()) result_.finished_at = iso_now();
    if (!staging_.empty()) {
      std::error_code error;
      fs::remove_all(staging_, error);
    }
    return finish();
  }

  ImportResult finish();

  const ImportOptions& options_;
  ImportResult result_;
  std::shared_ptr<const runtime::Program> program_;
  runtime::Timestamp created_at_;
  fs::path staging_;
  fs::path crate_;
  std::vector<runtime::Facts> facts_;
  std::vector<std::string> inspection_errors_;
  // One thread takes an object's batches, the other the table lane (InspectionOptions::side_lane).
  inspect::InspectionExecutor inspection_{{.threads = 2}};
};

Json decision_json(const runtime::Decision& decision) {
  Json parsed = Json::parse(decision.to_json(), nullptr, false);
  return parsed.is_discarded() ? Json(decision.to_json()) : parsed;
}

std::string report_json(const DataSource& datasource, const ImportResult& result) {
  Json files = Json::array();
  for (const ImportedFile& file : result.files) {
    files.push_back({{"name", file.name},
                     {"object", file.object},
                     {"connection", file.connection},
                     {"source_url", file.source_url},
                     {"size", file.size},
                     {"sha256", file.sha256},
                     {"type", file.type},
                     {"declared_type", file.declared_type},
                     {"outcome", runtime::outcome_name(file.decision.outcome)},
                     {"decision", decision_json(file.decision)}});
  }
  Json report = {
      {"run_id", result.run_id},
      {"channel", "import"},
      {"datasource", {{"namespace", datasource.ns}, {"name", datasource.name}, {"project", datasource.project}}},
      {"outcome", import_outcome_name(result.outcome)},
      {"reason", result.reason},
      {"location", result.location},
      {"policy_set", result.policy_set},
      {"started_at", result.started_at},
      {"finished_at", result.finished_at},
      {"files", files},
      {"warnings", result.warnings}};
  if (result.outcome != ImportOutcome::kFailed) report["decision"] = decision_json(result.decision);
  return report.dump();
}

ImportResult ImportRun::finish() {
  result_.report_json = report_json(options_.datasource, result_);
  if (options_.gateway_url.empty()) return result_;
  std::string token;
  if (!options_.gateway_token_file.empty()) {
    std::ifstream in(options_.gateway_token_file);
    std::getline(in, token);
    if (!in && token.empty()) {
      result_.warnings.push_back("cannot read the gateway token file " + options_.gateway_token_file);
    }
  }
  std::string base = options_.gateway_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  FetchRequest request;
  request.method = "POST";
  request.url = base + "/api/v1/imports";
  request.follow_redirects = false;
  request.headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  request.body = result_.report_json;
  FetchOptions fetch_options = options_.fetch;
  fetch_options.allow_http = true;  // the gateway's in-cluster Service
  fetch_options.total_timeout = std::chrono::seconds(30);
  fetch_options.max_bytes = 1u << 20;
  Result<FetchResponse> response = fetch(request, fetch_options, [](std::span<const char>) { return Status::ok(); });
  std::string warning;
  if (!response) {
    warning = "reporting to the gateway failed: " + response.message();
  } else if (response->status < 200 || response->status >= 300) {
    warning = "the gateway answered the report with HTTP " + std::to_string(response->status);
  }
  if (!warning.empty()) {
    result_.warnings.push_back(warning);
    log("warning: " + warning);
  } else {
    log("reported to " + request.url);
  }
  return result_;
}

}  // namespace

std::string_view import_outcome_name(ImportOutcome outcome) {
  switch (outcome) {
    case ImportOutcome::kApproved: return "approved";
    case ImportOutcome::kEscalated: return "escalated";
    case ImportOutcome::kDenied: return "denied";
    case ImportOutcome::kFailed: return "failed";
  }
  return "failed";
}

int import_exit_code(ImportOutcome outcome) {
  switch (outcome) {
    case ImportOutcome::kApproved: return 0;
    case ImportOutcome::kEscalated: return 3;
    case ImportOutcome::kDenied: return 4;
    case ImportOutcome::kFailed: return 1;
  }
  return 1;
}

runtime::Decision combine_decisions(const std::vector<runtime::Decision>& decisions) {
  runtime::Decision combined;
  if (decisions.empty()) {
    combined.outcome = runtime::Outcome::kEscalate;
    combined.reason = "nothing was judged";
    return combined;
  }
  bool any_deny = false;
  bool any_escalate = false;
  std::set<std::string> roles;
  std::set<std::pair<std::string, std::string>> seen_rules;
  for (const runtime::Decision& decision : decisions) {
    any_deny |= decision.outcome == runtime::Outcome::kDeny;
    any_escalate |= decision.outcome == runtime::Outcome::kEscalate;
    if (combined.policy_set.empty()) combined.policy_set = decision.policy_set;
    for (const runtime::MatchedRule& rule : decision.rules) {
      if (seen_rules.insert({rule.policy, rule.rule}).second) combined.rules.push_back(rule);
    }
    for (const runtime::EvaluationError& error : decision.errors) combined.errors.push_back(error);
    if (decision.outcome == runtime::Outcome::kEscalate) {
      roles.insert(decision.reviewers.roles.begin(), decision.reviewers.roles.end());
      combined.reviewers.approvals = std::max(combined.reviewers.approvals, decision.reviewers.approvals);
    }
  }
  std::sort(combined.rules.begin(), combined.rules.end(),
            [](const auto& a, const auto& b) { return std::tie(a.policy, a.rule) < std::tie(b.policy, b.rule); });
  combined.outcome = any_deny       ? runtime::Outcome::kDeny
                     : any_escalate ? runtime::Outcome::kEscalate
                                    : runtime::Outcome::kApprove;
  if (combined.outcome == runtime::Outcome::kEscalate) {
    combined.reviewers.roles.assign(roles.begin(), roles.end());
  } else {
    combined.reviewers = {};
  }
  // The reason of the first file with the deciding outcome.
  for (const runtime::Decision& decision : decisions) {
    if (decision.outcome == combined.outcome) {
      combined.reason = decision.reason;
      break;
    }
  }
  return combined;
}

namespace {
// A run id names a directory: only 32 lower-case hex characters, so it can never be a path.
bool is_run_id(const std::string& run_id) {
  return run_id.size() == 32 && std::all_of(run_id.begin(), run_id.end(),
                                            [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
}  // namespace

Status release_quarantined(const std::string& output_dir, const std::string& run_id) {
  if (!is_run_id(run_id)) return Error{"the run id must be 32 lower-case hex characters"};
  const fs::path output(output_dir);
  const fs::path kept = output / kQuarantineDirectory / run_id;
  const fs::path released = output / kReleasedDirectory;
  std::error_code error;
  if (!fs::is_directory(kept, error)) {
    std::ifstream crate(released / "ro-crate-metadata.json");
    std::ostringstream text;
    text << crate.rdbuf();
    if (crate && text.str().find("#import-" + run_id) != std::string::npos) return Status::ok();  // done before
    return Error{"nothing to release: " + kept.string() + " does not exist"};
  }
  const fs::path staging = output / ".airlock-staging" / run_id;
  fs::create_directories(staging, error);
  if (error) return Error{"creating " + staging.string() + ": " + error.message()};
  if (Status moved = replace_directory(kept, released, staging / "previous"); !moved) return moved;
  (void)sync_path(output);
  fs::remove_all(staging, error);
  return Status::ok();
}

Status discard_quarantined(const std::string& output_dir, const std::string& run_id) {
  if (!is_run_id(run_id)) return Error{"the run id must be 32 lower-case hex characters"};
  const fs::path quarantine = fs::path(output_dir) / kQuarantineDirectory;
  const fs::path kept = quarantine / run_id;
  // Renamed aside first, so a run half deleted by an interrupted Job is never taken for a whole one; a rerun
  // finishes deleting what an interrupted one left aside.
  const fs::path doomed = quarantine / (".discarding-" + run_id);
  std::error_code error;
  const bool kept_exists = fs::exists(fs::symlink_status(kept, error));
  const bool doomed_exists = fs::exists(fs::symlink_status(doomed, error));
  if (!kept_exists && !doomed_exists) return Status::ok();  // discarded before
  if (kept_exists && !doomed_exists) {
    fs::rename(kept, doomed, error);
    if (error) return Error{"moving " + kept.string() + " aside: " + error.message()};
    (void)sync_path(quarantine);
  }
  for (const fs::path& path : {doomed, kept}) {
    fs::remove_all(path, error);
    if (error) return Error{"deleting " + path.string() + ": " + error.message()};
  }
  (void)sync_path(quarantine);
  return Status::ok();
}

ImportResult run_import(const ImportOptions& options) {
  ImportRun run(options);
  return run.run();
}

}  // namespace airlock::gateway::import
