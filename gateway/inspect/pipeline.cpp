#include "airlock/gateway/inspect/pipeline.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "sniff.h"

namespace airlock::gateway::inspect {
namespace {

using runtime::Error;
using runtime::FactSlot;
using runtime::Status;
using runtime::Value;

constexpr std::array<std::string_view, 5> kArchiveTypes = {"application/zip", "application/x-tar", "application/gzip",
                                                           "application/x-gzip", "application/x-zip-compressed"};

// Fact slots, resolved once per schema.
struct Slots {
  std::optional<FactSlot> name, extension, size, sha256, type, declared_type;
  std::optional<FactSlot> is_archive, encrypted, entries, uncompressed_size, nested_archives, compression_ratio,
      entry_names;
  std::optional<FactSlot> scan_result, scan_signature, scan_engine;
  std::optional<FactSlot> text, nhs_numbers, postcodes, emails, phone_numbers, dates_of_birth;
  std::optional<FactSlot> is_table, rows, columns, column_names, identifier_columns, min_count, zero_cells;

  explicit Slots(const runtime::FactSchema& schema)
      : name(schema.find("file.name")),
        extension(schema.find("file.extension")),
        size(schema.find("file.size")),
        sha256(schema.find("file.sha256")),
        type(schema.find("file.type")),
        declared_type(schema.find("file.declared_type")),
        is_archive(schema.find("archive.is_archive")),
        encrypted(schema.find("archive.encrypted")),
        entries(schema.find("archive.entries")),
        uncompressed_size(schema.find("archive.uncompressed_size")),
        nested_archives(schema.find("archive.nested_archives")),
        compression_ratio(schema.find("archive.compression_ratio")),
        entry_names(schema.find("archive.entry_names")),
        scan_result(schema.find("scan.result")),
        scan_signature(schema.find("scan.signature")),
        scan_engine(schema.find("scan.engine")),
        text(schema.find("content.text")),
        nhs_numbers(schema.find("content.nhs_numbers")),
        postcodes(schema.find("content.postcodes")),
        emails(schema.find("content.emails")),
        phone_numbers(schema.find("content.phone_numbers")),
        dates_of_birth(schema.find("content.dates_of_birth")),
        is_table(schema.find("table.is_table")),
        rows(schema.find("table.rows")),
        columns(schema.find("table.columns")),
        column_names(schema.find("table.column_names")),
        identifier_columns(schema.find("table.identifier_columns")),
        min_count(schema.find("table.min_count")),
        zero_cells(schema.find("table.zero_cells")) {}
};

void put(runtime::Facts& facts, const std::optional<FactSlot>& slot, Value value) {
  if (slot) facts.set(*slot, std::move(value));
}

Value integer(std::uint64_t n) {
  return Value::integer(static_cast<std::int64_t>(std::min<std::uint64_t>(n, INT64_MAX)));
}

Value string_list(const std::vector<std::string>& strings) {
  runtime::List items;
  items.reserve(strings.size());
  for (const auto& s : strings) items.push_back(Value::string(s));
  return Value::list(std::move(items));
}

// Chunks at least this large are worth copying for the side lanes (InspectionOptions::side_lane).
constexpr std::size_t kParallelChunkBytes = 32u << 10;
// Chunks a side lane may hold, queued or being inspected. With one more buffer than this, the buffer the next
// chunk is copied into is the one of a chunk every lane is done with. More lets the lanes drift further apart.
constexpr std::size_t kLaneDepth = 2;

struct DigestDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

}  // namespace

std::string file_extension(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return "";
  std::string extension(name.substr(dot + 1));
  for (char& c : extension) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return extension;
}

struct InspectionPipeline::State {
  explicit State(InspectionOptions o)
      : options(std::move(o)),
        extension(file_extension(options.declared.name)),
        slots(runtime::FactSchema::standard()),
        digest(EVP_MD_CTX_new()),
        clamd(options.clamd) {
    prefix.reserve(options.limits.sniff_bytes);
    if (digest) EVP_DigestInit_ex(digest.get(), EVP_sha256(), nullptr);
  }

  void feed_content(std::span<const char> data) {
    // The chunks before go first.
    if (identifier_lane) identifier_lane->wait();
    if (table_lane) table_lane->wait();
    if (identifiers) identifiers->update(data);
    if (table) table->update(data);
  }

  // Waits for the side lanes and frees them and their copies.
  void end_lanes() {
    table_lane.reset();  // waits for the chunks posted to it
    identifier_lane.reset();
    for (LaneChunk& place : lane_chunks) {
      std::vector<char>().swap(place.kept);
      std::vector<char>().swap(place.copy);
    }
  }

