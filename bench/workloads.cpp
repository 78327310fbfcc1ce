// Deterministic workload generator: see workloads.h and bench/README.md.
//
// Every random choice comes from one splitmix64 stream per workload, seeded by the caller, and only
// integer arithmetic (or exact power-of-two scaling) turns its output into choices, so a seed gives the
// same policies and facts with every compiler and standard library.
//
// W2 and W3 are built from one in-memory description (PolicyDesc/RuleDesc with conditions that carry
// their CEL text and, where expressible, their Cedar text). The Airlock source, the peers' JSON spec and
// the Cedar policies are all rendered from it, so they cannot drift apart.
#include "workloads.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "airlock/runtime/facts.h"

namespace airlock::bench {
namespace {

using nlohmann::json;

constexpr std::int64_t kKiB = 1024;
constexpr std::int64_t kMiB = 1024 * kKiB;
constexpr std::int64_t kGiB = 1024 * kMiB;

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and the same everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (the modulo bias is below 2^-40 for every n used here).
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  // True with probability `per_mille` / 1000.
  bool chance(std::uint32_t per_mille) { return below(1000) < per_mille; }
  // A double in [0, 1): 53 random bits scaled by an exact power of two.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  template <class T>
  const T& pick(const std::vector<T>& values) {
    return values[below(values.size())];
  }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& values) {
    return values[below(N)];
  }

 private:
  std::uint64_t state_;
};

std::string format(const char* pattern, std::uint64_t n) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, static_cast<unsigned long long>(n));
  return buffer;
}

// ---------------------------------------------------------------------------------------------------
// Conditions: the same logic as CEL text (which is also Airlock's syntax for this subset: no size
// literals, no Airlock-only functions) and as Cedar text over `context`, empty when Cedar cannot say it.

struct Cond {
  std::string cel;
  std::string cedar;
};

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string string_list(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote(values[i]);
  }
  return out + "]";
}

Cond eq(const std::string& path, const std::string& value) {
  return {path + " == " + quote(value), "context." + path + " == " + quote(value)};
}
Cond in(const std::string& path, const std::vector<std::string>& values) {
  return {path + " in " + string_list(values), string_list(values) + ".contains(context." + path + ")"};
}
Cond compare(const std::string& path, const char* op, std::int64_t value) {
  const std::string rhs = std::string(" ") + op + " " + std::to_string(value);
  return {path + rhs, "context." + path + rhs};
}
Cond is_true(const std::string& path) { return {path, "context." + path}; }
Cond cel_only(std::string cel) { return {std::move(cel), ""}; }

Cond all_of(const std::vector<Cond>& parts) {
  Cond out;
  bool cedar_ok = true;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      out.cel += " && ";
      out.cedar += " && ";
    }
    out.cel += parts[i].cel;
    out.cedar += "(" + parts[i].cedar + ")";
    cedar_ok = cedar_ok && !parts[i].cedar.empty();
  }
  if (!cedar_ok) out.cedar.clear();
  return out;
}

struct RuleDesc {
  std::string name;
  std::string effect;  // "approve", "deny", "escalate"
  std::vector<std::string> roles;  // escalations only; sorted
  std::uint32_t approvals = 0;     // escalations only
  Cond when;                       // empty cel: always
};

struct PolicyDesc {
  std::string name;
  std::vector<std::string> channels;  // "upload", "import", "egress"; all three: any
  Cond when;                          // empty cel: always
  std::vector<RuleDesc> rules;
  RuleDesc otherwise;
};

RuleDesc approve_rule(std::string name, Cond when) { return {std::move(name), "approve", {}, 0, std::move(when)}; }
RuleDesc deny_rule(std::string name, Cond when) { return {std::move(name), "deny", {}, 0, std::move(when)}; }
RuleDesc escalate_rule(std::string name, std::vector<std::string> roles, std::uint32_t approvals, Cond when) {
  std::sort(roles.begin(), roles.end());
  return {std::move(name), "escalate", std::move(roles), approvals, std::move(when)};
}

std::string render_effect(const RuleDesc& rule) {
  if (rule.effect != "escalate") return rule.effect;
  std::string out = "escalate to ";
  for (std::size_t i = 0; i < rule.roles.size(); ++i) out += (i > 0 ? ", " : "") + quote(rule.roles[i]);
  if (rule.approvals > rule.roles.size()) out += " requiring " + std::to_string(rule.approvals) + " approvals";
  return out;
}

