// Source text -> ast::File. The only file that sees ANTLR: it lexes, checks limits, parses with
// readable error messages, and turns the parse tree into the AST (see grammar/Airlock.g4). A clean
// file is parsed one top-level declaration at a time, so that its memory stays near its AST's (see
// DeclarationParser); a file with any diagnostic is parsed whole.
#include "parser.h"

#include <antlr4-runtime.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "AirlockLexer.h"
#include "AirlockParser.h"

namespace airlock::compiler {
namespace {

using airlock_grammar::AirlockLexer;
using AP = airlock_grammar::AirlockParser;

// Thrown by Reporter once a file has too many errors; caught in parse_*. Never leaves this file.
struct StopParsing {};

// Thrown by the declaration-at-a-time parse at its first diagnostic, or at anything that is not a
// clean declaration; parse_policy_file then parses the whole file at once. Never leaves this file.
struct Fallback {};

// Returns the offset of the first byte that is not valid UTF-8 (overlong forms, surrogates and
// code points above U+10FFFF are invalid), or npos.
std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t min = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + length > n) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += length;
  }
  return std::string_view::npos;
}

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The closest candidate within a small edit distance, or empty.
std::string closest(std::string_view word, std::initializer_list<std::string_view> candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t d = edit_distance(word, candidate);
    if (d < best_distance) best_distance = d, best = std::string(candidate);
  }
  return best;
}

// Byte offsets <-> code point indexes (ANTLR counts code points) and 1-based lines and columns.
class SourceMap {
 public:
  explicit SourceMap(std::string_view text) : text_(text) {
    line_starts_.push_back(0);
    cp_to_byte_.reserve(text.size() + 1);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (!is_continuation_byte(text[i])) cp_to_byte_.push_back(static_cast<std::uint32_t>(i));
      if (text[i] == '\n') line_starts_.push_back(static_cast<std::uint32_t>(i + 1));
    }
    cp_to_byte_.push_back(static_cast<std::uint32_t>(text.size()));
  }

  std::uint32_t byte_offset(std::size_t code_point) const {
    return code_point < cp_to_byte_.size() ? cp_to_byte_[code_point] : cp_to_byte_.back();
  }

  ast::Span span(std::uint32_t begin, std::uint32_t end) const {
    ast::Span s;
    s.begin = begin;
    s.end = std::max(begin, end);
    const auto line_it = std::upper_bound(line_starts_.begin(), line_starts_.end(), begin) - 1;
    s.line = static_cast<std::uint32_t>(line_it - line_starts_.begin()) + 1;
    const auto cp_of = [&](std::uint32_t byte) {
      return std::lower_bound(cp_to_byte_.begin(), cp_to_byte_.end(), byte) - cp_to_byte_.begin();
    };
    s.column = static_cast<std::uint32_t>(cp_of(begin) - cp_of(*line_it)) + 1;
    return s;
  }

  ast::Span token_span(const antlr4::Token* token) const {
    const std::uint32_t begin = byte_offset(token->getStartIndex());
    if (token->getType() == antlr4::Token::EOF || token->getStopIndex() < token->getStartIndex()) {
      return span(begin, begin);
    }
    return span(begin, byte_offset(token->getStopIndex() + 1));
  }

  std::string_view text_of(const ast::Span& s) const { return text_.substr(s.begin, s.end - s.begin); }
  std::string_view text() const { return text_; }

  // Lines by 0-based index: how many, where one starts (a byte offset), which one holds a byte.
  std::size_t line_count() const { return line_starts_.size(); }
  std::uint32_t line_start(std::size_t line) const { return line_starts_[line]; }
  std::size_t line_of(std::uint32_t byte) const {
    return static_cast<std::size_t>(std::upper_bound(line_starts_.begin(), line_starts_.end(), byte) -
                                    line_starts_.begin()) -
           1;
  }
  // The index of the code point that starts at `byte`.
  std::uint32_t code_point_of(std::uint32_t byte) const {
    return static_cast<std::uint32_t>(std::lower_bound(cp_to_byte_.begin(), cp_to_byte_.end(), byte) -
                                      cp_to_byte_.begin());
  }

 private:
  std::string_view text_;
  std::vector<std::uint32_t> line_starts_;
  std::vector<std::uint32_t> cp_to_byte_;
};

ast::Span join(const ast::Span& first, const ast::Span& last) {
  ast::Span s = first;
  s.end = std::max(first.end, last.end);
  return s;
}

// Collects the diagnostics of one file, up to the limit.
class Reporter {
 public:
  Reporter(std::string_view path, std::string_view text, std::size_t max_errors)
      : path_(path), text_(text), max_errors_(std::max<std::size_t>(1, max_errors)) {}

  // The declaration-at-a-time parse keeps no diagnostics: it gives way at the first one.
  void throw_fallback_on_error() { fallback_on_error_ = true; }

  void error(const ast::Span& span, std::string message, std::string help = {}) {
    if (fallback_on_error_) throw Fallback{};
    if (errors_ >= max_errors_) {
      Diagnostic note;
      note.path = std::string(path_);
      note.message = "too many errors; stopping";
      diagnostics_.push_back(std::move(note));
      throw StopParsing{};
    }
    ++errors_;
    diagnostics_.push_back(make_diagnostic(Severity::kError, path_, text_, span, std::move(message), std::move(help)));
  }

  std::size_t error_count() const { return errors_; }
  std::vector<Diagnostic> take() { return std::move(diagnostics_); }

 private:
  std::string_view path_;
  std::string_view text_;
  std::size_t max_errors_;
  std::size_t errors_ = 0;
  bool fallback_on_error_ = false;
  std::vector<Diagnostic> diagnostics_;
};

// ---- Readable syntax errors ----

std::string describe_token(const antlr4::Token* token) {
  if (token == nullptr || token->getType() == antlr4::Token::EOF) return "end of file";
  std::string text = token->getText();
  if (text.size() > 32) {
    std::size_t cut = 29;
    while (cut > 0 && is_continuation_byte(text[cut])) --cut;
    text = text.substr(0, cut) + "...";
  }
  if (token->getType() == AP::STRING) return "string `" + text + "`";
  return "`" + text + "`";
}

std::string quoted_literal(const antlr4::dfa::Vocabulary& vocabulary, std::size_t type) {
  std::string literal = vocabulary.getLiteralName(type);
  if (literal.size() >= 2 && literal.front() == '\'') literal = literal.substr(1, literal.size() - 2);
  if (literal.empty()) literal = vocabulary.getSymbolicName(type);
  return "`" + literal + "`";
}

// "to close policy \"x\"" for a `}` that would end the innermost policy, rule or test.
std::string closing_what(antlr4::RuleContext* context) {
  for (auto* c = context; c != nullptr; c = dynamic_cast<antlr4::RuleContext*>(c->parent)) {
    if (dynamic_cast<AP::MapLiteralContext*>(c) != nullptr) return "";
    if (auto* rule = dynamic_cast<AP::RuleDeclContext*>(c)) {
      return rule->IDENT() != nullptr ? " to close rule `" + rule->IDENT()->getText() + "`" : "";
    }
    if (auto* policy = dynamic_cast<AP::PolicyDeclContext*>(c)) {
      return policy->name != nullptr ? " to close policy " + policy->name->getText() : "";
    }
    if (auto* test = dynamic_cast<AP::TestDeclContext*>(c)) {
      return test->name != nullptr ? " to close test " + test->name->getText() : "";
    }
  }
  return "";
}

