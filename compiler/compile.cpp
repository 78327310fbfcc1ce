// The compiler driver: parse every file, check and lower policies and tests, build the Program.
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "airlock/compiler/compiler.h"
#include "airlock/runtime/evaluator.h"
#include "checker.h"
#include "parser.h"

namespace airlock::compiler {

using runtime::Effect;
using runtime::Type;
using runtime::Value;

namespace {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

runtime::SourceLocation location_of(std::string_view path, const ast::Span& span) {
  return runtime::SourceLocation{std::string(path), span.line, span.column};
}

std::string where(std::string_view path, const ast::Span& span) {
  return std::string(path) + ":" + std::to_string(span.line) + ":" + std::to_string(span.column);
}

struct EffectSpec {
  Effect effect = Effect::kEscalate;
  std::vector<std::string> roles;
  std::uint32_t approvals = 0;
};

struct DeclaredPolicy {
  std::string path;
  const ast::PolicyDecl* decl;
};

struct DeclaredRule {
  std::string path;
  ast::Span span;
};

constexpr std::int64_t kMaxApprovals = 20;
constexpr std::string_view kDefaultRole = "data-approver";

class PolicySetCompiler {
 public:
  PolicySetCompiler(const CompileOptions& options, CompiledPolicySet& out) : options_(options), out_(out) {
    program_->schema = options.schema;
  }

  void compile(std::span<const SourceFile> unsorted) {
    std::vector<const SourceFile*> files;
    for (const auto& file : unsorted) files.push_back(&file);
    std::sort(files.begin(), files.end(), [](const SourceFile* a, const SourceFile* b) { return a->path < b->path; });

    std::size_t total = 0;
    std::vector<std::pair<const SourceFile*, ParsedFile>> parsed;
    for (const auto* file : files) {
      total += file->text.size();
      if (total > options_.limits.max_total_bytes) {
        Diagnostic d;
        d.path = file->path;
        d.message = "the policy set is larger than " + std::to_string(options_.limits.max_total_bytes >> 20) +
                    " MiB; stopping here";
        out_.diagnostics.push_back(std::move(d));
        return;
      }
      ParsedFile result = parse_policy_file(file->path, file->text, options_.limits);
      append(result.diagnostics);
      if (has_errors(result.diagnostics) || !result.file) continue;
      parsed.emplace_back(file, std::move(result));
    }

    // Policy names are unique across all files; rule references in tests need them all.
    for (const auto& [file, result] : parsed) {
      for (const auto& policy : result.file->policies) {
        auto [it, inserted] = policy_names_.emplace(policy.name.text, DeclaredPolicy{file->path, &policy});
        if (!inserted) {
          add(file->path, file->text, policy.name.span, Severity::kError,
              "duplicate policy name \"" + policy.name.text + "\"",
              "first defined at " + where(it->second.path, it->second.decl->name.span) +
                  "; policy names are unique across all loaded files");
        }
      }
    }
    for (const auto& [file, result] : parsed) {
      for (const auto& policy : result.file->policies) {
        if (policy_names_.at(policy.name.text).decl != &policy) continue;
        compile_policy(*file, policy);
      }
    }
    if (rule_count_ > options_.limits.max_rules) {
      Diagnostic d;
      d.message = "the policy set has " + std::to_string(rule_count_) + " rules, more than the limit of " +
                  std::to_string(options_.limits.max_rules);
      out_.diagnostics.push_back(std::move(d));
    }
    for (const auto& [file, result] : parsed) {
      for (const auto& test : result.file->tests) compile_test(*file, test);
    }

    if (has_errors(out_.diagnostics)) return;
    std::sort(program_->policies.begin(), program_->policies.end(),
              [](const runtime::Policy& a, const runtime::Policy& b) { return a.name < b.name; });
    std::string identity;
    for (const auto* file : files) {
      identity += file->path;
      identity += '\0';
      identity += sha256_hex(file->text);
      identity += '\0';
    }
    program_->policy_set = sha256_hex(identity);
    runtime::finalize_program(*program_);  // the evaluator's rule index and fast forms
    out_.program = std::move(program_);
  }

