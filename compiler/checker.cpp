#include "checker.h"

#include <algorithm>
#include <map>
#include <set>

#include "airlock/runtime/builtins.h"
#include "airlock/runtime/evaluator.h"
#include "parser.h"

namespace airlock::compiler {

using runtime::Builtin;
using runtime::ExprId;
using runtime::Op;
using runtime::Type;
using runtime::Value;
using Tag = runtime::Type::Tag;

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const char x = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
      const char y = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x == y ? 0 : 1)});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

bool is_numeric(const Type& type) {
  return type.tag() == Tag::kInt || type.tag() == Tag::kUint || type.tag() == Tag::kDouble;
}

// Whether values of these types can meet in == and `in`: the same type, numbers of any kind, or dyn.
bool comparable(const Type& a, const Type& b) {
  if (a.is_dyn() || b.is_dyn()) return true;
  if (a.tag() == Tag::kNull || b.tag() == Tag::kNull) return true;
  if (is_numeric(a) && is_numeric(b)) return true;
  if (a.tag() != b.tag()) return false;
  if (a.tag() == Tag::kList) return comparable(a.element(), b.element());
  if (a.tag() == Tag::kMap) return comparable(a.element(), b.element()) && comparable(a.value(), b.value());
  return true;
}

// The type of a literal list or a conditional whose parts have these types: the common type, else dyn.
Type join(const Type& a, const Type& b) {
  if (a == b) return a;
  if (a.tag() == Tag::kList && b.tag() == Tag::kList) return Type::list(join(a.element(), b.element()));
  if (a.tag() == Tag::kMap && b.tag() == Tag::kMap) {
    return Type::map(join(a.element(), b.element()), join(a.value(), b.value()));
  }
  return Type::dyn();
}

std::string describe_types(const std::vector<Checked>& arguments) {
  std::string out;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    if (i > 0) out += ", ";
    out += arguments[i].type.name();
  }
  return out;
}

Builtin operator_builtin(ast::Operator op) {
  switch (op) {
    case ast::Operator::kNegate: return Builtin::kNegate;
    case ast::Operator::kMultiply: return Builtin::kMultiply;
    case ast::Operator::kDivide: return Builtin::kDivide;
    case ast::Operator::kModulo: return Builtin::kModulo;
    case ast::Operator::kAdd: return Builtin::kAdd;
    case ast::Operator::kSubtract: return Builtin::kSubtract;
    case ast::Operator::kLess: return Builtin::kLess;
    case ast::Operator::kLessEqual: return Builtin::kLessEqual;
    case ast::Operator::kGreater: return Builtin::kGreater;
    case ast::Operator::kGreaterEqual: return Builtin::kGreaterEqual;
    case ast::Operator::kEqual: return Builtin::kEqual;
    case ast::Operator::kNotEqual: return Builtin::kNotEqual;
    case ast::Operator::kIn: return Builtin::kIn;
    default: return Builtin::kNone;
  }
}

// Type names usable as values, as in CEL's `type(x) == int`.
const std::set<std::string, std::less<>>& type_names() {
  static const std::set<std::string, std::less<>> names = {"bool", "bytes",     "double", "duration",  "int",  "list",
                                                           "map",  "null_type", "string", "timestamp", "type", "uint"};
  return names;
}

const std::vector<std::string>& macro_names() {
  static const std::vector<std::string> names = {"has", "all", "exists", "exists_one", "map", "filter"};
  return names;
}

std::vector<std::string> function_names() {
  std::set<std::string> names(macro_names().begin(), macro_names().end());
  for (const auto& overload : runtime::builtin_overloads()) {
    if (!overload.function.empty() && overload.function.front() != '_' && overload.function.front() != '-' &&
        overload.function.front() != '!' && overload.function.front() != '@') {
      names.emplace(overload.function);
    }
  }
  return {names.begin(), names.end()};
}

std::string signature(const runtime::Overload& overload) {
  std::string out;
  std::size_t first = 0;
  if (overload.member && !overload.parameters.empty()) {
    out += overload.parameters[0].name() + ".";
    first = 1;
  }
  out += std::string(overload.function) + "(";
  for (std::size_t i = first; i < overload.parameters.size(); ++i) {
    if (i > first) out += ", ";
    out += overload.parameters[i].name();
  }
  out += ") -> " + overload.result.name();
  return out;
}

}  // namespace