std::string render_policy(const PolicyDesc& policy) {
  std::string out = "policy " + quote(policy.name) + " {\n";
  out += "  applies to ";
  for (std::size_t i = 0; i < policy.channels.size(); ++i) out += (i > 0 ? ", " : "") + policy.channels[i];
  out += "\n";
  if (!policy.when.cel.empty()) out += "  when " + policy.when.cel + "\n";
  for (const RuleDesc& rule : policy.rules) {
    out += "\n  rule " + rule.name + " {\n    " + render_effect(rule) + "\n";
    if (!rule.when.cel.empty()) out += "    when " + rule.when.cel + "\n";
    out += "  }\n";
  }
  out += "\n  otherwise " + render_effect(policy.otherwise) + "\n}\n";
  return out;
}

json rule_json(const RuleDesc& rule) {
  json out = {{"name", rule.name}, {"effect", rule.effect}, {"roles", rule.roles}, {"approvals", rule.approvals}};
  out["when"] = rule.when.cel.empty() ? json(nullptr) : json(rule.when.cel);
  return out;
}

// Cedar: deny rules become `forbid`, approve and escalate rules `permit`, each with @id("policy.rule") and
// the policy's channel and `when` folded into its own `when`. Only valid for sets of the shape described
// in bench/README.md; `cedar_supported` says whether the caller built one. Keyed by policy id.
json render_cedar(const std::vector<PolicyDesc>& policies) {
  json out = json::object();
  for (const PolicyDesc& policy : policies) {
    std::vector<Cond> scope;
    if (policy.channels.size() < 3) scope.push_back(in("transfer.channel", policy.channels));
    if (!policy.when.cel.empty()) scope.push_back(policy.when);
    for (const RuleDesc& rule : policy.rules) {
      std::vector<Cond> parts = scope;
      if (!rule.when.cel.empty()) parts.push_back(rule.when);
      const std::string body = parts.empty() ? "true" : all_of(parts).cedar;
      const std::string id = policy.name + "." + rule.name;
      out[id] = "@id(" + quote(id) + ")\n" + (rule.effect == "deny" ? "forbid" : "permit") +
                "(principal, action, resource) when { " + body + " };";
    }
  }
  return out;
}

std::string render_spec(const std::string& name, const std::vector<PolicyDesc>& policies, bool cedar_supported,
                        const std::string& cedar_note) {
  json spec;
  spec["name"] = name;
  json schema = json::object();
  for (const runtime::FactField& field : runtime::FactSchema::standard().fields()) schema[field.path] = field.type.name();
  spec["schema"] = schema;
  json list = json::array();
  for (const PolicyDesc& policy : policies) {
    json p = {{"name", policy.name}, {"channels", policy.channels}};
    p["when"] = policy.when.cel.empty() ? json(nullptr) : json(policy.when.cel);
    json rules = json::array();
    for (const RuleDesc& rule : policy.rules) rules.push_back(rule_json(rule));
    p["rules"] = rules;
    json otherwise = rule_json(policy.otherwise);
    otherwise.erase("when");
    p["otherwise"] = otherwise;
    list.push_back(p);
  }
  spec["policies"] = list;
  spec["cedar"] = {{"supported", cedar_supported}, {"note", cedar_note}};
  spec["cedar"]["policies"] = cedar_supported ? render_cedar(policies) : json::object();
  return spec.dump();
}

std::vector<compiler::SourceFile> render_sources(const std::string& stem, const std::vector<PolicyDesc>& policies) {
  std::vector<compiler::SourceFile> files;
  for (const PolicyDesc& policy : policies) {
    files.push_back({stem + "/" + policy.name + ".policy", render_policy(policy)});
  }
  return files;
}

// ---------------------------------------------------------------------------------------------------
// Realistic building blocks shared by the fact generators.

struct FileKind {
  const char* type;
  const char* extension;
};

constexpr std::array<FileKind, 10> kLowRiskKinds = {{
    {"text/csv", "csv"},
    {"text/csv", "csv"},
    {"text/tab-separated-values", "tsv"},
    {"application/vnd.apache.parquet", "parquet"},
    {"application/vnd.apache.parquet", "parquet"},
    {"application/json", "json"},
    {"text/plain", "txt"},
    {"text/markdown", "md"},
    {"application/pdf", "pdf"},
    {"image/png", "png"},
}};