  // Opens the side lanes that the content inspectors run in, where the executor gives one: a busy gateway may
  // not (InspectionExecutorOptions::max_side_lanes), and then that inspector runs on the caller, until a lane is
  // free at a later chunk. Returns whether any lane is open.
  bool open_lanes() {
    if (table_beside && !table_lane) table_lane = options.side_lane(kLaneDepth);
    if (identifiers_beside && !identifier_lane) identifier_lane = options.side_lane(kLaneDepth);
    return table_lane || identifier_lane;
  }

  // Runs on the caller the content inspectors that have no lane open, beside those that have one.
  void feed_content_without_lane(std::span<const char> chunk) {
    if (table && !table_lane) table->update(chunk);
    const bool identifiers_in_lane = identifier_lane || (identifiers_with_table && table_lane);
    if (identifiers && !identifiers_in_lane) identifiers->update(chunk);
  }

  // Posts `chunk` to the open side lanes (open_lanes()): a copy, or, with `owner` (the buffer that holds it)
  // and kKeepBytes or more, the buffer itself, for which `owner` becomes the buffer kept at the same place,
  // kLaneDepth + 1 chunks ago or earlier. A lane holds at most kLaneDepth chunks, queued or being read, so they are
  // done with it.
  void post_beside(std::span<const char> chunk, std::vector<char>* owner) {
    const std::size_t turn = lane_turn++ % lane_chunks.size();
    std::span<const char> beside;
    LaneChunk& place = lane_chunks[turn];
    if (owner != nullptr && chunk.size() >= kKeepBytes) {
      std::swap(place.kept, *owner);  // the bytes stay where they are: `chunk` still points at them
      beside = chunk;
    } else {
      // Beside the kept buffer, which is never written: its owner may still be writing it to disk
      // (InspectionFeed::hand_over()). It goes back at the place's next hand-over.
      place.copy.assign(chunk.begin(), chunk.end());
      beside = place.copy;
    }
    if (table_lane) {
      table_lane->post([this, beside] {
        table->update(beside);
        if (identifiers_with_table) identifiers->update(beside);
      });
    }
    if (identifier_lane) identifier_lane->post([this, beside] { identifiers->update(beside); });
  }

  TypeSniffer& type_sniffer() {
    if (!sniffer) sniffer = std::make_unique<TypeSniffer>();
    return *sniffer;
  }

  // The prefix is complete: sniff it, decide which content inspectors apply, and feed them the prefix.
  void complete_prefix() {
    prefix_done = true;
    type_sniffer().sniff(prefix, report.type, report.encoding);
    sniffer.reset();  // libmagic's database is large: hold it only while the prefix arrives
    report.text = looks_like_text(prefix, report.encoding);
    if (report.text) {
      if (extension == "csv" || (report.type == "text/csv" && extension != "tsv" && extension != "tab")) {
        delimiter = ',';
      } else if (extension == "tsv" || extension == "tab" || report.type == "text/tab-separated-values") {
        delimiter = '\t';
      }
      if (delimiter != 0) table.emplace(delimiter, options.limits.table);
      identifiers.emplace(/*dates_by_label=*/!table);
      if (options.side_lane) {
        table_beside = table && options.side_lanes >= 1;
        identifiers_beside = options.side_lanes >= (table ? 2u : 1u);
        // With one side lane the hash alone costs about what the parser and the scanner cost together.
        identifiers_with_table = table_beside && !identifiers_beside;
      }
      feed_content(prefix);
    }
  }

  const std::string& provisional_type() {
    if (prefix_done) return report.type;
    if (prefix.size() != provisional_length) {
      std::string encoding;
      type_sniffer().sniff(prefix, provisional, encoding);
      provisional_length = prefix.size();
    }
    return provisional;
  }

  const Slots& slots_for(const runtime::FactSchema& schema) {
    if (&schema == &runtime::FactSchema::standard()) return slots;
    other_slots.emplace(schema);
    return *other_slots;
  }

