#include "airlock/k8s/leader_election.h"

namespace airlock::k8s {
using runtime::Error;
using runtime::Result;
using runtime::Status;

LeaderElector::LeaderElector(KubeClient& client, const Clock& clock, LeaseOptions options)
    : client_(client), clock_(clock), options_(std::move(options)) {}

bool LeaderElector::is_leader() const {
  return last_renewal_ && clock_.now() < *last_renewal_ + options_.renew_deadline;
}

Result<bool> LeaderElector::try_acquire_or_renew() {
  const ResourceType& lease = resources::lease();
  const std::string path = lease.object_path(options_.ns, options_.name);
  TimePoint now = clock_.now();
  ApiResponse current = client_.get(path);
  if (current.not_found()) {
    Json object = {{"apiVersion", lease.api_version()},
                   {"kind", lease.kind},
                   {"metadata", {{"name", options_.name}, {"namespace", options_.ns}}},
                   {"spec",
                    {{"holderIdentity", options_.identity},
                     {"leaseDurationSeconds", options_.lease_duration.count()},
                     {"acquireTime", format_micro_time(now)},
                     {"renewTime", format_micro_time(now)},
                     {"leaseTransitions", 0}}}};
    ApiResponse created = client_.create(lease.collection_path(options_.ns), object);
    if (created.conflict()) return false;  // another candidate created it first
    if (!created.ok()) return Error{"create lease " + options_.name + ": " + created.describe()};
    last_renewal_ = now;
    observed_record_.clear();
    return true;
  }
  if (!current.ok()) return Error{"read lease " + options_.name + ": " + current.describe()};

  Json object = current.body;
  if (!object.is_object()) return Error{"read lease " + options_.name + ": not a JSON object"};
  Json& spec = object["spec"];
  if (!spec.is_object()) spec = Json::object();
  std::string holder = spec.value("holderIdentity", "");
  std::string record =
      holder + "|" + spec.value("renewTime", "") + "|" + std::to_string(spec.value("leaseTransitions", 0));
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
  }
  auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", options_.lease_duration.count()));
  const bool mine = holder == options_.identity;
  const bool expired = holder.empty() || now >= observed_at_ + duration;
  if (!mine && !expired) {
    last_renewal_.reset();
    return false;
  }
  if (!mine) {
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
    spec["acquireTime"] = format_micro_time(now);
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = options_.lease_duration.count();
  spec["renewTime"] = format_micro_time(now);
  ApiResponse updated = client_.update(path, object);  // carries the resourceVersion we read
  if (updated.conflict()) {
    last_renewal_.reset();
    return false;
  }
  if (!updated.ok()) return Error{"update lease " + options_.name + ": " + updated.describe()};
  last_renewal_ = now;
  return true;
}

Status LeaderElector::release() {
  if (!last_renewal_) return Status::ok();
  const std::string path = resources::lease().object_path(options_.ns, options_.name);
  ApiResponse current = client_.get(path);
  if (!current.ok()) return Error{"read lease " + options_.name + ": " + current.describe()};
  Json object = current.body;
  if (!object["spec"].is_object() || object["spec"].value("holderIdentity", "") != options_.identity) {
    return Status::ok();
  }
  object["spec"]["holderIdentity"] = "";
  object["spec"]["leaseDurationSeconds"] = 1;
  object["spec"]["renewTime"] = format_micro_time(clock_.now());
  ApiResponse updated = client_.update(path, object);
  last_renewal_.reset();
  if (!updated.ok()) return Error{"release lease " + options_.name + ": " + updated.describe()};
  return Status::ok();
}

}  // namespace airlock::k8s
