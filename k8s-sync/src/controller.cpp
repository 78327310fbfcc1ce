#include "airlock/k8s/controller.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "airlock/k8s/informer.h"

namespace airlock::k8s {
using runtime::Error;
using runtime::Result;
using runtime::Status;

namespace {

constexpr const char* kManagedBy = "airlock-k8s-sync";
constexpr const char* kDatasourceLabel = "xlscsde.nhs.uk/datasource";
constexpr const char* kDatasourceNamespaceLabel = "xlscsde.nhs.uk/datasource-namespace";
constexpr const char* kDatasourceAnnotation = "xlscsde.nhs.uk/datasource";

std::string str(const Json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return {};
  return object[key].get<std::string>();
}
const Json& field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object() || !object.contains(key)) return kNull;
  return object[key];
}
std::int64_t integer(const Json& object, const char* key, std::int64_t fallback) {
  const Json& value = field(object, key);
  return value.is_number_integer() ? value.get<std::int64_t>() : fallback;
}
const Json& items_of(const Json& list) {
  static const Json kEmpty = Json::array();
  const Json& items = field(list, "items");
  return items.is_array() ? items : kEmpty;
}
std::string name_of(const Json& object) { return str(field(object, "metadata"), "name"); }
std::string namespace_of(const Json& object) { return str(field(object, "metadata"), "namespace"); }

std::uint32_t fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

std::string hex8(std::uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%08x", value);
  return buffer;
}

// Label values are at most 63 characters.
std::string label_value(std::string_view text) {
  if (text.size() <= 63) return std::string(text);
  return std::string(text.substr(0, 54)) + "-" + hex8(fnv1a(text));
}

const std::set<std::string> kApprovedStates = {"approved", "released", "materialised"};
// An escalated import in one of these states will never be released: its quarantined copy goes after the retention.
const std::set<std::string> kDiscardedImportStates = {"rejected", "returned"};
const std::set<std::string> kReviewStates = {"escalated", "in_review"};

bool is_approved(const TransferUpdate& transfer) { return kApprovedStates.count(transfer.state) != 0; }
bool in_review(const TransferUpdate& transfer) { return kReviewStates.count(transfer.state) != 0; }
// A reviewer asked for a workspace for a transfer still in review.
bool wants_workspace(const TransferUpdate& transfer) {
  return in_review(transfer) && transfer.reviewer_workspace.has_value();
}
bool is_import(const TransferUpdate& transfer) { return transfer.channel == "import"; }

const TransferUpdate* latest(const std::vector<TransferUpdate>& transfers,
                             bool (*accept)(const TransferUpdate&) = nullptr) {
  const TransferUpdate* best = nullptr;
  for (const TransferUpdate& transfer : transfers) {
    if (accept != nullptr && !accept(transfer)) continue;
    if (best == nullptr || std::tie(transfer.updated_at_ms, transfer.id) > std::tie(best->updated_at_ms, best->id)) {
      best = &transfer;
    }
  }
  return best;
}

Json labels_for(const Json& datasource, const std::string& component) {
  return {{"app.kubernetes.io/name", "airlock"},
          {"app.kubernetes.io/instance", label_value(name_of(datasource))},
          {"app.kubernetes.io/component", component},
          {"app.kubernetes.io/part-of", "airlock"},
          {"app.kubernetes.io/managed-by", kManagedBy},
          {kDatasourceLabel, label_value(name_of(datasource))},
          {kDatasourceNamespaceLabel, label_value(namespace_of(datasource))}};
}

// Metadata of a child; owner references only within the data source's namespace (Kubernetes forbids cross-namespace
// owners; the finalizer cleans those up).
Json child_metadata(const Json& datasource, const std::string& name, const std::string& ns,
                    const std::string& component) {
  Json metadata = {{"name", name},
                   {"namespace", ns},
                   {"labels", labels_for(datasource, component)},
                   {"annotations", {{kDatasourceAnnotation, object_key(datasource)}}}};
  std::string uid = str(field(datasource, "metadata"), "uid");
  if (ns == namespace_of(datasource) && !uid.empty()) {
    metadata["ownerReferences"] = Json::array({{{"apiVersion", resources::data_source().api_version()},
                                                {"kind", resources::data_source().kind},
                                                {"name", name_of(datasource)},
                                                {"uid", uid},
                                                {"controller", true},
                                                {"blockOwnerDeletion", true}}});
  }
  return metadata;
}

Json reference(const ResourceType& type, const std::string& ns, const std::string& name) {
  return {{"apiVersion", type.api_version()}, {"kind", type.kind}, {"metadata", {{"name", name}, {"namespace", ns}}}};
}

const ResourceType* type_of(const Json& object) {
  for (const ResourceType* type : {&resources::pvc(), &resources::secret(), &resources::job(), &resources::deployment(),
                                   &resources::data_binding()}) {
    if (type->kind == str(object, "kind") && type->api_version() == str(object, "apiVersion")) return type;
  }
  return nullptr;
}

std::string status_string(const Json& datasource, const char* key) { return str(field(datasource, "status"), key); }

std::string import_job_name(const Json& datasource) {
  std::string recorded = status_string(datasource, "importJob");
  if (!recorded.empty()) return recorded;
  std::int64_t generation = integer(field(datasource, "metadata"), "generation", 1);
  return child_name(name_of(datasource), "import-" + std::to_string(generation));
}

bool import_wanted(const Json& datasource) {
  std::string state = status_string(datasource, "dataState");
  std::string stage = status_string(datasource, "stage");
  return (state == "READY" && stage.empty()) || stage == "Importing";
}

// The credential keys each connection names (userKey: DatabricksUsername -> DatabricksUsername), with the Secret.
std::vector<std::pair<std::string, std::string>> credential_references(const Json& datasource,
                                                                       const ControllerOptions& options) {
  std::vector<std::pair<std::string, std::string>> references;
  const Json& connections = field(field(datasource, "spec"), "connections");
  if (!connections.is_array()) return references;
  for (const Json& connection : connections) {
    const Json& credentials = field(connection, "credentials");
    if (!credentials.is_object()) continue;
    std::string secret = str(credentials, "secretName");
    if (secret.empty()) secret = options.credentials_secret;
    for (const auto& [key, value] : credentials.items()) {
      if (key != "secretName" && value.is_string()) references.emplace_back(secret, value.get<std::string>());
    }
  }
  return references;
}