std::string describe_expected(antlr4::Parser* parser, antlr4::misc::IntervalSet expected,
                              antlr4::RuleContext* context) {
  std::vector<std::string> parts;
  const auto take_group = [&](std::initializer_list<std::size_t> markers, std::initializer_list<std::size_t> members,
                              std::string phrase) {
    for (std::size_t marker : markers) {
      if (!expected.contains(marker)) return;
    }
    for (std::size_t member : members) expected.remove(member);
    parts.push_back(std::move(phrase));
  };
  take_group({AP::INT, AP::LPAREN, AP::IDENT},
             {AP::EXCLAM, AP::MINUS, AP::IDENT, AP::LPAREN, AP::LBRACKET, AP::LBRACE, AP::INT, AP::UINT, AP::DOUBLE,
              AP::STRING, AP::TRUE, AP::FALSE, AP::NUL},
             "an expression");
  take_group({AP::LOGICAL_OR, AP::PLUS},
             {AP::LOGICAL_OR, AP::LOGICAL_AND, AP::LESS, AP::LESS_EQUALS, AP::GREATER_EQUALS, AP::GREATER, AP::EQUALS,
              AP::NOT_EQUALS, AP::IN, AP::PLUS, AP::MINUS, AP::STAR, AP::SLASH, AP::PERCENT, AP::QUESTION, AP::DOT,
              AP::LBRACKET},
             "an operator");
  take_group({AP::RULE, AP::LET, AP::OTHERWISE},
             {AP::RULE, AP::LET, AP::OTHERWISE, AP::WHEN, AP::APPLIES, AP::DESCRIPTION},
             "a policy member (`rule`, `let`, `when`, `applies to`, `description` or `otherwise`)");
  for (const ssize_t type : expected.toList()) {
    if (type == -1) {
      parts.push_back("end of file");
      continue;
    }
    switch (type) {
      case AP::IDENT: parts.push_back("a name"); break;
      case AP::STRING: parts.push_back("a string"); break;
      case AP::INT: parts.push_back("a number"); break;
      case AP::RBRACE: parts.push_back("`}`" + closing_what(context)); break;
      default:
        if (type > 0) parts.push_back(quoted_literal(parser->getVocabulary(), static_cast<std::size_t>(type)));
    }
  }
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? " or " : ", ";
    out += parts[i];
  }
  return out;
}

class ErrorStrategy : public antlr4::DefaultErrorStrategy {
 public:
  ErrorStrategy(Reporter& reporter, const SourceMap& map) : reporter_(reporter), map_(map) {}

 protected:
  void reportNoViableAlternative(antlr4::Parser* parser, const antlr4::NoViableAltException& e) override {
    report(parser, e.getOffendingToken(), e.getExpectedTokens());
  }
  void reportInputMismatch(antlr4::Parser* parser, const antlr4::InputMismatchException& e) override {
    report(parser, e.getOffendingToken(), e.getExpectedTokens());
  }
  void reportFailedPredicate(antlr4::Parser* parser, const antlr4::FailedPredicateException& e) override {
    report(parser, e.getOffendingToken(), {});
  }
  void reportUnwantedToken(antlr4::Parser* parser) override {
    if (inErrorRecoveryMode(parser)) return;
    beginErrorCondition(parser);
    report(parser, parser->getCurrentToken(), getExpectedTokens(parser));
  }
  void reportMissingToken(antlr4::Parser* parser) override {
    if (inErrorRecoveryMode(parser)) return;
    beginErrorCondition(parser);
    report(parser, parser->getCurrentToken(), getExpectedTokens(parser));
  }

 private:
  void report(antlr4::Parser* parser, antlr4::Token* token, const antlr4::misc::IntervalSet& expected) {
    std::string message = "unexpected " + describe_token(token);
    const std::string wanted = describe_expected(parser, expected, parser->getContext());
    if (!wanted.empty()) message += ", expected " + wanted;
    std::string help;
    if (token != nullptr && token->getType() == AP::IDENT && expected.contains(static_cast<std::size_t>(AP::STRING)) &&
        dynamic_cast<AP::EffectContext*>(parser->getContext()) != nullptr) {
      help = "roles are strings: `to \"" + token->getText() + "\"`";
    }
    reporter_.error(map_.token_span(token), std::move(message), std::move(help));
  }

  Reporter& reporter_;
  const SourceMap& map_;
};

// ---- Checks on the token stream, before parsing ----

bool is_keyword(std::size_t type) { return type >= AP::POLICY && type <= AP::DESCRIPTION; }

// Reports an unterminated string or comment or a stray character. Returns false for those.
bool check_lexical_error(const antlr4::Token* token, const SourceMap& map, Reporter& reporter) {
  bool ok = true;
  {
    const ast::Span span = map.token_span(token);
    switch (token->getType()) {
      case AP::UNTERMINATED_STRING: {
        ok = false;
        std::string_view text = map.text_of(span);
        std::size_t prefix = 0;
        while (prefix < text.size() && text[prefix] != '"' && text[prefix] != '\'') ++prefix;
        const bool triple =
            text.size() >= prefix + 3 && text[prefix + 1] == text[prefix] && text[prefix + 2] == text[prefix];
        ast::Span start = map.span(span.begin, span.begin + static_cast<std::uint32_t>(prefix + (triple ? 3 : 1)));
        reporter.error(start, "unterminated string literal",
                       triple ? "add the closing " + std::string(3, text[prefix])
                              : "add the closing " + std::string(1, text[prefix]) +
                                    " on the same line (use \"\"\" for a string of several lines)");
        break;
      }
      case AP::UNTERMINATED_COMMENT:
        ok = false;
        reporter.error(map.span(span.begin, span.begin + 2), "unterminated block comment", "add `*/` to close it");
        break;
      case AP::ERROR_CHAR: {
        ok = false;
        std::string_view ch = map.text_of(span);
        std::string shown;
        if (ch.size() == 1 && (static_cast<unsigned char>(ch[0]) < 0x20 || ch[0] == 0x7F)) {
          char buffer[16];
          std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(static_cast<unsigned char>(ch[0])));
          shown = buffer;
        } else {
          shown = "`" + std::string(ch) + "`";
        }
        reporter.error(span, "unexpected character " + shown);
        break;
      }
      default: break;
    }
  }
  return ok;
}

// Rejects inputs whose brackets or operator chains are deeper than the limit before ANTLR sees
// them: ANTLR recurses per bracket, and a chain such as `1+1+...` or `!!!...x` cannot produce an
// AST within the limit. The chain bounds here are lower bounds of the AST depth; the AST builder
// measures the exact depth of what passes.
class NestingCheck {
 public:
  NestingCheck(const SourceMap& map, std::uint32_t max_depth, Reporter& reporter)
      : map(map), max_depth(max_depth), reporter(reporter), levels(1) {}

  // False (after reporting) when `token` makes the input too deep.
  bool feed(const antlr4::Token* token) {
    const auto too_deep = [&](const antlr4::Token* token) {
      reporter.error(map.token_span(token),
                     "expression nested too deeply (more than " + std::to_string(max_depth) + " levels)",
                     "split it with `let` declarations");
      return false;
    };
    {
      const std::size_t type = token->getType();
      Level& level = levels.back();
      const auto reset_binary = [&] {
        level.binary_counts = {};
        level.prefix_run = 0;
        level.member_chain = 0;
        level.after_operand = false;
      };
      const auto binary = [&](std::size_t klass) {
        if (!level.after_operand) {  // a prefix operator
          if (++level.prefix_run + level.member_chain + 1 > max_depth) return too_deep(token);
          return true;
        }
        ++level.binary_counts[klass];
        level.prefix_run = 0;
        level.member_chain = 0;
        level.after_operand = false;
        for (std::uint32_t count : level.binary_counts) {
          if (count > 0) return count + 1 > max_depth ? too_deep(token) : true;
        }
        return true;
      };
      bool ok = true;
      switch (type) {
        case AP::LPAREN:
        case AP::LBRACKET:
        case AP::LBRACE: {
          const bool postfix = level.after_operand && type != AP::LBRACE;
          if (postfix && ++level.member_chain + level.prefix_run + 1 > max_depth) return too_deep(token);
          if (levels.size() > max_depth) {
            reporter.error(map.token_span(token),
                           "brackets nested too deeply (more than " + std::to_string(max_depth) + " levels)");
            return false;
          }
          levels.emplace_back();
          levels.back().postfix = postfix;
          break;
        }
        case AP::RPAREN:
        case AP::RBRACKET:
        case AP::RBRACE:
          if (levels.size() > 1) levels.pop_back();
          levels.back().after_operand = true;
          break;
        case AP::LOGICAL_OR: ok = binary(0); break;
        case AP::LOGICAL_AND: ok = binary(1); break;
        case AP::LESS:
        case AP::LESS_EQUALS:
        case AP::GREATER:
        case AP::GREATER_EQUALS:
        case AP::EQUALS:
        case AP::NOT_EQUALS:
        case AP::IN: ok = binary(2); break;
        case AP::PLUS:
        case AP::MINUS: ok = binary(3); break;
        case AP::STAR:
        case AP::SLASH:
        case AP::PERCENT: ok = binary(4); break;
        case AP::EXCLAM:
          if (++level.prefix_run + level.member_chain + 1 > max_depth) return too_deep(token);
          level.after_operand = false;
          break;
        case AP::DOT:
          if (++level.member_chain + level.prefix_run + 1 > max_depth) return too_deep(token);
          level.after_operand = false;
          break;
        case AP::QUESTION:
          if (++level.conditionals + 1 > max_depth) return too_deep(token);
          reset_binary();
          break;
        case AP::COLON: reset_binary(); break;
        case AP::COMMA:
        case AP::ASSIGN:
          reset_binary();
          level.conditionals = 0;
          break;
        default:
          if (is_keyword(type) && type != AP::IN) {
            reset_binary();
            level.conditionals = 0;
          } else {
            level.after_operand = true;
          }
      }
      if (!ok) return false;
    }
    return true;
  }

