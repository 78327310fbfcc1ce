#include "regex_dfa.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <string>

namespace airlock::runtime {

namespace {

constexpr std::size_t kMaxNfaStates = 512;
constexpr std::size_t kMaxDfaStates = 1024;  // rows (id * 256) stay below RegexDfa::kDead
constexpr int kMaxDepth = 100;

using CharSet = std::array<std::uint64_t, 2>;  // ASCII bytes 0..127

void add_char(CharSet& set, unsigned char c) { set[c >> 6] |= std::uint64_t{1} << (c & 63); }
bool has_char(const CharSet& set, unsigned char c) { return (set[c >> 6] >> (c & 63)) & 1; }
void add_range(CharSet& set, unsigned char low, unsigned char high) {
  for (unsigned c = low; c <= high; ++c) add_char(set, static_cast<unsigned char>(c));
}
CharSet complement(const CharSet& set) { return {~set[0], ~set[1]}; }

struct RNode {
  enum class Kind : std::uint8_t { kEmpty, kChars, kBol, kEol, kConcat, kAlternate, kStar, kPlus, kQuest };
  Kind kind = Kind::kEmpty;
  CharSet chars{};
  std::vector<std::unique_ptr<RNode>> children;
};
using NodePtr = std::unique_ptr<RNode>;

NodePtr make(RNode::Kind kind) {
  auto node = std::make_unique<RNode>();
  node->kind = kind;
  return node;
}

// Recursive descent over the subset; any construct outside it makes the whole parse fail.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  NodePtr parse() {
    NodePtr node = alternation(0);
    if (!ok_ || pos_ != text_.size()) return nullptr;
    return node;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  NodePtr fail() {
    ok_ = false;
    return nullptr;
  }

  NodePtr alternation(int depth) {
    if (depth > kMaxDepth) return fail();
    NodePtr first = concatenation(depth);
    if (!ok_) return nullptr;
    if (at_end() || peek() != '|') return first;
    NodePtr node = make(RNode::Kind::kAlternate);
    node->children.push_back(std::move(first));
    while (ok_ && !at_end() && peek() == '|') {
      ++pos_;
      node->children.push_back(concatenation(depth));
    }
    return ok_ ? std::move(node) : nullptr;
  }

  NodePtr concatenation(int depth) {
    NodePtr node = make(RNode::Kind::kConcat);
    while (ok_ && !at_end() && peek() != '|' && peek() != ')') node->children.push_back(repetition(depth));
    return ok_ ? std::move(node) : nullptr;
  }

  NodePtr repetition(int depth) {
    NodePtr atom_node = atom(depth);
    if (!ok_) return nullptr;
    bool repeated = false;
    while (!at_end() && (peek() == '*' || peek() == '+' || peek() == '?')) {
      if (repeated) return fail();  // `a**` and the like: RE2 rejects some, so leave them all to RE2
      const char op = peek();
      ++pos_;
      if (!at_end() && peek() == '?') ++pos_;  // lazy: the same set of matches
      NodePtr node = make(op == '*' ? RNode::Kind::kStar : op == '+' ? RNode::Kind::kPlus : RNode::Kind::kQuest);
      node->children.push_back(std::move(atom_node));
      atom_node = std::move(node);
      repeated = true;
    }
    return atom_node;
  }

  // The character classes of `\d`, `\w`, `\s` and their negations (ASCII in RE2), and `\n` `\t` `\r`
  // `\f`; escaped punctuation is the character itself.
  bool escape(char c, CharSet& set) {
    static constexpr std::string_view kPunctuation = "\\.+*?()|[]{}^$/-";
    switch (c) {
      case 'd': add_range(set, '0', '9'); return true;
      case 'D': {
        CharSet digits{};
        add_range(digits, '0', '9');
        const CharSet other = complement(digits);
        set[0] |= other[0], set[1] |= other[1];
        return true;
      }
      case 'w':
      case 'W': {
        CharSet word{};
        add_range(word, '0', '9'), add_range(word, 'A', 'Z'), add_range(word, 'a', 'z'), add_char(word, '_');
        if (c == 'W') word = complement(word);
        set[0] |= word[0], set[1] |= word[1];
        return true;
      }
      case 's':
      case 'S': {
        CharSet space{};
        for (char s : {'\t', '\n', '\f', '\r', ' '}) add_char(space, static_cast<unsigned char>(s));
        if (c == 'S') space = complement(space);
        set[0] |= space[0], set[1] |= space[1];
        return true;
      }
      case 'n': add_char(set, '\n'); return true;
      case 't': add_char(set, '\t'); return true;
      case 'r': add_char(set, '\r'); return true;
      case 'f': add_char(set, '\f'); return true;
      default:
        if (kPunctuation.find(c) == std::string_view::npos) return false;
        add_char(set, static_cast<unsigned char>(c));
        return true;
    }
  }

