#include "glob.h"

#include <string>

#include "internal/utf8.h"

namespace airlock::runtime {

namespace {

Error glob_error(std::string_view pattern, std::string_view why) {
  return Error{"invalid glob pattern \"" + std::string(pattern) + "\": " + std::string(why)};
}

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

Result<GlobPattern> GlobPattern::compile(std::string_view text) {
  std::vector<char32_t> pattern;
  pattern.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) pattern.push_back(internal::decode_utf8(text, pos));
  GlobPattern glob;
  std::size_t i = 0;
  while (i < pattern.size()) {
    const char32_t c = pattern[i];
    Token token;
    if (c == U'\\') {
      if (i + 1 == pattern.size()) return glob_error(text, "trailing '\\'");
      token.code_point = pattern[i + 1];
      i += 2;
    } else if (c == U'*') {
      std::size_t run = 0;
      const bool segment_start = i == 0 || pattern[i - 1] == U'/';
      while (i < pattern.size() && pattern[i] == U'*') ++run, ++i;
      if (run == 1) {
        token.kind = Token::Kind::kStar;
      } else if (segment_start && i < pattern.size() && pattern[i] == U'/') {
        token.kind = Token::Kind::kDoubleStarSlash;
        ++i;
      } else {
        token.kind = Token::Kind::kDoubleStar;
      }
    } else if (c == U'?') {
      token.kind = Token::Kind::kAnyOne;
      ++i;
    } else if (c == U'[') {
      token.kind = Token::Kind::kClass;
      token.first_range = static_cast<std::uint32_t>(glob.ranges_.size());
      ++i;
      if (i < pattern.size() && (pattern[i] == U'!' || pattern[i] == U'^')) token.negated = true, ++i;
      bool first = true;
      bool closed = false;
      while (i < pattern.size()) {
        char32_t low = pattern[i];
        if (low == U']' && !first) {
          closed = true;
          ++i;
          break;
        }
        first = false;
        if (low == U'\\') {
          if (++i == pattern.size()) break;
          low = pattern[i];
        }
        ++i;
        char32_t high = low;
        if (i + 1 < pattern.size() && pattern[i] == U'-' && pattern[i + 1] != U']') {
          i += 1;
          high = pattern[i];
          if (high == U'\\') {
            if (++i == pattern.size()) break;
            high = pattern[i];
          }
          ++i;
          if (high < low) return glob_error(text, "reversed range in '[...]'");
        }
        glob.ranges_.emplace_back(low, high);
      }
      if (!closed) return glob_error(text, "unclosed '['");
      token.range_count = static_cast<std::uint32_t>(glob.ranges_.size()) - token.first_range;
    } else {
      token.code_point = c;
      ++i;
    }
    glob.tokens_.push_back(token);
  }
  glob.classify();
  return glob;
}

void GlobPattern::classify() {
  const auto ascii_literal = [this](std::size_t t) {
    return tokens_[t].kind == Token::Kind::kLiteral && tokens_[t].code_point < 0x80;
  };
  const std::size_t n = tokens_.size();
  std::size_t lead = 0;
  while (lead < n && ascii_literal(lead)) ++lead;
  std::size_t trail = 0;
  while (trail < n - lead && ascii_literal(n - 1 - trail)) ++trail;
  auto literal_of = [this](std::size_t from, std::size_t to) {
    std::string text;
    for (std::size_t t = from; t < to; ++t) text += static_cast<char>(tokens_[t].code_point);
    return text;
  };
  if (lead == n) {
    shape_ = Shape::kExact;
    literal_ = literal_of(0, n);
    return;
  }
  prefix_ = literal_of(0, lead);
  suffix_ = literal_of(n - trail, n);
  const std::size_t wild = n - lead - trail;  // tokens that are not leading or trailing ASCII literals
  const bool suffix_has_slash = suffix_.find('/') != std::string::npos;
  using K = Token::Kind;
  if (lead == 0 && wild == 2 && tokens_[0].kind == K::kDoubleStarSlash && tokens_[1].kind == K::kStar &&
      !suffix_has_slash) {
    shape_ = Shape::kEndsWith;  // `**/` then `*` then a literal without '/': any text ending in the literal
  } else if (lead == 0 && wild == 1 && tokens_[0].kind == K::kDoubleStar) {
    shape_ = Shape::kEndsWith;
  } else if (lead == 0 && wild == 1 && tokens_[0].kind == K::kStar && !suffix_has_slash) {
    shape_ = Shape::kSegmentEnd;
  } else if (trail == 0 && wild == 1 && tokens_[n - 1].kind == K::kDoubleStar) {
    shape_ = Shape::kStartsWith;
  } else if (trail == 0 && wild == 1 && tokens_[n - 1].kind == K::kStar) {
    shape_ = Shape::kSegmentStart;
  } else {
    return;
  }
  literal_ = shape_ == Shape::kStartsWith || shape_ == Shape::kSegmentStart ? prefix_ : suffix_;
}

bool GlobPattern::token_matches(const Token& token, char32_t c) const {
  switch (token.kind) {
    case Token::Kind::kLiteral: return c == token.code_point;
    case Token::Kind::kAnyOne: return c != U'/';
    case Token::Kind::kClass: {
      bool in_class = false;
      for (std::uint32_t r = token.first_range; r < token.first_range + token.range_count; ++r) {
        in_class = in_class || (c >= ranges_[r].first && c <= ranges_[r].second);
      }
      return token.negated ? (!in_class && c != U'/') : in_class;
    }
    default: return false;
  }
}

// Dynamic programming over (token, position), one row at a time, from the last token back:
// next[j] says whether the tokens after the current one match text[j..].
template <typename Text>
bool GlobPattern::run(const Text& text, std::size_t n, Buffers& buffers) const {
  std::vector<char>& next = buffers.next;
  std::vector<char>& current = buffers.current;
  next.assign(n + 1, 0);
  current.assign(n + 1, 0);
  next[n] = 1;
  for (std::size_t t = tokens_.size(); t-- > 0;) {
    const Token& token = tokens_[t];
    switch (token.kind) {
      case Token::Kind::kStar:
        current[n] = next[n];
        for (std::size_t j = n; j-- > 0;) current[j] = next[j] || (text(j) != U'/' && current[j + 1]);
        break;
      case Token::Kind::kDoubleStar:
        current[n] = next[n];
        for (std::size_t j = n; j-- > 0;) current[j] = next[j] || current[j + 1];
        break;
      case Token::Kind::kDoubleStarSlash: {
        bool slash_then_rest = false;
        current[n] = next[n];
        for (std::size_t j = n; j-- > 0;) {
          slash_then_rest = slash_then_rest || (text(j) == U'/' && next[j + 1]);
          current[j] = next[j] || slash_then_rest;
        }
        break;
      }
      case Token::Kind::kLiteral: {
        current[n] = 0;
        const char32_t literal = token.code_point;
        for (std::size_t j = 0; j < n; ++j) current[j] = text(j) == literal && next[j + 1];
        break;
      }
      default:
        current[n] = 0;
        for (std::size_t j = 0; j < n; ++j) current[j] = token_matches(token, text(j)) && next[j + 1];
        break;
    }
    std::swap(current, next);
  }
  return next[0] != 0;
}

bool GlobPattern::match(std::string_view subject, Buffers& buffers) const {
  if (is_ascii(subject)) {
    const std::string_view literal = literal_;
    switch (shape_) {
      case Shape::kExact: return subject == literal;
      case Shape::kEndsWith: return subject.ends_with(literal);
      case Shape::kSegmentEnd:
        return subject.ends_with(literal) &&
               subject.substr(0, subject.size() - literal.size()).find('/') == std::string_view::npos;
      case Shape::kStartsWith: return subject.starts_with(literal);
      case Shape::kSegmentStart:
        return subject.starts_with(literal) && subject.find('/', literal.size()) == std::string_view::npos;
      case Shape::kGeneral:
        if (!subject.starts_with(prefix_) || !subject.ends_with(suffix_)) return false;
        break;
    }
    const auto byte = [subject](std::size_t j) { return static_cast<char32_t>(subject[j]); };
    return run(byte, subject.size(), buffers);
  }
  std::vector<char32_t>& decoded = buffers.text;
  decoded.clear();
  for (std::size_t pos = 0; pos < subject.size();) decoded.push_back(internal::decode_utf8(subject, pos));
  const auto code_point = [&decoded](std::size_t j) { return decoded[j]; };
  return run(code_point, decoded.size(), buffers);
}

std::string_view GlobPattern::ascii_extension() const {
  if (shape_ != Shape::kEndsWith || literal_.size() < 2 || literal_[0] != '.') return {};
  const std::string_view extension = std::string_view(literal_).substr(1);
  if (extension.find_first_of("./") != std::string_view::npos) return {};
  return extension;
}

Result<bool> glob_match(std::string_view pattern, std::string_view subject) {
  auto compiled = GlobPattern::compile(pattern);
  if (!compiled) return compiled.error();
  GlobPattern::Buffers buffers;
  return compiled->match(subject, buffers);
}

}  // namespace airlock::runtime