 private:
  struct Level {
    std::array<std::uint32_t, 5> binary_counts{};  // ||, &&, relations, + -, * / %
    std::uint32_t conditionals = 0;
    std::uint32_t prefix_run = 0;
    std::uint32_t member_chain = 0;
    bool after_operand = false;
    bool postfix = false;  // this bracket is an index or a call
  };
  const SourceMap& map;
  std::uint32_t max_depth;
  Reporter& reporter;
  std::vector<Level> levels;
};

// ---- Parse tree -> AST ----

ast::Operator binary_operator(std::size_t token_type) {
  switch (token_type) {
    case AP::LOGICAL_OR: return ast::Operator::kOr;
    case AP::LOGICAL_AND: return ast::Operator::kAnd;
    case AP::LESS: return ast::Operator::kLess;
    case AP::LESS_EQUALS: return ast::Operator::kLessEqual;
    case AP::GREATER: return ast::Operator::kGreater;
    case AP::GREATER_EQUALS: return ast::Operator::kGreaterEqual;
    case AP::EQUALS: return ast::Operator::kEqual;
    case AP::NOT_EQUALS: return ast::Operator::kNotEqual;
    case AP::IN: return ast::Operator::kIn;
    case AP::PLUS: return ast::Operator::kAdd;
    case AP::MINUS: return ast::Operator::kSubtract;
    case AP::STAR: return ast::Operator::kMultiply;
    case AP::SLASH: return ast::Operator::kDivide;
    case AP::PERCENT: return ast::Operator::kModulo;
    default: return ast::Operator::kNone;
  }
}

bool is_cel_reserved(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kReserved = {
      "as",  "break", "const",   "continue",  "else",   "for", "function", "if",   "import",
      "let", "loop",  "package", "namespace", "return", "var", "void",     "while"};
  return std::find(kReserved.begin(), kReserved.end(), name) != kReserved.end();
}