Json import_secret(const Json& datasource, const ControllerOptions& options, const Json& credentials, bool redact) {
  Json data = Json::object();
  for (const auto& [secret, key] : credential_references(datasource, options)) {
    data[key] = redact ? "<from Secret " + secret + " key " + key + ">" : str(credentials, key.c_str());
  }
  data["datasource.json"] =
      Json({{"apiVersion", str(datasource, "apiVersion")},
            {"kind", str(datasource, "kind")},
            {"metadata", {{"name", name_of(datasource)}, {"namespace", namespace_of(datasource)}}},
            {"spec", field(datasource, "spec")}})
          .dump(2);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", child_metadata(datasource, child_name(name_of(datasource), "import-credentials"),
                                      options.storage_ns, "import-credentials")},
          {"type", "Opaque"},
          {"stringData", data}};
}

Json restricted_container_security() {
  return {{"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"runAsNonRoot", true},
          {"capabilities", {{"drop", Json::array({"ALL"})}}},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

// exit codes of `airlock import` (docs/import.md): 3 escalated (kept for review) and 4 denied are decisions, so
// the Job fails at once instead of retrying; a Pod evicted or preempted (DisruptionTarget) is not counted.
Json import_pod_failure_policy() {
  return {{"rules",
           Json::array({{{"action", "FailJob"},
                         {"onExitCodes", {{"containerName", "import"}, {"operator", "In"}, {"values", {3, 4}}}}},
                        {{"action", "Ignore"},
                         {"onPodConditions", Json::array({{{"type", "DisruptionTarget"}, {"status", "True"}}})}}})}};
}

Json import_job(const Json& datasource, const ControllerOptions& options) {
  const std::string name = import_job_name(datasource);
  Json pod_labels = labels_for(datasource, "import");
  Json job = {
      {"apiVersion", "batch/v1"},
      {"kind", "Job"},
      {"metadata", child_metadata(datasource, name, options.storage_ns, "import")},
      {"spec",
       {{"backoffLimit", options.import_backoff_limit},
        {"template",
         {{"metadata", {{"labels", pod_labels}}},
          {"spec",
           {{"restartPolicy", "Never"},
            {"automountServiceAccountToken", false},
            {"securityContext", {{"runAsNonRoot", true}, {"runAsUser", 1000}, {"fsGroup", 1000}}},
            {"containers",
             Json::array({{{"name", "import"},
                           {"image", options.import_image},
                           {"args", Json::array({"import", "--datasource", "/etc/airlock/import/datasource.json",
                                                 "--credentials", "/etc/airlock/import", "--output", "/data"})},
                           {"env", Json::array({{{"name", "AIRLOCK_DATASOURCE"}, {"value", object_key(datasource)}}})},
                           {"securityContext", restricted_container_security()},
                           {"volumeMounts", Json::array({{{"name", "data"}, {"mountPath", "/data"}},
                                                         {{"name", "credentials"},
                                                          {"mountPath", "/etc/airlock/import"},
                                                          {"readOnly", true}}})}}})},
            {"volumes",
             Json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", data_pvc_name(datasource)}}}},
                          {{"name", "credentials"},
                           {"secret",
                            {{"secretName", child_name(name_of(datasource), "import-credentials")},
                             {"defaultMode", 0400}}}}})}}}}}}}};
  job["spec"]["podFailurePolicy"] = import_pod_failure_policy();
  if (!options.import_gateway_url.empty()) {
    Json& pod = job["spec"]["template"]["spec"];
    Json& container = pod["containers"][0];
    for (const std::string& arg : {std::string("--gateway"), options.import_gateway_url, std::string("--token-file"),
                                   std::string("/etc/airlock/gateway/token")}) {
      container["args"].push_back(arg);
    }
    container["volumeMounts"].push_back(
        {{"name", "gateway-token"}, {"mountPath", "/etc/airlock/gateway"}, {"readOnly", true}});
    pod["volumes"].push_back(
        {{"name", "gateway-token"},
         {"secret", {{"secretName", options.import_gateway_token_secret}, {"defaultMode", 0400}, {"optional", true}}}});
  }
  return job;
}

// Releases an import that reviewers approved: `airlock import --release RUN` renames DIR/quarantine/RUN to
// DIR/released on the data source's volume (atomically, as the importer releases an approved import).
Json release_job(const Json& datasource, const ControllerOptions& options, const std::string& run_id) {
  Json job = import_job(datasource, options);
  job["metadata"] = child_metadata(datasource, release_job_name(datasource, run_id), options.storage_ns, "release");
  job["metadata"]["annotations"]["xlscsde.nhs.uk/transfer"] = run_id;
  Json& pod = job["spec"]["template"]["spec"];
  job["spec"]["template"]["metadata"]["labels"] = labels_for(datasource, "release");
  job["spec"].erase("podFailurePolicy");
  pod["containers"][0]["args"] = Json::array({"import", "--release", run_id, "--output", "/data"});
  pod["containers"][0]["volumeMounts"] = Json::array({{{"name", "data"}, {"mountPath", "/data"}}});
  pod["volumes"] =
      Json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", data_pvc_name(datasource)}}}}});
  return job;
}

// Deletes an escalated import that reviewers rejected or returned, once its retention is over: `airlock import
// --discard RUN` removes DIR/quarantine/RUN from the data source's volume; nothing else is mounted.
Json discard_job(const Json& datasource, const ControllerOptions& options, const std::string& run_id) {
  Json job = release_job(datasource, options, run_id);
  job["metadata"] = child_metadata(datasource, discard_job_name(datasource, run_id), options.storage_ns, "discard");
  job["metadata"]["annotations"]["xlscsde.nhs.uk/transfer"] = run_id;
  job["spec"]["template"]["metadata"]["labels"] = labels_for(datasource, "discard");
  job["spec"]["template"]["spec"]["containers"][0]["args"] =
      Json::array({"import", "--discard", run_id, "--output", "/data"});
  return job;
}

Json pvc(const Json& datasource, const ControllerOptions& options, bool staging) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata",
           child_metadata(datasource, data_pvc_name(datasource), options.storage_ns, staging ? "staging" : "data")},
          {"spec",
           {{"accessModes", Json::array({"ReadWriteMany"})},
            {"storageClassName", staging ? options.staging_storage_class : options.storage_class},
            {"resources", {{"requests", {{"storage", options.storage_size}}}}}}}};
}