 private:
  void append(const std::vector<Diagnostic>& diagnostics) {
    out_.diagnostics.insert(out_.diagnostics.end(), diagnostics.begin(), diagnostics.end());
  }

  void add(std::string_view path, std::string_view text, const ast::Span& span, Severity severity, std::string message,
           std::string help = {}) {
    out_.diagnostics.push_back(make_diagnostic(severity, path, text, span, std::move(message), std::move(help)));
  }

  std::optional<EffectSpec> compile_effect(const SourceFile& file, const ast::EffectClause& clause) {
    static const std::vector<std::string> kEffects = {"approve", "deny", "escalate"};
    EffectSpec spec;
    const std::string& name = clause.effect.text;
    if (name == "approve") {
      spec.effect = Effect::kApprove;
    } else if (name == "deny") {
      spec.effect = Effect::kDeny;
    } else if (name == "escalate") {
      spec.effect = Effect::kEscalate;
    } else {
      const std::string suggestion = closest_name(name, kEffects);
      add(file.path, file.text, clause.effect.span, Severity::kError, "unknown effect `" + name + "`",
          suggestion.empty() ? "an effect is approve, deny or escalate" : "did you mean `" + suggestion + "`?");
      return std::nullopt;
    }
    if (spec.effect != Effect::kEscalate) {
      if (!clause.roles.empty()) {
        add(file.path, file.text, clause.roles.front().span, Severity::kError,
            "only `escalate` names reviewers; `" + name + "` takes no `to`");
        return std::nullopt;
      }
      if (clause.approvals) {
        add(file.path, file.text, clause.approvals_span, Severity::kError,
            "only `escalate` requires approvals; `" + name + "` takes no `requiring`");
        return std::nullopt;
      }
      return spec;
    }
    std::set<std::string> roles;
    for (const auto& role : clause.roles) {
      if (role.text.empty()) {
        add(file.path, file.text, role.span, Severity::kError, "a reviewer role cannot be empty");
        return std::nullopt;
      }
      if (!roles.insert(role.text).second) {
        add(file.path, file.text, role.span, Severity::kError, "the role \"" + role.text + "\" is listed twice",
            "each listed role needs a different approver; use `requiring N approvals` for more approvers");
        return std::nullopt;
      }
    }
    if (roles.empty()) roles.insert(std::string(kDefaultRole));
    spec.roles.assign(roles.begin(), roles.end());
    spec.approvals = static_cast<std::uint32_t>(spec.roles.size());
    if (clause.approvals) {
      const std::int64_t n = *clause.approvals;
      if (n < static_cast<std::int64_t>(spec.roles.size())) {
        add(file.path, file.text, clause.approvals_span, Severity::kError,
            "`requiring " + std::to_string(n) + "` is fewer approvals than the " + std::to_string(spec.roles.size()) +
                " roles listed",
            "each listed role needs its own approver, so require at least " + std::to_string(spec.roles.size()));
        return std::nullopt;
      }
      if (n > kMaxApprovals) {
        add(file.path, file.text, clause.approvals_span, Severity::kError,
            "`requiring " + std::to_string(n) + "` approvals is more than the limit of " +
                std::to_string(kMaxApprovals));
        return std::nullopt;
      }
      spec.approvals = static_cast<std::uint32_t>(n);
    }
    return spec;
  }

  // Checks a rule's or otherwise's parts into `rule`; false on errors.
  bool compile_conditions(ExpressionChecker& checker, const ast::Expr* when, const ast::Expr* unless,
                          const ast::Expr* because, runtime::Rule& rule) {
    bool ok = true;
    if (when) {
      Checked checked = checker.check_as(*when, Type::boolean(), "a rule's `when`");
      ok = ok && checked.ok();
      rule.when = checked.id;
    }
    if (unless) {
      Checked checked = checker.check_as(*unless, Type::boolean(), "a rule's `unless`");
      ok = ok && checked.ok();
      rule.unless = checked.id;
    }
    if (because) {
      Checked checked = checker.check_as(*because, Type::string(), "`because`");
      ok = ok && checked.ok();
      rule.because = checked.id;
    }
    return ok;
  }