struct SizeUnit {
  std::string_view name;
  std::int64_t bytes;
};
constexpr std::array<SizeUnit, 8> kSizeUnits = {{{"KiB", 1LL << 10},
                                                 {"MiB", 1LL << 20},
                                                 {"GiB", 1LL << 30},
                                                 {"TiB", 1LL << 40},
                                                 {"KB", 1'000LL},
                                                 {"MB", 1'000'000LL},
                                                 {"GB", 1'000'000'000LL},
                                                 {"TB", 1'000'000'000'000LL}}};

// An expression under construction and its depth (a leaf has depth 1).
struct Built {
  ast::ExprPtr expr;
  std::uint32_t depth = 0;
  explicit operator bool() const { return expr != nullptr; }
};

class Builder {
 public:
  Builder(const SourceMap& map, Reporter& reporter, std::uint32_t max_depth)
      : map_(map), reporter_(reporter), max_depth_(max_depth) {}

  std::unique_ptr<ast::File> file(AP::FileContext* ctx, std::string_view path) {
    auto out = std::make_unique<ast::File>();
    out->path = std::string(path);
    for (auto* child : ctx->children) {
      if (auto* policy = dynamic_cast<AP::PolicyDeclContext*>(child)) {
        out->policies.push_back(policy_decl(policy));
      } else if (auto* test = dynamic_cast<AP::TestDeclContext*>(child)) {
        out->tests.push_back(test_decl(test));
      }
    }
    return out;
  }

  ast::ExprPtr expression(AP::ExprContext* ctx) { return expr(ctx).expr; }

  // The pieces a file parsed one declaration at a time is built from (see DeclarationParser).
  ast::Name policy_name(const ast::Span& string_span) { return string_name(string_span); }
  void add_policy_member(AP::PolicyMemberContext* ctx, ast::PolicyDecl& policy) { policy_member(ctx, policy); }
  ast::TestDecl test(AP::TestDeclContext* ctx) { return test_decl(ctx); }

 private:
  ast::Span span_of(antlr4::tree::TerminalNode* node) const { return map_.token_span(node->getSymbol()); }
  ast::Span span_of(antlr4::ParserRuleContext* ctx) const {
    ast::Span first = map_.token_span(ctx->getStart());
    if (ctx->getStop() == nullptr || ctx->getStop()->getTokenIndex() < ctx->getStart()->getTokenIndex()) return first;
    return join(first, map_.token_span(ctx->getStop()));
  }
  static bool present(antlr4::tree::TerminalNode* node) {
    return node != nullptr && node->getSymbol() != nullptr &&
           node->getSymbol()->getTokenIndex() != static_cast<std::size_t>(-1) &&
           dynamic_cast<antlr4::tree::ErrorNode*>(node) == nullptr;
  }

  ast::Name name_of(antlr4::tree::TerminalNode* node) const {
    if (!present(node)) return {};
    return {node->getText(), span_of(node)};
  }

  // A string token's decoded value as a Name (for policy names, roles, descriptions...).
  ast::Name string_name(antlr4::tree::TerminalNode* node) {
    if (!present(node)) return {};
    const ast::Span span = span_of(node);
    auto decoded = decode_string(span);
    return {decoded ? decoded->first : std::string(), span};
  }
  ast::Name string_name(antlr4::Token* token) {
    if (token == nullptr) return {};
    return string_name(map_.token_span(token));
  }
  ast::Name string_name(const ast::Span& span) {
    auto decoded = decode_string(span);
    return {decoded ? decoded->first : std::string(), span};
  }

  ast::PolicyDecl policy_decl(AP::PolicyDeclContext* ctx) {
    ast::PolicyDecl policy;
    policy.span = span_of(ctx);
    policy.name = string_name(ctx->name);
    if (present(ctx->LBRACE())) policy.open_brace = span_of(ctx->LBRACE());
    for (auto* member : ctx->policyMember()) policy_member(member, policy);
    return policy;
  }

  // Adds one member to `policy`: from a whole policy's parse tree, or from a member parsed alone.
  void policy_member(AP::PolicyMemberContext* member, ast::PolicyDecl& policy) {
    const auto shown = [&] { return "policy \"" + policy.name.text + "\""; };
    if (auto* d = member->descriptionClause()) {
      if (policy.description) reporter_.error(span_of(d), shown() + " has more than one `description`");
      policy.description = string_name(d->STRING());
    } else if (auto* a = member->appliesClause()) {
      if (policy.applies_span.end != 0) reporter_.error(span_of(a), shown() + " has more than one `applies to`");
      policy.applies_span = span_of(a);
      policy.channels.clear();
      for (auto* ident : a->IDENT()) {
        if (present(ident)) policy.channels.push_back(name_of(ident));
      }
    } else if (auto* w = member->whenClause()) {
      if (policy.when) {
        reporter_.error(span_of(w), shown() + " has more than one `when`", "combine the conditions with `&&`");
      }
      policy.when = expr(w->expr()).expr;
    } else if (auto* l = member->letDecl()) {
      ast::LetDecl let;
      let.span = span_of(l);
      let.name = name_of(l->IDENT());
      let.value = expr(l->expr()).expr;
      policy.lets.push_back(std::move(let));
    } else if (auto* r = member->ruleDecl()) {
      policy.rules.push_back(rule_decl(r));
    } else if (auto* o = member->otherwiseDecl()) {
      if (policy.otherwise) reporter_.error(span_of(o), shown() + " has more than one `otherwise`");
      ast::OtherwiseDecl otherwise;
      otherwise.span = span_of(o);
      otherwise.effect = effect(o->effect());
      if (o->expr() != nullptr) otherwise.because = expr(o->expr()).expr;
      policy.otherwise = std::move(otherwise);
    }
  }

  ast::RuleDecl rule_decl(AP::RuleDeclContext* ctx) {
    ast::RuleDecl rule;
    rule.span = span_of(ctx);
    rule.name = name_of(ctx->IDENT());
    if (present(ctx->LBRACE())) rule.open_brace = span_of(ctx->LBRACE());
    rule.effect = effect(ctx->effect());
    for (auto* clause : ctx->ruleClause()) {
      ast::ExprPtr* slot = nullptr;
      std::string word;
      if (present(clause->WHEN())) slot = &rule.when, word = "when";
      if (present(clause->UNLESS())) slot = &rule.unless, word = "unless";
      if (present(clause->BECAUSE())) slot = &rule.because, word = "because";
      if (slot == nullptr) continue;
      if (*slot != nullptr) {
        reporter_.error(span_of(clause), "rule `" + rule.name.text + "` has more than one `" + word + "`",
                        word == "because" ? "" : "combine the conditions with `&&` or `||`");
      }
      *slot = expr(clause->expr()).expr;
    }
    return rule;
  }

  ast::EffectClause effect(AP::EffectContext* ctx) {
    ast::EffectClause effect;
    if (ctx == nullptr) return effect;
    effect.span = span_of(ctx);
    const auto idents = ctx->IDENT();
    if (!idents.empty()) effect.effect = name_of(idents[0]);
    for (auto* role : ctx->STRING()) {
      if (present(role)) effect.roles.push_back(string_name(role));
    }
    if (present(ctx->REQUIRING()) && present(ctx->INT())) {
      const ast::Span number = span_of(ctx->INT());
      effect.approvals_span = number;
      if (auto n = parse_count(number)) effect.approvals = *n;
      if (idents.size() >= 2 && present(idents[1])) {
        effect.approvals_span = join(number, span_of(idents[1]));
        const std::string word = idents[1]->getText();
        if (word != "approvals" && word != "approval") {
          const std::string suggestion = closest(word, {"approvals", "approval"});
          reporter_.error(span_of(idents[1]),
                          "expected `approvals` after `requiring " + ctx->INT()->getText() + "`, found `" + word + "`",
                          suggestion.empty() ? "" : "did you mean `" + suggestion + "`?");
        }
      }
    }
    return effect;
  }

  ast::TestDecl test_decl(AP::TestDeclContext* ctx) {
    ast::TestDecl test;
    test.span = span_of(ctx);
    test.name = string_name(ctx->name);
    if (present(ctx->LBRACE())) test.open_brace = span_of(ctx->LBRACE());
    for (auto* member : ctx->testMember()) {
      if (auto* given = member->givenClause()) {
        if (test.given != nullptr)
          reporter_.error(span_of(given), "test \"" + test.name.text + "\" has more than one `given`");
        if (given->mapLiteral() != nullptr) test.given = map_literal(given->mapLiteral()).expr;
      } else if (auto* e = member->expectClause()) {
        if (auto expectation = expect_clause(e)) test.expectations.push_back(std::move(*expectation));
      }
    }
    return test;
  }

  std::optional<ast::Expectation> expect_clause(AP::ExpectClauseContext* ctx) {
    if (!present(ctx->IDENT())) return std::nullopt;
    ast::Expectation expectation;
    expectation.span = span_of(ctx);
    const std::string word = ctx->IDENT()->getText();
    const bool has_list = present(ctx->LBRACKET());
    const bool has_number = present(ctx->INT());
    if (word == "rules" || word == "reviewers") {
      expectation.kind = word == "rules" ? ast::Expectation::Kind::kRules : ast::Expectation::Kind::kReviewers;
      if (!has_list) {
        reporter_.error(expectation.span, "`expect " + word + "` needs a list of strings",
                        word == "rules" ? "for example `expect rules [\"policy.rule\"]`"
                                        : "for example `expect reviewers [\"data-approver\"]`");
        return std::nullopt;
      }
      for (auto* s : ctx->STRING()) {
        if (present(s)) expectation.names.push_back(string_name(s));
      }
      return expectation;
    }
    if (word == "approvals") {
      expectation.kind = ast::Expectation::Kind::kApprovals;
      if (!has_number) {
        reporter_.error(expectation.span, "`expect approvals` needs a number", "for example `expect approvals 2`");
        return std::nullopt;
      }
      auto n = parse_count(span_of(ctx->INT()));
      if (!n) return std::nullopt;
      expectation.approvals = *n;
      return expectation;
    }
    if (has_list || has_number) {
      const std::string suggestion = closest(word, {"rules", "reviewers", "approvals"});
      reporter_.error(span_of(ctx->IDENT()), "unknown expectation `" + word + "`",
                      suggestion.empty() ? "expectations are `expect approve|deny|escalate`, `rules [...]`, "
                                           "`reviewers [...]`, `approvals N` and `error`"
                                         : "did you mean `" + suggestion + "`?");
      return std::nullopt;
    }
    if (word == "error") {
      expectation.kind = ast::Expectation::Kind::kError;
      return expectation;
    }
    expectation.kind = ast::Expectation::Kind::kOutcome;
    expectation.outcome = name_of(ctx->IDENT());
    return expectation;
  }

  // A non-negative decimal or hex integer that fits in int64 (approval counts).
  std::optional<std::int64_t> parse_count(const ast::Span& span) {
    auto magnitude = parse_magnitude(map_.text_of(span));
    if (!magnitude || *magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      reporter_.error(span, "number `" + std::string(map_.text_of(span)) + "` is out of range");
      return std::nullopt;
    }
    return static_cast<std::int64_t>(*magnitude);
  }

  static std::optional<std::uint64_t> parse_magnitude(std::string_view digits) {
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      digits.remove_prefix(2);
      base = 16;
    }
    std::uint64_t value = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return value;
  }

  // ---- Expressions ----

  Built too_deep(const ast::Span& at) {
    if (!reported_depth_) {
      reported_depth_ = true;
      reporter_.error(at, "expression nested too deeply (more than " + std::to_string(max_depth_) + " levels)",
                      "split it with `let` declarations");
    }
    return {};
  }

  Built node(ast::ExprKind kind, ast::Span span, std::vector<Built> children, const ast::Span& at) {
    std::uint32_t depth = 0;
    auto expr = std::make_unique<ast::Expr>();
    expr->kind = kind;
    expr->span = span;
    for (Built& child : children) {
      if (!child) return {};
      depth = std::max(depth, child.depth);
      expr->children.push_back(std::move(child.expr));
    }
    if (depth + 1 > max_depth_) return too_deep(at);
    return {std::move(expr), depth + 1};
  }

  Built expr(AP::ExprContext* ctx) {
    if (ctx == nullptr) return {};
    // binary() holds c0, t0, c1, t1, ..., last.
    const auto parts = ctx->binary();
    if (parts.empty() || parts.size() % 2 == 0) return {};
    std::vector<AP::BinaryContext*> conditions;
    std::vector<AP::BinaryContext*> thens;
    for (std::size_t i = 0; i + 1 < parts.size(); i += 2) {
      conditions.push_back(parts[i]);
      thens.push_back(parts[i + 1]);
    }
    conditions.push_back(parts.back());
    // c0 ? t0 : c1 ? t1 : ... : last, folded from the right without recursion.
    Built acc = binary(conditions.back());
    const auto questions = ctx->QUESTION();
    for (std::size_t i = thens.size(); i-- > 0;) {
      if (!acc) return {};
      Built condition = binary(conditions[i]);
      Built then = binary(thens[i]);
      if (!condition || !then) return {};
      const ast::Span span = join(condition.expr->span, acc.expr->span);
      std::vector<Built> children;
      children.push_back(std::move(condition));
      children.push_back(std::move(then));
      children.push_back(std::move(acc));
      acc = node(ast::ExprKind::kConditional, span, std::move(children),
                 i < questions.size() ? span_of(questions[i]) : span);
    }
    return acc;
  }

  // Operator precedence by an explicit stack (left-associative, CEL's levels).
  Built binary(AP::BinaryContext* ctx) {
    if (ctx == nullptr) return {};
    struct PendingOperator {
      ast::Operator op;
      int precedence;
      ast::Span span;
    };
    std::vector<Built> operands;
    std::vector<PendingOperator> operators;
    bool failed = false;
    const auto reduce = [&] {
      PendingOperator op = operators.back();
      operators.pop_back();
      Built right = std::move(operands.back());
      operands.pop_back();
      Built left = std::move(operands.back());
      operands.pop_back();
      if (!left || !right) {
        failed = true;
        operands.emplace_back();
        return;
      }
      const ast::Span span = join(left.expr->span, right.expr->span);
      std::vector<Built> children;
      children.push_back(std::move(left));
      children.push_back(std::move(right));
      Built result = node(ast::ExprKind::kBinary, span, std::move(children), op.span);
      if (result) result.expr->op = op.op;
      if (!result) failed = true;
      operands.push_back(std::move(result));
    };
    for (auto* child : ctx->children) {
      if (failed) return {};
      if (auto* operand_ctx = dynamic_cast<AP::OperandContext*>(child)) {
        operands.push_back(operand(operand_ctx));
        if (!operands.back()) return {};
      } else if (auto* op_ctx = dynamic_cast<AP::BinaryOperatorContext*>(child)) {
        if (op_ctx->getStart() == nullptr) return {};
        const ast::Operator op = binary_operator(op_ctx->getStart()->getType());
        if (op == ast::Operator::kNone) return {};
        const int precedence = ast::binary_precedence(op);
        while (!operators.empty() && operators.back().precedence >= precedence && operands.size() >= 2) reduce();
        operators.push_back({op, precedence, span_of(op_ctx)});
      }
    }
    if (operands.size() != operators.size() + 1) return {};
    while (!operators.empty() && !failed) reduce();
    if (failed || operands.size() != 1) return {};
    return std::move(operands.back());
  }

  Built operand(AP::OperandContext* ctx) {
    std::vector<antlr4::Token*> prefixes;
    for (auto* child : ctx->children) {
      auto* terminal = dynamic_cast<antlr4::tree::TerminalNode*>(child);
      if (terminal == nullptr) break;
      prefixes.push_back(terminal->getSymbol());
    }
    auto* primary_ctx = ctx->primary();
    if (primary_ctx == nullptr) return {};
    const auto selectors = ctx->selector();
    // CEL folds a minus into the numeric literal it stands before (so -9223372036854775808 is an int).
    antlr4::Token* fold_minus = nullptr;
    if (!prefixes.empty() && prefixes.back()->getType() == AP::MINUS && selectors.empty() &&
        primary_ctx->literal() != nullptr && primary_ctx->literal()->UINT() == nullptr &&
        (primary_ctx->literal()->INT() != nullptr || primary_ctx->literal()->DOUBLE() != nullptr)) {
      fold_minus = prefixes.back();
      prefixes.pop_back();
    }
    Built acc = fold_minus != nullptr ? literal(primary_ctx->literal(), fold_minus) : primary(primary_ctx);
    for (auto* selector : selectors) {
      if (!acc) return {};
      acc = select(std::move(acc), selector);
    }
    for (std::size_t i = prefixes.size(); i-- > 0;) {
      if (!acc) return {};
      const ast::Span span = join(map_.token_span(prefixes[i]), acc.expr->span);
      std::vector<Built> children;
      children.push_back(std::move(acc));
      acc = node(ast::ExprKind::kUnary, span, std::move(children), map_.token_span(prefixes[i]));
      if (acc) acc.expr->op = prefixes[i]->getType() == AP::EXCLAM ? ast::Operator::kNot : ast::Operator::kNegate;
    }
    return acc;
  }

  Built select(Built target, AP::SelectorContext* ctx) {
    const ast::Span span = join(target.expr->span, span_of(ctx));
    std::vector<Built> children;
    children.push_back(std::move(target));
    if (present(ctx->DOT())) {
      if (ctx->fieldName() == nullptr) return {};
      const ast::Span field_span = span_of(ctx->fieldName());
      std::string field = ctx->fieldName()->getText();
      check_reserved(field, field_span);
      const bool call = present(ctx->LPAREN());
      if (call && !args(ctx->exprList(), children)) return {};
      Built out = node(call ? ast::ExprKind::kCall : ast::ExprKind::kSelect, span, std::move(children), field_span);
      if (out) {
        out.expr->name = std::move(field);
        out.expr->has_target = call;
      }
      return out;
    }
    Built index = expr(ctx->expr());
    if (!index) return {};
    children.push_back(std::move(index));
    return node(ast::ExprKind::kIndex, span, std::move(children), span_of(ctx));
  }

  bool args(AP::ExprListContext* list, std::vector<Built>& out) {
    if (list == nullptr) return true;
    for (auto* e : list->expr()) {
      Built arg = expr(e);
      if (!arg) return false;
      out.push_back(std::move(arg));
    }
    return true;
  }

  void check_reserved(const std::string& name, const ast::Span& span) {
    if (is_cel_reserved(name)) reporter_.error(span, "`" + name + "` is a reserved word and cannot be used as a name");
  }

  Built primary(AP::PrimaryContext* ctx) {
    const ast::Span span = span_of(ctx);
    if (present(ctx->IDENT())) {
      std::string name = ctx->IDENT()->getText();
      check_reserved(name, span_of(ctx->IDENT()));
      std::vector<Built> children;
      const bool call = present(ctx->LPAREN());
      if (call && !args(ctx->exprList(), children)) return {};
      Built out = node(call ? ast::ExprKind::kCall : ast::ExprKind::kIdent, span, std::move(children), span);
      if (out) out.expr->name = std::move(name);
      return out;
    }
    if (present(ctx->LPAREN())) {
      Built inner = expr(ctx->expr());
      if (!inner) return {};
      inner.expr->parenthesized = true;
      inner.expr->span = span;
      return inner;
    }
    if (present(ctx->LBRACKET())) {
      std::vector<Built> children;
      if (!args(ctx->exprList(), children)) return {};
      return node(ast::ExprKind::kList, span, std::move(children), span);
    }
    if (ctx->mapLiteral() != nullptr) return map_literal(ctx->mapLiteral());
    if (ctx->literal() != nullptr) return literal(ctx->literal(), nullptr);
    return {};
  }

  Built map_literal(AP::MapLiteralContext* ctx) {
    std::vector<Built> children;
    for (auto* entry : ctx->mapEntry()) {
      const auto parts = entry->expr();
      if (parts.size() != 2) return {};
      Built key = expr(parts[0]);
      Built value = expr(parts[1]);
      if (!key || !value) return {};
      children.push_back(std::move(key));
      children.push_back(std::move(value));
    }
    return node(ast::ExprKind::kMap, span_of(ctx), std::move(children), span_of(ctx));
  }

  Built make_literal(const ast::Span& span, runtime::Value value, std::string spelling) {
    auto expr = std::make_unique<ast::Expr>();
    expr->kind = ast::ExprKind::kLiteral;
    expr->span = span;
    expr->value = std::move(value);
    expr->spelling = std::move(spelling);
    return {std::move(expr), 1};
  }

  Built literal(AP::LiteralContext* ctx, antlr4::Token* minus) {
    ast::Span span = span_of(ctx);
    const std::string sign = minus != nullptr ? "-" : "";
    if (minus != nullptr) span = join(map_.token_span(minus), span);
    if (present(ctx->INT())) {
      const ast::Span number_span = span_of(ctx->INT());
      const std::string digits(map_.text_of(number_span));
      auto magnitude = parse_magnitude(digits);
      const unsigned __int128 limit =
          static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()) + (minus ? 1 : 0);
      unsigned __int128 value = magnitude ? *magnitude : 0;
      if (!magnitude || value > limit) {
        reporter_.error(join(minus ? map_.token_span(minus) : number_span, number_span),
                        "integer literal `" + sign + digits + "` is out of range for int",
                        "an int is a 64-bit signed number; use a uint (`" + digits + "u`) or a double");
        return make_literal(span, runtime::Value::integer(0), sign + digits);
      }
      std::string spelling = sign + digits;
      if (present(ctx->IDENT())) {
        const ast::Span unit_span = span_of(ctx->IDENT());
        const std::string unit = ctx->IDENT()->getText();
        const auto it =
            std::find_if(kSizeUnits.begin(), kSizeUnits.end(), [&](const SizeUnit& u) { return u.name == unit; });
        spelling += " " + unit;
        if (it == kSizeUnits.end()) {
          const std::string suggestion = closest(unit, {"KiB", "MiB", "GiB", "TiB", "KB", "MB", "GB", "TB"});
          reporter_.error(unit_span, "unknown size unit `" + unit + "`",
                          suggestion.empty() ? "size units are KiB, MiB, GiB, TiB (powers of 1024) and KB, MB, GB, TB"
                                             : "did you mean `" + suggestion + "`?");
          return make_literal(span, runtime::Value::integer(0), spelling);
        }
        value *= static_cast<unsigned __int128>(it->bytes);
        if (value > limit) {
          reporter_.error(span, "size literal `" + spelling + "` overflows a 64-bit int");
          return make_literal(span, runtime::Value::integer(0), spelling);
        }
      }
      const std::int64_t result =
          minus ? static_cast<std::int64_t>(-static_cast<__int128>(value)) : static_cast<std::int64_t>(value);
      return make_literal(span, runtime::Value::integer(result), spelling);
    }
    if (present(ctx->UINT())) {
      const std::string text = ctx->UINT()->getText();
      auto magnitude = parse_magnitude(std::string_view(text).substr(0, text.size() - 1));
      if (!magnitude) {
        reporter_.error(span, "unsigned integer literal `" + text + "` is out of range");
        return make_literal(span, runtime::Value::unsigned_integer(0), text);
      }
      return make_literal(span, runtime::Value::unsigned_integer(*magnitude), text);
    }
    if (present(ctx->DOUBLE())) {
      const std::string text = ctx->DOUBLE()->getText();
      double value = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error == std::errc::result_out_of_range) {
        reporter_.error(span, "double literal `" + text + "` is out of range");
      } else if (error != std::errc() || end != text.data() + text.size()) {
        reporter_.error(span, "invalid number `" + text + "`");
      }
      return make_literal(span, runtime::Value::floating(minus ? -value : value), sign + text);
    }
    if (present(ctx->STRING())) {
      auto decoded = decode_string(span);
      runtime::Value value;
      if (decoded)
        value = decoded->second ? runtime::Value::bytes(decoded->first) : runtime::Value::string(decoded->first);
      return make_literal(span, std::move(value), std::string(map_.text_of(span)));
    }
    if (present(ctx->TRUE())) return make_literal(span, runtime::Value::boolean(true), "true");
    if (present(ctx->FALSE())) return make_literal(span, runtime::Value::boolean(false), "false");
    if (present(ctx->NUL())) return make_literal(span, runtime::Value::null(), "null");
    return {};
  }

  // Decodes a string or bytes literal spelled at `span`: {value, is_bytes}; reports bad escapes.
  std::optional<std::pair<std::string, bool>> decode_string(const ast::Span& span) {
    const std::string_view text = map_.text_of(span);
    std::size_t i = 0;
    bool raw = false;
    bool bytes = false;
    while (i < text.size() && text[i] != '"' && text[i] != '\'') {
      if (text[i] == 'r' || text[i] == 'R') raw = true;
      if (text[i] == 'b' || text[i] == 'B') bytes = true;
      ++i;
    }
    if (i >= text.size()) return std::nullopt;
    const char quote = text[i];
    const std::size_t delimiter = text.size() >= i + 6 && text[i + 1] == quote && text[i + 2] == quote ? 3 : 1;
    const std::size_t begin = i + delimiter;
    if (text.size() < begin + delimiter) return std::nullopt;
    const std::size_t end = text.size() - delimiter;
    std::string out;
    if (raw) return std::make_pair(std::string(text.substr(begin, end - begin)), bytes);
    bool ok = true;
    const auto bad = [&](std::size_t at, std::size_t length, std::string message, std::string help = {}) {
      ok = false;
      reporter_.error(map_.span(span.begin + static_cast<std::uint32_t>(at),
                                span.begin + static_cast<std::uint32_t>(std::min(at + length, end))),
                      std::move(message), std::move(help));
    };
    const auto hex_value = [&](std::size_t at, std::size_t count) -> std::optional<std::uint32_t> {
      if (at + count > end) return std::nullopt;
      std::uint32_t v = 0;
      for (std::size_t k = 0; k < count; ++k) {
        const char c = text[at + k];
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (digit < 0) return std::nullopt;
        v = v * 16 + static_cast<std::uint32_t>(digit);
      }
      return v;
    };
    for (std::size_t k = begin; k < end;) {
      const char c = text[k];
      if (c != '\\') {
        out += c;
        ++k;
        continue;
      }
      if (k + 1 >= end) {
        bad(k, 1, "a string cannot end with a lone `\\`", "write `\\\\` for a backslash");
        break;
      }
      const char e = text[k + 1];
      std::size_t length = 2;
      switch (e) {
        case '\\': out += '\\'; break;
        case '?': out += '?'; break;
        case '"': out += '"'; break;
        case '\'': out += '\''; break;
        case '`': out += '`'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x':
        case 'X':
        case 'u':
        case 'U': {
          const std::size_t count = (e == 'x' || e == 'X') ? 2 : e == 'u' ? 4 : 8;
          length = 2 + count;
          auto v = hex_value(k + 2, count);
          if (!v) {
            bad(k, length, "invalid escape `" + std::string(text.substr(k, std::min(length, end - k))) + "`",
                "`\\" + std::string(1, e) + "` takes exactly " + std::to_string(count) + " hex digits");
          } else if (bytes && count == 2) {
            out += static_cast<char>(*v);
          } else if (*v > 0x10FFFF || (*v >= 0xD800 && *v <= 0xDFFF)) {
            bad(k, length, "invalid Unicode code point in escape `" + std::string(text.substr(k, length)) + "`");
          } else {
            append_utf8(out, *v);
          }
          break;
        }
        case '0':
        case '1':
        case '2':
        case '3': {
          length = 4;
          std::uint32_t v = 0;
          bool valid = k + 4 <= end;
          for (std::size_t d = 1; valid && d <= 3; ++d) {
            const char o = text[k + d];
            if (o < '0' || o > '7') valid = false;
            v = v * 8 + static_cast<std::uint32_t>(o - '0');
          }
          if (!valid) {
            bad(k, length, "invalid octal escape",
                "an octal escape is `\\` and three octal digits, from `\\000` to `\\377`");
          } else if (bytes) {
            out += static_cast<char>(v);
          } else {
            append_utf8(out, v);
          }
          break;
        }
        default: {
          std::size_t char_length = 1;
          while (k + 1 + char_length < end && is_continuation_byte(text[k + 1 + char_length])) ++char_length;
          length = 1 + char_length;
          bad(k, length, "invalid escape `\\" + std::string(text.substr(k + 1, char_length)) + "`",
              "escapes are \\\\ \\\" \\' \\` \\? \\a \\b \\f \\n \\r \\t \\v \\xHH \\uHHHH \\UHHHHHHHH and octal "
              "\\NNN");
        }
      }
      k += length;
    }
    if (!ok) return std::nullopt;
    return std::make_pair(std::move(out), bytes);
  }

  const SourceMap& map_;
  Reporter& reporter_;
  std::uint32_t max_depth_;
  bool reported_depth_ = false;
};

