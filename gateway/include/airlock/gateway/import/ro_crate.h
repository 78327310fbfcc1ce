// ro-crate-metadata.json (RO-Crate 1.1) for an import: the data source, its files, and the airlock's decision.
#pragma once

#include <string>

#include "airlock/gateway/import/importer.h"

namespace airlock::gateway::import {

inline constexpr std::string_view kRoCrateContext = "https://w3id.org/ro/crate/1.1/context";
inline constexpr std::string_view kRoCrateMetadataFile = "ro-crate-metadata.json";

// The metadata document for `result` (its files, decision, times) about `datasource`, pretty-printed JSON.
std::string ro_crate_metadata(const DataSource& datasource, const ImportResult& result);

}  // namespace airlock::gateway::import