Json reviewer_deployment(const Json& datasource, const ControllerOptions& options, const TransferUpdate& transfer) {
  Json selector = {{"app.kubernetes.io/component", "reviewer"},
                   {"app.kubernetes.io/instance", label_value(name_of(datasource))}};
  Json pod_labels = labels_for(datasource, "reviewer");
  Json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata",
       child_metadata(datasource, child_name(name_of(datasource), "review"), options.storage_ns, "reviewer")},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", selector}}},
        {"template",
         {{"metadata", {{"labels", pod_labels}}},
          {"spec",
           {{"automountServiceAccountToken", false},
            {"securityContext", {{"runAsNonRoot", true}, {"runAsUser", 1000}, {"fsGroup", 100}}},
            {"containers",
             Json::array({{{"name", "review"},
                           {"image", options.reviewer_image},
                           {"ports", Json::array({{{"name", "http"}, {"containerPort", 8888}}})},
                           {"env", Json::array({{{"name", "AIRLOCK_DATASOURCE"}, {"value", object_key(datasource)}}})},
                           {"securityContext",
                            {{"allowPrivilegeEscalation", false}, {"capabilities", {{"drop", Json::array({"ALL"})}}}}},
                           {"volumeMounts", Json::array({{{"name", "review-data"},
                                                          {"mountPath", "/home/jovyan/review"},
                                                          {"readOnly", true}}})}}})},
            // Only the data under review: never a workspace volume.
            {"volumes", Json::array({{{"name", "review-data"},
                                      {"persistentVolumeClaim",
                                       {{"claimName", data_pvc_name(datasource)}, {"readOnly", true}}}}})}}}}}}}};
  deployment["metadata"]["annotations"]["xlscsde.nhs.uk/transfer"] = transfer.id;
  Json& container = deployment["spec"]["template"]["spec"]["containers"][0];
  container["env"].push_back({{"name", "AIRLOCK_TRANSFER"}, {"value", transfer.id}});
  container["env"].push_back(
      {{"name", "AIRLOCK_REVIEW_REQUESTED_BY"}, {"value", transfer.reviewer_workspace->requested_by}});
  if (!transfer.reviewer_workspace->url.empty()) {
    container["env"].push_back({{"name", "AIRLOCK_REVIEW_URL"}, {"value", transfer.reviewer_workspace->url}});
  }
  // An escalated import waits in DIR/quarantine/RUN on the data source's volume: only that run is mounted.
  if (is_import(transfer)) container["volumeMounts"][0]["subPath"] = "quarantine/" + transfer.id;
  return deployment;
}

Json binding(const Json& datasource, const TransferUpdate& approved) {
  Json metadata = child_metadata(datasource, binding_name(name_of(datasource)), namespace_of(datasource), "binding");
  metadata["annotations"]["xlscsde.nhs.uk/transfer"] = approved.id;
  return {{"apiVersion", resources::data_binding().api_version()},
          {"kind", resources::data_binding().kind},
          {"metadata", metadata},
          {"spec", {{"workspace", approved.workspace}, {"datasource", name_of(datasource)}}}};
}

void set_condition(Json& status, const std::string& type, const std::string& value, const std::string& reason,
                   const std::string& message, std::int64_t generation, TimePoint now) {
  Json& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = Json::array();
  for (Json& condition : conditions) {
    if (str(condition, "type") != type) continue;
    if (str(condition, "status") != value) condition["lastTransitionTime"] = format_time(now);
    condition["status"] = value;
    condition["reason"] = reason;
    condition["message"] = message;
    condition["observedGeneration"] = generation;
    return;
  }
  conditions.push_back({{"type", type},
                        {"status", value},
                        {"reason", reason},
                        {"message", message},
                        {"observedGeneration", generation},
                        {"lastTransitionTime", format_time(now)}});
}

std::string condition_status(const Json& status, const std::string& type) {
  const Json& conditions = field(status, "conditions");
  if (!conditions.is_array()) return {};
  for (const Json& condition : conditions) {
    if (str(condition, "type") == type) return str(condition, "status");
  }
  return {};
}

// The stage of an Uploaded source for a gateway state.
std::string stage_for(const std::string& state) {
  static const std::map<std::string, std::string> kStages = {
      {"created", "Transferring"},  {"receiving", "Transferring"}, {"inspecting", "Inspecting"},
      {"decided", "Inspecting"},    {"approved", "Approved"},      {"released", "Approved"},
      {"materialised", "Approved"}, {"denied", "Denied"},          {"escalated", "Escalated"},
      {"in_review", "InReview"},    {"rejected", "Rejected"},      {"returned", "Returned"},
      {"failed", "TransferFailed"}, {"revoked", "Revoked"}};
  auto found = kStages.find(state);
  return found == kStages.end() ? "Transferring" : found->second;
}

std::string decision_summary(const TransferUpdate& transfer) {
  std::string text = transfer.outcome.empty() ? "no decision yet" : transfer.outcome;
  if (transfer.outcome == "escalate" && !transfer.reviewers.empty()) {
    text += " to";
    for (std::size_t i = 0; i < transfer.reviewers.size(); ++i) text += (i ? ", " : " ") + transfer.reviewers[i];
  }
  if (!transfer.reason.empty()) text += ": " + transfer.reason;
  if (!transfer.reviewed_by.empty()) text += " (reviewed by " + transfer.reviewed_by + ")";
  return text.size() > 1024 ? text.substr(0, 1021) + "..." : text;
}