  static bool plain(char c) { return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f; }

  NodePtr atom(int depth) {
    const char c = peek();
    switch (c) {
      case '(': {
        ++pos_;
        if (!at_end() && peek() == '?') {
          if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != ':') return fail();  // flags, named groups
          pos_ += 2;
        }
        NodePtr inner = alternation(depth + 1);
        if (!ok_ || at_end() || peek() != ')') return fail();
        ++pos_;
        return inner;
      }
      case '[': return char_class();
      case '.': {
        ++pos_;
        NodePtr node = make(RNode::Kind::kChars);
        node->chars = {~std::uint64_t{0}, ~std::uint64_t{0}};
        node->chars[0] &= ~(std::uint64_t{1} << '\n');
        return node;
      }
      case '^': ++pos_; return make(RNode::Kind::kBol);
      case '$': ++pos_; return make(RNode::Kind::kEol);
      case '\\': {
        if (pos_ + 1 >= text_.size()) return fail();
        NodePtr node = make(RNode::Kind::kChars);
        if (!escape(text_[pos_ + 1], node->chars)) return fail();
        pos_ += 2;
        return node;
      }
      case ')':
      case '*':
      case '+':
      case '?':
      case '{':
      case '}':
      case ']': return fail();
      default: {
        if (!plain(c)) return fail();
        ++pos_;
        NodePtr node = make(RNode::Kind::kChars);
        add_char(node->chars, static_cast<unsigned char>(c));
        return node;
      }
    }
  }

  // One character of a class, or a class escape (`\d`): `single` says which.
  bool class_item(CharSet& set, unsigned char& single, bool& is_single) {
    if (at_end()) return false;
    const char c = peek();
    if (c == '\\') {
      if (pos_ + 1 >= text_.size()) return false;
      const char e = text_[pos_ + 1];
      CharSet item{};
      if (!escape(e, item)) return false;
      pos_ += 2;
      is_single = std::string_view("dDwWsS").find(e) == std::string_view::npos;
      if (is_single) {
        single = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'f' ? '\f' : static_cast<unsigned char>(e);
      }
      set[0] |= item[0], set[1] |= item[1];
      return true;
    }
    if (c == '[' || !plain(c)) return false;  // `[:alpha:]` and nested brackets: leave to RE2
    ++pos_;
    is_single = true;
    single = static_cast<unsigned char>(c);
    add_char(set, single);
    return true;
  }