// ---- One declaration at a time ----
//
// A file's ANTLR tokens (over 100 bytes each) and parse tree take many times the memory of its AST: a
// file of 10,000 rules would hold well over 100 MiB at once. So DeclarationParser lexes a file once
// into compact lexemes, splits it at its top-level declarations (a policy's `policy "name" {`, each of
// its members and its closing `}`; each test whole), parses each piece with the grammar rule for it,
// builds it into the AST and frees its tokens and tree before the next. A member keyword (`rule`,
// `let`, `when`, `applies`, `description`, `otherwise`) outside brackets is never part of an
// expression (keywords are names only after a `.`), so the pieces are exactly the members the
// whole-file parse finds, and each parses the same alone.
//
// Diagnostics are those of the whole-file parse: at the first one of any kind (lexical, nesting,
// syntax, literal), or at anything that is not a clean declaration, DeclarationParser throws Fallback
// and parse_policy_file parses the whole file at once, with its error recovery, as if the pieces had
// never been tried. So it only ever returns a file without diagnostics.

// A default-channel token of the file: code point offsets of its first and last character, its type.
struct Lexeme {
  std::uint32_t start = 0;
  std::uint32_t stop = 0;
  std::uint32_t type = 0;
};

// Gives lexemes [begin, end) of a file to an ANTLR parser as tokens, with their offsets, lines and
// columns in the file, then EOF at `eof_at`.
class LexemeSource : public antlr4::TokenSource {
 public:
  LexemeSource(const std::vector<Lexeme>& lexemes, std::size_t begin, std::size_t end, std::uint32_t eof_at,
               const SourceMap& map, std::string_view name)
      : lexemes_(lexemes), next_(begin), end_(end), eof_at_(eof_at), map_(map), name_(name) {
    line_ = map_.line_of(map_.byte_offset(begin < end ? lexemes_[begin].start : eof_at));
  }

