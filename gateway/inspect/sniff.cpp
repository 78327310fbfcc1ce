#include "sniff.h"

#include <magic.h>

#include <algorithm>
#include <cstring>

namespace airlock::gateway::inspect {

TypeSniffer::TypeSniffer() {
  magic_t cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_MIME_ENCODING);
  if (cookie != nullptr && magic_load(cookie, nullptr) != 0) {
    magic_close(cookie);
    cookie = nullptr;
  }
  cookie_ = cookie;
}

TypeSniffer::~TypeSniffer() {
  if (cookie_ != nullptr) magic_close(static_cast<magic_t>(cookie_));
}

void TypeSniffer::sniff(std::span<const char> data, std::string& type, std::string& encoding) {
  type = "application/octet-stream";
  encoding = "binary";
  if (cookie_ == nullptr) return;
  const char* answer = magic_buffer(static_cast<magic_t>(cookie_), data.data(), data.size());
  if (answer == nullptr) return;
  // "text/plain; charset=us-ascii"
  std::string_view text(answer);
  auto semicolon = text.find(';');
  type = std::string(text.substr(0, semicolon));
  if (semicolon != std::string_view::npos) {
    auto charset = text.find("charset=", semicolon);
    if (charset != std::string_view::npos) encoding = std::string(text.substr(charset + 8));
  }
}

bool looks_like_text(std::span<const char> sample, const std::string& encoding) {
  if (std::memchr(sample.data(), 0, sample.size()) != nullptr) return false;
  if (encoding == "us-ascii" || encoding == "utf-8" || encoding == "iso-8859-1") return true;
  std::size_t i = 0;
  const std::size_t n = sample.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(sample[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0) return false;
    if (i + length > n) return true;  // cut at the end of the sample
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(sample[i + k]) >> 6) != 0x2) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace airlock::gateway::inspect