void reflect_transfers(Json& status, const Json& datasource, const std::vector<TransferUpdate>& transfers,
                       std::int64_t generation, TimePoint now) {
  const TransferUpdate* newest = latest(transfers);
  if (newest == nullptr) {
    if (str(field(datasource, "spec"), "type") == "Uploaded" && status_string(datasource, "stage").empty()) {
      status["stage"] = "AwaitingUpload";
    }
    return;
  }
  status["transferId"] = newest->id;
  Json reviewers = Json::array();
  for (const std::string& role : newest->reviewers) reviewers.push_back(role);
  status["decision"] = {{"transferId", newest->id},
                        {"state", newest->state},
                        {"outcome", newest->outcome},
                        {"reviewers", reviewers},
                        {"reviewedBy", newest->reviewed_by},
                        {"workspace", newest->workspace},
                        {"summary", decision_summary(*newest)}};
  if (str(field(datasource, "spec"), "type") == "Uploaded") status["stage"] = stage_for(newest->state);

  const TransferUpdate* approved = latest(transfers, is_approved);
  const TransferUpdate* reviewing = latest(transfers, in_review);
  bool reviewed =
      std::any_of(transfers.begin(), transfers.end(), [](const TransferUpdate& t) { return !t.reviewed_by.empty(); });
  bool revoked =
      std::any_of(transfers.begin(), transfers.end(), [](const TransferUpdate& t) { return t.state == "revoked"; });
  if (approved != nullptr) {
    set_condition(status, "Approved", "True", approved->reviewed_by.empty() ? "Approved" : "Reviewed",
                  "transfer " + approved->id + ": " + decision_summary(*approved), generation, now);
  } else if (reviewing != nullptr) {
    set_condition(status, "Approved", "Unknown", "AwaitingReview", "transfer " + reviewing->id + " awaits review",
                  generation, now);
  } else {
    static const std::map<std::string, std::string> kReasons = {{"denied", "Denied"},
                                                                {"rejected", "Rejected"},
                                                                {"revoked", "Revoked"},
                                                                {"returned", "Returned"},
                                                                {"failed", "TransferFailed"}};
    auto found = kReasons.find(newest->state);
    if (found != kReasons.end()) {
      set_condition(status, "Approved", "False", found->second,
                    "transfer " + newest->id + ": " + decision_summary(*newest), generation, now);
    } else {
      set_condition(status, "Approved", "Unknown", "Inspecting", "transfer " + newest->id + " is " + newest->state,
                    generation, now);
    }
  }
  if (reviewing != nullptr) {
    set_condition(status, "UnderReview", "True", reviewing->state == "escalated" ? "Escalated" : "InReview",
                  "transfer " + reviewing->id + ": " + decision_summary(*reviewing), generation, now);
  } else {
    set_condition(status, "UnderReview", "False", reviewed ? "Reviewed" : "NotEscalated", "", generation, now);
  }
  if (approved != nullptr && !approved->workspace.empty()) {
    set_condition(status, "Bound", "True", "BindingCreated",
                  "bound to workspace " + approved->workspace + " by " + binding_name(name_of(datasource)), generation,
                  now);
  } else {
    set_condition(status, "Bound", "False", revoked ? "Revoked" : "NotApproved",
                  revoked ? "the approval was revoked; the binding was removed" : "", generation, now);
  }
}

void reflect_import(Json& status, const Json& datasource, const Json* job, std::int64_t generation, TimePoint now) {
  if (!import_wanted(datasource)) return;
  status["stage"] = "Importing";
  status["importJob"] = import_job_name(datasource);
  if (job == nullptr || !job->is_object()) {
    set_condition(status, "Imported", "False", "JobCreated", "job " + import_job_name(datasource) + " created",
                  generation, now);
    return;
  }
  const Json& job_status = field(*job, "status");
  const Json& conditions = field(job_status, "conditions");
  std::string failed_reason;
  std::string failed_message;
  bool complete = integer(job_status, "succeeded", 0) > 0;
  if (conditions.is_array()) {
    for (const Json& condition : conditions) {
      if (str(condition, "status") != "True") continue;
      if (str(condition, "type") == "Complete") complete = true;
      if (str(condition, "type") == "Failed") {
        failed_reason = str(condition, "reason");
        failed_message = str(condition, "message");
      }
    }
  }
  if (complete) {
    status["dataState"] = "Completed";
    status["stage"] = "Imported";
    set_condition(status, "Imported", "True", "JobSucceeded", "job " + name_of(*job) + " succeeded", generation, now);
  } else if (failed_reason == "PodFailurePolicy" && failed_message.find("exit code 3") != std::string::npos) {
    // Escalated: the import waits in quarantine on the volume for reviewers; the gateway holds the case and a
    // release Job follows their approval (reflect_import_review).
    status["stage"] = "AwaitingReview";
    set_condition(status, "Imported", "False", "Escalated",
                  "job " + name_of(*job) + ": the import was escalated and awaits review", generation, now);
  } else if (failed_reason == "PodFailurePolicy" && failed_message.find("exit code 4") != std::string::npos) {
    status["dataState"] = "Failed";
    status["stage"] = "ImportDenied";
    status["failureReason"] = "the policies denied the import; nothing was released";
    set_condition(status, "Imported", "False", "Denied", "job " + name_of(*job) + ": the policies denied the import",
                  generation, now);
  } else if (!failed_reason.empty()) {
    status["dataState"] = "Failed";
    status["stage"] = "ImportFailed";
    status["failureReason"] = failed_reason + (failed_message.empty() ? "" : ": " + failed_message);
    set_condition(status, "Imported", "False", failed_reason.empty() ? "JobFailed" : failed_reason,
                  "job " + name_of(*job) + " failed" + (failed_message.empty() ? "" : ": " + failed_message),
                  generation, now);
  } else {
    set_condition(status, "Imported", "False", "JobRunning",
                  "job " + name_of(*job) + ": " + std::to_string(integer(job_status, "active", 0)) + " active",
                  generation, now);
  }
}

// Whether a Job finished: complete, failed, or neither (running, or not read).
struct JobEnd {
  bool complete = false;
  bool failed = false;
};
JobEnd job_end(const Json* job) {
  static const Json kNoJob;
  const Json& job_status = field(job == nullptr ? kNoJob : *job, "status");
  const Json& conditions = field(job_status, "conditions");
  JobEnd end;
  end.complete = integer(job_status, "succeeded", 0) > 0;
  for (const Json& condition : conditions.is_array() ? conditions : Json::array()) {
    if (str(condition, "status") != "True") continue;
    end.complete |= str(condition, "type") == "Complete";
    end.failed |= str(condition, "type") == "Failed";
  }
  return end;
}

