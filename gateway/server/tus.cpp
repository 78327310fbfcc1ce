#include "tus.h"

#include <openssl/rand.h>

#include <array>
#include <ctime>

namespace airlock::gateway::server {
namespace {

using runtime::Error;
using runtime::Result;
using runtime::Status;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr std::uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

// C0 controls, DEL, and the C1 controls (U+0080-U+009F, encoded as C2 80-C2 9F).
bool has_control_characters(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < text.size()) {
      auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

}  // namespace

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return Error{"base64 length is not a multiple of 4"};
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=') {
        if (i + 4 != text.size() || k < 2) return Error{"misplaced base64 padding"};
        ++padding;
        v[k] = 0;
        continue;
      }
      if (padding > 0) return Error{"misplaced base64 padding"};
      v[k] = base64_value(c);
      if (v[k] < 0) return Error{"invalid base64 character"};
    }
    std::uint32_t bits = (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
                         (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out.push_back(static_cast<char>((bits >> 16) & 0xff));
    if (padding < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t bits = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(kAlphabet[(bits >> 18) & 63]);
    out.push_back(kAlphabet[(bits >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(bits >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[bits & 63] : '=');
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_upload_metadata(std::string_view header) {
  std::map<std::string, std::string> metadata;
  if (header.find_first_not_of(" \t") == std::string_view::npos) return metadata;
  std::string_view rest = header;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view pair = rest.substr(0, comma);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    if (pair.empty()) return Error{"Upload-Metadata: empty pair (two commas in a row, or a trailing comma)"};
    std::size_t space = pair.find(' ');
    std::string_view key = pair.substr(0, space);
    for (char c : key) {
      if (c <= 0x20 || c >= 0x7f) return Error{"Upload-Metadata: a key holds a character that is not printable ASCII"};
    }
    std::string value;
    if (space != std::string_view::npos) {
      std::string_view encoded = pair.substr(space + 1);
      if (encoded.find(' ') != std::string_view::npos) {
        return Error{"Upload-Metadata: `" + std::string(key) +
                     "`: the value holds a space (expected key SPACE base64)"};
      }
      Result<std::string> decoded = base64_decode(encoded);
      if (!decoded) return Error{"Upload-Metadata: `" + std::string(key) + "`: " + decoded.message()};
      value = std::move(*decoded);
    }
    if (!metadata.emplace(std::string(key), std::move(value)).second) {
      return Error{"Upload-Metadata: `" + std::string(key) + "` is given twice"};
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return metadata;
}

std::string format_upload_metadata(const std::map<std::string, std::string>& metadata) {
  std::string out;
  for (const auto& [key, value] : metadata) {
    if (!out.empty()) out += ",";
    out += key;
    if (!value.empty()) out += " " + base64_encode(value);
  }
  return out;
}

Status check_filename(std::string_view name) {
  if (name.empty()) return Error{"is empty"};
  if (name.size() > 255) return Error{"is longer than 255 bytes"};
  if (!valid_utf8(name)) return Error{"is not valid UTF-8"};
  if (has_control_characters(name)) return Error{"holds control characters"};
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos) {
    return Error{"holds a path separator (a file name must be one plain name)"};
  }
  if (name == "." || name == "..") return Error{"is `" + std::string(name) + "`, which is not a file name"};
  return Status::ok();
}

Status check_resource_name(std::string_view key, std::string_view name) {
  auto fail = [&](const std::string& why) {
    return Error{"`" + std::string(key) + "` " + why + " (expected letters, digits, `.`, `_` or `-`, at most 63)"};
  };
  if (name.empty()) return fail("is empty");
  if (name.size() > 63) return fail("is too long");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return fail("must start with a letter or a digit");
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return fail("holds a character that is not allowed");
  }
  return Status::ok();
}

Result<UploadDescription> describe_upload(const std::map<std::string, std::string>& metadata) {
  UploadDescription description;
  auto find = [&](std::initializer_list<std::string_view> keys) -> const std::string* {
    for (std::string_view key : keys) {
      auto it = metadata.find(std::string(key));
      if (it != metadata.end()) return &it->second;
    }
    return nullptr;
  };
  const std::string* filename = find({"filename", "name"});
  if (filename == nullptr) return Error{"Upload-Metadata: `filename` is required"};
  if (Status s = check_filename(*filename); !s) return Error{"Upload-Metadata: `filename` " + s.message()};
  description.filename = *filename;
  const std::string* workspace = find({"workspace"});
  if (workspace == nullptr) return Error{"Upload-Metadata: `workspace` is required"};
  if (Status s = check_resource_name("workspace", *workspace); !s) return Error{"Upload-Metadata: " + s.message()};
  description.workspace = *workspace;
  const std::string* datasource = find({"datasource"});
  if (datasource == nullptr) return Error{"Upload-Metadata: `datasource` is required"};
  if (Status s = check_resource_name("datasource", *datasource); !s) return Error{"Upload-Metadata: " + s.message()};
  description.datasource = *datasource;
  if (const std::string* project = find({"project"})) {
    if (Status s = check_resource_name("project", *project); !s) return Error{"Upload-Metadata: " + s.message()};
    description.project = *project;
  }
  if (const std::string* type = find({"filetype", "type", "declared_type"})) {
    if (type->size() > 255 || !valid_utf8(*type) || has_control_characters(*type)) {
      return Error{"Upload-Metadata: `filetype` must be a MIME type such as text/csv"};
    }
    description.declared_type = *type;
  }
  if (const std::string* justification = find({"justification"})) {
    if (justification->size() > 4096 || !valid_utf8(*justification)) {
      return Error{"Upload-Metadata: `justification` must be UTF-8 text of at most 4096 bytes"};
    }
    description.justification = *justification;
  }
  for (const auto& [key, value] : metadata) {
    if (!valid_utf8(value)) return Error{"Upload-Metadata: `" + key + "` is not valid UTF-8"};
  }
  return description;
}

Result<ChecksumRequest> parse_upload_checksum(std::string_view header) {
  std::size_t space = header.find(' ');
  if (space == std::string_view::npos) return Error{"Upload-Checksum: expected `ALGORITHM BASE64`"};
  ChecksumRequest request;
  request.algorithm = std::string(header.substr(0, space));
  if (request.algorithm != "sha256" && request.algorithm != "sha1") {
    return Error{"unsupported: Upload-Checksum algorithm `" + request.algorithm + "` (supported: sha256, sha1)"};
  }
  Result<std::string> digest = base64_decode(header.substr(space + 1));
  if (!digest) return Error{"Upload-Checksum: " + digest.message()};
  std::size_t expected = request.algorithm == "sha256" ? 32 : 20;
  if (digest->size() != expected)
    return Error{"Upload-Checksum: a " + request.algorithm + " digest has " + std::to_string(expected) + " bytes"};
  request.digest = std::move(*digest);
  return request;
}

std::string http_date(UnixMillis at) {
  std::time_t seconds = static_cast<std::time_t>(at / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 64> text{};
  std::size_t n = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text.data(), n);
}

Result<std::string> random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return Error{"the system's random source failed"};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : raw) {
    out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 15]);
    out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
  }
  return out;
}

}  // namespace airlock::gateway::server