std::string closest_name(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  const std::size_t allowed = std::max<std::size_t>(1, std::min(name.size(), best.size()) / 3);
  if (best.empty() || best_distance > allowed || best == name) return {};
  return best;
}

ExpressionChecker::ExpressionChecker(runtime::Program& program, const runtime::FactSchema& schema,
                                     std::string_view path, std::string_view text, std::vector<Diagnostic>& diagnostics)
    : program_(program), schema_(schema), path_(path), text_(text), diagnostics_(diagnostics) {}

void ExpressionChecker::error(const ast::Span& span, std::string message, std::string help) {
  diagnostics_.push_back(make_diagnostic(Severity::kError, path_, text_, span, std::move(message), std::move(help)));
}

void ExpressionChecker::warning(const ast::Span& span, std::string message, std::string help) {
  diagnostics_.push_back(make_diagnostic(Severity::kWarning, path_, text_, span, std::move(message), std::move(help)));
}

ExprId ExpressionChecker::emit(Op op, Builtin builtin, std::uint32_t a, const std::vector<ExprId>& children,
                               runtime::Macro macro) {
  runtime::Node node;
  node.op = op;
  node.builtin = builtin;
  node.macro = macro;
  node.a = a;
  node.first_child = static_cast<std::uint32_t>(program_.children.size());
  node.child_count = static_cast<std::uint32_t>(children.size());
  program_.children.insert(program_.children.end(), children.begin(), children.end());
  program_.nodes.push_back(node);
  return static_cast<ExprId>(program_.nodes.size() - 1);
}

ExprId ExpressionChecker::emit_constant(Value value) {
  program_.constants.push_back(std::move(value));
  return emit(Op::kConstant, Builtin::kNone, static_cast<std::uint32_t>(program_.constants.size() - 1), {});
}

ExprId ExpressionChecker::fold(ExprId id, const ast::Expr& expr) {
  const runtime::Node node = program_.nodes[id];
  for (std::uint32_t i = 0; i < node.child_count; ++i) {
    if (program_.nodes[program_.child(node, i)].op != Op::kConstant) return id;
  }
  if (node.op == Op::kConstant) return id;
  static const runtime::Facts kNoFacts;
  Value value = runtime::evaluate_expression(program_, kNoFacts, id);
  if (value.is_error()) {
    warning(expr.span, "this expression always fails: " + value.as_string());
    return id;
  }
  program_.constants.push_back(std::move(value));
  runtime::Node constant;
  constant.op = Op::kConstant;
  constant.a = static_cast<std::uint32_t>(program_.constants.size() - 1);
  program_.nodes[id] = constant;
  return id;
}

bool ExpressionChecker::names_variable(std::string_view name) const {
  for (const auto& variable : variables_) {
    if (variable.name == name) return true;
  }
  for (const auto& let : lets_) {
    if (let.name->text == name) return true;
  }
  return false;
}

bool ExpressionChecker::define_let(const ast::Name& name, Checked value) {
  if (schema_.is_group(name.text) || schema_.find(name.text)) {
    error(name.span, "`let " + name.text + "` would hide the fact `" + name.text + "`", "choose another name");
    return false;
  }
  if (type_names().count(name.text) > 0) {
    error(name.span, "`let " + name.text + "` would hide the type `" + name.text + "`", "choose another name");
    return false;
  }
  for (const auto& let : lets_) {
    if (let.name->text == name.text) {
      error(name.span, "`" + name.text + "` is already defined in this policy",
            "first defined at " + path_ + ":" + std::to_string(let.name->span.line) + ":" +
                std::to_string(let.name->span.column));
      return false;
    }
  }
  lets_.push_back(Let{&name, std::move(value), false});
  return true;
}

std::vector<const ast::Name*> ExpressionChecker::unused_lets() const {
  std::vector<const ast::Name*> out;
  for (const auto& let : lets_) {
    if (!let.used) out.push_back(let.name);
  }
  return out;
}

void ExpressionChecker::clear_lets() { lets_.clear(); }

