// The CRDs, deployment manifests, examples and rendered output: every YAML parses as Kubernetes objects, and the
// design's example resources validate against our CRD schemas (with a validator for the subset of OpenAPI v3 the
// CRDs use: type, required, properties, enum, items, pattern, format, additionalProperties, minLength/maxLength,
// maxItems, x-kubernetes-preserve-unknown-fields).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "airlock/k8s/clock.h"
#include "airlock/k8s/controller.h"
#include "airlock/k8s/yaml.h"
#include "fixtures.h"

namespace airlock::k8s::testing {
namespace {

namespace fs = std::filesystem;
const fs::path kSource = AIRLOCK_SOURCE_DIR;

std::vector<Json> load(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  runtime::Result<std::vector<Json>> documents = yaml_documents_to_json(text.str(), path.string());
  EXPECT_TRUE(documents) << documents.message();
  return documents ? *documents : std::vector<Json>{};
}

std::vector<fs::path> yaml_files(const fs::path& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().extension() == ".yaml" || entry.path().extension() == ".yml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void expect_kubernetes_object(const Json& object, const std::string& where) {
  ASSERT_TRUE(object.is_object()) << where;
  EXPECT_TRUE(object.contains("apiVersion") && object["apiVersion"].is_string() &&
              !object["apiVersion"].get<std::string>().empty())
      << where << ": apiVersion";
  EXPECT_TRUE(object.contains("kind") && object["kind"].is_string()) << where << ": kind";
  ASSERT_TRUE(object.contains("metadata") && object["metadata"].is_object()) << where << ": metadata";
  std::string name = object["metadata"].value("name", "");
  EXPECT_TRUE(std::regex_match(name, std::regex("[a-z0-9]([-.a-z0-9]*[a-z0-9])?")) && name.size() <= 253)
      << where << ": metadata.name `" << name << "`";
}

// Validates `value` against an OpenAPI v3 schema (the structural subset CRDs use); errors name the JSON path.
void validate(const Json& schema, const Json& value, const std::string& path, std::vector<std::string>& errors) {
  if (schema.value("x-kubernetes-preserve-unknown-fields", false) && !schema.contains("properties")) return;
  std::string type = schema.value("type", "");
  auto fail = [&](const std::string& message) { errors.push_back(path + ": " + message); };
  if (type == "object") {
    if (!value.is_object()) return fail("expected an object");
    for (const Json& required : schema.value("required", Json::array())) {
      if (!value.contains(required.get<std::string>())) fail("missing required `" + required.get<std::string>() + "`");
    }
    const Json properties = schema.value("properties", Json::object());
    for (const auto& [key, item] : value.items()) {
      if (properties.contains(key)) {
        validate(properties[key], item, path + "." + key, errors);
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        validate(schema["additionalProperties"], item, path + "." + key, errors);
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"] == false) {
        fail("unknown field `" + key + "`");
      } else if (!schema.value("x-kubernetes-preserve-unknown-fields", false) && !properties.empty()) {
        fail("unknown field `" + key + "` (would be pruned)");
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) return fail("expected an array");
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<std::size_t>()) fail("too many items");
    for (std::size_t i = 0; i < value.size(); ++i) {
      validate(schema.value("items", Json::object()), value[i], path + "[" + std::to_string(i) + "]", errors);
    }
  } else if (type == "string") {
    if (!value.is_string()) return fail("expected a string");
    const std::string& text = value.get_ref<const std::string&>();
    if (schema.contains("minLength") && text.size() < schema["minLength"].get<std::size_t>()) fail("too short");
    if (schema.contains("maxLength") && text.size() > schema["maxLength"].get<std::size_t>()) fail("too long");
    if (schema.contains("pattern") && !std::regex_search(text, std::regex(schema["pattern"].get<std::string>()))) {
      fail("`" + text + "` does not match " + schema["pattern"].get<std::string>());
    }
    std::string format = schema.value("format", "");
    TimePoint ignored;
    if (format == "date-time" && !parse_time(text, ignored)) fail("not a date-time");
    if (format == "uri" && !std::regex_match(text, std::regex("[a-zA-Z][a-zA-Z0-9+.-]*://\\S+"))) fail("not a URI");
    if (format == "email" && !std::regex_match(text, std::regex("[^@\\s]+@[^@\\s]+"))) fail("not an email");
  } else if (type == "integer") {
    if (!value.is_number_integer()) return fail("expected an integer");
  } else if (type == "boolean") {
    if (!value.is_boolean()) return fail("expected a boolean");
  } else if (type == "number") {
    if (!value.is_number()) return fail("expected a number");
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const Json& allowed : schema["enum"]) found = found || allowed == value;
    if (!found) fail("`" + value.dump() + "` is not one of " + schema["enum"].dump());
  }
}

// Every schema is structural: each node says its type (or preserves unknown fields), as apiextensions/v1 demands.
void expect_structural(const Json& schema, const std::string& path) {
  EXPECT_TRUE(schema.contains("type") || schema.value("x-kubernetes-preserve-unknown-fields", false)) << path;
  const Json properties = schema.value("properties", Json::object());
  for (const auto& [key, child] : properties.items()) expect_structural(child, path + "." + key);
  if (schema.contains("items")) expect_structural(schema["items"], path + "[]");
  if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
    expect_structural(schema["additionalProperties"], path + "{}");
  }
}

