// Previews of a transfer's bytes for its reviewers: the first rows of a table, the first lines of a text, the
// entries of an archive (from its headers only). Bounded: at most PreviewLimits::max_bytes are read from the
// file, whatever its size. The result is JSON data; nothing is ever rendered as HTML.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::gateway::server {

struct PreviewLimits {
  std::uint64_t max_bytes = 64u << 10;  // read from the file at most (for an archive: its headers)
  std::size_t max_rows = 20;            // data rows of a table, after its header
  std::size_t max_lines = 50;
  std::size_t max_entries = 200;
  std::size_t max_cell_bytes = 1024;  // a longer cell or line is cut (and the preview marked truncated)
};

// What the file is, as far as the preview is concerned: from the sniffed type (facts' file.type), the declared
// type and the file name's extension.
enum class PreviewKind : std::uint8_t { kTable, kText, kArchive, kNone };
PreviewKind preview_kind(std::string_view sniffed_type, std::string_view declared_type, std::string_view filename,
                         std::string_view head);

// {"kind", "truncated", "header", "rows", "lines", "entries", "note"} (docs/api.md "Reviews"). `path` is the
// stored file; `stored_bytes` how many of its bytes count (an unfinished upload's durable offset).
nlohmann::ordered_json preview_file(const std::string& path, std::uint64_t stored_bytes, std::string_view sniffed_type,
                                    std::string_view declared_type, std::string_view filename,
                                    const PreviewLimits& limits = {});

// RFC 4180 rows of `text` (quotes, doubled quotes, CRLF, newlines in quotes) with `delimiter`, at most
// `max_rows` rows. `complete` says whether `text` is the whole file: when it is not, a last row that may be cut
// is dropped. Sets `more` when rows were left out.
std::vector<std::vector<std::string>> split_delimited(std::string_view text, char delimiter, std::size_t max_rows,
                                                      bool complete, bool& more);

}  // namespace airlock::gateway::server