constexpr std::array<FileKind, 6> kOtherKinds = {{
    {"application/x-sqlite3", "sqlite"},
    {"text/x-script.python", "py"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
    {"application/octet-stream", "dat"},
    {"application/x-hdf5", "h5"},
    {"text/x-r", "r"},
}};

constexpr std::array<FileKind, 5> kExecutableKinds = {{
    {"application/x-dosexec", "exe"},
    {"application/x-executable", ""},
    {"application/x-sharedlib", "so"},
    {"application/x-sh", "sh"},
    {"text/x-msdos-batch", "bat"},
}};

constexpr std::array<const char*, 12> kStems = {"cohort",   "hba1c_by_practice", "admissions", "prescribing",
                                                 "outcomes", "lookup",            "codelist",   "results",
                                                 "summary",  "model_coefficients", "figure",    "readme"};

constexpr std::array<const char*, 6> kOrganisations = {"University of Manchester", "Lancaster University",
                                                        "NHS Greater Manchester", "University of Liverpool",
                                                        "Alder Hey", "Health Innovation North West"};

std::string iso_time(std::int64_t day, std::int64_t second) {
  // Days after 2026-01-01, kept inside 2026 so no calendar arithmetic is needed beyond months.
  static constexpr std::array<int, 12> kMonthDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int month = 0;
  while (month < 11 && day >= kMonthDays[month]) day -= kMonthDays[month++];
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "2026-%02d-%02lldT%02lld:%02lld:%02lldZ", month + 1,
                static_cast<long long>(day + 1), static_cast<long long>(second / 3600),
                static_cast<long long>(second / 60 % 60), static_cast<long long>(second % 60));
  return buffer;
}

// Common transfer, actor and time facts.
json base_facts(Rng& rng, std::size_t index, const std::string& channel) {
  json facts;
  const std::int64_t day = rng.between(0, 360);
  const std::int64_t second = rng.between(8 * 3600, 18 * 3600);
  facts["transfer"] = {{"id", format("t-%07llu", index)},
                       {"channel", channel},
                       {"direction", channel == "egress" ? "egress" : "ingress"},
                       {"created_at", iso_time(day, second - 120)}};
  const std::uint64_t user = rng.below(400);
  facts["actor"] = {{"id", format("u-%04llu", user)},
                    {"name", format("Researcher %llu", user)},
                    {"email", format("researcher%llu@example.ac.uk", user)},
                    {"organisation", rng.pick(kOrganisations)},
                    {"roles", json::array({"researcher"})}};
  facts["now"] = iso_time(day, second);
  return facts;
}

std::int64_t file_size(Rng& rng) {
  // Mostly small files, a long tail of large ones.
  const std::uint64_t bucket = rng.below(100);
  if (bucket < 50) return rng.between(200, 512 * kKiB);
  if (bucket < 85) return rng.between(512 * kKiB, 50 * kMiB);
  if (bucket < 97) return rng.between(50 * kMiB, 900 * kMiB);
  return rng.between(1 * kGiB, 8 * kGiB);
}

void set_file(json& facts, const std::string& stem, const FileKind& kind, std::int64_t size, Rng& rng) {
  const std::string extension = kind.extension;
  const std::string name = extension.empty() ? stem : stem + "." + extension;
  facts["file"] = {{"name", name},
                   {"path", "outputs/" + name},
                   {"extension", extension},
                   {"size", size},
                   {"type", kind.type},
                   {"declared_type", rng.chance(150) ? "application/octet-stream" : kind.type},
                   {"sha256", format("%016llx", rng.next()) + format("%016llx", rng.next()) +
                                  format("%016llx", rng.next()) + format("%016llx", rng.next())}};
  facts["transfer"]["files"] = 1;
  facts["transfer"]["total_size"] = size;
}

std::string stem_name(Rng& rng) { return std::string(rng.pick(kStems)) + format("_%03llu", rng.below(1000)); }

