// Content type sniffing with libmagic (internal to the inspectors).
#pragma once

#include <span>
#include <string>

namespace airlock::gateway::inspect {

class TypeSniffer {
 public:
  TypeSniffer();
  ~TypeSniffer();
  TypeSniffer(const TypeSniffer&) = delete;
  TypeSniffer& operator=(const TypeSniffer&) = delete;

  // The MIME type and charset of `data` ("text/plain", "us-ascii"). When libmagic cannot be loaded or
  // fails, the type is application/octet-stream and the charset "binary": unknown content is never text.
  void sniff(std::span<const char> data, std::string& type, std::string& encoding);

 private:
  void* cookie_ = nullptr;  // magic_t
};

// No NUL bytes, and valid UTF-8 (a sequence cut at the end of the sample is allowed) or a text charset.
bool looks_like_text(std::span<const char> sample, const std::string& encoding);

}  // namespace airlock::gateway::inspect