Checked ExpressionChecker::check_as(const ast::Expr& expr, const Type& expected, std::string_view what) {
  Checked result = check(expr);
  if (!result.ok()) return result;
  if (!result.type.is_dyn() && !expected.accepts(result.type)) {
    error(expr.span, std::string(what) + " must be " + expected.name() + ", but this is " + result.type.name(),
          expected.tag() == Tag::kString && is_numeric(result.type) ? "convert it with string(...)" : "");
    return {};
  }
  return result;
}

Checked ExpressionChecker::check(const ast::Expr& expr) {
  switch (expr.kind) {
    case ast::ExprKind::kLiteral: {
      Type type;
      switch (expr.value.kind()) {
        case runtime::Kind::kNull: type = Type::null_type(); break;
        case runtime::Kind::kBool: type = Type::boolean(); break;
        case runtime::Kind::kInt: type = Type::integer(); break;
        case runtime::Kind::kUint: type = Type::unsigned_integer(); break;
        case runtime::Kind::kDouble: type = Type::floating(); break;
        case runtime::Kind::kString: type = Type::string(); break;
        case runtime::Kind::kBytes: type = Type::bytes(); break;
        default: type = Type::dyn(); break;
      }
      return {type, emit_constant(expr.value)};
    }
    case ast::ExprKind::kIdent: return check_ident(expr);
    case ast::ExprKind::kSelect: return check_select(expr);
    case ast::ExprKind::kCall: return check_call(expr);
    case ast::ExprKind::kIndex: return check_index(expr);
    case ast::ExprKind::kList: return check_list(expr);
    case ast::ExprKind::kMap: return check_map(expr);
    case ast::ExprKind::kUnary: return check_unary(expr);
    case ast::ExprKind::kBinary: return check_binary(expr);
    case ast::ExprKind::kConditional: return check_conditional(expr);
  }
  error(expr.span, "unsupported expression");
  return {};
}

std::string ExpressionChecker::fact_path(const ast::Expr& expr) const {
  if (expr.kind == ast::ExprKind::kIdent) {
    if (names_variable(expr.name)) return {};
    if (schema_.find(expr.name) || schema_.is_group(expr.name)) return expr.name;
    return {};
  }
  if (expr.kind == ast::ExprKind::kSelect && !expr.children.empty()) {
    const std::string operand = fact_path(*expr.children[0]);
    if (operand.empty() || !schema_.is_group(operand)) return {};
    return operand + "." + expr.name;
  }
  return {};
}

Checked ExpressionChecker::check_ident(const ast::Expr& expr) {
  for (auto it = variables_.rbegin(); it != variables_.rend(); ++it) {
    if (it->name == expr.name) return {it->type, emit(Op::kLocal, Builtin::kNone, it->slot, {})};
  }
  for (auto& let : lets_) {
    if (let.name->text == expr.name) {
      let.used = true;
      return let.value;
    }
  }
  if (auto slot = schema_.find(expr.name)) {
    return {schema_.field(*slot).type, emit(Op::kFact, Builtin::kNone, *slot, {})};
  }
  if (schema_.is_group(expr.name)) {
    std::string example;
    for (const auto& field : schema_.fields()) {
      if (field.path.rfind(expr.name + ".", 0) == 0) {
        example = field.path;
        break;
      }
    }
    error(expr.span, "`" + expr.name + "` is a group of facts, not a value",
          "select one of its fields, such as `" + example + "`");
    return {};
  }
  if (type_names().count(expr.name) > 0) {
    return {Type::type_type(), emit_constant(Value::type(expr.name))};
  }
  std::vector<std::string> candidates;
  for (const auto& variable : variables_) candidates.push_back(variable.name);
  for (const auto& let : lets_) candidates.push_back(let.name->text);
  for (const auto& field : schema_.fields()) {
    const auto dot = field.path.find('.');
    candidates.push_back(dot == std::string::npos ? field.path : field.path.substr(0, dot));
  }
  const std::string suggestion = closest_name(expr.name, candidates);
  error(expr.span, "unknown name `" + expr.name + "`", suggestion.empty() ? "" : "did you mean `" + suggestion + "`?");
  return {};
}