// The condition Discarded: the newest import run, rejected or returned in review, deleted from quarantine by its
// discard Job once its retention was over.
void reflect_discard(Json& status, const Json& datasource, const std::vector<TransferUpdate>& transfers,
                     const Json* discard_job, std::int64_t generation, TimePoint now) {
  const TransferUpdate* newest = latest(transfers, is_import);
  if (newest == nullptr || discard_job == nullptr) return;
  const std::string job = discard_job_name(datasource, newest->id);
  const JobEnd end = job_end(discard_job);
  if (end.complete) {
    set_condition(status, "Discarded", "True", "RetentionOver",
                  "import " + newest->id + " was deleted from quarantine by job " + job, generation, now);
  } else if (end.failed) {
    set_condition(status, "Discarded", "False", "DiscardFailed",
                  "job " + job + " could not delete import " + newest->id + " from quarantine", generation, now);
  } else {
    set_condition(status, "Discarded", "False", "JobRunning", "job " + job + " is deleting import " + newest->id,
                  generation, now);
  }
}

// An Import source whose import escalated: the import transfer's review, then the release Job.
void reflect_import_review(Json& status, const Json& datasource, const std::vector<TransferUpdate>& transfers,
                           const Json* release_job, std::int64_t generation, TimePoint now) {
  const std::string stage = str(status, "stage");
  if (stage != "AwaitingReview" && stage != "InReview" && stage != "Releasing" && stage != "ReleaseFailed") return;
  const TransferUpdate* newest = latest(transfers, is_import);
  if (newest == nullptr) return;  // not reported yet
  if (in_review(*newest)) {
    status["stage"] = "InReview";
    return;
  }
  static const std::set<std::string> kStopped = {"rejected", "returned", "denied", "failed", "revoked"};
  if (kStopped.count(newest->state) != 0) {
    status["dataState"] = "Failed";
    status["stage"] = stage_for(newest->state);
    status["failureReason"] = "import " + newest->id + ": " + decision_summary(*newest);
    set_condition(status, "Imported", "False", stage_for(newest->state), "import " + newest->id + " was not released",
                  generation, now);
    return;
  }
  if (newest->state != "approved") return;
  status["stage"] = "Releasing";
  const auto [complete, failed] = job_end(release_job);
  if (complete) {
    status["dataState"] = "Completed";
    status["stage"] = "Imported";
    set_condition(
        status, "Imported", "True", "Released",
        "import " + newest->id + " approved in review and released by job " + release_job_name(datasource, newest->id),
        generation, now);
  } else if (failed) {
    status["stage"] = "ReleaseFailed";
    set_condition(status, "Imported", "False", "ReleaseFailed",
                  "job " + release_job_name(datasource, newest->id) + " could not release import " + newest->id,
                  generation, now);
  }
}

}  // namespace

const TransferUpdate* import_awaiting_release(const std::vector<TransferUpdate>& transfers) {
  const TransferUpdate* newest = latest(transfers, is_import);
  return newest != nullptr && newest->state == "approved" ? newest : nullptr;
}

std::string release_job_name(const Json& datasource, std::string_view run_id) {
  return child_name(name_of(datasource), "release-" + std::string(run_id.substr(0, 12)));
}

std::vector<const TransferUpdate*> imports_to_discard(const std::vector<TransferUpdate>& transfers,
                                                      std::chrono::seconds retention, TimePoint now) {
  std::vector<const TransferUpdate*> due;
  if (retention.count() <= 0) return due;
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::int64_t retention_ms = std::chrono::duration_cast<std::chrono::milliseconds>(retention).count();
  for (const TransferUpdate& transfer : transfers) {
    if (!is_import(transfer) || kDiscardedImportStates.count(transfer.state) == 0) continue;
    if (transfer.updated_at_ms <= 0 || now_ms - transfer.updated_at_ms < retention_ms) continue;
    due.push_back(&transfer);
  }
  return due;
}

std::string discard_job_name(const Json& datasource, std::string_view run_id) {
  return child_name(name_of(datasource), "discard-" + std::string(run_id.substr(0, 12)));
}

std::string object_key(const Json& object) { return namespace_of(object) + "/" + name_of(object); }

std::string child_name(std::string_view base, std::string_view suffix) {
  std::string name = std::string(base) + "-" + std::string(suffix);
  if (name.size() <= 63) return name;
  std::size_t keep = 63 - suffix.size() - 10;
  return std::string(base.substr(0, keep)) + "-" + hex8(fnv1a(base)) + "-" + std::string(suffix);
}

std::string binding_name(std::string_view datasource) {
  if (datasource.starts_with("ds-")) return "dsb-" + std::string(datasource.substr(3));
  return child_name(datasource, "binding");
}

std::string data_pvc_name(const Json& datasource) {
  const Json& spec = field(datasource, "spec");
  const Json& connections = field(spec, "connections");
  if (connections.is_array()) {
    for (const Json& connection : connections) {
      if (str(connection, "type") == "pvc" && !str(connection, "name").empty()) return str(connection, "name");
    }
  }
  return child_name(name_of(datasource), str(spec, "type") == "Uploaded" ? "staging" : "data");
}

DesiredState desired_children(const Json& datasource, const ControllerOptions& options,
                              const std::vector<TransferUpdate>* transfers, const Json& credentials,
                              bool redact_credentials, TimePoint now) {
  DesiredState desired;
  const std::string type = str(field(datasource, "spec"), "type");
  const std::string name = name_of(datasource);
  if (type == "Import") {
    std::string stage = status_string(datasource, "stage");
    if (import_wanted(datasource)) {
      desired.apply.push_back(pvc(datasource, options, false));
      desired.apply.push_back(import_secret(datasource, options, credentials, redact_credentials));
      desired.apply.push_back(import_job(datasource, options));
    } else if (!stage.empty()) {
      desired.apply.push_back(pvc(datasource, options, false));
      // The import is over: its credentials go.
      desired.remove.push_back(
          reference(resources::secret(), options.storage_ns, child_name(name, "import-credentials")));
    }
  } else if (type == "Uploaded") {
    desired.apply.push_back(pvc(datasource, options, true));
  }
  if (transfers == nullptr) return desired;
  const TransferUpdate* approved = latest(*transfers, is_approved);
  if (approved != nullptr && !approved->workspace.empty()) {
    desired.apply.push_back(binding(datasource, *approved));
  } else {
    desired.remove.push_back(reference(resources::data_binding(), namespace_of(datasource), binding_name(name)));
  }
  if (type == "Import") {
    if (const TransferUpdate* release = import_awaiting_release(*transfers)) {
      desired.apply.push_back(release_job(datasource, options, release->id));
    }
    for (const TransferUpdate* rejected : imports_to_discard(*transfers, options.rejected_import_retention, now)) {
      desired.apply.push_back(discard_job(datasource, options, rejected->id));
    }
  }
  if (const TransferUpdate* reviewing = latest(*transfers, wants_workspace)) {
    desired.apply.push_back(reviewer_deployment(datasource, options, *reviewing));
  } else {
    desired.remove.push_back(reference(resources::deployment(), options.storage_ns, child_name(name, "review")));
  }
  return desired;
}