  std::unique_ptr<antlr4::Token> nextToken() override {
    if (next_ >= end_) {
      auto eof = std::make_unique<antlr4::CommonToken>(std::make_pair(this, nullptr), antlr4::Token::EOF,
                                                       antlr4::Token::DEFAULT_CHANNEL, eof_at_, eof_at_ - 1);
      locate(*eof, eof_at_, map_.byte_offset(eof_at_));
      return eof;
    }
    const Lexeme& lexeme = lexemes_[next_++];
    auto token = std::make_unique<antlr4::CommonToken>(std::make_pair(this, nullptr), lexeme.type,
                                                       antlr4::Token::DEFAULT_CHANNEL, lexeme.start, lexeme.stop);
    const std::uint32_t begin = map_.byte_offset(lexeme.start);
    token->setText(std::string(map_.text().substr(begin, map_.byte_offset(lexeme.stop + 1) - begin)));
    locate(*token, lexeme.start, begin);
    return token;
  }

  std::size_t getLine() const override { return line_ + 1; }
  std::size_t getCharPositionInLine() override { return column_; }
  antlr4::CharStream* getInputStream() override { return nullptr; }
  std::string getSourceName() override { return std::string(name_); }
  antlr4::TokenFactory<antlr4::CommonToken>* getTokenFactory() override {
    return antlr4::CommonTokenFactory::DEFAULT.get();
  }