Checked ExpressionChecker::check_select(const ast::Expr& expr) {
  const ast::Expr& operand = *expr.children[0];
  const std::string group = fact_path(operand);
  if (!group.empty() && schema_.is_group(group)) {
    const std::string path = group + "." + expr.name;
    if (auto slot = schema_.find(path)) {
      return {schema_.field(*slot).type, emit(Op::kFact, Builtin::kNone, *slot, {})};
    }
    if (schema_.is_group(path)) {
      error(expr.span, "`" + path + "` is a group of facts, not a value");
      return {};
    }
    const std::string suggestion = schema_.suggest(path);
    error(expr.span, "unknown fact `" + path + "`",
          suggestion.empty() ? "see docs/facts.md for the fact schema" : "did you mean `" + suggestion + "`?");
    return {};
  }
  Checked target = check(operand);
  if (!target.ok()) return {};
  if (target.type.tag() == Tag::kMap || target.type.is_dyn()) {
    if (target.type.tag() == Tag::kMap && !target.type.element().is_dyn() &&
        target.type.element().tag() != Tag::kString) {
      error(expr.span, "cannot select a field of " + target.type.name() + ": its keys are not strings");
      return {};
    }
    program_.constants.push_back(Value::string(expr.name));
    const auto field = static_cast<std::uint32_t>(program_.constants.size() - 1);
    const Type type = target.type.is_dyn() ? Type::dyn() : target.type.value();
    return {type, fold(emit(Op::kSelect, Builtin::kNone, field, {target.id}), expr)};
  }
  error(expr.span, "type " + target.type.name() + " has no fields (selecting `" + expr.name + "`)");
  return {};
}

Checked ExpressionChecker::check_has(const ast::Expr& expr) {
  if (expr.has_target || expr.children.size() != 1 || expr.children[0]->kind != ast::ExprKind::kSelect) {
    error(expr.span, "has() takes one field selection, such as has(file.size)");
    return {};
  }
  const ast::Expr& select = *expr.children[0];
  const std::string group = fact_path(*select.children[0]);
  if (!group.empty() && schema_.is_group(group)) {
    const std::string path = group + "." + select.name;
    if (auto slot = schema_.find(path)) {
      return {Type::boolean(), emit(Op::kFactHas, Builtin::kNone, *slot, {})};
    }
    const std::string suggestion = schema_.suggest(path);
    error(select.span, "unknown fact `" + path + "`", suggestion.empty() ? "" : "did you mean `" + suggestion + "`?");
    return {};
  }
  Checked target = check(*select.children[0]);
  if (!target.ok()) return {};
  if (target.type.tag() != Tag::kMap && !target.type.is_dyn()) {
    error(select.span, "has() needs a map or a fact, but this is " + target.type.name());
    return {};
  }
  program_.constants.push_back(Value::string(select.name));
  const auto field = static_cast<std::uint32_t>(program_.constants.size() - 1);
  return {Type::boolean(), fold(emit(Op::kHas, Builtin::kNone, field, {target.id}), expr)};
}