  void compile_policy(const SourceFile& file, const ast::PolicyDecl& decl) {
    ExpressionChecker checker(*program_, *options_.schema, file.path, file.text, out_.diagnostics);
    runtime::Policy policy;
    policy.name = decl.name.text;
    policy.location = location_of(file.path, decl.span);
    if (decl.name.text.empty()) {
      add(file.path, file.text, decl.name.span, Severity::kError, "a policy name cannot be empty");
    }
    if (decl.description) policy.description = decl.description->text;

    if (decl.channels.empty()) {
      policy.channels = runtime::kChannelAny;
      add(file.path, file.text, decl.name.span, Severity::kWarning,
          "policy \"" + decl.name.text + "\" has no `applies to`, so it applies to every channel",
          "say `applies to any` to make this explicit");
    } else {
      policy.channels = 0;
      static const std::vector<std::string> kChannels = {"upload", "import", "egress", "ingress", "any"};
      for (const auto& channel : decl.channels) {
        if (channel.text == "upload") {
          policy.channels |= runtime::kChannelUpload;
        } else if (channel.text == "import") {
          policy.channels |= runtime::kChannelImport;
        } else if (channel.text == "egress") {
          policy.channels |= runtime::kChannelEgress;
        } else if (channel.text == "ingress") {
          policy.channels |= runtime::kChannelIngress;
        } else if (channel.text == "any") {
          policy.channels |= runtime::kChannelAny;
        } else {
          const std::string suggestion = closest_name(channel.text, kChannels);
          add(file.path, file.text, channel.span, Severity::kError, "unknown channel `" + channel.text + "`",
              suggestion.empty() ? "a channel is upload, import, egress, ingress (upload + import) or any"
                                 : "did you mean `" + suggestion + "`?");
        }
      }
    }

    // Lets are visible in the lets after them, in the policy's `when` and in every rule.
    for (const auto& let : decl.lets) {
      Checked value = checker.check(*let.value);
      if (value.ok()) checker.define_let(let.name, value);
    }
    if (decl.when) {
      Checked when = checker.check_as(*decl.when, Type::boolean(), "a policy's `when`");
      policy.when = when.id;
    }

    std::map<std::string, const ast::RuleDecl*> names;
    for (const auto& rule_decl : decl.rules) {
      ++rule_count_;
      auto [it, inserted] = names.emplace(rule_decl.name.text, &rule_decl);
      if (!inserted) {
        add(file.path, file.text, rule_decl.name.span, Severity::kError,
            "duplicate rule name `" + rule_decl.name.text + "` in policy \"" + decl.name.text + "\"",
            "first defined at " + where(file.path, it->second->name.span));
        continue;
      }
      if (rule_decl.name.text == "otherwise" || rule_decl.name.text == "when") {
        add(file.path, file.text, rule_decl.name.span, Severity::kError,
            "`" + rule_decl.name.text + "` is reserved and cannot name a rule");
        continue;
      }
      runtime::Rule rule;
      rule.name = rule_decl.name.text;
      rule.location = location_of(file.path, rule_decl.span);
      auto effect = compile_effect(file, rule_decl.effect);
      const bool ok = compile_conditions(checker, rule_decl.when.get(), rule_decl.unless.get(),
                                         rule_decl.because.get(), rule);
      if (!effect || !ok) continue;
      rule.effect = effect->effect;
      rule.roles = std::move(effect->roles);
      rule.approvals = effect->approvals;
      policy.rules.push_back(std::move(rule));
    }
    std::sort(policy.rules.begin(), policy.rules.end(),
              [](const runtime::Rule& a, const runtime::Rule& b) { return a.name < b.name; });

    policy.otherwise.name = "otherwise";
    if (decl.otherwise) {
      const auto& otherwise = *decl.otherwise;
      policy.otherwise.location = location_of(file.path, otherwise.span);
      auto effect = compile_effect(file, otherwise.effect);
      compile_conditions(checker, nullptr, nullptr, otherwise.because.get(), policy.otherwise);
      if (effect) {
        policy.otherwise.effect = effect->effect;
        policy.otherwise.roles = std::move(effect->roles);
        policy.otherwise.approvals = effect->approvals;
      }
    } else {
      policy.otherwise.location = policy.location;
      policy.otherwise.implicit = true;
      policy.otherwise.effect = Effect::kEscalate;
      policy.otherwise.roles = {std::string(kDefaultRole)};
      policy.otherwise.approvals = 1;
      program_->constants.push_back(Value::string("no rule of policy \"" + decl.name.text + "\" matched"));
      runtime::Node reason;
      reason.op = runtime::Op::kConstant;
      reason.a = static_cast<std::uint32_t>(program_->constants.size() - 1);
      program_->nodes.push_back(reason);
      policy.otherwise.because = static_cast<runtime::ExprId>(program_->nodes.size() - 1);
    }
    for (const auto* unused : checker.unused_lets()) {
      add(file.path, file.text, unused->span, Severity::kWarning, "`" + unused->text + "` is never used");
    }
    rule_names_[decl.name.text] = {};
    for (const auto& rule : policy.rules) rule_names_[decl.name.text].push_back(rule.name);
    rule_names_[decl.name.text].push_back("otherwise");
    program_->policies.push_back(std::move(policy));
  }

