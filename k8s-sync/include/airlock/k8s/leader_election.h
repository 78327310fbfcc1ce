// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: the holder renews the lease every
// retry period; another candidate takes it over once it has seen the same record unchanged for a whole lease duration
// (measured on its own clock, so clock skew between nodes does not matter). Optimistic concurrency on the Lease's
// resourceVersion decides races: the loser gets 409.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "airlock/k8s/client.h"
#include "airlock/k8s/clock.h"

namespace airlock::k8s {

struct LeaseOptions {
  std::string ns = "jupyterhub";
  std::string name = "airlock-k8s-sync";
  std::string identity;  // unique per process (the Pod name)
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

class LeaderElector {
 public:
  LeaderElector(KubeClient& client, const Clock& clock, LeaseOptions options);

  // One attempt to acquire or renew; whether this process leads afterwards. Errors are transport/API failures.
  runtime::Result<bool> try_acquire_or_renew();
  // Leading = the last successful renewal is within the renew deadline.
  bool is_leader() const;
  // Gives the lease up (holderIdentity cleared) so that another candidate takes over at once.
  runtime::Status release();
  const LeaseOptions& options() const { return options_; }

 private:
  KubeClient& client_;
  const Clock& clock_;
  LeaseOptions options_;
  std::string observed_record_;  // holder + renewTime + transitions as last seen
  TimePoint observed_at_{};
  std::optional<TimePoint> last_renewal_;
};

}  // namespace airlock::k8s
