#include "airlock/gateway/inspect/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

namespace airlock::gateway::inspect {
namespace {

// The file behind libarchive's read callbacks: positioned reads into one reusable buffer.
struct Source {
  int fd = -1;
  std::int64_t size = 0;
  std::int64_t position = 0;
  std::vector<char> buffer;
};

la_ssize_t read_callback(struct archive* archive, void* data, const void** block) {
  auto* source = static_cast<Source*>(data);
  while (true) {
    ssize_t n = ::pread(source->fd, source->buffer.data(), source->buffer.size(), source->position);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      archive_set_error(archive, errno, "read failed: %s", std::strerror(errno));
      return -1;
    }
    source->position += n;
    *block = source->buffer.data();
    return n;
  }
}

la_int64_t skip_callback(struct archive*, void* data, la_int64_t request) {
  auto* source = static_cast<Source*>(data);
  la_int64_t skipped = std::max<la_int64_t>(0, std::min(request, source->size - source->position));
  source->position += skipped;
  return skipped;
}

la_int64_t seek_callback(struct archive*, void* data, la_int64_t offset, int whence) {
  auto* source = static_cast<Source*>(data);
  la_int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? source->position : source->size;
  la_int64_t target = base + offset;
  if (target < 0) return ARCHIVE_FATAL;
  source->position = target;
  return target;
}

struct ArchiveDeleter {
  void operator()(struct archive* archive) const { archive_read_free(archive); }
};

struct FileCloser {
  int fd;
  ~FileCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Entry names become fact strings, which must be UTF-8: invalid bytes become U+FFFD.
std::string valid_utf8(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  std::size_t i = 0;
  while (i < text.size() && out.size() < max_bytes) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) ok = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
    if (ok && c >= 0x20 && c != 0x7F) {
      out.append(text.substr(i, length));
      i += length;
    } else if (ok && c < 0x80) {  // control characters would hide in a reviewer's listing
      out.append("\xEF\xBF\xBD");
      i += 1;
    } else {
      out.append("\xEF\xBF\xBD");
      i += ok ? length : 1;
    }
  }
  return out;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool has_archive_extension(std::string_view name) {
  static constexpr std::array<std::string_view, 16> kExtensions = {".zip", ".tar",  ".gz",   ".tgz", ".7z",  ".rar",
                                                                   ".bz2", ".tbz",  ".tbz2", ".xz",  ".txz", ".zst",
                                                                   ".lz",  ".lzma", ".cab",  ".z"};
  const std::string lower = lower_ascii(name);
  return std::any_of(kExtensions.begin(), kExtensions.end(), [&](std::string_view e) { return lower.ends_with(e); });
}

bool starts_like_archive(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  using namespace std::string_view_literals;
  return starts("PK\x03\x04"sv) || starts("PK\x05\x06"sv) || starts("\x1f\x8b"sv) || starts("BZh"sv) ||
         starts(
             "\xFD"
             "7zXZ\x00"sv) ||
         starts("7z\xBC\xAF\x27\x1C"sv) || starts("Rar!\x1A\x07"sv) || starts("\x28\xB5\x2F\xFD"sv) ||
         (head.size() >= 262 && head.substr(257, 5) == "ustar");
}

ArchiveReport inspect_archive(const std::string& path, std::string_view raw_name, const ArchiveLimits& limits) {
  ArchiveReport report;
  Source source;
  source.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FileCloser closer{source.fd};
  if (source.fd < 0) {
    report.error = "cannot open " + path + ": " + std::strerror(errno);
    return report;
  }
  struct stat info {};
  if (::fstat(source.fd, &info) != 0) {
    report.error = "cannot stat " + path + ": " + std::strerror(errno);
    return report;
  }
  source.size = info.st_size;
  source.buffer.resize(limits.read_buffer_bytes);
  report.compressed_size = static_cast<std::uint64_t>(info.st_size);

  std::unique_ptr<struct archive, ArchiveDeleter> archive(archive_read_new());
  struct archive* a = archive.get();
  // Only the formats and filters we judge, and no filter that runs an external program.
  archive_read_support_format_zip(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  archive_read_support_format_raw(a);  // a bare .gz file: one entry
  archive_read_support_filter_gzip(a);
  archive_read_set_read_callback(a, read_callback);
  archive_read_set_skip_callback(a, skip_callback);
  archive_read_set_seek_callback(a, seek_callback);  // lets the zip reader use the central directory
  archive_read_set_callback_data(a, &source);
  if (archive_read_open1(a) != ARCHIVE_OK) {
    report.error = std::string("not a readable archive: ") + archive_error_string(a);
    return report;
  }

  const double cap_by_ratio =
      limits.max_ratio * static_cast<double>(std::max<std::uint64_t>(1, report.compressed_size));
  auto over_cap = [&](std::uint64_t total) {
    return total > limits.max_uncompressed_bytes || static_cast<double>(total) > cap_by_ratio;
  };

  struct archive_entry* entry = nullptr;
  while (true) {
    if (static_cast<std::uint64_t>(report.entries) >= limits.max_entries) {
      report.capped = true;
      break;
    }
    int status = archive_read_next_header(a, &entry);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) {
      report.error = std::string("cannot read entry ") + std::to_string(report.entries + 1) + ": " +
                     (archive_error_string(a) ? archive_error_string(a) : "unknown error");
      break;
    }
    ++report.entries;
    if (report.format.empty() && archive_format_name(a) != nullptr) report.format = archive_format_name(a);
    const bool raw = archive_format(a) == ARCHIVE_FORMAT_RAW;

    std::string name;
    if (raw) {
      name = std::string(raw_name.empty() ? "data" : raw_name);
    } else {
      const char* utf8 = archive_entry_pathname_utf8(entry);
      const char* bytes = utf8 != nullptr ? utf8 : archive_entry_pathname(entry);
      name = bytes != nullptr ? bytes : "";
    }
    name = valid_utf8(name, limits.max_name_bytes);
    if (archive_entry_filetype(entry) == AE_IFDIR && !name.ends_with("/")) name.push_back('/');
    const bool is_directory = name.ends_with("/");
    if (report.entry_names.size() < limits.max_entry_names) {
      report.entry_names.push_back(name);
    } else {
      report.names_truncated = true;
    }
    bool nested = !is_directory && has_archive_extension(name);

    if (archive_entry_is_encrypted(entry)) {
      // Its content cannot be read without the password; count what the header claims.
      report.encrypted = true;
      if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
        report.uncompressed_size += static_cast<std::uint64_t>(archive_entry_size(entry));
      }
      if (nested) ++report.nested_archives;
      if (over_cap(report.uncompressed_size)) {
        report.capped = true;
        break;
      }
      continue;  // archive_read_next_header skips the data
    }

    // Measure by decompressing into libarchive's own block and discarding it; stop at the cap.
    std::uint64_t entry_size = 0;
    bool first_block = true;
    while (true) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int data_status = archive_read_data_block(a, &block, &size, &offset);
      if (data_status == ARCHIVE_EOF) break;
      if (data_status < ARCHIVE_WARN) {
        report.error =
            "cannot read " + name + ": " + (archive_error_string(a) ? archive_error_string(a) : "unknown error");
        break;
      }
      if (first_block && size > 0) {
        first_block = false;
        if (!is_directory && offset == 0 &&
            starts_like_archive(std::string_view(static_cast<const char*>(block), size))) {
          nested = true;
        }
      }
      // Sparse entries expand to their logical size when unpacked, holes included.
      entry_size = std::max<std::uint64_t>(entry_size, static_cast<std::uint64_t>(offset) + size);
      if (over_cap(report.uncompressed_size + entry_size)) {
        report.capped = true;
        break;
      }
    }
    report.uncompressed_size += entry_size;
    if (nested) ++report.nested_archives;
    if (!report.error.empty() || report.capped) break;
  }
  if (archive_read_has_encrypted_entries(a) > 0) report.encrypted = true;
  if (report.compressed_size > 0) {
    report.compression_ratio =
        static_cast<double>(report.uncompressed_size) / static_cast<double>(report.compressed_size);
  }
  return report;
}

}  // namespace airlock::gateway::inspect