  void compile_test(const SourceFile& file, const ast::TestDecl& decl) {
    TestCase test;
    test.name = decl.name.text;
    test.location = location_of(file.path, decl.span);
    bool ok = true;
    if (decl.given) {
      // `given` is evaluated once, at compile time, in a scratch program.
      runtime::Program scratch;
      scratch.schema = options_.schema;
      std::vector<Diagnostic> diagnostics;
      ExpressionChecker checker(scratch, *options_.schema, file.path, file.text, diagnostics);
      checker.set_identifier_keys_are_strings(true);
      Checked given = checker.check(*decl.given);
      append(diagnostics);
      if (!given.ok()) {
        ok = false;
      } else {
        const runtime::Facts defaults(*options_.schema);
        Value value = runtime::evaluate_expression(scratch, defaults, given.id);
        if (value.is_error()) {
          add(file.path, file.text, decl.given->span, Severity::kError, "`given` fails: " + value.as_string());
          ok = false;
        } else {
          auto facts = runtime::Facts::from_value(value, *options_.schema);
          if (!facts) {
            add(file.path, file.text, decl.given->span, Severity::kError, "`given` " + facts.message());
            ok = false;
          } else {
            test.given = std::move(facts.value());
          }
        }
      }
    }
    for (const auto& expectation : decl.expectations) {
      switch (expectation.kind) {
        case ast::Expectation::Kind::kOutcome: {
          static const std::vector<std::string> kOutcomes = {"approve", "deny", "escalate"};
          const std::string& name = expectation.outcome.text;
          if (test.expect_outcome) {
            add(file.path, file.text, expectation.span, Severity::kError, "a test expects one outcome");
            ok = false;
          } else if (name == "approve") {
            test.expect_outcome = runtime::Outcome::kApprove;
          } else if (name == "deny") {
            test.expect_outcome = runtime::Outcome::kDeny;
          } else if (name == "escalate") {
            test.expect_outcome = runtime::Outcome::kEscalate;
          } else {
            const std::string suggestion = closest_name(name, kOutcomes);
            add(file.path, file.text, expectation.outcome.span, Severity::kError, "unknown outcome `" + name + "`",
                suggestion.empty() ? "expect approve, deny or escalate" : "did you mean `" + suggestion + "`?");
            ok = false;
          }
          break;
        }
        case ast::Expectation::Kind::kRules: {
          std::vector<std::string> rules;
          for (const auto& name : expectation.names) {
            if (!check_rule_reference(file, name)) ok = false;
            rules.push_back(name.text);
          }
          std::sort(rules.begin(), rules.end());
          test.expect_rules = std::move(rules);
          break;
        }
        case ast::Expectation::Kind::kReviewers: {
          std::vector<std::string> roles;
          for (const auto& name : expectation.names) roles.push_back(name.text);
          std::sort(roles.begin(), roles.end());
          roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
          test.expect_reviewers = std::move(roles);
          break;
        }
        case ast::Expectation::Kind::kApprovals:
          if (expectation.approvals < 0 || expectation.approvals > kMaxApprovals) {
            add(file.path, file.text, expectation.span, Severity::kError, "approvals must be between 0 and 20");
            ok = false;
          } else {
            test.expect_approvals = static_cast<std::uint32_t>(expectation.approvals);
          }
          break;
        case ast::Expectation::Kind::kError:
          test.expect_error = true;
          break;
      }
    }
    if (!test.expect_outcome && !test.expect_error) {
      add(file.path, file.text, decl.name.span, Severity::kError,
          "test \"" + decl.name.text + "\" expects nothing", "add `expect approve`, `expect deny` or `expect escalate`");
      ok = false;
    }
    if (ok) out_.tests.push_back(std::move(test));
  }