 private:
  // Line (1-based) and column (0-based, in code points) as ANTLR's lexer sets them; tokens come in
  // order, so the line only moves forward.
  void locate(antlr4::CommonToken& token, std::uint32_t code_point, std::uint32_t byte) {
    while (line_ + 1 < map_.line_count() && map_.line_start(line_ + 1) <= byte) {
      ++line_;
      line_code_point_.reset();
    }
    if (!line_code_point_) line_code_point_ = map_.code_point_of(map_.line_start(line_));
    column_ = code_point - *line_code_point_;
    token.setLine(line_ + 1);
    token.setCharPositionInLine(column_);
  }

  const std::vector<Lexeme>& lexemes_;
  std::size_t next_;
  std::size_t end_;
  std::uint32_t eof_at_;
  const SourceMap& map_;
  std::string_view name_;
  std::size_t line_ = 0;
  std::optional<std::uint32_t> line_code_point_;
  std::size_t column_ = 0;
};

class DeclarationParser {
 public:
  DeclarationParser(std::string_view path, std::string_view text, const CompileLimits& limits)
      : path_(path), text_(text), limits_(limits), reporter_(path, text, limits.max_errors_per_file) {
    reporter_.throw_fallback_on_error();
  }

  // The file; throws Fallback where the whole-file parse must decide.
  std::unique_ptr<ast::File> parse() {
    // ANTLR's input stream drops a UTF-8 byte order mark, so ANTLR's offsets are one off SourceMap's:
    // such a file keeps the whole-file parse and whatever that makes of it.
    if (text_.size() > limits_.max_file_bytes || text_.starts_with("\xEF\xBB\xBF") ||
        find_invalid_utf8(text_) != std::string_view::npos) {
      throw Fallback{};
    }
    map_.emplace(text_);
    lex();
    Builder builder(*map_, reporter_, limits_.max_nesting_depth);
    auto file = std::make_unique<ast::File>();
    file->path = std::string(path_);
    std::size_t at = 0;
    while (at < lexemes_.size()) {
      if (type(at) == AP::POLICY) {
        at = policy(builder, at, *file);
      } else if (type(at) == AP::TEST) {
        at = test(builder, at, *file);
      } else {
        throw Fallback{};
      }
    }
    file->comments = std::move(comments_);
    return file;
  }

 private:
  // Lexes the whole file, with the lexical and nesting checks of ParseSession::prepare, keeping only
  // lexemes and comments.
  void lex() {
    antlr4::ANTLRInputStream input(std::string{text_});
    AirlockLexer lexer(&input);
    lexer.removeErrorListeners();
    NestingCheck nesting(*map_, limits_.max_nesting_depth, reporter_);
    for (;;) {
      const std::unique_ptr<antlr4::Token> token = lexer.nextToken();
      const std::size_t token_type = token->getType();
      if (token_type == antlr4::Token::EOF) {
        eof_at_ = static_cast<std::uint32_t>(token->getStartIndex());
        break;
      }
      if (token->getChannel() != antlr4::Token::DEFAULT_CHANNEL) {
        if (token_type == AP::LINE_COMMENT || token_type == AP::BLOCK_COMMENT) {
          const ast::Span span = map_->token_span(token.get());
          comments_.push_back({span, std::string(map_->text_of(span))});
        }
        continue;
      }
      check_lexical_error(token.get(), *map_, reporter_);  // throw Fallback on an error
      nesting.feed(token.get());
      lexemes_.push_back({static_cast<std::uint32_t>(token->getStartIndex()),
                          static_cast<std::uint32_t>(token->getStopIndex()), static_cast<std::uint32_t>(token_type)});
    }
  }

  std::size_t type(std::size_t at) const { return lexemes_[at].type; }
  ast::Span span(std::size_t at) const {
    const Lexeme& lexeme = lexemes_[at];
    return map_->span(map_->byte_offset(lexeme.start), map_->byte_offset(lexeme.stop + 1));
  }
  static bool opens(std::size_t type) { return type == AP::LPAREN || type == AP::LBRACKET || type == AP::LBRACE; }
  static bool closes(std::size_t type) { return type == AP::RPAREN || type == AP::RBRACKET || type == AP::RBRACE; }
  static bool starts_member(std::size_t type) {
    return type == AP::DESCRIPTION || type == AP::APPLIES || type == AP::WHEN || type == AP::LET || type == AP::RULE ||
           type == AP::OTHERWISE;
  }

  // `policy STRING {` member* `}` from lexeme `at`; returns the lexeme after it.
  std::size_t policy(Builder& builder, std::size_t at, ast::File& file) {
    if (at + 2 >= lexemes_.size() || type(at + 1) != AP::STRING || type(at + 2) != AP::LBRACE) throw Fallback{};
    ast::PolicyDecl policy;
    policy.name = builder.policy_name(span(at + 1));
    policy.open_brace = span(at + 2);
    std::size_t member = at + 3;
    while (member < lexemes_.size() && type(member) != AP::RBRACE) {
      const std::size_t end = member_end(member);
      parse_piece(member, end, [&](AP& parser) {
        AP::PolicyMemberContext* tree = parser.policyMember();
        check_all_taken(parser);
        builder.add_policy_member(tree, policy);
      });
      member = end;
    }
    if (member >= lexemes_.size()) throw Fallback{};
    policy.span = join(span(at), span(member));
    file.policies.push_back(std::move(policy));
    return member + 1;
  }

  // The lexeme after the policy member starting at `at`: the next member keyword outside brackets and
  // not after a `.`, or the policy's closing `}`.
  std::size_t member_end(std::size_t at) const {
    if (!starts_member(type(at))) throw Fallback{};
    std::size_t depth = 0;
    for (std::size_t k = at + 1; k < lexemes_.size(); ++k) {
      const std::size_t t = type(k);
      if (opens(t)) {
        ++depth;
      } else if (closes(t)) {
        if (depth == 0) {
          if (t == AP::RBRACE) return k;
          throw Fallback{};
        }
        --depth;
      } else if (depth == 0 && starts_member(t) && type(k - 1) != AP::DOT) {
        return k;
      }
    }
    throw Fallback{};
  }

  // `test STRING { ... }` from lexeme `at`, up to the `}` that closes its first bracket.
  std::size_t test(Builder& builder, std::size_t at, ast::File& file) {
    std::size_t depth = 0;
    for (std::size_t k = at + 1; k < lexemes_.size(); ++k) {
      const std::size_t t = type(k);
      if (opens(t)) {
        ++depth;
      } else if (closes(t)) {
        if (depth == 0) throw Fallback{};
        if (--depth == 0) {
          parse_piece(at, k + 1, [&](AP& parser) {
            AP::TestDeclContext* tree = parser.testDecl();
            check_all_taken(parser);
            file.tests.push_back(builder.test(tree));
          });
          return k + 1;
        }
      } else if (depth == 0 && (t == AP::POLICY || t == AP::TEST)) {
        throw Fallback{};
      }
    }
    throw Fallback{};
  }