Checked ExpressionChecker::check_macro(const ast::Expr& expr, runtime::Macro macro) {
  const std::size_t arguments = expr.children.size() - 1;
  const bool map_with_filter = macro == runtime::Macro::kMap && arguments == 3;
  if (arguments != 2 && !map_with_filter) {
    error(expr.span, "`" + expr.name + "` takes a variable and an expression, as in list." + expr.name + "(x, x > 0)");
    return {};
  }
  const ast::Expr& variable_expr = *expr.children[1];
  if (variable_expr.kind != ast::ExprKind::kIdent) {
    error(variable_expr.span, "the first argument of `" + expr.name + "` must be a variable name");
    return {};
  }
  Checked range = check(*expr.children[0]);
  if (!range.ok()) return {};
  Type element;
  if (range.type.tag() == Tag::kList || range.type.tag() == Tag::kMap) {
    element = range.type.element();  // a map's comprehension ranges over its keys
  } else if (range.type.is_dyn()) {
    element = Type::dyn();
  } else {
    error(expr.children[0]->span, "`" + expr.name + "` needs a list or a map, but this is " + range.type.name());
    return {};
  }
  if (schema_.is_group(variable_expr.name) || schema_.find(variable_expr.name)) {
    error(variable_expr.span,
          "the variable `" + variable_expr.name + "` would hide the fact `" + variable_expr.name + "`",
          "choose another name");
    return {};
  }
  const std::uint32_t slot = program_.local_count++;
  variables_.push_back(Variable{variable_expr.name, element, slot});
  std::vector<ExprId> children{range.id};
  Type result;
  bool ok = true;
  if (macro == runtime::Macro::kMap) {
    const ast::Expr& transform_expr = *expr.children[map_with_filter ? 3 : 2];
    Checked transform = check(transform_expr);
    ok = transform.ok();
    if (ok) children.push_back(transform.id);
    if (map_with_filter && ok) {
      Checked filter = check_as(*expr.children[2], Type::boolean(), "the filter of `map`");
      ok = filter.ok();
      if (ok) children.push_back(filter.id);
    }
    result = Type::list(ok ? transform.type : Type::dyn());
  } else {
    Checked predicate = check_as(*expr.children[2], Type::boolean(), "the condition of `" + expr.name + "`");
    ok = predicate.ok();
    if (ok) children.push_back(predicate.id);
    result = macro == runtime::Macro::kFilter ? Type::list(element) : Type::boolean();
  }
  variables_.pop_back();
  if (!ok) return {};
  return {result, emit(Op::kComprehension, Builtin::kNone, slot, children, macro)};
}

Checked ExpressionChecker::check_matches(const ast::Expr& expr, const std::vector<const ast::Expr*>& arguments) {
  Checked text = check_as(*arguments[0], Type::string(), "the text given to `matches`");
  if (!text.ok()) return {};
  const ast::Expr& pattern_expr = *arguments[1];
  if (pattern_expr.kind == ast::ExprKind::kLiteral && pattern_expr.value.kind() == runtime::Kind::kString) {
    auto regex = runtime::CompiledRegex::compile(pattern_expr.value.as_string());
    if (!regex) {
      error(pattern_expr.span, regex.message(), "the syntax is RE2's: https://github.com/google/re2/wiki/Syntax");
      return {};
    }
    program_.regexes.push_back(std::move(regex.value()));
    const auto index = static_cast<std::uint32_t>(program_.regexes.size() - 1);
    return {Type::boolean(), fold(emit(Op::kMatchesConst, Builtin::kNone, index, {text.id}), expr)};
  }
  Checked pattern = check_as(pattern_expr, Type::string(), "the pattern of `matches`");
  if (!pattern.ok()) return {};
  return {Type::boolean(), fold(emit(Op::kCall, Builtin::kMatches, 0, {text.id, pattern.id}), expr)};
}

Checked ExpressionChecker::check_call(const ast::Expr& expr) {
  const std::string& name = expr.name;
  if (name == "has" && !expr.has_target) return check_has(expr);
  if (expr.has_target) {
    static const std::vector<std::pair<std::string, runtime::Macro>> kMacros = {
        {"all", runtime::Macro::kAll},
        {"exists", runtime::Macro::kExists},
        {"exists_one", runtime::Macro::kExistsOne},
        {"map", runtime::Macro::kMap},
        {"filter", runtime::Macro::kFilter}};
    for (const auto& [macro_name, macro] : kMacros) {
      if (name == macro_name) return check_macro(expr, macro);
    }
  }
  std::vector<const ast::Expr*> argument_exprs;
  for (const auto& child : expr.children) argument_exprs.push_back(child.get());
  if (name == "matches" && argument_exprs.size() == 2) return check_matches(expr, argument_exprs);

  bool known = false;
  for (const auto& overload : runtime::builtin_overloads()) {
    if (overload.function == name) known = true;
  }
  if (!known) {
    // Names people bring from other languages.
    static const std::map<std::string, std::string, std::less<>> kAliases = {{"lower", "lowerAscii"},
                                                                             {"lowercase", "lowerAscii"},
                                                                             {"toLowerCase", "lowerAscii"},
                                                                             {"tolower", "lowerAscii"},
                                                                             {"upper", "upperAscii"},
                                                                             {"uppercase", "upperAscii"},
                                                                             {"toUpperCase", "upperAscii"},
                                                                             {"toupper", "upperAscii"},
                                                                             {"len", "size"},
                                                                             {"length", "size"},
                                                                             {"count", "size"},
                                                                             {"includes", "contains"},
                                                                             {"match", "matches"},
                                                                             {"regex", "matches"},
                                                                             {"strip", "trim"},
                                                                             {"any", "exists"},
                                                                             {"some", "exists"},
                                                                             {"every", "all"},
                                                                             {"str", "string"},
                                                                             {"toString", "string"},
                                                                             {"startswith", "startsWith"},
                                                                             {"endswith", "endsWith"},
                                                                             {"fnmatch", "glob"}};
    auto alias = kAliases.find(name);
    const std::string suggestion = alias != kAliases.end() ? alias->second : closest_name(name, function_names());
    error(expr.span, "unknown function `" + name + "`",
          suggestion.empty() ? "see docs/language.md for the functions" : "did you mean `" + suggestion + "`?");
    return {};
  }
  std::vector<Checked> arguments;
  for (const auto* argument : argument_exprs) {
    Checked checked = check(*argument);
    if (!checked.ok()) return {};
    arguments.push_back(checked);
  }
  return resolve_overload(expr, name, expr.has_target, Builtin::kNone, arguments);
}