// Archive entries: folders and data files, with the occasional oddity the policies look for.
std::vector<std::string> archive_entries(Rng& rng, std::size_t count) {
  static constexpr std::array<const char*, 5> kFolders = {"data/", "study/cohort/", "outputs/tables/", "docs/",
                                                          "study/derived/"};
  static constexpr std::array<const char*, 6> kExtensions = {".csv", ".csv", ".parquet", ".txt", ".md", ".json"};
  std::vector<std::string> entries;
  for (const char* folder : kFolders) {
    if (entries.size() < count / 10 + 1) entries.push_back(folder);
  }
  while (entries.size() < count) {
    entries.push_back(std::string(rng.pick(kFolders)) + rng.pick(kStems) + format("_%04llu", rng.below(10000)) +
                      rng.pick(kExtensions));
  }
  return entries;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// W1: the standard library over a realistic mix of uploads, imports and egress requests.

namespace {

json w1_upload(Rng& rng, std::size_t index, const std::string& channel) {
  json facts = base_facts(rng, index, channel);
  facts["transfer"]["workspace"] = format("ws-%04llu", rng.below(200));
  facts["transfer"]["project"] = format("prj-%03llu", rng.below(60));
  const std::uint64_t roll = rng.below(1000);
  FileKind kind = rng.pick(kLowRiskKinds);
  std::int64_t size = std::min<std::int64_t>(file_size(rng), 900 * kMiB);
  std::string scan = "clean";
  if (roll < 30) {
    kind = rng.pick(kExecutableKinds);  // deny: a program
  } else if (roll < 45) {
    scan = "infected";  // deny: malware
  } else if (roll < 60) {
    scan = "error";  // escalate
  } else if (roll < 100) {
    kind = rng.pick(kOtherKinds);  // escalate: otherwise
  } else if (roll < 120) {
    size = rng.between(1 * kGiB + 1, 6 * kGiB);  // escalate: large
  } else if (roll < 140) {
    scan = "skipped";
    size = rng.between(1 * kKiB, 30 * kMiB);  // approve below 10 MiB, escalate above
  }
  set_file(facts, stem_name(rng), kind, size, rng);
  if (roll >= 140 && roll < 160) facts["file"]["declared_type"] = "text/csv";  // a mismatch unless it is text
  if (roll >= 160 && roll < 170) facts["file"]["extension"] = "ps1";           // deny by extension
  if (scan != "") facts["scan"] = {{"result", scan}, {"engine", "ClamAV 1.3.1"}};
  if (scan == "infected") facts["scan"]["signature"] = "Win.Test.EICAR_HDB-1";
  if (roll >= 170 && roll < 175) facts.erase("scan");  // never scanned: escalate
  const bool text = std::string(kind.type).starts_with("text/") || std::string(kind.type) == "application/json";
  facts["content"] = {{"text", text}};
  const std::uint64_t content = rng.below(1000);
  if (content < 40) facts["content"]["nhs_numbers"] = rng.between(1, 5000);
  if (content >= 40 && content < 90) facts["content"]["postcodes"] = rng.between(1, 300);
  if (content >= 90 && content < 110) facts["content"]["emails"] = rng.between(1, 40);
  if (std::string(kind.extension) == "csv" || std::string(kind.extension) == "tsv") {
    facts["table"] = {{"is_table", true}, {"rows", rng.between(10, 200000)}, {"columns", rng.between(2, 40)}};
  }
  // About one upload in eight is an archive, judged by the archives policy too.
  if (rng.chance(125)) {
    const std::size_t entries = static_cast<std::size_t>(rng.between(3, 40));
    std::vector<std::string> names = archive_entries(rng, entries);
    const std::uint64_t oddity = rng.below(100);
    double ratio = 2.0 + 6.0 * rng.unit();
    bool encrypted = false;
    std::int64_t nested = 0;
    if (oddity < 8) names.back() = "tools/run_model.exe";         // deny
    else if (oddity < 12) names.back() = "../../etc/cron.d/job";  // deny
    else if (oddity < 22) names.back() = "analysis/model.py";     // escalate
    else if (oddity < 25) ratio = 250.0 + 500.0 * rng.unit();    // deny: a bomb
    else if (oddity < 28) encrypted = true;                       // deny
    else if (oddity < 33) nested = 1;                             // escalate
    facts["file"]["type"] = "application/zip";
    facts["file"]["declared_type"] = "application/zip";
    facts["file"]["extension"] = "zip";
    facts["file"]["name"] = stem_name(rng) + ".zip";
    facts["archive"] = {{"is_archive", true},
                        {"encrypted", encrypted},
                        {"entries", static_cast<std::int64_t>(names.size())},
                        {"uncompressed_size", static_cast<std::int64_t>(static_cast<double>(size) * ratio)},
                        {"nested_archives", nested},
                        {"compression_ratio", ratio},
                        {"entry_names", names}};
    facts.erase("table");
  }
  return facts;
}

json w1_import(Rng& rng, std::size_t index) {
  json facts = w1_upload(rng, index, "import");
  static constexpr std::array<const char*, 4> kTrustedHosts = {
      "warehouse.xlscsde.nhs.uk", "digital.nhs.uk", "adb-4417306281953452.12.azuredatabricks.net",
      "nwsde-cancer-registry.s3.eu-west-2.amazonaws.com"};
  static constexpr std::array<const char*, 4> kTypes = {"https", "https", "postgresql", "s3"};
  std::string type = rng.pick(kTypes);
  std::string host = rng.pick(kTrustedHosts);
  std::string url = "https://" + host + "/exports/" + format("%llu", rng.below(10000));
  std::string publisher = "NHS England";
  std::string licence = "OGL-3.0";
  const std::uint64_t roll = rng.below(100);
  if (roll < 6) {
    type = "http";
    url = "http://" + host + "/data.csv";  // deny
  } else if (roll < 12) {
    host = "files.example.com";  // deny: untrusted
    url = "https://" + host + "/dump.csv";
  } else if (roll < 17) {
    licence = "";  // escalate
  } else if (roll < 20) {
    publisher = " ";  // deny
  } else if (type == "postgresql") {
    url = "postgresql://" + host + "/warehouse?sslmode=" + (rng.chance(300) ? "disable" : "require");
  }
  facts["source"] = {{"type", type}, {"host", host}, {"url", url}};
  facts["datasource"] = {{"name", format("ds-%03llu", rng.below(80))},
                         {"type", type},
                         {"publisher", publisher},
                         {"license", licence}};
  return facts;
}

json w1_egress(Rng& rng, std::size_t index) {
  json facts = base_facts(rng, index, "egress");
  facts["transfer"]["workspace"] = format("ws-%04llu", rng.below(200));
  facts["transfer"]["project"] = format("prj-%03llu", rng.below(60));
  static constexpr std::array<const char*, 5> kJustifications = {
      "Aggregate HbA1c counts by practice for the annual audit report",
      "Model coefficients for the readmission risk paper, no record-level data",
      "Figures for the conference poster", "tables", "Summary statistics requested by the steering group"};
  facts["transfer"]["justification"] = rng.pick(kJustifications);
  static constexpr std::array<const char*, 5> kDestinations = {"researcher-download", "project-sharepoint",
                                                               "sde-publications", "nhs-futures", "personal-dropbox"};
  facts["destination"] = {{"name", rng.chance(940) ? kDestinations[rng.below(4)] : kDestinations[4]},
                          {"type", "download"}};
  const FileKind kind = rng.chance(700) ? kLowRiskKinds[0] : rng.pick(kLowRiskKinds);
  set_file(facts, stem_name(rng), kind, rng.between(1 * kKiB, 120 * kMiB), rng);
  facts["scan"] = {{"result", "clean"}};
  facts["content"] = {{"text", true}};
  if (std::string(kind.extension) == "csv") {
    const std::uint64_t roll = rng.below(100);
    json table = {{"is_table", true}, {"rows", rng.between(5, 500)}, {"columns", rng.between(2, 12)}};
    table["min_count"] = roll < 25 ? rng.between(1, 9) : rng.between(10, 5000);  // deny below 10
    if (roll >= 25 && roll < 32) table["identifier_columns"] = json::array({"nhs_number"});
    if (roll >= 32 && roll < 45) table["zero_cells"] = rng.between(1, 30);
    facts["table"] = table;
  }
  if (rng.chance(40)) facts["content"]["nhs_numbers"] = rng.between(1, 50);
  return facts;
}

}  // namespace

Workload make_w1(const std::string& policies_dir, std::size_t transfers, std::uint64_t seed) {
  Workload workload;
  workload.name = "W1";
  const std::vector<std::string> paths = {policies_dir};
  auto files = compiler::load_policy_files(paths);
  if (files.is_ok()) workload.policies = std::move(files).value();
  Rng rng(seed ^ 0x5731'0000'0000'0001ULL);
  workload.facts.reserve(transfers);
  for (std::size_t i = 0; i < transfers; ++i) {
    const std::uint64_t channel = rng.below(100);
    json facts = channel < 60 ? w1_upload(rng, i, "upload") : channel < 75 ? w1_import(rng, i) : w1_egress(rng, i);
    workload.facts.push_back(facts.dump());
  }
  return workload;
}

// ---------------------------------------------------------------------------------------------------
// W2: generated policy sets shaped as deployments grow.

namespace {

struct WorkspaceRule {
  std::string workspace;
  std::vector<std::string> types;
  std::int64_t max_size;
};

struct DestinationRule {
  std::string destination;
  std::string project;
  std::vector<std::string> types;
  std::int64_t max_size;
};

std::vector<std::string> pick_types(Rng& rng) {
  std::vector<std::string> types;
  const std::size_t count = static_cast<std::size_t>(rng.between(1, 4));
  while (types.size() < count) {
    std::string type = rng.pick(kLowRiskKinds).type;
    if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
  }
  std::sort(types.begin(), types.end());
  return types;
}

std::int64_t pick_limit(Rng& rng) {
  static constexpr std::array<std::int64_t, 6> kLimits = {10 * kMiB, 50 * kMiB, 100 * kMiB,
                                                          500 * kMiB, 1 * kGiB, 5 * kGiB};
  return rng.pick(kLimits);
}

// About 20 rules every deployment has, whatever its size; the first `count` are used.
std::vector<RuleDesc> global_rules(std::size_t count) {
  const std::vector<std::string> executable_extensions = {"bat", "dll", "exe", "ps1", "sh", "so"};
  const std::vector<std::string> executable_types = {"application/x-dosexec", "application/x-executable",
                                                     "application/x-sh", "application/x-sharedlib"};
  std::vector<RuleDesc> rules = {
      deny_rule("malware", eq("scan.result", "infected")),
      escalate_rule("nhs_numbers", {"data-approver", "information-governance"}, 2,
                    compare("content.nhs_numbers", ">", 0)),
      deny_rule("executable_extension", in("file.extension", executable_extensions)),
      escalate_rule("scan_error", {"data-approver"}, 1, eq("scan.result", "error")),
      deny_rule("executable_type", in("file.type", executable_types)),
      escalate_rule("large_file", {"data-approver"}, 1, compare("file.size", ">", 5 * kGiB)),
      deny_rule("encrypted_archive", is_true("archive.encrypted")),
      escalate_rule("postcodes", {"data-approver"}, 1, compare("content.postcodes", ">", 0)),
      deny_rule("nested_archives", compare("archive.nested_archives", ">", 1)),
      escalate_rule("small_counts", {"output-checker"}, 2,
                    all_of({is_true("table.is_table"), compare("table.min_count", ">", 0),
                            compare("table.min_count", "<", 10)})),
      deny_rule("identifiable_egress", all_of({eq("transfer.channel", "egress"),
                                               compare("content.nhs_numbers", ">", 0)})),
      escalate_rule("emails", {"data-approver"}, 1, compare("content.emails", ">", 20)),
      escalate_rule("phone_numbers", {"data-approver"}, 1, compare("content.phone_numbers", ">", 20)),
      deny_rule("revoked_organisation", in("actor.organisation", {"Revoked Partner Ltd", "unknown"})),
      escalate_rule("dates_of_birth", {"information-governance"}, 1, compare("content.dates_of_birth", ">", 0)),
      escalate_rule("many_files", {"data-approver"}, 1, compare("transfer.files", ">", 500)),
      deny_rule("plain_http", eq("source.type", "http")),
      escalate_rule("huge_transfer", {"data-approver"}, 1, compare("transfer.total_size", ">", 50 * kGiB)),
      escalate_rule("large_unscanned", {"data-approver"}, 1,
                    all_of({eq("scan.result", "skipped"), compare("file.size", ">", 10 * kMiB)})),
      deny_rule("archive_entries", compare("archive.entries", ">", 100000)),
  };
  rules.resize(std::min(count, rules.size()));
  return rules;
}

}  // namespace

Workload make_w2(std::size_t rules, std::size_t transfers, std::uint64_t seed) {
  Rng rng(seed ^ (0x5732'0000'0000'0000ULL + rules));
  const std::size_t global_count = std::min<std::size_t>(20, std::max<std::size_t>(2, rules / 2));
  const std::size_t rest = rules > global_count + 2 ? rules - global_count : 2;
  const std::size_t destination_count = std::max<std::size_t>(1, rest / 5);
  const std::size_t workspace_count = rest - destination_count;
  const std::size_t workspaces = std::max<std::size_t>(1, workspace_count / 2);
  const std::size_t destinations = std::max<std::size_t>(1, destination_count / 2);
  const char* ws_pattern = workspaces <= 10000 ? "ws-%04llu" : "ws-%06llu";

  std::vector<WorkspaceRule> ws_rules;
  PolicyDesc ws_policy{"workspaces", {"upload", "import"}, {}, {}, {}};
  for (std::size_t i = 0; i < workspace_count; ++i) {
    WorkspaceRule rule{format(ws_pattern, i % workspaces), pick_types(rng), pick_limit(rng)};
    ws_policy.rules.push_back(approve_rule(
        format("ws_%06llu", i), all_of({eq("transfer.workspace", rule.workspace), in("file.type", rule.types),
                                        compare("file.size", "<=", rule.max_size)})));
    ws_rules.push_back(std::move(rule));
  }
  ws_policy.otherwise = escalate_rule("otherwise", {"data-approver"}, 1, {});

  std::vector<DestinationRule> dest_rules;
  PolicyDesc dest_policy{"destinations", {"egress"}, {}, {}, {}};
  for (std::size_t i = 0; i < destination_count; ++i) {
    DestinationRule rule{format("dest-%04llu", i % destinations), format("prj-%04llu", rng.below(workspaces)),
                         pick_types(rng), pick_limit(rng)};
    dest_policy.rules.push_back(approve_rule(
        format("dest_%06llu", i),
        all_of({eq("destination.name", rule.destination), eq("transfer.project", rule.project),
                in("file.type", rule.types), compare("file.size", "<=", rule.max_size)})));
    dest_rules.push_back(std::move(rule));
  }
  dest_policy.otherwise = escalate_rule("otherwise", {"output-checker"}, 2, {});

  PolicyDesc global_policy{"global", {"upload", "import", "egress"}, {}, global_rules(global_count), {}};
  global_policy.otherwise = approve_rule("otherwise", {});

  const std::vector<PolicyDesc> policies = {dest_policy, global_policy, ws_policy};
  Workload workload;
  workload.name = "W2-" + std::to_string(rules);
  workload.policies = render_sources(workload.name, policies);
  workload.peer_spec = render_spec(
      workload.name, policies, true,
      "every rule maps to one Cedar policy: approve and escalate rules to permit, deny rules to forbid");

  workload.facts.reserve(transfers);
  for (std::size_t i = 0; i < transfers; ++i) {
    const std::uint64_t channel_roll = rng.below(100);
    const std::string channel = channel_roll < 60 ? "upload" : channel_roll < 75 ? "import" : "egress";
    json facts = base_facts(rng, i, channel);
    std::vector<std::string> types;
    std::int64_t max_size = 0;
    if (channel == "egress") {
      const DestinationRule& rule = rng.pick(dest_rules);
      facts["destination"] = {{"name", rule.destination}, {"type", "download"}};
      facts["transfer"]["project"] = rng.chance(850) ? rule.project : format("prj-x%03llu", rng.below(1000));
      facts["transfer"]["workspace"] = format(ws_pattern, rng.below(workspaces));
      types = rule.types;
      max_size = rule.max_size;
    } else {
      const WorkspaceRule& rule = rng.pick(ws_rules);
      facts["transfer"]["workspace"] = rng.chance(880) ? rule.workspace : format("ws-x%05llu", rng.below(100000));
      facts["transfer"]["project"] = format("prj-%04llu", rng.below(workspaces));
      types = rule.types;
      max_size = rule.max_size;
    }
    // The file usually fits the targeted rule, sometimes not (another type, or too big).
    FileKind kind = rng.pick(kLowRiskKinds);
    if (rng.chance(850)) {
      const std::string& type = rng.pick(types);
      for (const FileKind& k : kLowRiskKinds) {
        if (type == k.type) kind = k;
      }
    }
    std::int64_t size = rng.chance(880) ? rng.between(100, max_size) : rng.between(max_size + 1, 2 * max_size);
    if (rng.chance(15)) kind = rng.pick(kExecutableKinds);
    set_file(facts, stem_name(rng), kind, size, rng);
    if (rng.chance(10)) facts["file"]["extension"] = "exe";
    const std::uint64_t scan = rng.below(1000);
    facts["scan"] = {{"result", scan < 15 ? "infected" : scan < 35 ? "error" : scan < 70 ? "skipped" : "clean"}};
    json content = {{"text", true}};
    const std::uint64_t roll = rng.below(1000);
    if (roll < 30) content["nhs_numbers"] = rng.between(1, 2000);
    else if (roll < 70) content["postcodes"] = rng.between(1, 200);
    else if (roll < 85) content["emails"] = rng.between(1, 60);
    else if (roll < 95) content["dates_of_birth"] = rng.between(1, 60);
    facts["content"] = content;
    if (kind.extension == std::string("csv") && rng.chance(300)) {
      facts["table"] = {{"is_table", true}, {"min_count", rng.between(1, 400)}, {"rows", rng.between(5, 5000)}};
    }
    if (channel == "import") facts["source"] = {{"type", rng.chance(950) ? "https" : "http"}};
    if (rng.chance(5)) facts["actor"]["organisation"] = "Revoked Partner Ltd";
    workload.facts.push_back(facts.dump());
  }
  return workload;
}

// ---------------------------------------------------------------------------------------------------
// W3: expression-heavy rules over archives of 100 entries.

Workload make_w3(std::size_t transfers, std::uint64_t seed) {
  Rng rng(seed ^ 0x5733'0000'0000'0003ULL);
  const std::string names = "archive.entry_names";
  PolicyDesc contents{"archive-contents", {"upload", "import"}, is_true("archive.is_archive"), {}, {}};
  contents.rules = {
      deny_rule("path_traversal", cel_only(names + ".exists(n, n.matches(\"(^|/)\\\\.\\\\.(/|$)\"))")),
      deny_rule("absolute_path", cel_only(names + ".exists(n, n.startsWith(\"/\"))")),
      deny_rule("executables",
                cel_only(names + ".exists(n, n.lowerAscii().endsWith(\".exe\") || n.lowerAscii().endsWith(\".dll\")"
                                 " || n.endsWith(\".sh\"))")),
      escalate_rule("hidden_files", {"data-approver"}, 1,
                    cel_only(names + ".exists(n, n.matches(\"(^|/)\\\\.[^/]+$\"))")),
      escalate_rule("long_names", {"data-approver"}, 1, cel_only(names + ".map(n, size(n)).exists(s, s > 100)")),
      escalate_rule("identifying_names", {"information-governance"}, 1,
                    cel_only("size(" + names + ".filter(n, n.contains(\"patient\") || n.contains(\"nhs_number\")))"
                                           " > 0")),
      escalate_rule("os_metadata", {"data-approver"}, 1,
                    cel_only(names + ".exists(n, n.startsWith(\"__MACOSX/\") || n.endsWith(\"Thumbs.db\"))")),
      escalate_rule("too_many_files", {"data-approver"}, 1,
                    cel_only("size(" + names + ".filter(n, !n.endsWith(\"/\"))) > 95")),
      approve_rule("known_contents",
                   cel_only(names + ".all(n, n.endsWith(\"/\") || n.matches(\"\\\\.(csv|parquet|txt|md|json)$\"))")),
  };
  contents.otherwise = escalate_rule("otherwise", {"data-approver"}, 1, {});

  PolicyDesc file_names{"archive-names", {"upload", "import"}, {}, {}, {}};
  file_names.rules = {
      deny_rule("double_extension", cel_only("file.name.matches(\"\\\\.(exe|scr|bat)\\\\.(zip|tar|gz)$\")")),
      escalate_rule("unusual_name", {"data-approver"}, 1,
                    cel_only("!file.name.matches(\"^[A-Za-z0-9._-]+\\\\.(zip|tar|tgz|gz)$\")")),
      escalate_rule("identifying_name", {"information-governance"}, 1,
                    cel_only("file.name.lowerAscii().contains(\"patient\") || size(file.name) > 64")),
  };
  file_names.otherwise = approve_rule("otherwise", {});

  const std::vector<PolicyDesc> policies = {contents, file_names};
  Workload workload;
  workload.name = "W3";
  workload.policies = render_sources(workload.name, policies);
  workload.peer_spec = render_spec(workload.name, policies, false,
                                   "Cedar has no regular expressions and no list comprehensions (exists, all, "
                                   "filter, map), so W3 cannot be expressed in Cedar");

  static constexpr std::array<const char*, 5> kSuffixes = {".zip", ".zip", ".zip", ".tar", ".tgz"};
  for (std::size_t i = 0; i < transfers; ++i) {
    json facts = base_facts(rng, i, "upload");
    facts["transfer"]["workspace"] = format("ws-%04llu", rng.below(200));
    std::vector<std::string> entries = archive_entries(rng, 100);
    // Oddities replace entries near the end, so `exists` has to walk most of the list to find them.
    const std::uint64_t roll = rng.below(1000);
    const std::size_t at = 80 + static_cast<std::size_t>(rng.below(20));
    if (roll < 60) entries[at] = "tools/Setup.EXE";
    else if (roll < 100) entries[at] = "data/../../home/user/.bashrc";
    else if (roll < 130) entries[at] = "/etc/passwd";
    else if (roll < 200) entries[at] = "study/cohort/.env";
    else if (roll < 250) entries[at] = "outputs/tables/" + std::string(110, 'x') + ".csv";
    else if (roll < 320) entries[at] = "data/patient_level_extract.csv";
    else if (roll < 360) entries[at] = "__MACOSX/data/._cohort.csv";
    else if (roll < 480) entries[at] = "docs/figure_" + format("%llu", rng.below(100)) + ".png";
    std::string name = stem_name(rng) + rng.pick(kSuffixes);
    const std::uint64_t name_roll = rng.below(1000);
    if (name_roll < 50) name = "Study Export (" + format("%llu", rng.below(9)) + ").zip";
    else if (name_roll < 70) name = "invoice.exe.zip";
    else if (name_roll < 100) name = "patient_records_" + format("%llu", rng.below(100)) + ".zip";
    facts["file"] = {{"name", name}, {"extension", "zip"}, {"type", "application/zip"},
                     {"size", rng.between(1 * kMiB, 200 * kMiB)}};
    facts["scan"] = {{"result", "clean"}};
    facts["archive"] = {{"is_archive", true},
                        {"entries", static_cast<std::int64_t>(entries.size())},
                        {"entry_names", entries}};
    workload.facts.push_back(facts.dump());
  }
  return workload;
}

}  // namespace airlock::bench
