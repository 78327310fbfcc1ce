// Archive listing and measurement (zip, tar, gzip) over a file on disk, streaming and bounded: a zip bomb
// is measured up to a cap, never expanded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::gateway::inspect {

struct ArchiveLimits {
  // Decompression stops once the entries' total size passes this many bytes...
  std::uint64_t max_uncompressed_bytes = 10ull << 30;
  // ...or once it passes this multiple of the archive's own size.
  double max_ratio = 1000.0;
  // Entries beyond this many are not read (the count stops there too).
  std::uint64_t max_entries = 1'000'000;
  // archive.entry_names holds at most this many names, each at most max_name_bytes long.
  std::size_t max_entry_names = 10'000;
  std::size_t max_name_bytes = 4096;
  std::size_t read_buffer_bytes = 64u << 10;
};

struct ArchiveReport {
  std::string format;  // libarchive's name for it, e.g. "ZIP 2.0 (deflation)", "GNU tar format"
  std::int64_t entries = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t compressed_size = 0;  // the archive file's size
  double compression_ratio = 0.0;     // uncompressed_size / compressed_size
  std::int64_t nested_archives = 0;
  bool encrypted = false;
  std::vector<std::string> entry_names;  // directories end with '/'
  // A cap stopped the measurement: uncompressed_size and the ratio are lower bounds (past the cap).
  bool capped = false;
  bool names_truncated = false;
  std::string error;  // non-empty when the archive could not be read to its end
};

// Reads the archive at `path`. `raw_name` names the single entry of a bare gzip file (its own name
// without ".gz"). Never throws; problems are in `error`, with what was measured before them.
ArchiveReport inspect_archive(const std::string& path, std::string_view raw_name, const ArchiveLimits& limits = {});

// True for names that look like archives (.zip, .tar, .gz, .tgz, .7z, .rar, .bz2, .xz, ...).
bool has_archive_extension(std::string_view name);
// True when the first bytes of some content are those of an archive or compressed file.
bool starts_like_archive(std::string_view head);

}  // namespace airlock::gateway::inspect
