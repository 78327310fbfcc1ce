#include "io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>

namespace airlock::cli {

std::string plural(std::size_t count, std::string_view singular, std::string_view plural_form) {
  std::string text = std::to_string(count) + " ";
  if (count == 1) return text + std::string(singular);
  return text + (plural_form.empty() ? std::string(singular) + "s" : std::string(plural_form));
}

std::string input_name(const std::string& path) { return path == "-" ? "<stdin>" : path; }

runtime::Result<std::string> read_input(const std::string& path, std::istream& standard_input) {
  if (path == "-") {
    std::ostringstream text;
    text << standard_input.rdbuf();
    if (standard_input.bad()) return runtime::Error{"<stdin>: cannot read standard input"};
    return text.str();
  }
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return runtime::Error{path + ": is a directory, expected a file"};
  std::ifstream file(path, std::ios::binary);
  if (!file) return runtime::Error{path + ": cannot open: " + std::strerror(errno)};
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return runtime::Error{path + ": cannot read: " + std::strerror(errno)};
  return text;
}

DiagnosticCounts print_diagnostics(const std::vector<compiler::Diagnostic>& diagnostics, std::ostream& err) {
  DiagnosticCounts counts;
  for (const compiler::Diagnostic& diagnostic : diagnostics) {
    (diagnostic.severity == compiler::Severity::kError ? counts.errors : counts.warnings) += 1;
    std::string text = diagnostic.render();
    err << text;
    if (text.empty() || text.back() != '\n') err << '\n';
  }
  return counts;
}

std::optional<compiler::CompiledPolicySet> load_policy_set(const std::vector<std::string>& paths, Console& console,
                                                           std::string_view consequence) {
  runtime::Result<std::vector<compiler::SourceFile>> files = compiler::load_policy_files(paths);
  if (!files) {
    console.err << "error: " << files.message() << "\n";
    return std::nullopt;
  }
  compiler::CompiledPolicySet compiled = compiler::compile_policy_set(*files);
  DiagnosticCounts counts = print_diagnostics(compiled.diagnostics, console.err);
  if (!compiled.ok()) {
    console.err << "error: the policy set has " << plural(std::max<std::size_t>(counts.errors, 1), "error") << "; "
                << consequence << "\n";
    return std::nullopt;
  }
  return compiled;
}

runtime::Status write_file_atomically(const std::string& path, std::string_view contents) {
  namespace fs = std::filesystem;
  std::error_code error;
  // Rewrite the file a symbolic link points to, not the link.
  fs::path target = fs::canonical(path, error);
  if (error) return runtime::Error{path + ": " + error.message()};
  struct stat original {};
  if (::stat(target.c_str(), &original) != 0) return runtime::Error{path + ": " + std::strerror(errno)};

  std::string temporary = (target.parent_path() / ("." + target.filename().string() + ".airlock-XXXXXX")).string();
  int fd = ::mkstemp(temporary.data());
  if (fd < 0) return runtime::Error{path + ": cannot create a temporary file beside it: " + std::strerror(errno)};
  auto fail = [&](std::string what) {
    int saved = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return runtime::Error{path + ": " + what + ": " + std::strerror(saved)};
  };
  std::size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, original.st_mode & 07777) != 0) return fail("cannot set permissions");
  if (::fsync(fd) != 0) return fail("cannot flush to disk");
  if (::close(fd) != 0) {
    int saved = errno;
    ::unlink(temporary.c_str());
    return runtime::Error{path + ": cannot close: " + std::strerror(saved)};
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    int saved = errno;
    ::unlink(temporary.c_str());
    return runtime::Error{path + ": cannot replace: " + std::strerror(saved)};
  }
  return runtime::Status::ok();
}

}  // namespace airlock::cli