  InspectionOptions options;
  std::string extension;
  Slots slots;
  std::optional<Slots> other_slots;
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> digest;
  ClamdStream clamd;
  std::string prefix;
  bool prefix_done = false;
  std::string provisional;
  std::size_t provisional_length = SIZE_MAX;
  std::unique_ptr<TypeSniffer> sniffer;
  char delimiter = 0;
  std::optional<IdentifierScanner> identifiers;
  std::optional<TableInspector> table;
  // Which content inspectors run in side lanes (complete_prefix() decides): the identifier scanner in one of
  // its own, or after the table's parser in the parser's.
  bool table_beside = false;
  bool identifiers_beside = false;
  bool identifiers_with_table = false;
  // The places of the chunks the side lanes read, in turn: each holds the buffer kept from update()'s caller
  // when it last took one, and a copy when it last took one (the lanes read the last taken). Declared before
  // the lanes, which wait for their work when they are destroyed.
  struct LaneChunk {
    std::vector<char> kept;
    std::vector<char> copy;
  };
  std::array<LaneChunk, kLaneDepth + 1> lane_chunks;
  std::size_t lane_turn = 0;
  std::unique_ptr<SideLane> table_lane;
  std::unique_ptr<SideLane> identifier_lane;
  InspectionReport report;
  bool finished = false;
};

InspectionPipeline::InspectionPipeline(InspectionOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}
InspectionPipeline::~InspectionPipeline() = default;
InspectionPipeline::InspectionPipeline(InspectionPipeline&&) noexcept = default;
InspectionPipeline& InspectionPipeline::operator=(InspectionPipeline&&) noexcept = default;

const InspectionReport& InspectionPipeline::report() const { return state_->report; }
std::uint64_t InspectionPipeline::bytes_received() const { return state_->report.size; }

Status InspectionPipeline::update(std::span<const char> chunk) { return update_chunk(chunk, nullptr); }

Status InspectionPipeline::update(std::vector<char>& buffer, std::size_t offset, std::size_t size) {
  offset = std::min(offset, buffer.size());
  size = std::min(size, buffer.size() - offset);
  return update_chunk({buffer.data() + offset, size}, &buffer);
}

Status InspectionPipeline::update_chunk(std::span<const char> chunk, std::vector<char>* owner) {
  State& s = *state_;
  if (s.finished) return Error{"inspection: bytes after the end of the file"};
  const auto& declared = s.options.declared.size;
  if (declared && s.report.size + chunk.size() > *declared) {
    return Error{"inspection: more than the declared " + std::to_string(*declared) + " bytes"};
  }
  s.report.size += chunk.size();
  if (s.prefix_done && (s.table_beside || s.identifiers_beside) && chunk.size() >= kParallelChunkBytes &&
      s.open_lanes()) {
    // Lanes that share nothing: the content inspectors beside, and everything else here. None waits for another
    // at each chunk, only when a side lane is full.
    s.post_beside(chunk, owner);
    if (s.digest) EVP_DigestUpdate(s.digest.get(), chunk.data(), chunk.size());
    s.clamd.update(chunk);
    s.feed_content_without_lane(chunk);
    return Status::ok();
  }
  if (s.digest) EVP_DigestUpdate(s.digest.get(), chunk.data(), chunk.size());
  s.clamd.update(chunk);
  if (!s.prefix_done) {
    std::size_t take = std::min(chunk.size(), s.options.limits.sniff_bytes - s.prefix.size());
    s.prefix.append(chunk.data(), take);
    chunk = chunk.subspan(take);
    if (s.prefix.size() < s.options.limits.sniff_bytes) return Status::ok();
    s.complete_prefix();
  }
  if (!chunk.empty()) s.feed_content(chunk);
  return Status::ok();
}

void InspectionPipeline::pause() { state_->end_lanes(); }

void InspectionPipeline::facts_so_far(runtime::Facts& facts) {
  State& s = *state_;
  const Slots& slots = s.slots_for(facts.schema());
  const DeclaredFile& declared = s.options.declared;
  if (!declared.name.empty()) {
    put(facts, slots.name, Value::string(declared.name));
    put(facts, slots.extension, Value::string(s.extension));
  }
  if (!declared.type.empty()) put(facts, slots.declared_type, Value::string(declared.type));
  if (s.finished) {
    put(facts, slots.size, integer(s.report.size));
  } else {
    put(facts, slots.size, integer(declared.size ? *declared.size : s.report.size));
  }
  if (s.report.size > 0) put(facts, slots.type, Value::string(s.provisional_type()));
}

Status InspectionPipeline::finish(const std::string& quarantine_path) {
  State& s = *state_;
  if (s.finished) return Error{"inspection: finish() called twice"};
  if (!s.prefix_done) s.complete_prefix();
  s.finished = true;
  InspectionReport& report = s.report;
  std::string problems;

  s.end_lanes();
  if (s.identifiers) {
    s.identifiers->finish();
    report.identifiers = s.identifiers->counts();
  }
  if (s.table) {
    s.table->finish();
    report.table = s.table->stats();
    if (report.table.is_table) {
      report.identifiers.dates_of_birth += report.table.dates_of_birth;
      // libmagic calls short or unusual tables text/plain; the parse says what they are.
      if (report.type == "text/plain" && report.table.columns >= 2) {
        report.type = s.delimiter == ',' ? "text/csv" : "text/tab-separated-values";
      }
    }
  }
  if (s.digest) {
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(s.digest.get(), hash, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    report.sha256.resize(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
      report.sha256[2 * i] = kHex[hash[i] >> 4];
      report.sha256[2 * i + 1] = kHex[hash[i] & 0xF];
    }
  }
  report.scan = s.clamd.finish();

  report.is_archive = std::find(kArchiveTypes.begin(), kArchiveTypes.end(), report.type) != kArchiveTypes.end();
  if (report.is_archive) {
    if (quarantine_path.empty()) {
      problems = "inspection: the archive cannot be listed without the stored file";
    } else {
      std::string raw_name = s.options.declared.name;
      auto slash = raw_name.find_last_of("/\\");
      if (slash != std::string::npos) raw_name.erase(0, slash + 1);
      if (s.extension == "gz") {
        raw_name.resize(raw_name.size() - 3);
      } else if (s.extension == "tgz") {
        raw_name.resize(raw_name.size() - 4);
        raw_name += ".tar";
      }
      report.archive = inspect_archive(quarantine_path, raw_name, s.options.limits.archive);
      if (!report.archive.error.empty()) problems = "inspection: archive: " + report.archive.error;
    }
  }
  const auto& declared = s.options.declared.size;
  if (problems.empty() && declared && report.size != *declared) {
    problems =
        "inspection: received " + std::to_string(report.size) + " bytes of the declared " + std::to_string(*declared);
  }
  s.prefix = std::string();  // the sniffing buffer is no longer needed
  if (!problems.empty()) return Error{problems};
  return Status::ok();
}

void InspectionPipeline::fill(runtime::Facts& facts) const {
  State& s = *state_;
  const Slots& slots = s.slots_for(facts.schema());
  const InspectionReport& r = s.report;
  const DeclaredFile& declared = s.options.declared;
  if (!declared.name.empty()) {
    put(facts, slots.name, Value::string(declared.name));
    put(facts, slots.extension, Value::string(s.extension));
  }
  if (!declared.type.empty()) put(facts, slots.declared_type, Value::string(declared.type));
  put(facts, slots.size, integer(r.size));
  if (!s.finished) return;
  put(facts, slots.sha256, Value::string(r.sha256));
  put(facts, slots.type, Value::string(r.type));

  put(facts, slots.scan_result, Value::string(r.scan.result));
  if (!r.scan.signature.empty()) put(facts, slots.scan_signature, Value::string(r.scan.signature));
  if (!r.scan.engine.empty()) put(facts, slots.scan_engine, Value::string(r.scan.engine));

  put(facts, slots.text, Value::boolean(r.text));
  put(facts, slots.nhs_numbers, Value::integer(r.identifiers.nhs_numbers));
  put(facts, slots.postcodes, Value::integer(r.identifiers.postcodes));
  put(facts, slots.emails, Value::integer(r.identifiers.emails));
  put(facts, slots.phone_numbers, Value::integer(r.identifiers.phone_numbers));
  put(facts, slots.dates_of_birth, Value::integer(r.identifiers.dates_of_birth));

  put(facts, slots.is_table, Value::boolean(r.table.is_table));
  if (r.table.is_table) {
    put(facts, slots.rows, Value::integer(r.table.rows));
    put(facts, slots.columns, Value::integer(r.table.columns));
    put(facts, slots.column_names, string_list(r.table.column_names));
    put(facts, slots.identifier_columns, string_list(r.table.identifier_columns));
    put(facts, slots.min_count, Value::integer(r.table.min_count));
    put(facts, slots.zero_cells, Value::integer(r.table.zero_cells));
  }

  put(facts, slots.is_archive, Value::boolean(r.is_archive));
  if (r.is_archive) {
    put(facts, slots.encrypted, Value::boolean(r.archive.encrypted));
    put(facts, slots.entries, Value::integer(r.archive.entries));
    put(facts, slots.uncompressed_size, integer(r.archive.uncompressed_size));
    put(facts, slots.nested_archives, Value::integer(r.archive.nested_archives));
    put(facts, slots.compression_ratio, Value::floating(r.archive.compression_ratio));
    put(facts, slots.entry_names, string_list(r.archive.entry_names));
  }
}

}  // namespace airlock::gateway::inspect
