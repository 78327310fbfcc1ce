#include "airlock/k8s/transfer_feed.h"

#include "airlock/k8s/clock.h"

namespace airlock::k8s {
using runtime::Error;
using runtime::Result;
using runtime::Status;

namespace {

std::string string_field(const Json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_string()) return {};
  return object[key].get<std::string>();
}

Result<TransferUpdate> parse_transfer(const Json& item, std::size_t index) {
  const std::string where = "transfers[" + std::to_string(index) + "]";
  if (!item.is_object()) return Error{where + ": not an object"};
  TransferUpdate update;
  update.id = string_field(item, "id");
  update.state = string_field(item, "state");
  if (update.id.empty() || update.state.empty()) return Error{where + ": `id` and `state` are required"};
  update.channel = string_field(item, "channel");
  update.datasource = string_field(item, "datasource");
  update.workspace = string_field(item, "workspace");
  update.reason = string_field(item, "reason");
  update.reviewed_by = string_field(item, "reviewed_by");
  if (item.contains("updated_at") && item["updated_at"].is_number_integer()) {
    update.updated_at_ms = item["updated_at"].get<std::int64_t>();
  } else if (TimePoint at; item.contains("updated_at") && item["updated_at"].is_string() &&
                           parse_time(item["updated_at"].get<std::string>(), at)) {
    update.updated_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  }
  if (item.contains("reviewer_workspace") && !item["reviewer_workspace"].is_null()) {
    const Json& workspace = item["reviewer_workspace"];
    if (!workspace.is_object()) return Error{where + ".reviewer_workspace: not an object"};
    update.reviewer_workspace =
        TransferUpdate::ReviewerWorkspace{string_field(workspace, "requested_by"),
                                          string_field(workspace, "requested_at"), string_field(workspace, "url")};
  }
  update.outcome = string_field(item, "outcome");  // the gateway's list carries the outcome at the top
  Json decision = item.contains("decision") ? item["decision"] : Json();
  if (decision.is_null() && item.contains("decision_json")) decision = item["decision_json"];
  if (decision.is_string()) {
    const std::string& text = decision.get_ref<const std::string&>();
    decision = text.empty() ? Json() : Json::parse(text, nullptr, false);
    if (decision.is_discarded()) return Error{where + ".decision: not JSON"};
  }
  if (decision.is_object()) {
    if (update.outcome.empty()) update.outcome = string_field(decision, "outcome");
    if (decision.contains("reviewers") && decision["reviewers"].is_array()) {
      for (const Json& reviewer : decision["reviewers"]) {
        if (reviewer.is_string()) update.reviewers.push_back(reviewer.get<std::string>());
        if (reviewer.is_object() && reviewer.contains("role"))
          update.reviewers.push_back(string_field(reviewer, "role"));
      }
    }
  }
  return update;
}

}  // namespace

Result<std::vector<TransferUpdate>> parse_transfer_list(std::string_view text) {
  Json document = Json::parse(text, nullptr, false);
  if (document.is_discarded()) return Error{"the gateway's transfer list is not JSON"};
  const Json* list = &document;
  if (document.is_object()) {
    if (!document.contains("transfers")) return Error{"the gateway's answer has no `transfers`"};
    list = &document["transfers"];
  }
  if (!list->is_array()) return Error{"`transfers` is not an array"};
  std::vector<TransferUpdate> updates;
  for (std::size_t index = 0; index < list->size(); ++index) {
    Result<TransferUpdate> update = parse_transfer((*list)[index], index);
    if (!update) return Error{update.message()};
    updates.push_back(std::move(*update));
  }
  return updates;
}

Result<std::unique_ptr<GatewayTransferFeed>> GatewayTransferFeed::create(std::string_view base_url, std::string token,
                                                                         std::string token_file, std::string ca_pem) {
  ClusterConfig config;
  if (Status status = set_server(config, base_url); !status) return Error{"gateway: " + status.message()};
  config.bearer_token = std::move(token);
  if (!token_file.empty()) config.token_file = token_file;
  config.ca_pem = std::move(ca_pem);
  return std::unique_ptr<GatewayTransferFeed>(new GatewayTransferFeed(std::move(config)));
}

Result<std::vector<TransferUpdate>> GatewayTransferFeed::transfers(std::string_view ns, std::string_view datasource) {
  std::vector<TransferUpdate> all;
  std::string after;
  for (int page = 0; page < 1000; ++page) {  // the gateway pages with `next` / `after`
    std::string target = "/api/v1/transfers?datasource=" + url_encode(datasource) + "&namespace=" + url_encode(ns);
    if (!after.empty()) target += "&after=" + url_encode(after);
    ApiResponse response = client_.get(target);
    if (!response.ok()) return Error{"gateway transfers of " + std::string(datasource) + ": " + response.describe()};
    Result<std::vector<TransferUpdate>> parsed = parse_transfer_list(response.body.dump());
    if (!parsed) return Error{"gateway transfers of " + std::string(datasource) + ": " + parsed.message()};
    all.insert(all.end(), parsed->begin(), parsed->end());
    const Json& next = response.body.is_object() && response.body.contains("next") ? response.body["next"] : Json();
    if (!next.is_string() || next.get<std::string>().empty() || parsed->empty()) return all;
    after = next.get<std::string>();
  }
  return Error{"gateway transfers of " + std::string(datasource) + ": more than 1000 pages"};
}

Status GatewayTransferFeed::register_datasource(const DataSourceRegistration& registration) {
  Json body = {{"namespace", registration.ns},
               {"name", registration.name},
               {"type", registration.type},
               {"project", registration.project},
               {"displayName", registration.display_name},
               {"pvcNamespace", registration.pvc_namespace},
               {"pvc", registration.pvc}};
  ApiResponse response = client_.request(
      "PUT", "/api/v1/datasources/" + url_encode(registration.ns) + "/" + url_encode(registration.name), body.dump());
  if (!response.ok()) return Error{"register " + registration.name + " with the gateway: " + response.describe()};
  return Status::ok();
}

}  // namespace airlock::k8s