std::map<std::string, Json> crd_schemas() {
  std::map<std::string, Json> schemas;
  for (const fs::path& file : yaml_files(kSource / "k8s-sync" / "crds")) {
    for (const Json& crd : load(file))
      schemas[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
  }
  return schemas;
}

std::vector<std::string> validate_against(const Json& object) {
  std::map<std::string, Json> schemas = crd_schemas();
  std::vector<std::string> errors;
  std::string kind = object.value("kind", "");
  if (schemas.count(kind) == 0) return {"no CRD for " + kind};
  validate(schemas[kind], object, kind, errors);
  return errors;
}

TEST(Crds, AreWellFormedCustomResourceDefinitions) {
  std::vector<fs::path> files = yaml_files(kSource / "k8s-sync" / "crds");
  ASSERT_EQ(files.size(), 2u);
  for (const fs::path& file : files) {
    std::vector<Json> documents = load(file);
    ASSERT_EQ(documents.size(), 1u) << file;
    const Json& crd = documents[0];
    expect_kubernetes_object(crd, file.string());
    EXPECT_EQ(crd["apiVersion"], "apiextensions.k8s.io/v1");
    EXPECT_EQ(crd["kind"], "CustomResourceDefinition");
    EXPECT_EQ(crd["spec"]["group"], "xlscsde.nhs.uk");
    EXPECT_EQ(crd["metadata"]["name"], crd["spec"]["names"]["plural"].get<std::string>() + ".xlscsde.nhs.uk");
    const Json& version = crd["spec"]["versions"][0];
    EXPECT_EQ(version["name"], "v1");
    EXPECT_TRUE(version["subresources"].contains("status"));
    EXPECT_FALSE(version["additionalPrinterColumns"].empty());
    expect_structural(version["schema"]["openAPIV3Schema"], file.filename().string());
  }
}

TEST(Crds, AcceptTheDesignsExamples) {
  std::vector<fs::path> files = yaml_files(kSource / "examples" / "k8s");
  int validated = 0;
  for (const fs::path& file : files) {
    for (const Json& object : load(file)) {
      expect_kubernetes_object(object, file.string());
      if (object["apiVersion"] != "xlscsde.nhs.uk/v1") continue;
      std::vector<std::string> errors = validate_against(object);
      EXPECT_TRUE(errors.empty()) << file << ": " << (errors.empty() ? "" : errors[0]);
      ++validated;
    }
  }
  EXPECT_EQ(validated, 3);
}

TEST(Crds, RejectWhatTheSchemaForbids) {
  Json datasource = import_datasource("x");
  datasource["spec"]["type"] = "Download";
  datasource["spec"]["colour"] = "blue";
  datasource["spec"]["connections"][0]["url"] = "not a url";
  datasource["spec"].erase("displayName");
  std::vector<std::string> errors = validate_against(datasource);
  ASSERT_EQ(errors.size(), 4u);
  std::string all;
  for (const std::string& error : errors) all += error + "\n";
  EXPECT_NE(all.find("missing required `displayName`"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown field `colour`"), std::string::npos) << all;
  EXPECT_NE(all.find("\"Download\"` is not one of"), std::string::npos) << all;
  EXPECT_NE(all.find("connections[0].url: not a URI"), std::string::npos) << all;
  Json binding = {{"apiVersion", "xlscsde.nhs.uk/v1"},
                  {"kind", "AnalyticsWorkspaceDataBinding"},
                  {"metadata", {{"name", "b"}}},
                  {"spec", {{"workspace", "w"}, {"expires", "tomorrow"}}}};
  EXPECT_EQ(validate_against(binding).size(), 2u);  // datasource missing, expires not a date-time
}

TEST(Crds, AcceptTheStatusTheControllerWrites) {
  Json datasource = uploaded_datasource("ds-1");
  std::vector<TransferUpdate> transfers = {transfer("t1", "approved", 10, "escalate", "reviewer@nhs.net")};
  datasource["status"] = desired_status(datasource, {}, nullptr, &transfers, "", TimePoint(std::chrono::seconds(1)));
  std::vector<std::string> errors = validate_against(datasource);
  EXPECT_TRUE(errors.empty()) << errors[0];
  Json import = import_datasource("im");
  import["status"] = {{ "dataState", "READY" }};
  Json job = {{"metadata", {{"name", "im-import-1"}}},
              {"status", {{"conditions", {{{"type", "Failed"}, {"status", "True"}, {"reason", "DeadlineExceeded"}}}}}}};
  import["status"] = desired_status(import, {}, &job, nullptr, "", TimePoint(std::chrono::seconds(1)));
  errors = validate_against(import);
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(import["status"]["dataState"], "Failed");
}

TEST(DeployManifests, AreKubernetesObjectsWithLeastPrivilege) {
  std::set<std::string> kinds;
  for (const fs::path& file : yaml_files(kSource / "k8s-sync" / "deploy")) {
    for (const Json& object : load(file)) {
      expect_kubernetes_object(object, file.string());
      kinds.insert(object["kind"]);
      if (object["kind"] == "ClusterRole") ADD_FAILURE() << "the controller needs no cluster-wide rights";
      if (object["kind"] != "Role") continue;
      for (const Json& rule : object["rules"]) {
        for (const Json& verb : rule["verbs"]) EXPECT_NE(verb, "*") << file;
        for (const Json& resource : rule["resources"]) EXPECT_NE(resource, "*") << file;
      }
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"ServiceAccount", "Role", "RoleBinding", "Deployment", "Service",
                                          "PersistentVolumeClaim"}));
}

TEST(RenderedManifests, ParseBackAsKubernetesObjects) {
  std::vector<Json> datasources;
  for (const char* name : {"datasource-import.yaml", "datasource-uploaded.yaml"}) {
    for (const Json& object : load(kSource / "examples" / "k8s" / name)) datasources.push_back(object);
  }
  std::vector<Json> manifests = render_manifests(datasources, {});
  ASSERT_EQ(manifests.size(), 4u);
  for (const Json& manifest : manifests) {
    runtime::Result<std::vector<Json>> back = yaml_documents_to_json(json_to_yaml(manifest), "rendered");
    ASSERT_TRUE(back) << back.message();
    ASSERT_EQ(back->size(), 1u);
    expect_kubernetes_object((*back)[0], "rendered " + manifest["kind"].get<std::string>());
    EXPECT_EQ((*back)[0], manifest);
    EXPECT_EQ(manifest["metadata"]["labels"]["app.kubernetes.io/part-of"], "airlock");
  }
}

}  // namespace
}  // namespace airlock::k8s::testing
