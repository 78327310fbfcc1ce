#include "preview.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

#include "airlock/gateway/inspect/archive.h"

namespace airlock::gateway::server {
namespace {

constexpr std::string_view kTableTypes[] = {"text/csv", "text/tab-separated-values", "application/csv"};
constexpr std::string_view kArchiveTypes[] = {
    "application/zip",     "application/x-tar", "application/gzip", "application/x-gzip", "application/x-7z-compressed",
    "application/x-bzip2", "application/x-xz"};
constexpr std::string_view kTextTypes[] = {"application/json", "application/x-ndjson", "application/xml",
                                           "application/x-yaml", "application/yaml"};
// libarchive asks for small blocks, so a zip's entry headers cost little of the byte budget.
constexpr std::size_t kArchiveBlock = 256;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string extension_of(std::string_view filename) {
  std::size_t dot = filename.find_last_of('.');
  if (dot == std::string_view::npos || dot + 1 == filename.size()) return "";
  return lower(filename.substr(dot + 1));
}

template <std::size_t N>
bool one_of(std::string_view value, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), value) != std::end(list);
}

// Cuts a cell or line to `limit` bytes without splitting a UTF-8 sequence.
std::string clip(std::string_view text, std::size_t limit, bool& truncated) {
  if (text.size() <= limit) return std::string(text);
  truncated = true;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "…";
}

struct Bytes {
  std::string data;
  bool whole = true;  // the file ends within the bytes read
  std::string error;
};

Bytes read_head(const std::string& path, std::uint64_t stored_bytes, std::uint64_t max_bytes) {
  Bytes bytes;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    bytes.error = std::strerror(errno);
    return bytes;
  }
  struct stat info {};
  std::uint64_t size = 0;
  if (::fstat(fd, &info) == 0) size = static_cast<std::uint64_t>(info.st_size);
  size = std::min(size, stored_bytes);
  std::uint64_t want = std::min(size, max_bytes);
  bytes.data.resize(static_cast<std::size_t>(want));
  std::size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(fd, bytes.data.data() + got, static_cast<std::size_t>(want) - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  bytes.data.resize(got);
  bytes.whole = got == size;
  return bytes;
}

// The archive behind libarchive's callbacks: reads in small blocks, counted against the budget.
struct BudgetSource {
  int fd = -1;
  std::int64_t size = 0;
  std::int64_t position = 0;
  std::uint64_t budget = 0;
  std::uint64_t read = 0;
  bool exhausted = false;
  char block[kArchiveBlock];
};

la_ssize_t budget_read(struct archive* archive, void* data, const void** block) {
  auto* source = static_cast<BudgetSource*>(data);
  if (source->read >= source->budget) {
    source->exhausted = source->position < source->size;
    return 0;
  }
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kArchiveBlock, source->budget - source->read));
  while (true) {
    ssize_t n = ::pread(source->fd, source->block, want, source->position);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      archive_set_error(archive, errno, "read failed: %s", std::strerror(errno));
      return -1;
    }
    source->position += n;
    source->read += static_cast<std::uint64_t>(n);
    *block = source->block;
    return n;
  }
}

la_int64_t budget_skip(struct archive*, void* data, la_int64_t request) {
  auto* source = static_cast<BudgetSource*>(data);
  la_int64_t skipped = std::max<la_int64_t>(0, std::min(request, source->size - source->position));
  source->position += skipped;
  return skipped;
}

la_int64_t budget_seek(struct archive*, void* data, la_int64_t offset, int whence) {
  auto* source = static_cast<BudgetSource*>(data);
  la_int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? source->position : source->size;
  la_int64_t target = base + offset;
  if (target < 0) return ARCHIVE_FATAL;
  source->position = target;
  return target;
}

struct ArchiveFree {
  void operator()(struct archive* archive) const { archive_read_free(archive); }
};

