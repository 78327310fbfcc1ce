// ro-crate-metadata.json per RO-Crate 1.1 (https://www.researchobject.org/ro-crate/1.1/): the metadata
// descriptor, the root Dataset, its publisher and licence, each File, and the import and its assessment as
// actions (the "Provenance" section's CreateAction, and an AssessAction for the airlock's decision).
#include "airlock/gateway/import/ro_crate.h"

#include <nlohmann/json.hpp>

namespace airlock::gateway::import {
namespace {

using Json = nlohmann::json;

Json id(const std::string& value) { return {{"@id", value}}; }

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string ro_crate_metadata(const DataSource& datasource, const ImportResult& result) {
  Json graph = Json::array();
  graph.push_back({{"@id", std::string(kRoCrateMetadataFile)},
                   {"@type", "CreativeWork"},
                   {"conformsTo", id("https://w3id.org/ro/crate/1.1")},
                   {"about", id("./")}});

  Json parts = Json::array();
  for (const ImportedFile& file : result.files) parts.push_back(id(file.name));
  const std::string import_id = "#import-" + result.run_id;
  const std::string assessment_id = "#assessment-" + result.run_id;
  Json root = {{"@id", "./"},
               {"@type", "Dataset"},
               {"identifier", datasource.ns.empty() ? datasource.name : datasource.ns + "/" + datasource.name},
               {"name", datasource.display_name.empty() ? datasource.name : datasource.display_name},
               {"description", trimmed(datasource.description)},
               {"datePublished", result.finished_at},
               {"hasPart", parts},
               {"mentions", Json::array({id(import_id), id(assessment_id)})}};
  if (!datasource.publisher_organisation.empty()) root["publisher"] = id("#publisher");
  if (!datasource.license.empty()) root["license"] = id("#license");
  if (!datasource.project.empty()) root["isPartOf"] = id("#project-" + datasource.project);
  graph.push_back(root);

  if (!datasource.publisher_organisation.empty()) {
    Json publisher = {{"@id", "#publisher"}, {"@type", "Organization"}, {"name", datasource.publisher_organisation}};
    if (!datasource.contact_name.empty() || !datasource.contact_email.empty()) {
      publisher["contactPoint"] = id("#contact");
      Json contact = {{"@id", "#contact"}, {"@type", "ContactPoint"}};
      if (!datasource.contact_name.empty()) contact["name"] = datasource.contact_name;
      if (!datasource.contact_role.empty()) contact["contactType"] = datasource.contact_role;
      if (!datasource.contact_email.empty()) contact["email"] = datasource.contact_email;
      graph.push_back(contact);
    }
    graph.push_back(publisher);
  }
  if (!datasource.license.empty()) {
    graph.push_back({{"@id", "#license"},
                     {"@type", "CreativeWork"},
                     {"name", "Licence of " + datasource.name},
                     {"text", trimmed(datasource.license)}});
  }
  if (!datasource.project.empty()) {
    graph.push_back(
        {{"@id", "#project-" + datasource.project}, {"@type", "Project"}, {"identifier", datasource.project}});
  }

  Json sources = Json::array();
  Json results = Json::array();
  for (const ImportedFile& file : result.files) {
    Json entity = {{"@id", file.name},
                   {"@type", "File"},
                   {"name", file.name},
                   {"contentSize", std::to_string(file.size)},
                   {"sha256", file.sha256},
                   {"identifier", "sha256:" + file.sha256},
                   {"encodingFormat", file.type.empty() ? "application/octet-stream" : file.type},
                   {"description", "Imported from " + file.object + " of connection " + file.connection}};
    if (!file.source_url.empty()) {
      entity["isBasedOn"] = id(file.source_url);
      bool listed = false;
      for (const Json& source : sources) listed |= source["@id"] == file.source_url;
      if (!listed) sources.push_back(id(file.source_url));
    }
    graph.push_back(entity);
    results.push_back(id(file.name));
  }
  // Each source the data came from, as a contextual entity (never with credentials).
  for (const Json& source : sources) {
    graph.push_back({{"@id", source["@id"]}, {"@type", "CreativeWork"}, {"name", source["@id"]}});
  }

  graph.push_back({{"@id", "#airlock"},
                   {"@type", "SoftwareApplication"},
                   {"name", "airlock import"},
                   {"description", "The Airlock's import job: fetches, inspects and judges each object"}});
  graph.push_back({{"@id", "#policy-set"},
                   {"@type", "CreativeWork"},
                   {"name", "Airlock policy set"},
                   {"identifier", result.policy_set}});
  graph.push_back({{"@id", import_id},
                   {"@type", "CreateAction"},
                   {"name", "Import of " + datasource.name},
                   {"agent", id("#airlock")},
                   {"instrument", id("#airlock")},
                   {"object", sources},
                   {"result", results},
                   {"startTime", result.started_at},
                   {"endTime", result.finished_at},
                   {"actionStatus", id("http://schema.org/CompletedActionStatus")}});

  // Flattened JSON-LD (RO-Crate 1.1): every property value is an entity of its own, referenced by @id.
  const std::string decision_id = "#decision-" + result.run_id;
  Json matched = Json::array();
  for (const runtime::MatchedRule& rule : result.decision.rules) {
    std::string rule_id = "#rule-" + rule.policy + "." + rule.rule;
    graph.push_back({{"@id", rule_id},
                     {"@type", "PropertyValue"},
                     {"name", rule.policy + "." + rule.rule},
                     {"value", std::string(runtime::effect_name(rule.effect))},
                     {"description", rule.reason}});
    matched.push_back(id(rule_id));
  }
  std::string outcome(runtime::outcome_name(result.decision.outcome));
  Json properties = Json::array();
  auto property = [&](const std::string& name, Json value) {
    std::string property_id = decision_id + "-" + name;
    graph.push_back({{"@id", property_id}, {"@type", "PropertyValue"}, {"name", name}, {"value", std::move(value)}});
    properties.push_back(id(property_id));
  };
  property("outcome", outcome);
  property("policy_set", result.policy_set);
  property("reviewers", result.decision.reviewers.roles);
  property("approvals", result.decision.reviewers.approvals);
  graph.push_back({{"@id", assessment_id},
                   {"@type", "AssessAction"},
                   {"name", "Airlock policy decision on the import of " + datasource.name},
                   {"agent", id("#airlock")},
                   {"instrument", id("#policy-set")},
                   {"object", results},
                   {"result", id(decision_id)},
                   {"endTime", result.finished_at},
                   {"actionStatus", id("http://schema.org/CompletedActionStatus")}});
  graph.push_back({{"@id", decision_id},
                   {"@type", "CreativeWork"},
                   {"name", "Airlock decision: " + outcome},
                   {"description", result.decision.reason},
                   {"dateCreated", result.finished_at},
                   {"additionalProperty", properties},
                   {"mentions", matched}});
  return Json({{"@context", std::string(kRoCrateContext)}, {"@graph", graph}}).dump(2) + "\n";
}

}  // namespace airlock::gateway::import