Json desired_status(const Json& datasource, const ControllerOptions& /*options*/, const Json* import_job,
                    const std::vector<TransferUpdate>* transfers, const std::string& problem, TimePoint now,
                    const Json* release_job, const Json* discard_job) {
  Json status = field(datasource, "status").is_object() ? field(datasource, "status") : Json::object();
  std::int64_t generation = integer(field(datasource, "metadata"), "generation", 0);
  status["observedGeneration"] = generation;
  if (str(field(datasource, "spec"), "type") == "Import")
    reflect_import(status, datasource, import_job, generation, now);
  if (transfers != nullptr) reflect_transfers(status, datasource, *transfers, generation, now);
  if (transfers != nullptr && str(field(datasource, "spec"), "type") == "Import") {
    reflect_import_review(status, datasource, *transfers, release_job, generation, now);
    reflect_discard(status, datasource, *transfers, discard_job, generation, now);
  }
  if (problem.empty()) {
    set_condition(status, "Synced", "True", "Reconciled", "", generation, now);
  } else {
    set_condition(status, "Synced", "False", "ReconcileError", problem.substr(0, 1024), generation, now);
  }
  return status;
}

std::vector<Json> render_manifests(const std::vector<Json>& datasources, const ControllerOptions& options) {
  std::vector<Json> manifests;
  for (Json datasource : datasources) {
    if (namespace_of(datasource).empty()) datasource["metadata"]["namespace"] = options.ns;
    if (str(field(datasource, "spec"), "type") == "Import" && !import_wanted(datasource)) {
      datasource["status"] = {{"dataState", "READY"}};
    }
    std::vector<TransferUpdate> none;
    DesiredState desired = desired_children(datasource, options, &none, Json::object(), true);
    for (Json& object : desired.apply) manifests.push_back(std::move(object));
  }
  return manifests;
}

Controller::Controller(KubeClient& client, TransferFeed* feed, const Clock& clock, ControllerOptions options)
    : client_(client), feed_(feed), clock_(clock), options_(std::move(options)), queue_(clock, options_.queue) {
  client_.field_manager = options_.field_manager;
}

Status Controller::enqueue_all() {
  ApiResponse list = client_.get(resources::data_source().collection_path(options_.ns));
  if (!list.ok()) return Error{"list data sources in " + options_.ns + ": " + list.describe()};
  for (const Json& item : items_of(list.body)) queue_.add(object_key(item));
  return Status::ok();
}

void Controller::enqueue_owner_of(const Json& child) {
  std::string key = str(field(field(child, "metadata"), "annotations"), kDatasourceAnnotation);
  if (!key.empty()) queue_.add(key);
}

bool Controller::process_next() {
  std::optional<std::string> key = queue_.pop();
  if (!key) return false;
  Status status = reconcile(*key);
  if (status) {
    queue_.forget(*key);
  } else {
    queue_.add_rate_limited(*key);
  }
  queue_.done(*key);
  return true;
}

Status Controller::run_once() {
  if (Status status = enqueue_all(); !status) return status;
  Status first = Status::ok();
  while (std::optional<std::string> key = queue_.pop()) {
    Status status = reconcile(*key);
    if (!status && first) first = status;
    queue_.done(*key);
  }
  return first;
}

Status Controller::reconcile(const std::string& key) {
  reconciles_.fetch_add(1);
  std::size_t slash = key.find('/');
  if (slash == std::string::npos) return Error{"bad key `" + key + "`"};
  ApiResponse current = client_.get(resources::data_source().object_path(key.substr(0, slash), key.substr(slash + 1)));
  if (current.not_found()) return Status::ok();  // gone; the finalizer already cleaned up
  if (!current.ok()) return Error{"read " + key + ": " + current.describe()};
  return reconcile_existing(std::move(current.body));
}

Status Controller::ensure_finalizer(Json& datasource) {
  Json finalizers = field(field(datasource, "metadata"), "finalizers");
  if (!finalizers.is_array()) finalizers = Json::array();
  for (const Json& finalizer : finalizers) {
    if (finalizer == kFinalizer) return Status::ok();
  }
  finalizers.push_back(kFinalizer);
  Json patch = {
      {"metadata",
       {{"finalizers", finalizers}, {"resourceVersion", str(field(datasource, "metadata"), "resourceVersion")}}}};
  ApiResponse patched =
      client_.merge_patch(resources::data_source().object_path(namespace_of(datasource), name_of(datasource)), patch);
  if (!patched.ok()) return Error{"add finalizer to " + object_key(datasource) + ": " + patched.describe()};
  datasource = patched.body;
  return Status::ok();
}

Status Controller::finalize(const Json& datasource) {
  std::string selector = std::string(kDatasourceLabel) + "=" + label_value(name_of(datasource)) + "," +
                         kDatasourceNamespaceLabel + "=" + label_value(namespace_of(datasource));
  struct Place {
    const ResourceType* type;
    std::string ns;
  };
  for (const Place& place :
       {Place{&resources::data_binding(), namespace_of(datasource)},
        Place{&resources::deployment(), options_.storage_ns}, Place{&resources::job(), options_.storage_ns},
        Place{&resources::secret(), options_.storage_ns}, Place{&resources::pvc(), options_.storage_ns}}) {
    ApiResponse list = client_.get(place.type->collection_path(place.ns) + "?labelSelector=" + url_encode(selector));
    if (!list.ok())
      return Error{"list " + place.type->plural + " of " + object_key(datasource) + ": " + list.describe()};
    for (const Json& item : items_of(list.body)) {
      ApiResponse removed = client_.remove(place.type->object_path(place.ns, name_of(item)));
      if (!removed.ok() && !removed.not_found()) {
        return Error{"delete " + place.type->kind + " " + name_of(item) + ": " + removed.describe()};
      }
    }
  }
  Json finalizers = Json::array();
  for (const Json& finalizer : field(field(datasource, "metadata"), "finalizers")) {
    if (finalizer != kFinalizer) finalizers.push_back(finalizer);
  }
  Json patch = {
      {"metadata",
       {{"finalizers", finalizers}, {"resourceVersion", str(field(datasource, "metadata"), "resourceVersion")}}}};
  ApiResponse patched =
      client_.merge_patch(resources::data_source().object_path(namespace_of(datasource), name_of(datasource)), patch);
  if (!patched.ok() && !patched.not_found()) {
    return Error{"remove finalizer from " + object_key(datasource) + ": " + patched.describe()};
  }
  return Status::ok();
}