void list_archive(const std::string& path, std::uint64_t stored_bytes, const PreviewLimits& limits,
                  nlohmann::ordered_json& out) {
  BudgetSource source;
  source.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (source.fd < 0) {
    out["kind"] = "none";
    out["note"] = "the stored bytes cannot be read";
    return;
  }
  struct stat info {};
  if (::fstat(source.fd, &info) == 0) {
    source.size = static_cast<std::int64_t>(
        std::min<std::uint64_t>(static_cast<std::uint64_t>(info.st_size),
                                std::min<std::uint64_t>(stored_bytes, std::numeric_limits<std::int64_t>::max())));
  }
  source.budget = limits.max_bytes;
  std::unique_ptr<struct archive, ArchiveFree> archive(archive_read_new());
  archive_read_support_filter_all(archive.get());
  archive_read_support_format_all(archive.get());
  archive_read_set_read_callback(archive.get(), budget_read);
  archive_read_set_skip_callback(archive.get(), budget_skip);
  archive_read_set_seek_callback(archive.get(), budget_seek);
  archive_read_set_callback_data(archive.get(), &source);
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  bool truncated = false;
  std::string note;
  if (archive_read_open1(archive.get()) != ARCHIVE_OK) {
    out["kind"] = "none";
    out["note"] = "not an archive this preview can list (" +
                  std::string(archive_error_string(archive.get()) != nullptr ? archive_error_string(archive.get())
                                                                             : "unknown format") +
                  ")";
    ::close(source.fd);
    return;
  }
  struct archive_entry* entry = nullptr;
  while (true) {
    if (entries.size() >= limits.max_entries) {
      truncated = true;
      note = "the first " + std::to_string(limits.max_entries) + " entries";
      break;
    }
    int rc = archive_read_next_header(archive.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      truncated = true;
      note =
          source.exhausted
              ? "the listing stopped after reading " + std::to_string(limits.max_bytes / 1024) + " KiB of the archive"
              : "the archive could not be read to its end (" +
                    std::string(archive_error_string(archive.get()) != nullptr ? archive_error_string(archive.get())
                                                                               : "error") +
                    ")";
      break;
    }
    std::string name = archive_entry_pathname_utf8(entry) != nullptr ? archive_entry_pathname_utf8(entry)
                       : archive_entry_pathname(entry) != nullptr    ? archive_entry_pathname(entry)
                                                                     : "";
    if (archive_entry_filetype(entry) == AE_IFDIR && !name.empty() && name.back() != '/') name += '/';
    bool clipped = false;
    name = clip(name, limits.max_cell_bytes, clipped);
    nlohmann::ordered_json item{{"name", name}};
    item["size"] = archive_entry_size_is_set(entry) != 0 ? nlohmann::ordered_json(archive_entry_size(entry))
                                                         : nlohmann::ordered_json(nullptr);
    item["encrypted"] = archive_entry_is_encrypted(entry) != 0;
    entries.push_back(std::move(item));
    // The entry's data is never read: the next header call skips (or seeks) past it.
  }
  ::close(source.fd);
  out["kind"] = "archive";
  out["truncated"] = truncated;
  out["entries"] = std::move(entries);
  const char* format = archive_format_name(archive.get());
  out["note"] = (format != nullptr ? std::string(format) : std::string("archive")) + (note.empty() ? "" : "; " + note);
}

}  // namespace

std::vector<std::vector<std::string>> split_delimited(std::string_view text, char delimiter, std::size_t max_rows,
                                                      bool complete, bool& more) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool row_has_content = false;
  more = false;
  std::size_t i = 0;
  auto end_row = [&] {
    row.push_back(std::move(field));
    field.clear();
    if (row_has_content || row.size() > 1 || !row.front().empty()) rows.push_back(std::move(row));
    row.clear();
    row_has_content = false;
  };
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = true;
      row_has_content = true;
    } else if (c == delimiter) {
      row.push_back(std::move(field));
      field.clear();
      row_has_content = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      if (rows.size() == max_rows) {
        ++i;
        break;
      }
    } else {
      field += c;
    }
  }
  if (rows.size() == max_rows) {
    // Anything but blank lines after the last row kept means more rows.
    more = text.find_first_not_of("\r\n", i) != std::string_view::npos || !complete;
    return rows;
  }
  if (!field.empty() || !row.empty() || row_has_content) {
    if (complete && !quoted) {
      end_row();
    } else {
      more = true;  // a row cut by the end of the bytes read
    }
  }
  if (!complete) more = true;
  return rows;
}