Checked ExpressionChecker::resolve_overload(const ast::Expr& expr, std::string_view function, bool member,
                                            Builtin builtin, const std::vector<Checked>& arguments) {
  std::vector<const runtime::Overload*> candidates;
  std::vector<const runtime::Overload*> same_name;
  for (const auto& overload : runtime::builtin_overloads()) {
    const bool name_matches = builtin != Builtin::kNone ? overload.builtin == builtin : overload.function == function;
    if (!name_matches) continue;
    if (builtin == Builtin::kNone && overload.member != member) {
      same_name.push_back(&overload);
      continue;
    }
    same_name.push_back(&overload);
    if (overload.parameters.size() != arguments.size()) continue;
    bool fits = true;
    for (std::size_t i = 0; i < arguments.size() && fits; ++i) {
      fits = arguments[i].type.is_dyn() || overload.parameters[i].accepts(arguments[i].type);
    }
    if (fits) candidates.push_back(&overload);
  }
  if (candidates.empty()) {
    std::string help;
    for (const auto* overload : same_name) {
      if (!help.empty()) help += "; ";
      help += signature(*overload);
      if (help.size() > 300) break;
    }
    if (builtin != Builtin::kNone) {
      // An operator: say it as written, and what its operands may be.
      std::string spelled(function);
      if (spelled.size() > 2 && spelled.front() == '_' && spelled.back() == '_')
        spelled = spelled.substr(1, spelled.size() - 2);
      if (!spelled.empty() && spelled.back() == '_') spelled.pop_back();
      const bool ordering = builtin == Builtin::kLess || builtin == Builtin::kLessEqual ||
                            builtin == Builtin::kGreater || builtin == Builtin::kGreaterEqual;
      if (ordering && arguments.size() == 2) {
        error(expr.span,
              "cannot compare " + arguments[0].type.name() + " with " + arguments[1].type.name() + " using `" +
                  spelled + "`",
              "both sides must be numbers, or both strings, bytes, bools, timestamps or durations" +
                  std::string(is_numeric(arguments[0].type) && arguments[1].type.tag() == Tag::kString
                                  ? "; write a size as a number, such as 10 MiB"
                                  : ""));
      } else {
        error(expr.span, "no matching overload for `" + spelled + "` applied to (" + describe_types(arguments) + ")",
              builtin == Builtin::kAdd || builtin == Builtin::kSubtract || builtin == Builtin::kMultiply ||
                      builtin == Builtin::kDivide || builtin == Builtin::kModulo
                  ? "arithmetic needs operands of the same kind; convert one with int(), uint() or double()"
                  : "");
      }
      return {};
    }
    error(expr.span,
          "no matching overload for `" + std::string(function) + "` applied to (" + describe_types(arguments) + ")",
          help.empty() ? "" : "available: " + help);
    return {};
  }
  Type result = candidates.front()->result;
  for (const auto* candidate : candidates) {
    if (!(candidate->result == result)) result = Type::dyn();
  }
  std::vector<ExprId> children;
  children.reserve(arguments.size());
  for (const auto& argument : arguments) children.push_back(argument.id);
  return {result, fold(emit(Op::kCall, candidates.front()->builtin, 0, children), expr)};
}