Result<Json> Controller::read_credentials(const Json& datasource) {
  Json values = Json::object();
  std::map<std::string, Json> secrets;
  for (const auto& [secret, key] : credential_references(datasource, options_)) {
    if (secrets.count(secret) == 0) {
      ApiResponse response = client_.get(resources::secret().object_path(namespace_of(datasource), secret));
      if (!response.ok()) {
        return Error{"credentials Secret " + namespace_of(datasource) + "/" + secret + ": " + response.describe()};
      }
      secrets[secret] = response.body;
    }
    const Json& data = field(secrets[secret], "data");
    const Json& string_data = field(secrets[secret], "stringData");
    if (data.is_object() && data.contains(key) && data[key].is_string()) {
      // Secret data is base64; the Secret we write uses stringData, so decode here.
      std::string decoded;
      std::uint32_t accumulator = 0;
      int bits = 0;
      for (char c : data[key].get<std::string>()) {
        int value = c >= 'A' && c <= 'Z'   ? c - 'A'
                    : c >= 'a' && c <= 'z' ? c - 'a' + 26
                    : c >= '0' && c <= '9' ? c - '0' + 52
                    : c == '+'             ? 62
                    : c == '/'             ? 63
                                           : -1;
        if (value < 0) continue;
        accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          decoded.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
        }
      }
      values[key] = decoded;
    } else if (string_data.is_object() && string_data.contains(key)) {
      values[key] = string_data[key];
    } else {
      return Error{"credentials Secret " + namespace_of(datasource) + "/" + secret + " has no key `" + key + "`"};
    }
  }
  return values;
}

Status Controller::apply_children(const DesiredState& desired) {
  for (const Json& object : desired.apply) {
    const ResourceType* type = type_of(object);
    if (type == nullptr) return Error{"no resource type for " + str(object, "kind")};
    ApiResponse applied = client_.apply(type->object_path(namespace_of(object), name_of(object)), object, true);
    if (!applied.ok()) return Error{"apply " + type->kind + " " + object_key(object) + ": " + applied.describe()};
  }
  for (const Json& object : desired.remove) {
    const ResourceType* type = type_of(object);
    if (type == nullptr) continue;
    std::string path = type->object_path(namespace_of(object), name_of(object));
    ApiResponse existing = client_.get(path);
    if (existing.not_found()) continue;
    if (!existing.ok()) return Error{"read " + type->kind + " " + object_key(object) + ": " + existing.describe()};
    // Only what we manage: a binding someone else made stays.
    if (str(field(field(existing.body, "metadata"), "labels"), "app.kubernetes.io/managed-by") != kManagedBy) continue;
    if (field(field(existing.body, "metadata"), "deletionTimestamp").is_string()) continue;
    ApiResponse removed = client_.remove(path);
    if (!removed.ok() && !removed.not_found()) {
      return Error{"delete " + type->kind + " " + object_key(object) + ": " + removed.describe()};
    }
  }
  return Status::ok();
}

Status Controller::write_status(const std::string& ns, const std::string& name,
                                const std::function<Json(const Json& fresh)>& compute) {
  const std::string path = resources::data_source().object_path(ns, name);
  std::string last_error;
  for (int attempt = 0; attempt <= options_.conflict_retries; ++attempt) {
    ApiResponse fresh = client_.get(path);
    if (fresh.not_found()) return Status::ok();
    if (!fresh.ok()) return Error{"read " + ns + "/" + name + ": " + fresh.describe()};
    Json status = compute(fresh.body);
    if (field(fresh.body, "status") == status) return Status::ok();
    Json object = fresh.body;
    object["status"] = status;
    ApiResponse written = client_.update_status(path, object);
    if (written.ok()) return Status::ok();
    if (!written.conflict()) return Error{"write status of " + ns + "/" + name + ": " + written.describe()};
    last_error = written.describe();
  }
  return Error{"write status of " + ns + "/" + name + ": still conflicting after " +
               std::to_string(options_.conflict_retries + 1) + " attempts: " + last_error};
}

void Controller::record_event(const Json& object, const std::string& type, const std::string& reason,
                              const std::string& message) {
  TimePoint now = clock_.now();
  std::string ns = namespace_of(object);
  std::string name = name_of(object) + "." +
                     hex8(fnv1a(str(field(object, "metadata"), "uid") + reason + message + format_micro_time(now)));
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"involvedObject",
                 {{"apiVersion", str(object, "apiVersion")},
                  {"kind", str(object, "kind")},
                  {"name", name_of(object)},
                  {"namespace", ns},
                  {"uid", str(field(object, "metadata"), "uid")}}},
                {"reason", reason},
                {"message", message.substr(0, 1024)},
                {"type", type},
                {"source", {{"component", options_.component}}},
                {"reportingComponent", options_.component},
                {"firstTimestamp", format_time(now)},
                {"lastTimestamp", format_time(now)},
                {"count", 1}};
  client_.create(resources::event().collection_path(ns), event);  // best effort: an Event must not fail a reconcile
}

