// The canonical layout of a policy file (`airlock fmt`).
//
// Comments are attached to "anchors": the lines the formatter prints (a member, a rule clause, a
// `given` entry, a block's header or its closing brace). A comment inside an anchor's source, or
// on lines of its own before it, is printed on its own line before the anchor; a comment that
// follows an anchor on the same source line stays at the end of that line. Members move to the
// canonical order together with their comments.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/compiler/compiler.h"
#include "ast.h"
#include "parser.h"

namespace airlock::compiler {
namespace {

// Precedence for printing: a higher number binds tighter.
constexpr int kConditionalPrecedence = 1;
constexpr int kUnaryPrecedence = 7;
constexpr int kMemberPrecedence = 8;

int precedence(const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::kConditional: return kConditionalPrecedence;
    case ast::ExprKind::kBinary: return ast::binary_precedence(e.op);
    case ast::ExprKind::kUnary: return kUnaryPrecedence;
    case ast::ExprKind::kLiteral:
      return !e.spelling.empty() && e.spelling[0] == '-' ? kUnaryPrecedence : kMemberPrecedence;
    default: return kMemberPrecedence;
  }
}

bool is_logical(const ast::Expr& e) {
  return e.kind == ast::ExprKind::kBinary && (e.op == ast::Operator::kAnd || e.op == ast::Operator::kOr);
}

// A string value as a double-quoted literal.
std::string quote(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
          out += kHex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// A string or bytes literal's spelling with double quotes where that keeps its meaning.
std::string canonical_string(const std::string& spelling) {
  std::size_t i = 0;
  bool raw = false;
  while (i < spelling.size() && spelling[i] != '"' && spelling[i] != '\'') {
    raw = raw || spelling[i] == 'r' || spelling[i] == 'R';
    ++i;
  }
  if (i >= spelling.size() || spelling[i] == '"') return spelling;
  const std::string prefix = spelling.substr(0, i);
  const bool triple = spelling.compare(i, 3, "'''") == 0 && spelling.size() >= i + 6;
  const std::size_t delimiter = triple ? 3 : 1;
  const std::string content = spelling.substr(i + delimiter, spelling.size() - i - 2 * delimiter);
  if (raw || triple) {
    // Escapes keep their meaning between either quotes; only a `"` in the text stops the swap.
    if (content.find('"') != std::string::npos) return spelling;
    const std::string quotes(delimiter, '"');
    return prefix + quotes + content + quotes;
  }
  std::string out = prefix + "\"";
  for (std::size_t k = 0; k < content.size(); ++k) {
    if (content[k] == '\\' && k + 1 < content.size()) {
      if (content[k + 1] != '\'') out += '\\';
      out += content[k + 1];
      ++k;
    } else if (content[k] == '"') {
      out += "\\\"";
    } else {
      out += content[k];
    }
  }
  return out + "\"";
}

std::string print_expr(const ast::Expr& e);

std::string print_child(const ast::Expr& child, bool needs_parentheses) {
  return needs_parentheses ? "(" + print_expr(child) + ")" : print_expr(child);
}

std::string print_list(const std::vector<ast::ExprPtr>& items, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < items.size(); ++i) {
    if (i > from) out += ", ";
    out += print_expr(*items[i]);
  }
  return out;
}

std::string print_expr(const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::kLiteral:
      return e.value.kind() == runtime::Kind::kString || e.value.kind() == runtime::Kind::kBytes
                 ? canonical_string(e.spelling)
                 : e.spelling;
    case ast::ExprKind::kIdent: return e.name;
    case ast::ExprKind::kSelect:
      return print_child(*e.children[0], precedence(*e.children[0]) < kMemberPrecedence) + "." + e.name;
    case ast::ExprKind::kCall:
      if (e.has_target) {
        return print_child(*e.children[0], precedence(*e.children[0]) < kMemberPrecedence) + "." + e.name + "(" +
               print_list(e.children, 1) + ")";
      }
      return e.name + "(" + print_list(e.children, 0) + ")";
    case ast::ExprKind::kIndex:
      return print_child(*e.children[0], precedence(*e.children[0]) < kMemberPrecedence) + "[" +
             print_expr(*e.children[1]) + "]";
    case ast::ExprKind::kList: return "[" + print_list(e.children, 0) + "]";
    case ast::ExprKind::kMap: {
      std::string out = "{";
      for (std::size_t i = 0; i + 1 < e.children.size(); i += 2) {
        if (i > 0) out += ", ";
        out += print_expr(*e.children[i]) + ": " + print_expr(*e.children[i + 1]);
      }
      return out + "}";
    }
    case ast::ExprKind::kUnary: {
      const ast::Expr& operand = *e.children[0];
      // `-(1)` stays: `-1` would read back as the literal -1.
      const bool numeric =
          operand.kind == ast::ExprKind::kLiteral && precedence(operand) == kMemberPrecedence &&
          (operand.value.kind() == runtime::Kind::kInt || operand.value.kind() == runtime::Kind::kDouble);
      return std::string(ast::operator_spelling(e.op)) +
             print_child(operand,
                         precedence(operand) < kUnaryPrecedence || (e.op == ast::Operator::kNegate && numeric));
    }
    case ast::ExprKind::kBinary: {
      const int p = ast::binary_precedence(e.op);
      const auto keep = [&](const ast::Expr& child) {
        // The author's parentheses around an `&&` inside `||` (or the reverse) help the reader.
        return child.parenthesized && is_logical(e) && is_logical(child) && child.op != e.op;
      };
      const ast::Expr& left = *e.children[0];
      const ast::Expr& right = *e.children[1];
      return print_child(left, precedence(left) < p || keep(left)) + " " + std::string(ast::operator_spelling(e.op)) +
             " " + print_child(right, precedence(right) <= p || keep(right));
    }
    case ast::ExprKind::kConditional:
      return print_child(*e.children[0], precedence(*e.children[0]) <= kConditionalPrecedence) + " ? " +
             print_child(*e.children[1], precedence(*e.children[1]) <= kConditionalPrecedence) + " : " +
             print_expr(*e.children[2]);
  }
  return "";
}

