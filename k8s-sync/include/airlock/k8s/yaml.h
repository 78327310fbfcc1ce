// YAML <-> JSON for manifests: Kubernetes objects are JSON documents; YAML is how people and GitOps read them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/runtime/result.h"

namespace airlock::k8s {

using Json = nlohmann::json;

// Every document of a YAML stream as JSON (plain scalars typed as YAML 1.2 core: null, bool, int, float, string;
// quoted scalars stay strings). Empty documents are skipped. The error names the line and column.
runtime::Result<std::vector<Json>> yaml_documents_to_json(std::string_view yaml, std::string_view source_name);
// One JSON value as block-style YAML; strings that would read back as another type are quoted.
std::string json_to_yaml(const Json& value);

}  // namespace airlock::k8s