  NodePtr char_class() {
    ++pos_;  // '['
    bool negated = false;
    if (!at_end() && peek() == '^') negated = true, ++pos_;
    CharSet set{};
    bool first = true;
    while (true) {
      if (at_end()) return fail();
      if (peek() == ']' && !first) {
        ++pos_;
        break;
      }
      if (peek() == ']' || peek() == '-') {  // a leading ']' and a leading or trailing '-' are literals
        add_char(set, static_cast<unsigned char>(peek()));
        ++pos_;
        first = false;
        continue;
      }
      first = false;
      unsigned char low = 0;
      bool single = false;
      CharSet item{};
      if (!class_item(item, low, single)) return fail();
      if (single && pos_ + 1 < text_.size() && peek() == '-' && text_[pos_ + 1] != ']') {
        ++pos_;
        unsigned char high = 0;
        bool high_single = false;
        CharSet ignored{};
        if (!class_item(ignored, high, high_single) || !high_single || high < low) return fail();
        add_range(set, low, high);
        continue;
      }
      set[0] |= item[0], set[1] |= item[1];
    }
    NodePtr node = make(RNode::Kind::kChars);
    node->chars = negated ? complement(set) : set;
    return node;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Thompson's construction, built back to front: each node is compiled knowing the state that follows it.
struct NState {
  enum class Kind : std::uint8_t { kChars, kSplit, kBol, kEol, kAccept };
  Kind kind = Kind::kSplit;
  CharSet chars{};
  std::vector<std::uint32_t> next;  // kChars, kBol, kEol: one; kSplit: any number (epsilon)
};

class NfaBuilder {
 public:
  std::vector<NState> states;
  bool ok = true;

  std::uint32_t add(NState state) {
    if (states.size() >= kMaxNfaStates) ok = false;
    states.push_back(std::move(state));
    return static_cast<std::uint32_t>(states.size() - 1);
  }

  std::uint32_t compile(const RNode& node, std::uint32_t next) {
    if (!ok) return next;
    switch (node.kind) {
      case RNode::Kind::kEmpty: return next;
      case RNode::Kind::kChars: return add({NState::Kind::kChars, node.chars, {next}});
      case RNode::Kind::kBol: return add({NState::Kind::kBol, {}, {next}});
      case RNode::Kind::kEol: return add({NState::Kind::kEol, {}, {next}});
      case RNode::Kind::kConcat: {
        std::uint32_t start = next;
        for (std::size_t i = node.children.size(); i-- > 0;) start = compile(*node.children[i], start);
        return start;
      }
      case RNode::Kind::kAlternate: {
        NState split;
        for (const auto& child : node.children) split.next.push_back(compile(*child, next));
        return add(std::move(split));
      }
      case RNode::Kind::kQuest: {
        const std::uint32_t body = compile(*node.children[0], next);
        return add({NState::Kind::kSplit, {}, {body, next}});
      }
      case RNode::Kind::kStar:
      case RNode::Kind::kPlus: {
        const std::uint32_t loop = add({NState::Kind::kSplit, {}, {}});
        const std::uint32_t body = compile(*node.children[0], loop);
        if (!ok) return next;
        states[loop].next = {body, next};
        return node.kind == RNode::Kind::kStar ? loop : body;
      }
    }
    return next;
  }
};

using StateSet = std::vector<std::uint64_t>;

class DfaBuilder {
 public:
  DfaBuilder(const std::vector<NState>& nfa, std::uint32_t start, std::uint32_t accept, bool anchored)
      : nfa_(nfa), start_(start), accept_(accept), anchored_(anchored), words_((nfa.size() + 63) / 64) {}

  // The id of the state with no NFA state left (no match can end after it), if it was reached.
  std::optional<std::uint32_t> dead() const {
    auto it = ids_.find(StateSet(words_, 0));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }

  // Drops `^` states from a set past the start of the text: they can never be passed there, and without
  // them a pattern anchored at the start reaches the empty (dead) set as soon as it cannot match.
  void drop_bol(StateSet& set) const {
    for (std::uint32_t s = 0; s < nfa_.size(); ++s) {
      if (nfa_[s].kind == NState::Kind::kBol) set[s >> 6] &= ~(std::uint64_t{1} << (s & 63));
    }
  }

  bool contains(const StateSet& set, std::uint32_t s) const { return (set[s >> 6] >> (s & 63)) & 1; }

  // Follows epsilon edges; `^` only at the start of the text, `$` only at its end.
  void close(StateSet& set, bool at_start, bool at_end) const {
    std::vector<std::uint32_t> stack;
    for (std::uint32_t s = 0; s < nfa_.size(); ++s) {
      if (contains(set, s)) stack.push_back(s);
    }
    while (!stack.empty()) {
      const std::uint32_t s = stack.back();
      stack.pop_back();
      const NState& state = nfa_[s];
      const bool follow = state.kind == NState::Kind::kSplit || (state.kind == NState::Kind::kBol && at_start) ||
                          (state.kind == NState::Kind::kEol && at_end);
      if (!follow) continue;
      for (std::uint32_t t : state.next) {
        if (contains(set, t)) continue;
        set[t >> 6] |= std::uint64_t{1} << (t & 63);
        stack.push_back(t);
      }
    }
  }

  // Subset construction; false when the automaton would have too many states.
  bool build(std::vector<std::uint16_t>& next, std::vector<std::uint8_t>& accept_now,
             std::vector<std::uint8_t>& accept_end) {
    StateSet initial(words_, 0);
    initial[start_ >> 6] |= std::uint64_t{1} << (start_ & 63);
    StateSet restart = anchored_ ? StateSet(words_, 0) : initial;  // anchored: a match starts at the start only
    close(initial, true, false);
    close(restart, false, false);
    drop_bol(restart);
    // State 0 is the start of the text; it is never shared with a later state, where `^` no longer holds.
    sets_.push_back(initial);
    initial_flags_.push_back(1);
    for (std::size_t d = 0; d < sets_.size(); ++d) {
      if (sets_.size() > kMaxDfaStates) return false;
      const StateSet current = sets_[d];
      accept_now.push_back(contains(current, accept_) ? 1 : 0);
      StateSet at_end = current;
      close(at_end, initial_flags_[d] != 0, true);
      accept_end.push_back(contains(at_end, accept_) ? 1 : 0);
      for (unsigned c = 0; c < 128; ++c) {
        StateSet target = restart;
        for (std::uint32_t s = 0; s < nfa_.size(); ++s) {
          if (!contains(current, s) || nfa_[s].kind != NState::Kind::kChars) continue;
          if (!has_char(nfa_[s].chars, static_cast<unsigned char>(c))) continue;
          const std::uint32_t t = nfa_[s].next[0];
          target[t >> 6] |= std::uint64_t{1} << (t & 63);
        }
        close(target, false, false);
        drop_bol(target);
        auto [it, inserted] = ids_.emplace(target, static_cast<std::uint32_t>(sets_.size()));
        if (inserted) {
          sets_.push_back(target);
          initial_flags_.push_back(0);
        }
        next.push_back(static_cast<std::uint16_t>(it->second));
      }
    }
    return sets_.size() <= kMaxDfaStates;
  }

 private:
  const std::vector<NState>& nfa_;
  std::uint32_t start_;
  std::uint32_t accept_;
  bool anchored_;
  std::size_t words_;
  std::vector<StateSet> sets_;
  std::vector<std::uint8_t> initial_flags_;
  std::map<StateSet, std::uint32_t> ids_;
};

// Whether every match of `node` ends at the end of the text.
bool ends_at_end(const RNode& node) {
  switch (node.kind) {
    case RNode::Kind::kEol: return true;
    case RNode::Kind::kConcat: return !node.children.empty() && ends_at_end(*node.children.back());
    case RNode::Kind::kAlternate:
      for (const auto& child : node.children) {
        if (!ends_at_end(*child)) return false;
      }
      return !node.children.empty();
    case RNode::Kind::kPlus: return ends_at_end(*node.children[0]);
    default: return false;
  }
}

// The pattern that matches the reversed texts: concatenations reversed, `^` and `$` swapped.
NodePtr reversed(const RNode& node) {
  NodePtr copy = make(node.kind);
  copy->chars = node.chars;
  if (node.kind == RNode::Kind::kBol) copy->kind = RNode::Kind::kEol;
  if (node.kind == RNode::Kind::kEol) copy->kind = RNode::Kind::kBol;
  for (const auto& child : node.children) copy->children.push_back(reversed(*child));
  if (node.kind == RNode::Kind::kConcat) std::reverse(copy->children.begin(), copy->children.end());
  return copy;
}

// The longest run of single characters in the top-level concatenation: every match contains it.
std::string required_literal(const RNode& node) {
  std::string best;
  if (node.kind != RNode::Kind::kConcat) return best;
  std::string run;
  for (const auto& child : node.children) {
    int single = -1;
    if (child->kind == RNode::Kind::kChars) {
      int count = 0;
      for (unsigned c = 0; c < 128; ++c) {
        if (has_char(child->chars, static_cast<unsigned char>(c))) ++count, single = static_cast<int>(c);
      }
      if (count != 1) single = -1;
    }
    if (single >= 0) {
      run += static_cast<char>(single);
      if (run.size() > best.size()) best = run;
    } else if (child->kind != RNode::Kind::kEmpty) {
      run.clear();
    }
  }
  return best;
}

}  // namespace

std::optional<RegexDfa> RegexDfa::build(std::string_view pattern) {
  for (char c : pattern) {
    if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
  }
  NodePtr tree = Parser(pattern).parse();
  if (tree == nullptr) return std::nullopt;
  RegexDfa dfa;
  dfa.reverse_ = ends_at_end(*tree);
  if (dfa.reverse_) {
    tree = reversed(*tree);
  } else {
    dfa.required_ = required_literal(*tree);
    if (dfa.required_.size() < 2) dfa.required_.clear();
  }
  NfaBuilder nfa;
  const std::uint32_t accept = nfa.add({NState::Kind::kAccept, {}, {}});
  const std::uint32_t start = nfa.compile(*tree, accept);
  if (!nfa.ok) return std::nullopt;
  std::vector<std::uint16_t> next;
  std::vector<std::uint8_t> accept_now;
  // Reversed, every match starts at the first byte read (the original `$`), so no match starts later.
  DfaBuilder builder(nfa.states, start, accept, /*anchored=*/dfa.reverse_);
  if (!builder.build(next, accept_now, dfa.accept_end_)) return std::nullopt;
  const std::optional<std::uint32_t> dead = builder.dead();
  const std::size_t states = accept_now.size();
  dfa.accept_initial_ = accept_now[0] != 0;
  dfa.next_.assign(states * 256, kNotAscii);
  for (std::size_t d = 0; d < states; ++d) {
    for (std::size_t c = 0; c < 128; ++c) {
      const std::uint16_t target = next[d * 128 + c];
      std::uint32_t entry = static_cast<std::uint32_t>(target) * 256;
      if (accept_now[target]) entry |= kAccepting;
      if (dead && target == *dead) entry |= kDead;
      dfa.next_[d * 256 + c] = entry;
    }
  }
  return dfa;
}

namespace {

// Whether `text` contains `part` (not empty): memchr to each candidate first byte, the rest compared in place.
bool contains(std::string_view text, std::string_view part) {
  if (text.size() < part.size()) return false;
  const char* at = text.data();
  const char* const last = text.data() + (text.size() - part.size());  // the last place `part` fits
  while (at <= last) {
    at = static_cast<const char*>(std::memchr(at, part[0], static_cast<std::size_t>(last - at) + 1));
    if (at == nullptr) return false;
    std::size_t k = 1;
    while (k < part.size() && at[k] == part[k]) ++k;
    if (k == part.size()) return true;
    ++at;
  }
  return false;
}

}  // namespace

std::optional<bool> RegexDfa::finish(std::uint32_t entry) const {
  if (entry == kNotAscii) return std::nullopt;
  return (entry & kAccepting) != 0;  // a match in the ASCII part read, or none possible any more
}

// From the first byte on: a match in the ASCII prefix is a match whatever follows.
std::optional<bool> RegexDfa::run_forward(const unsigned char* begin, const unsigned char* end) const {
  const std::uint32_t* next = next_.data();
  std::size_t row = 0;
  for (const unsigned char* p = begin; p != end; ++p) {
    const std::uint32_t entry = next[row + *p];
    if (entry >= kDead) return finish(entry);
    row = entry;
  }
  return accept_end_[row / 256] != 0;
}

// From the last byte back (the reversed pattern, anchored at the end): an ASCII suffix decides. Two
// bytes a round, the usual suffix being short.
std::optional<bool> RegexDfa::run_backward(const unsigned char* begin, const unsigned char* end) const {
  const std::uint32_t* next = next_.data();
  std::size_t row = 0;
  const unsigned char* p = end;
  for (; p - begin >= 2; p -= 2) {
    const std::uint32_t first = next[row + p[-1]];
    if (first >= kDead) return finish(first);
    const std::uint32_t second = next[first + p[-2]];
    if (second >= kDead) return finish(second);
    row = second;
  }
  if (p != begin) {
    const std::uint32_t last = next[row + p[-1]];
    if (last >= kDead) return finish(last);
    row = last;
  }
  return accept_end_[row / 256] != 0;
}

std::optional<bool> RegexDfa::partial_match(std::string_view text) const {
  if (accept_initial_) return true;
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = begin + text.size();
  if (reverse_) return run_backward(begin, end);
  // Without the required literal no match is possible, whatever the text's encoding (UTF-8 never
  // encodes an ASCII character other than as itself).
  if (!required_.empty() && !contains(text, required_)) return false;
  return run_forward(begin, end);
}

}  // namespace airlock::runtime