std::string print_effect(const ast::EffectClause& effect) {
  std::string out = effect.effect.text;
  for (std::size_t i = 0; i < effect.roles.size(); ++i) {
    out += i == 0 ? " to " : ", ";
    out += quote(effect.roles[i].text);
  }
  if (effect.approvals) {
    out += " requiring " + std::to_string(*effect.approvals) + (*effect.approvals == 1 ? " approval" : " approvals");
  }
  return out;
}

std::string print_names(const std::vector<ast::Name>& names) {
  std::string out = "[";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote(names[i].text);
  }
  return out + "]";
}

struct Anchor {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::vector<const ast::Comment*> leading;
  const ast::Comment* trailing = nullptr;
};

class Formatter {
 public:
  Formatter(std::string_view text, const ast::File& file) : text_(text), file_(file) {}

  std::string run() {
    collecting_ = true;
    walk();
    attach_comments();
    collecting_ = false;
    out_.clear();
    walk();
    return out_;
  }

 private:
  // ---- The layout, walked twice: once to register the anchors, once to print ----

  void walk() {
    std::vector<std::pair<std::uint32_t, const void*>> blocks;
    for (const auto& policy : file_.policies) blocks.emplace_back(policy.span.begin, &policy);
    for (const auto& test : file_.tests) blocks.emplace_back(test.span.begin, &test);
    std::sort(blocks.begin(), blocks.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    bool first = true;
    for (const auto& [begin, block] : blocks) {
      if (!first) blank();
      first = false;
      const auto policy = std::find_if(file_.policies.begin(), file_.policies.end(),
                                       [&](const ast::PolicyDecl& p) { return &p == block; });
      if (policy != file_.policies.end()) {
        print_policy(*policy);
      } else {
        print_test(*static_cast<const ast::TestDecl*>(block));
      }
    }
    if (!collecting_ && !end_comments_.empty()) {
      if (!out_.empty()) out_ += '\n';
      print_comments(end_comments_, 0, static_cast<std::uint32_t>(text_.size()));
    }
  }

  void print_policy(const ast::PolicyDecl& policy) {
    line(policy.span.begin, policy.open_brace.end, 0, "policy " + quote(policy.name.text) + " {");
    bool group = false;
    if (policy.description) {
      line(policy.description->span.begin, policy.description->span.end, 1,
           "description " + quote(policy.description->text));
      group = true;
    }
    if (policy.applies_span.end != 0) {
      std::string text = "applies to ";
      for (std::size_t i = 0; i < policy.channels.size(); ++i) text += (i > 0 ? ", " : "") + policy.channels[i].text;
      line(policy.applies_span.begin, policy.applies_span.end, 1, text);
      group = true;
    }
    if (policy.when) {
      line(policy.when->span.begin, policy.when->span.end, 1, "when " + print_expr(*policy.when));
      group = true;
    }
    if (!policy.lets.empty() && group) blank();
    for (const auto& let : policy.lets) {
      line(let.span.begin, let.span.end, 1, "let " + let.name.text + " = " + (let.value ? print_expr(*let.value) : ""));
      group = true;
    }
    for (const auto& rule : policy.rules) {
      if (group) blank();
      group = true;
      line(rule.span.begin, rule.open_brace.end, 1, "rule " + rule.name.text + " {");
      line(rule.effect.span.begin, rule.effect.span.end, 2, print_effect(rule.effect));
      clause(rule.when, "when");
      clause(rule.unless, "unless");
      clause(rule.because, "because");
      close(rule.span, 1);
    }
    if (policy.otherwise) {
      if (group) blank();
      std::string text = "otherwise " + print_effect(policy.otherwise->effect);
      if (policy.otherwise->because) text += " because " + print_expr(*policy.otherwise->because);
      line(policy.otherwise->span.begin, policy.otherwise->span.end, 1, text);
    }
    close(policy.span, 0);
  }

  void clause(const ast::ExprPtr& expr, std::string_view word) {
    if (expr) line(expr->span.begin, expr->span.end, 2, std::string(word) + " " + print_expr(*expr));
  }

  void print_test(const ast::TestDecl& test) {
    line(test.span.begin, test.open_brace.end, 0, "test " + quote(test.name.text) + " {");
    if (test.given) {
      const ast::Expr& given = *test.given;
      if (given.children.empty()) {
        line(given.span.begin, given.span.end, 1, "given {}");
      } else {
        line(given.span.begin, given.span.begin + 1, 1, "given {");
        for (std::size_t i = 0; i + 1 < given.children.size(); i += 2) {
          const ast::Expr& key = *given.children[i];
          const ast::Expr& value = *given.children[i + 1];
          line(key.span.begin, value.span.end, 2, print_expr(key) + ": " + print_expr(value) + ",");
        }
        close(given.span, 1);
      }
    }
    for (const auto& expectation : test.expectations) {
      std::string text = "expect ";
      switch (expectation.kind) {
        case ast::Expectation::Kind::kOutcome: text += expectation.outcome.text; break;
        case ast::Expectation::Kind::kRules: text += "rules " + print_names(expectation.names); break;
        case ast::Expectation::Kind::kReviewers: text += "reviewers " + print_names(expectation.names); break;
        case ast::Expectation::Kind::kApprovals: text += "approvals " + std::to_string(expectation.approvals); break;
        case ast::Expectation::Kind::kError: text += "error"; break;
      }
      line(expectation.span.begin, expectation.span.end, 1, text);
    }
    close(test.span, 0);
  }

  // The closing brace of a block ending at `span.end`; comments before it stay inside the block.
  void close(const ast::Span& span, int indent) {
    const std::uint32_t brace = span.end > 0 ? span.end - 1 : 0;
    line(brace, span.end, indent, "}", indent + 1);
  }

  void blank() {
    if (!collecting_) out_ += '\n';
  }

  void line(std::uint32_t begin, std::uint32_t end, int indent, const std::string& text, int comment_indent = -1) {
    if (collecting_) {
      anchors_[begin] = Anchor{begin, std::max(begin, end), {}, nullptr};
      return;
    }
    const Anchor& anchor = anchors_[begin];
    print_comments(anchor.leading, comment_indent < 0 ? indent : comment_indent, begin);
    out_ += std::string(2 * static_cast<std::size_t>(indent), ' ') + text;
    if (anchor.trailing != nullptr) out_ += "  " + comment_text(*anchor.trailing);
    out_ += '\n';
  }

  // Own-line comments, keeping a blank line that the author left after one.
  void print_comments(const std::vector<const ast::Comment*>& comments, int indent, std::uint32_t next) {
    for (std::size_t i = 0; i < comments.size(); ++i) {
      const ast::Comment& comment = *comments[i];
      out_ += std::string(2 * static_cast<std::size_t>(indent), ' ') + comment_text(comment) + '\n';
      const std::uint32_t following = i + 1 < comments.size() ? comments[i + 1]->span.begin : next;
      if (following > comment.span.end && blank_between(comment.span.end, following)) out_ += '\n';
    }
  }

  bool blank_between(std::uint32_t from, std::uint32_t to) const {
    const std::string_view gap = text_.substr(from, to - from);
    if (gap.find_first_not_of(" \t\r\n\f") != std::string_view::npos) return false;
    return std::count(gap.begin(), gap.end(), '\n') >= 2;
  }

  static std::string comment_text(const ast::Comment& comment) {
    std::string text = comment.text;
    if (text.rfind("//", 0) == 0) {
      while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
    }
    return text;
  }

  // ---- Comment placement ----

  void attach_comments() {
    for (const ast::Comment& comment : file_.comments) {
      const std::uint32_t at = comment.span.begin;
      auto after = anchors_.upper_bound(at);
      Anchor* previous = after == anchors_.begin() ? nullptr : &std::prev(after)->second;
      if (previous != nullptr && previous->end > at) {
        previous->leading.push_back(&comment);  // inside a line that is printed on one line
        continue;
      }
      if (previous != nullptr && previous->trailing == nullptr && only_spacing(previous->end, at)) {
        previous->trailing = &comment;
        continue;
      }
      auto next = anchors_.lower_bound(comment.span.end);
      if (next == anchors_.end()) {
        end_comments_.push_back(&comment);
      } else {
        next->second.leading.push_back(&comment);
      }
    }
  }

  bool only_spacing(std::uint32_t from, std::uint32_t to) const {
    if (to < from) return false;
    const std::string_view gap = text_.substr(from, to - from);
    return gap.find_first_not_of(" \t,") == std::string_view::npos;
  }

  std::string_view text_;
  const ast::File& file_;
  bool collecting_ = false;
  std::string out_;
  std::map<std::uint32_t, Anchor> anchors_;
  std::vector<const ast::Comment*> end_comments_;
};

}  // namespace

FormatResult format_policy_file(const SourceFile& file, const CompileLimits& limits) {
  FormatResult result;
  ParsedFile parsed = parse_policy_file(file.path, file.text, limits);
  result.diagnostics = std::move(parsed.diagnostics);
  if (has_errors(result.diagnostics) || parsed.file == nullptr) return result;
  result.text = Formatter(file.text, *parsed.file).run();
  return result;
}

}  // namespace airlock::compiler