PreviewKind preview_kind(std::string_view sniffed_type, std::string_view declared_type, std::string_view filename,
                         std::string_view head) {
  std::string type = lower(sniffed_type);
  std::string declared = lower(declared_type);
  std::string extension = extension_of(filename);
  if (one_of(type, kArchiveTypes) || inspect::starts_like_archive(head)) return PreviewKind::kArchive;
  bool binary = head.find('\0') != std::string_view::npos;
  if (binary) return PreviewKind::kNone;
  if (one_of(type, kTableTypes) || extension == "csv" || extension == "tsv" || extension == "tab" ||
      (type.empty() && one_of(declared, kTableTypes))) {
    return PreviewKind::kTable;
  }
  if (type.starts_with("text/") || one_of(type, kTextTypes) || (type.empty() && declared.starts_with("text/"))) {
    return PreviewKind::kText;
  }
  // Unknown types: text when the bytes look like text.
  return type.empty() || type == "application/octet-stream" ? PreviewKind::kText : PreviewKind::kNone;
}

nlohmann::ordered_json preview_file(const std::string& path, std::uint64_t stored_bytes, std::string_view sniffed_type,
                                    std::string_view declared_type, std::string_view filename,
                                    const PreviewLimits& limits) {
  nlohmann::ordered_json out{{"kind", "none"},
                             {"truncated", false},
                             {"header", nlohmann::ordered_json::array()},
                             {"rows", nlohmann::ordered_json::array()},
                             {"lines", nlohmann::ordered_json::array()},
                             {"entries", nlohmann::ordered_json::array()},
                             {"note", ""}};
  Bytes head = read_head(path, stored_bytes, limits.max_bytes);
  if (!head.error.empty()) {
    out["note"] = "the stored bytes cannot be read";
    return out;
  }
  if (head.data.empty()) {
    out["note"] = "the file is empty";
    return out;
  }
  PreviewKind kind = preview_kind(sniffed_type, declared_type, filename, head.data);
  bool truncated = !head.whole;
  switch (kind) {
    case PreviewKind::kArchive: list_archive(path, stored_bytes, limits, out); return out;
    case PreviewKind::kNone:
      out["note"] =
          "no preview for " + (sniffed_type.empty() ? std::string("binary") : std::string(sniffed_type)) + " files";
      return out;
    case PreviewKind::kTable: {
      std::string extension = extension_of(filename);
      char delimiter =
          lower(sniffed_type) == "text/tab-separated-values" || extension == "tsv" || extension == "tab" ? '\t' : ',';
      std::string_view text = head.data;
      if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte-order mark
      bool more = false;
      std::vector<std::vector<std::string>> rows =
          split_delimited(text, delimiter, limits.max_rows + 1, head.whole, more);
      nlohmann::ordered_json header = nlohmann::ordered_json::array();
      nlohmann::ordered_json body = nlohmann::ordered_json::array();
      for (std::size_t r = 0; r < rows.size(); ++r) {
        nlohmann::ordered_json cells = nlohmann::ordered_json::array();
        for (const std::string& cell : rows[r]) cells.push_back(clip(cell, limits.max_cell_bytes, truncated));
        if (r == 0) {
          header = std::move(cells);
        } else {
          body.push_back(std::move(cells));
        }
      }
      out["kind"] = "table";
      out["truncated"] = truncated || more;
      out["header"] = std::move(header);
      out["rows"] = std::move(body);
      out["note"] = more ? "the first " + std::to_string(out["rows"].size()) + " rows" : "";
      return out;
    }
    case PreviewKind::kText: {
      nlohmann::ordered_json lines = nlohmann::ordered_json::array();
      std::string_view text = head.data;
      std::size_t position = 0;
      bool more = false;
      while (position < text.size()) {
        if (lines.size() == limits.max_lines) {
          more = true;
          break;
        }
        std::size_t end = text.find('\n', position);
        if (end == std::string_view::npos && !head.whole) {
          more = true;  // the last line may be cut: left out
          break;
        }
        std::string_view line =
            text.substr(position, end == std::string_view::npos ? std::string_view::npos : end - position);
        if (line.ends_with('\r')) line.remove_suffix(1);
        lines.push_back(clip(line, limits.max_cell_bytes, truncated));
        if (end == std::string_view::npos) break;
        position = end + 1;
      }
      out["kind"] = "text";
      out["truncated"] = truncated || more;
      out["lines"] = std::move(lines);
      out["note"] = more ? "the first " + std::to_string(out["lines"].size()) + " lines" : "";
      return out;
    }
  }
  return out;
}

}  // namespace airlock::gateway::server