  bool check_rule_reference(const SourceFile& file, const ast::Name& name) {
    const auto dot = name.text.rfind('.');
    const std::string policy = dot == std::string::npos ? name.text : name.text.substr(0, dot);
    const std::string rule = dot == std::string::npos ? "" : name.text.substr(dot + 1);
    auto it = rule_names_.find(policy);
    if (dot == std::string::npos || it == rule_names_.end()) {
      std::vector<std::string> all;
      for (const auto& [policy_name, rules] : rule_names_) {
        for (const auto& r : rules) all.push_back(policy_name + '.' + r);
      }
      const std::string suggestion = closest_name(name.text, all);
      add(file.path, file.text, name.span, Severity::kError, "unknown rule \"" + name.text + "\"",
          suggestion.empty() ? "name a rule as \"policy.rule\"" : "did you mean \"" + suggestion + "\"?");
      return false;
    }
    if (std::find(it->second.begin(), it->second.end(), rule) == it->second.end()) {
      const std::string suggestion = closest_name(rule, it->second);
      add(file.path, file.text, name.span, Severity::kError,
          "policy \"" + policy + "\" has no rule `" + rule + "`",
          suggestion.empty() ? "" : "did you mean \"" + policy + "." + suggestion + "\"?");
      return false;
    }
    return true;
  }

  const CompileOptions& options_;
  CompiledPolicySet& out_;
  std::shared_ptr<runtime::Program> program_ = std::make_shared<runtime::Program>();
  std::map<std::string, DeclaredPolicy> policy_names_;
  std::map<std::string, std::vector<std::string>> rule_names_;
  std::size_t rule_count_ = 0;
};

}  // namespace

CompiledPolicySet compile_policy_set(std::span<const SourceFile> files, const CompileOptions& options) {
  CompiledPolicySet out;
  PolicySetCompiler(options, out).compile(files);
  return out;
}

CompiledExpression compile_expression(std::string_view text, std::string_view path, const CompileOptions& options) {
  CompiledExpression out;
  ParsedExpression parsed = parse_expression(path, text, options.limits);
  out.diagnostics = std::move(parsed.diagnostics);
  if (has_errors(out.diagnostics) || !parsed.expr) return out;
  auto program = std::make_shared<runtime::Program>();
  program->schema = options.schema;
  ExpressionChecker checker(*program, *options.schema, path, text, out.diagnostics);
  Checked checked = checker.check(*parsed.expr);
  if (!checked.ok() || has_errors(out.diagnostics)) return out;
  program->root = checked.id;
  program->policy_set = sha256_hex(text);
  runtime::finalize_program(*program);
  out.type = checked.type;
  out.program = std::move(program);
  return out;
}

runtime::Result<std::vector<SourceFile>> load_policy_files(std::span<const std::string> paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  for (const auto& path : paths) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) return runtime::Error{path + ": no such file or directory"};
    if (fs::is_directory(status)) {
      fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
      if (ec) return runtime::Error{path + ": cannot read directory: " + ec.message()};
      for (const auto& entry : it) {
        if (entry.is_regular_file() && entry.path().extension() == ".policy") found.push_back(entry.path().string());
      }
    } else {
      found.push_back(path);
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  std::vector<SourceFile> files;
  for (const auto& path : found) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return runtime::Error{path + ": cannot open the file"};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return runtime::Error{path + ": cannot read the file"};
    files.push_back(SourceFile{path, text.str()});
  }
  return files;
}

}  // namespace airlock::compiler