Checked ExpressionChecker::check_index(const ast::Expr& expr) {
  Checked container = check(*expr.children[0]);
  Checked index = check(*expr.children[1]);
  if (!container.ok() || !index.ok()) return {};
  Type result = Type::dyn();
  const Type& type = container.type;
  if (type.tag() == Tag::kList) {
    if (!index.type.is_dyn() && !is_numeric(index.type)) {
      error(expr.children[1]->span, "a list index must be an int, but this is " + index.type.name());
      return {};
    }
    result = type.element();
  } else if (type.tag() == Tag::kMap) {
    if (!comparable(type.element(), index.type)) {
      error(expr.children[1]->span,
            "a key of " + type.name() + " must be " + type.element().name() + ", but this is " + index.type.name());
      return {};
    }
    result = type.value();
  } else if (!type.is_dyn()) {
    error(expr.span, "cannot index a value of type " + type.name());
    return {};
  }
  return {result, fold(emit(Op::kCall, Builtin::kIndex, 0, {container.id, index.id}), expr)};
}

Checked ExpressionChecker::check_list(const ast::Expr& expr) {
  std::vector<ExprId> children;
  Type element;
  bool first = true;
  bool ok = true;
  for (const auto& child : expr.children) {
    Checked checked = check(*child);
    if (!checked.ok()) {
      ok = false;
      continue;
    }
    element = first ? checked.type : join(element, checked.type);
    first = false;
    children.push_back(checked.id);
  }
  if (!ok) return {};
  return {Type::list(first ? Type::dyn() : element), fold(emit(Op::kList, Builtin::kNone, 0, children), expr)};
}

Checked ExpressionChecker::check_map(const ast::Expr& expr) {
  std::vector<ExprId> children;
  Type key_type;
  Type value_type;
  bool first = true;
  bool ok = true;
  std::vector<std::pair<std::string, const ast::Expr*>> literal_keys;
  for (std::size_t i = 0; i + 1 < expr.children.size(); i += 2) {
    const ast::Expr& key_expr = *expr.children[i];
    Checked key;
    if (identifier_keys_are_strings_ && key_expr.kind == ast::ExprKind::kIdent) {
      key = {Type::string(), emit_constant(Value::string(key_expr.name))};
    } else {
      key = check(key_expr);
    }
    Checked value = check(*expr.children[i + 1]);
    if (!key.ok() || !value.ok()) {
      ok = false;
      continue;
    }
    const Tag tag = key.type.tag();
    if (!key.type.is_dyn() && tag != Tag::kString && tag != Tag::kInt && tag != Tag::kUint && tag != Tag::kBool) {
      error(key_expr.span, "a map key must be a string, int, uint or bool, but this is " + key.type.name());
      ok = false;
      continue;
    }
    if (key_expr.kind == ast::ExprKind::kIdent || key_expr.kind == ast::ExprKind::kLiteral) {
      const std::string spelled = key_expr.kind == ast::ExprKind::kIdent && identifier_keys_are_strings_
                                      ? key_expr.name
                                      : key_expr.value.debug_string();
      for (const auto& [seen, where] : literal_keys) {
        if (seen == spelled && key_expr.kind != ast::ExprKind::kIdent) {
          error(key_expr.span, "duplicate map key " + spelled);
          ok = false;
        } else if (seen == spelled) {
          error(key_expr.span, "duplicate key `" + spelled + "`");
          ok = false;
        }
      }
      literal_keys.emplace_back(spelled, &key_expr);
    }
    key_type = first ? key.type : join(key_type, key.type);
    value_type = first ? value.type : join(value_type, value.type);
    first = false;
    children.push_back(key.id);
    children.push_back(value.id);
  }
  if (!ok) return {};
  const Type type = first ? Type::map(Type::dyn(), Type::dyn()) : Type::map(key_type, value_type);
  return {type, fold(emit(Op::kMap, Builtin::kNone, 0, children), expr)};
}

