// The streaming inspection of one file: every inspector fed chunk by chunk, none holding the file.
// Fills the file, archive, scan, content and table facts of LANGUAGE.md. See gateway/README.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "airlock/gateway/inspect/archive.h"
#include "airlock/gateway/inspect/clamd.h"
#include "airlock/gateway/inspect/identifiers.h"
#include "airlock/gateway/inspect/table.h"
#include "airlock/runtime/facts.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway::inspect {

struct InspectionLimits {
  // The prefix buffered for type sniffing (libmagic) and text detection.
  std::size_t sniff_bytes = 64u << 10;
  TableLimits table;
  ArchiveLimits archive;
};

// What the client said about the file before sending it.
struct DeclaredFile {
  std::string name;                   // "cohort.csv"; gives file.name and file.extension
  std::string type;                   // the declared MIME type (file.declared_type)
  std::optional<std::uint64_t> size;  // the declared length; more bytes than this is an error
};

// A lane of work beside its caller's: each piece runs after the one posted before it, perhaps on another
// thread, while the caller goes on (InspectionExecutor::side_lane()). Destroying a lane waits for its work.
class SideLane {
 public:
  virtual ~SideLane() = default;
  // Queues `work`. Waits first while the lane holds as many pieces as its depth (queued or running), and may
  // then run the oldest on the caller.
  virtual void post(std::function<void()> work) = 0;
  // Returns once every piece posted has run.
  virtual void wait() = 0;
};
// Makes a lane that holds at most `depth` pieces; or returns null when no lane may be opened now, and the
// pipeline runs that inspector on its caller (and asks again at a later chunk).
using MakeSideLane = std::function<std::unique_ptr<SideLane>(std::size_t depth)>;

struct InspectionOptions {
  InspectionLimits limits;
  ClamdOptions clamd;  // address empty: scan.result is "skipped"
  DeclaredFile declared;
  // With it, content inspectors run in lanes of their own beside the hash, on the chunks (a few at a time,
  // shared by the lanes: copies, or the buffers given to update() to keep): up to `side_lanes` of them, a
  // table's parser first, then the identifier scanner. With one, a table's scanner runs after its parser in
  // the parser's lane, and another text's scanner in the lane alone. Empty: every inspector runs on the caller.
  MakeSideLane side_lane;
  std::size_t side_lanes = 1;
};

// Everything the inspectors found, in plain C++ (fill() turns it into facts).
struct InspectionReport {
  std::uint64_t size = 0;
  std::string sha256;    // lower-case hex, after finish()
  std::string type;      // MIME type sniffed from the content
  std::string encoding;  // libmagic's charset ("us-ascii", "utf-8", "binary")
  bool text = false;
  IdentifierCounts identifiers;
  TableStats table;  // table.is_table false when the file is not CSV/TSV or did not parse
  bool is_archive = false;
  ArchiveReport archive;
  ScanReport scan;
};

class InspectionPipeline {
 public:
  explicit InspectionPipeline(InspectionOptions options);
  ~InspectionPipeline();
  InspectionPipeline(InspectionPipeline&&) noexcept;
  InspectionPipeline& operator=(InspectionPipeline&&) noexcept;

  // Feeds the next bytes of the file to every inspector. Errors: more bytes than declared, or a call
  // after finish(). No allocation per chunk once the sniffing prefix is full.
  runtime::Status update(std::span<const char> chunk);
  // update() of the `size` bytes of `buffer` from `offset`, for a caller that lets the buffer go: when side
  // lanes read the chunk and it has at least kKeepBytes, the pipeline keeps `buffer` for them rather than copy
  // it, and `buffer` comes back as another one (a buffer the lanes are done with, or an empty one) whose
  // contents are unspecified. Otherwise `buffer` stays as it is. A buffer kept is only read, and freed when the
  // lanes end (pause(), finish(), or the pipeline's end).
  runtime::Status update(std::vector<char>& buffer, std::size_t offset, std::size_t size);
  // Copying a chunk this large for the side lanes costs more than keeping its buffer (the 1 MiB chunks the
  // gateway reads for its fastest uploads). Smaller ones (the 256 KiB chunks of many concurrent uploads) are
  // copied: their buffers then go back to their reader at once, and fewer of them circulate.
  static constexpr std::size_t kKeepBytes = 512u << 10;
  // Lets go of what the pipeline holds only while bytes stream in (its side lanes, once they have read their
  // chunks, and those chunks: copies and kept buffers), as between two requests of an upload that may pause
  // for long; the lanes are then free for other uploads. The next update() takes them again.
  void pause();

  // Sets the facts already known, for early decisions: file.name, file.extension, file.declared_type,
  // file.size (the declared size when there is one, else the bytes so far) and, once any byte has
  // arrived, file.type sniffed from the prefix received so far.
  void facts_so_far(runtime::Facts& facts);

  // Completes every inspector. Archives are read back from `quarantine_path` (the file as stored),
  // streaming and bounded. An error (an unreadable archive, a missing file) still leaves every other
  // fact measured; callers must not approve a file whose inspection failed.
  runtime::Status finish(const std::string& quarantine_path);

  // Sets every fact the inspection knows (after finish()).
  void fill(runtime::Facts& facts) const;

  const InspectionReport& report() const;
  std::uint64_t bytes_received() const;

 private:
  struct State;
  // update() of `chunk`, which `owner` holds when the caller lets it go (see above).
  runtime::Status update_chunk(std::span<const char> chunk, std::vector<char>* owner);
  std::unique_ptr<State> state_;
};

// "Cohort.CSV" -> "csv"; "archive.tar.gz" -> "gz"; "README" and ".bashrc" -> "".
std::string file_extension(std::string_view name);

}  // namespace airlock::gateway::inspect