Status Controller::reconcile_existing(Json datasource) {
  const std::string ns = namespace_of(datasource);
  const std::string name = name_of(datasource);
  if (field(field(datasource, "metadata"), "deletionTimestamp").is_string()) return finalize(datasource);
  if (Status status = ensure_finalizer(datasource); !status) return status;

  const std::string type = str(field(datasource, "spec"), "type");
  std::string problem;
  std::optional<std::vector<TransferUpdate>> transfers;
  bool registered = false;
  if (feed_ != nullptr) {
    Result<std::vector<TransferUpdate>> fetched = feed_->transfers(ns, name);
    if (fetched) {
      transfers = std::move(*fetched);
    } else {
      problem = fetched.message();
    }
    if (type == "Uploaded") {
      Status status = feed_->register_datasource(
          {ns, name, type, str(field(field(datasource, "spec"), "project"), "id"),
           str(field(datasource, "spec"), "displayName"), options_.storage_ns, data_pvc_name(datasource)});
      if (status) {
        registered = true;
      } else if (problem.empty()) {
        problem = status.message();
      }
    }
  }

  Json credentials = Json::object();
  if (type == "Import" && import_wanted(datasource)) {
    Result<Json> read = read_credentials(datasource);
    if (!read) {
      std::string message = read.message();
      record_event(datasource, "Warning", "CredentialsMissing", message);
      Status written = write_status(ns, name, [&](const Json& fresh) {
        return desired_status(fresh, options_, nullptr, transfers ? &*transfers : nullptr, message, clock_.now());
      });
      return Error{message};
    }
    credentials = std::move(*read);
  }

  DesiredState desired =
      desired_children(datasource, options_, transfers ? &*transfers : nullptr, credentials, false, clock_.now());
  if (Status applied = apply_children(desired); !applied) {
    record_event(datasource, "Warning", "ApplyFailed", applied.message());
    return applied;
  }

  // A managed Job in the storage namespace, when it exists.
  auto read_job = [&](const std::string& job_name, std::optional<Json>& into) -> Status {
    ApiResponse read = client_.get(resources::job().object_path(options_.storage_ns, job_name));
    if (read.ok()) {
      into = read.body;
    } else if (!read.not_found()) {
      return Error{"read job " + job_name + ": " + read.describe()};
    }
    return Status::ok();
  };
  std::optional<Json> job;
  std::optional<Json> release;
  std::optional<Json> discard;
  if (type == "Import" && import_wanted(datasource)) {
    if (Status read = read_job(import_job_name(datasource), job); !read) return read;
  }
  if (type == "Import" && transfers) {
    if (const TransferUpdate* run = import_awaiting_release(*transfers)) {
      if (Status read = read_job(release_job_name(datasource, run->id), release); !read) return read;
    }
    // The discard Job of the newest import run, when reviewers rejected or returned it and its retention is over.
    const TransferUpdate* newest = latest(*transfers, is_import);
    for (const TransferUpdate* due : imports_to_discard(*transfers, options_.rejected_import_retention, clock_.now())) {
      if (due != newest) continue;
      if (Status read = read_job(discard_job_name(datasource, due->id), discard); !read) return read;
    }
  }
  std::string previous_state = status_string(datasource, "dataState");
  Json final_status;
  Status written = write_status(ns, name, [&](const Json& fresh) {
    Json status = desired_status(fresh, options_, job ? &*job : nullptr, transfers ? &*transfers : nullptr, problem,
                                 clock_.now(), release ? &*release : nullptr, discard ? &*discard : nullptr);
    if (type == "Uploaded" && feed_ != nullptr) {
      std::int64_t generation = integer(field(fresh, "metadata"), "generation", 0);
      if (registered) {
        set_condition(status, "Registered", "True", "GatewayAcceptsUploads", "", generation, clock_.now());
      } else if (condition_status(status, "Registered") != "True") {
        set_condition(status, "Registered", "False", "GatewayUnreachable", problem, generation, clock_.now());
      }
    }
    final_status = status;
    return status;
  });
  if (!written) return written;
  if (str(final_status, "dataState") == "Failed" && previous_state != "Failed") {
    record_event(datasource, "Warning", "ImportFailed", str(final_status, "failureReason"));
  }
  // Level-driven polling of the gateway; the Job informer wakes us earlier for imports.
  if (feed_ != nullptr) {
    queue_.add_after(ns + "/" + name,
                     std::chrono::duration_cast<std::chrono::milliseconds>(options_.transfer_poll_interval));
  }
  if (!problem.empty()) return Error{problem};
  return Status::ok();
}

Status Controller::run(const std::function<bool()>& should_stop) {
  LeaderElector elector(client_, clock_, options_.lease);
  auto wait_real = [&](std::chrono::milliseconds duration) {
    auto until = std::chrono::steady_clock::now() + duration;
    while (!should_stop() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  // Campaign until elected.
  while (!should_stop()) {
    Result<bool> led = elector.try_acquire_or_renew();
    if (led && *led) break;
    wait_real(std::chrono::duration_cast<std::chrono::milliseconds>(options_.lease.retry_period));
  }
  if (should_stop()) return Status::ok();

  std::atomic<bool> stop_informers{false};
  auto informers_stop = [&] { return stop_informers.load() || should_stop(); };
  auto enqueue_datasource = [&](std::string_view type, const Json& object) {
    if (type != "DELETED") queue_.add(object_key(object));
  };
  auto enqueue_owner = [&](std::string_view, const Json& object) { enqueue_owner_of(object); };
  std::string managed = std::string("app.kubernetes.io/managed-by=") + kManagedBy;
  Informer datasources(client_, resources::data_source().collection_path(options_.ns), "", enqueue_datasource);
  Informer jobs(client_, resources::job().collection_path(options_.storage_ns), managed, enqueue_owner);
  Informer bindings(client_, resources::data_binding().collection_path(options_.ns), managed, enqueue_owner);
  std::vector<std::thread> threads;
  for (Informer* informer : {&datasources, &jobs, &bindings}) {
    threads.emplace_back([informer, &informers_stop] { informer->run(informers_stop); });
  }

  Status result = Status::ok();
  auto next_renewal = std::chrono::steady_clock::now();
  while (!should_stop()) {
    if (std::chrono::steady_clock::now() >= next_renewal) {
      Result<bool> led = elector.try_acquire_or_renew();
      next_renewal = std::chrono::steady_clock::now() + options_.lease.retry_period;
      if (!elector.is_leader()) {
        result = Error{"lost the lease " + options_.lease.ns + "/" + options_.lease.name +
                       (led ? std::string() : ": " + led.message())};
        break;
      }
    }
    if (!process_next()) queue_.wait(std::chrono::milliseconds(200));
  }
  stop_informers = true;
  queue_.shut_down();
  for (std::thread& thread : threads) thread.join();
  if (result) {
    if (Status released = elector.release(); !released) return released;
  }
  return result;
}

}  // namespace airlock::k8s