Checked ExpressionChecker::check_unary(const ast::Expr& expr) {
  Checked operand = check(*expr.children[0]);
  if (!operand.ok()) return {};
  if (expr.op == ast::Operator::kNot) {
    if (!operand.type.is_dyn() && operand.type.tag() != Tag::kBool) {
      error(expr.span, "`!` needs a bool, but this is " + operand.type.name());
      return {};
    }
    return {Type::boolean(), fold(emit(Op::kNot, Builtin::kNone, 0, {operand.id}), expr)};
  }
  return resolve_overload(expr, "-_", false, Builtin::kNegate, {operand});
}

Checked ExpressionChecker::check_binary(const ast::Expr& expr) {
  Checked left = check(*expr.children[0]);
  Checked right = check(*expr.children[1]);
  if (!left.ok() || !right.ok()) return {};
  const std::string op(ast::operator_spelling(expr.op));
  switch (expr.op) {
    case ast::Operator::kAnd:
    case ast::Operator::kOr: {
      for (const Checked* side : {&left, &right}) {
        if (!side->type.is_dyn() && side->type.tag() != Tag::kBool) {
          const ast::Expr& where = side == &left ? *expr.children[0] : *expr.children[1];
          error(where.span, "`" + op + "` needs bools, but this is " + side->type.name());
          return {};
        }
      }
      const Op node_op = expr.op == ast::Operator::kAnd ? Op::kAnd : Op::kOr;
      return {Type::boolean(), fold(emit(node_op, Builtin::kNone, 0, {left.id, right.id}), expr)};
    }
    case ast::Operator::kEqual:
    case ast::Operator::kNotEqual:
      if (!comparable(left.type, right.type)) {
        error(expr.span, "cannot compare " + left.type.name() + " with " + right.type.name() + " using `" + op + "`",
              right.type.tag() == Tag::kString && is_numeric(left.type) ? "compare with a number, such as 10 MiB" : "");
        return {};
      }
      return {Type::boolean(), fold(emit(Op::kCall, operator_builtin(expr.op), 0, {left.id, right.id}), expr)};
    case ast::Operator::kIn: {
      const Type& container = right.type;
      if (container.tag() == Tag::kList || container.tag() == Tag::kMap) {
        if (!comparable(left.type, container.element())) {
          error(expr.span,
                "`in` looks for " + left.type.name() + " in " + container.name() + ", which can never hold it");
          return {};
        }
      } else if (!container.is_dyn()) {
        error(expr.children[1]->span, "`in` needs a list or a map on its right, but this is " + container.name());
        return {};
      }
      return {Type::boolean(), fold(emit(Op::kCall, Builtin::kIn, 0, {left.id, right.id}), expr)};
    }
    default: break;
  }
  const Builtin builtin = operator_builtin(expr.op);
  Checked result = resolve_overload(expr, "_" + op + "_", false, builtin, {left, right});
  if (result.ok() && builtin == Builtin::kAdd && left.type.tag() == Tag::kList) {
    result.type = join(left.type, right.type);
  }
  return result;
}

Checked ExpressionChecker::check_conditional(const ast::Expr& expr) {
  Checked condition = check_as(*expr.children[0], Type::boolean(), "the condition of `?:`");
  Checked then_value = check(*expr.children[1]);
  Checked else_value = check(*expr.children[2]);
  if (!condition.ok() || !then_value.ok() || !else_value.ok()) return {};
  const Type& a = then_value.type;
  const Type& b = else_value.type;
  if (!(a == b) && !a.is_dyn() && !b.is_dyn() && a.tag() != Tag::kNull && b.tag() != Tag::kNull &&
      !(a.tag() == b.tag() && (a.tag() == Tag::kList || a.tag() == Tag::kMap))) {
    error(expr.span, "the branches of `?:` have different types: " + a.name() + " and " + b.name(),
          "convert one branch, or wrap it in dyn(...)");
    return {};
  }
  return {join(a, b),
          fold(emit(Op::kConditional, Builtin::kNone, 0, {condition.id, then_value.id, else_value.id}), expr)};
}

}  // namespace airlock::compiler