  // Parses lexemes [begin, end) alone; `build` runs the grammar rule and builds the AST while the
  // tokens and the parse tree are alive, and they go when this returns.
  template <typename Build>
  void parse_piece(std::size_t begin, std::size_t end, Build&& build) {
    LexemeSource source(lexemes_, begin, end, end < lexemes_.size() ? lexemes_[end].start : eof_at_, *map_, path_);
    antlr4::CommonTokenStream tokens(&source);
    AP parser(&tokens);
    parser.removeErrorListeners();
    parser.setErrorHandler(std::make_shared<ErrorStrategy>(reporter_, *map_));
    build(parser);
  }

  // A rule that stops before the end of its piece leaves tokens the whole-file parse would see.
  static void check_all_taken(AP& parser) {
    if (parser.getCurrentToken()->getType() != antlr4::Token::EOF) throw Fallback{};
  }

  std::string_view path_;
  std::string_view text_;
  const CompileLimits& limits_;
  Reporter reporter_;
  std::optional<SourceMap> map_;
  std::vector<Lexeme> lexemes_;
  std::uint32_t eof_at_ = 0;
  std::vector<ast::Comment> comments_;
};

// Everything one parse needs, kept alive together (the parse tree points into the token stream).
struct ParseSession {
  ParseSession(std::string_view path, std::string_view text, const CompileLimits& limits)
      : path_(path), text_(text), limits_(limits), reporter_(path, text, limits.max_errors_per_file) {}

  // Checks size and encoding and lexes. False when parsing must not go on.
  bool prepare() {
    if (text_.size() > limits_.max_file_bytes) {
      Diagnostic d;
      d.path = std::string(path_);
      d.message = "file is too large (" + std::to_string(text_.size()) + " bytes; the limit is " +
                  std::to_string(limits_.max_file_bytes) + ")";
      diagnostics_prefix_.push_back(std::move(d));
      return false;
    }
    if (const std::size_t bad = find_invalid_utf8(text_); bad != std::string_view::npos) {
      // The text before the bad byte is valid, so lines and columns can be counted over it.
      SourceMap prefix(text_.substr(0, bad));
      ast::Span span = prefix.span(static_cast<std::uint32_t>(bad), static_cast<std::uint32_t>(bad));
      span.end = span.begin + 1;
      Diagnostic d = make_diagnostic(Severity::kError, path_, text_, span, "invalid UTF-8 in the source",
                                     "policy files must be UTF-8");
      std::string clean;
      for (unsigned char c : d.source_line) clean += c >= 0x80 ? '?' : static_cast<char>(c);
      d.source_line = find_invalid_utf8(d.source_line) == std::string_view::npos ? d.source_line : clean;
      diagnostics_prefix_.push_back(std::move(d));
      return false;
    }
    map_.emplace(text_);
    input_.emplace(std::string(text_));
    lexer_.emplace(&*input_);
    lexer_->removeErrorListeners();
    tokens_.emplace(&*lexer_);
    // Token by token, so that hostile input stops at its first offending token.
    bool lexical_ok = true;
    NestingCheck nesting(*map_, limits_.max_nesting_depth, reporter_);
    for (antlr4::Token* token = tokens_->LT(1); token->getType() != antlr4::Token::EOF; token = tokens_->LT(1)) {
      if (!check_lexical_error(token, *map_, reporter_)) {
        lexical_ok = false;
      } else if (lexical_ok && !nesting.feed(token)) {
        return false;
      }
      tokens_->consume();
    }
    if (!lexical_ok) return false;
    tokens_->seek(0);
    parser_.emplace(&*tokens_);
    parser_->removeErrorListeners();
    parser_->setErrorHandler(std::make_shared<ErrorStrategy>(reporter_, *map_));
    return true;
  }

  std::vector<Diagnostic> diagnostics() {
    std::vector<Diagnostic> out = std::move(diagnostics_prefix_);
    for (Diagnostic& d : reporter_.take()) out.push_back(std::move(d));
    return out;
  }

  std::vector<ast::Comment> comments() {
    std::vector<ast::Comment> out;
    for (antlr4::Token* token : tokens_->getTokens()) {
      if (token->getType() == AP::LINE_COMMENT || token->getType() == AP::BLOCK_COMMENT) {
        const ast::Span span = map_->token_span(token);
        out.push_back({span, std::string(map_->text_of(span))});
      }
    }
    return out;
  }

  std::string_view path_;
  std::string_view text_;
  const CompileLimits& limits_;
  Reporter reporter_;
  std::vector<Diagnostic> diagnostics_prefix_;
  std::optional<SourceMap> map_;
  std::optional<antlr4::ANTLRInputStream> input_;
  std::optional<AirlockLexer> lexer_;
  std::optional<antlr4::CommonTokenStream> tokens_;
  std::optional<AP> parser_;
};

}  // namespace

ParsedFile parse_policy_file(std::string_view path, std::string_view text, const CompileLimits& limits) {
  return parse_policy_file(path, text, limits, ParseMode::kAuto);
}

ParsedFile parse_policy_file(std::string_view path, std::string_view text, const CompileLimits& limits,
                             ParseMode mode) {
  if (mode != ParseMode::kWholeFile) {
    try {
      ParsedFile result;
      result.file = DeclarationParser(path, text, limits).parse();
      return result;
    } catch (const Fallback&) {
    } catch (const std::exception&) {
      // ANTLR's own failures: the whole-file parse meets them too and reports them.
    }
    if (mode == ParseMode::kByDeclaration) return {};
  }
  ParsedFile result;
  ParseSession session(path, text, limits);
  try {
    if (session.prepare()) {
      AP::FileContext* tree = session.parser_->file();
      Builder builder(*session.map_, session.reporter_, limits.max_nesting_depth);
      result.file = builder.file(tree, path);
      result.file->comments = session.comments();
    }
  } catch (const StopParsing&) {
    result.file.reset();
  } catch (const std::exception& e) {
    // ANTLR's own failures (it throws on internal errors); never let them cross the boundary.
    Diagnostic d;
    d.path = std::string(path);
    d.message = std::string("internal parser error: ") + e.what();
    result.file.reset();
    result.diagnostics = session.diagnostics();
    result.diagnostics.push_back(std::move(d));
    return result;
  }
  result.diagnostics = session.diagnostics();
  return result;
}

ParsedExpression parse_expression(std::string_view path, std::string_view text, const CompileLimits& limits) {
  ParsedExpression result;
  ParseSession session(path, text, limits);
  try {
    if (session.prepare()) {
      AP::ExpressionOnlyContext* tree = session.parser_->expressionOnly();
      Builder builder(*session.map_, session.reporter_, limits.max_nesting_depth);
      if (session.reporter_.error_count() == 0) result.expr = builder.expression(tree->expr());
    }
  } catch (const StopParsing&) {
    result.expr.reset();
  } catch (const std::exception& e) {
    Diagnostic d;
    d.path = std::string(path);
    d.message = std::string("internal parser error: ") + e.what();
    result.expr.reset();
    result.diagnostics = session.diagnostics();
    result.diagnostics.push_back(std::move(d));
    return result;
  }
  result.diagnostics = session.diagnostics();
  if (has_errors(result.diagnostics)) result.expr.reset();
  return result;
}

Diagnostic make_diagnostic(Severity severity, std::string_view path, std::string_view text, const ast::Span& span,
                           std::string message, std::string help) {
  Diagnostic d;
  d.severity = severity;
  d.path = std::string(path);
  d.message = std::move(message);
  d.help = std::move(help);
  if (span.begin > text.size()) {
    d.line = span.line;
    d.column = span.column;
    return d;
  }
  const std::size_t line_start = span.begin == 0 ? 0 : text.rfind('\n', span.begin - 1) + 1;
  std::size_t line_end = text.find('\n', span.begin);
  if (line_end == std::string_view::npos) line_end = text.size();
  std::string_view line = text.substr(line_start, line_end - line_start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  d.source_line = std::string(line);
  d.line = static_cast<std::uint32_t>(std::count(text.begin(), text.begin() + line_start, '\n')) + 1;
  const auto code_points = [&](std::size_t from, std::size_t to) {
    std::uint32_t n = 0;
    for (std::size_t i = from; i < to && i < text.size(); ++i) n += is_continuation_byte(text[i]) ? 0 : 1;
    return n;
  };
  d.column = code_points(line_start, span.begin) + 1;
  const std::size_t underline_end = std::min<std::size_t>(std::max(span.end, span.begin), line_start + line.size());
  d.length = std::max<std::uint32_t>(1, code_points(span.begin, underline_end));
  return d;
}

}  // namespace airlock::compiler
