// The client pieces: configuration, token re-reading, the informer (bookmarks, 410 relists), the work queue,
// leader election on a Lease, and the gateway transfer feed.
#include "airlock/k8s/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "airlock/k8s/controller.h"
#include "airlock/k8s/informer.h"
#include "airlock/k8s/leader_election.h"
#include "airlock/k8s/transfer_feed.h"
#include "airlock/k8s/work_queue.h"
#include "airlock/k8s/yaml.h"
#include "fixtures.h"

namespace airlock::k8s::testing {
namespace {

namespace fs = std::filesystem;

fs::path temporary_directory(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("airlock-k8s-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST(KubeConfig, ReadsTheCurrentContextWithInlineCredentials) {
  fs::path dir = temporary_directory("kubeconfig");
  write(dir / "ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
  write(dir / "config", R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: dev
  cluster: {server: "http://127.0.0.1:1"}
- name: prod-cluster
  cluster:
    server: https://k8s.example.nhs.uk:6443
    certificate-authority: ca.crt
users:
- name: admin
  user:
    token: abc123
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: prod
  context: {cluster: prod-cluster, user: admin, namespace: airlock}
)");
  runtime::Result<ClusterConfig> config = load_kubeconfig(dir / "config");
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->host, "k8s.example.nhs.uk");
  EXPECT_EQ(config->port, "6443");
  EXPECT_EQ(config->bearer_token, "abc123");
  EXPECT_EQ(config->client_certificate_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_NE(config->ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(config->default_namespace, "airlock");
  runtime::Result<ClusterConfig> missing = load_kubeconfig(dir / "config", "staging");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("no context named `staging`"), std::string::npos);
}

TEST(InClusterConfig, UsesTheServiceAccountAndTheServiceEnvironment) {
  fs::path dir = temporary_directory("serviceaccount");
  write(dir / "token", "tok\n");
  write(dir / "ca.crt", "CA");
  write(dir / "namespace", "jupyterhub\n");
  auto environment = [](std::string_view name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") return "10.0.0.1";
    if (name == "KUBERNETES_SERVICE_PORT") return "443";
    return std::nullopt;
  };
  runtime::Result<ClusterConfig> config = load_in_cluster_config(environment, dir);
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->host, "10.0.0.1");
  EXPECT_EQ(config->token_file, dir / "token");
  EXPECT_EQ(config->default_namespace, "jupyterhub");
  EXPECT_FALSE(load_in_cluster_config([](std::string_view) { return std::nullopt; }, dir));
}

TEST(KubeClient, ReReadsARotatedServiceAccountToken) {
  TestApiServer server;
  std::vector<std::string> seen;
  std::mutex mutex;
  server.set_extra_route([&](const std::string&, const std::string&, const std::string&, const std::string& auth) {
    std::lock_guard lock(mutex);
    seen.push_back(auth);
    return TestApiServer::Reply{};
  });
  fs::path dir = temporary_directory("token");
  write(dir / "token", "first\n");
  ClusterConfig config = config_for_server(server);
  config.token_file = dir / "token";
  config.token_refresh = std::chrono::seconds(0);
  KubeClient client(config);
  ASSERT_EQ(client.get(kPvcs).status, 200);
  write(dir / "token", "second\n");
  ASSERT_EQ(client.get(kPvcs).status, 200);
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<std::string>{"Bearer first", "Bearer second"}));
}

TEST(KubeClient, ReportsConnectionFailuresAsStatusZero) {
  int port;
  {
    TestApiServer server;
    port = server.port();
  }
  ClusterConfig config;
  ASSERT_TRUE(set_server(config, "http://127.0.0.1:" + std::to_string(port)));
  KubeClient client(config, std::chrono::seconds(2));
  ApiResponse response = client.get(kPvcs);
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.describe().find("connect"), std::string::npos);
}

struct Recorder {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> events;  // type, name
  void operator()(std::string_view type, const Json& object) {
    std::lock_guard lock(mutex);
    events.emplace_back(type, object["metadata"].value("name", ""));
  }
  std::size_t count(const std::string& type, const std::string& name) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::count(events.begin(), events.end(), std::make_pair(type, name)));
  }
};

Json pvc(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"metadata", {{"name", name}}}};
}

TEST(Informer, ListsThenWatchesFromTheListsVersionWithBookmarks) {
  TestApiServer server;
  KubeClient client(config_for_server(server));
  server.put(kPvcs, pvc("before"));
  Recorder recorder;
  Informer informer(client, kPvcs, "", std::ref(recorder));
  std::atomic<bool> stop{false};
  std::thread thread([&] { informer.run([&] { return stop.load(); }, std::chrono::milliseconds(20)); });
  ASSERT_TRUE(eventually([&] { return server.open_watches() == 1; }));
  server.put(kPvcs, pvc("after"));
  ASSERT_TRUE(eventually([&] { return recorder.count("ADDED", "after") == 1; }));
  server.send_bookmarks();
  ASSERT_TRUE(eventually([&] { return informer.bookmarks() == 1; }));
  EXPECT_EQ(informer.resource_version(), server.resource_version());
  stop = true;
  thread.join();
  EXPECT_EQ(recorder.count("SYNC", "before"), 1u);
  EXPECT_EQ(recorder.count("ADDED", "before"), 0u);  // the watch started after the list, not from scratch
  EXPECT_EQ(informer.lists(), 1);
}

TEST(Informer, RelistsWhenAGoneErrorArrivesInTheStream) {
  TestApiServer server;
  KubeClient client(config_for_server(server));
  Recorder recorder;
  Informer informer(client, kPvcs, "", std::ref(recorder));
  std::atomic<bool> stop{false};
  std::thread thread([&] { informer.run([&] { return stop.load(); }, std::chrono::milliseconds(20)); });
  ASSERT_TRUE(eventually([&] { return server.open_watches() == 1; }));
  server.compact();
  server.inject_gone();
  ASSERT_TRUE(eventually([&] { return informer.lists() == 2 && server.open_watches() == 1; }));
  server.put(kPvcs, pvc("later"));
  ASSERT_TRUE(eventually([&] { return recorder.count("ADDED", "later") == 1; }));
  stop = true;
  thread.join();
}

TEST(Informer, RelistsWhenTheWatchRequestItselfIsGone) {
  TestApiServer server;
  KubeClient client(config_for_server(server));
  server.put(kPvcs, pvc("a"));
  Recorder recorder;
  Informer informer(client, kPvcs, "", std::ref(recorder));
  ASSERT_TRUE(informer.list());
  server.put(kPvcs, pvc("b"));
  server.compact();
  server.set_gone_as_http_status(true);
  EXPECT_EQ(informer.watch_once([] { return false; }, std::chrono::seconds(5)), WatchEnd::kGone);
  ASSERT_TRUE(informer.list());
  EXPECT_EQ(recorder.count("SYNC", "b"), 1u);
}

TEST(WorkQueue, HoldsAKeyOnceAndNeverHandsItToTwoWorkers) {
  ManualClock clock(TimePoint{});
  WorkQueue queue(clock, {});
  queue.add("a");
  queue.add("a");
  EXPECT_EQ(queue.size(), 1u);
  std::optional<std::string> key = queue.pop();
  ASSERT_TRUE(key);
  queue.add("a");  // changed while being processed
  EXPECT_FALSE(queue.pop());
  queue.done("a");
  EXPECT_EQ(queue.pop(), "a");
}

TEST(WorkQueue, BacksOffExponentiallyPerKey) {
  ManualClock clock(TimePoint{});
  WorkQueue queue(clock, {.base_delay = std::chrono::milliseconds(10), .max_delay = std::chrono::milliseconds(35)});
  for (std::chrono::milliseconds expected : {std::chrono::milliseconds(10), std::chrono::milliseconds(20),
                                             std::chrono::milliseconds(35), std::chrono::milliseconds(35)}) {
    queue.add_rate_limited("a");
    ASSERT_TRUE(queue.next_ready_time());
    EXPECT_EQ(*queue.next_ready_time() - clock.now(), expected);
    EXPECT_FALSE(queue.pop());
    clock.advance(expected);
    ASSERT_EQ(queue.pop(), "a");
    queue.done("a");
  }
  queue.forget("a");
  queue.add_rate_limited("a");
  EXPECT_EQ(*queue.next_ready_time() - clock.now(), std::chrono::milliseconds(10));
  queue.add_rate_limited("b");  // another key has its own backoff
  EXPECT_EQ(queue.failures("b"), 1);
}

TEST(WorkQueue, HoldsAllRetriesToTheOverallRate) {
  ManualClock clock(TimePoint{});
  WorkQueue queue(clock, {.base_delay = std::chrono::milliseconds(1), .queries_per_second = 10, .burst = 2});
  queue.add_rate_limited("a");
  queue.add_rate_limited("b");
  queue.add_rate_limited("c");  // over the burst: waits for a token (100 ms at 10/s)
  clock.advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(queue.pop());
  EXPECT_TRUE(queue.pop());
  EXPECT_FALSE(queue.pop());
  clock.advance(std::chrono::milliseconds(99));
  EXPECT_EQ(queue.pop(), "c");
}

TEST(LeaderElection, OneCandidateLeadsAndAnotherTakesOverAnExpiredLease) {
  TestApiServer server;
  KubeClient client(config_for_server(server));
  ManualClock clock(TimePoint(std::chrono::seconds(1'800'000'000)));
  LeaseOptions options;
  options.identity = "a";
  LeaderElector a(client, clock, options);
  options.identity = "b";
  LeaderElector b(client, clock, options);

  ASSERT_TRUE(*a.try_acquire_or_renew());
  EXPECT_FALSE(*b.try_acquire_or_renew());
  clock.advance(std::chrono::seconds(10));
  ASSERT_TRUE(*a.try_acquire_or_renew());  // renewed: b starts counting again
  EXPECT_FALSE(*b.try_acquire_or_renew());
  clock.advance(std::chrono::seconds(14));
  EXPECT_FALSE(*b.try_acquire_or_renew());  // 14 s since b last saw a change: not yet expired
  EXPECT_FALSE(a.is_leader());              // but a missed its renew deadline
  clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(*b.try_acquire_or_renew());
  EXPECT_FALSE(*a.try_acquire_or_renew());
  Json lease = server.object(kLeases, "airlock-k8s-sync");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
}

TEST(LeaderElection, AReleasedLeaseIsTakenAtOnce) {
  TestApiServer server;
  KubeClient client(config_for_server(server));
  ManualClock clock(TimePoint(std::chrono::seconds(1'800'000'000)));
  LeaseOptions options;
  options.identity = "a";
  LeaderElector a(client, clock, options);
  options.identity = "b";
  LeaderElector b(client, clock, options);
  ASSERT_TRUE(*a.try_acquire_or_renew());
  ASSERT_TRUE(a.release());
  EXPECT_TRUE(*b.try_acquire_or_renew());
}

TEST(LeaderElection, SimultaneousCandidatesNeverBothWin) {
  TestApiServer server;
  ManualClock clock(TimePoint(std::chrono::seconds(1'800'000'000)));
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      KubeClient client(config_for_server(server));
      LeaseOptions options;
      options.identity = "candidate-" + std::to_string(i);
      LeaderElector elector(client, clock, options);
      runtime::Result<bool> led = elector.try_acquire_or_renew();
      if (led && *led) ++winners;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST(TransferFeed, ParsesTheGatewaysTransferList) {
  runtime::Result<std::vector<TransferUpdate>> parsed = parse_transfer_list(R"({"transfers": [
    {"id": "t1", "channel": "upload", "datasource": "ds-1", "workspace": "w", "state": "escalated",
     "decision": "{\"outcome\": \"escalate\", \"reviewers\": [{\"role\": \"data-approver\"}]}", "updated_at": 5},
    {"id": "t2", "state": "approved", "decision": {"outcome": "approve"}, "reviewed_by": "r@nhs.net"}]})");
  ASSERT_TRUE(parsed) << parsed.message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].reviewers, std::vector<std::string>{"data-approver"});
  EXPECT_EQ((*parsed)[0].updated_at_ms, 5);
  EXPECT_EQ((*parsed)[1].reviewed_by, "r@nhs.net");
  EXPECT_FALSE((*parsed)[0].reviewer_workspace.has_value());
  EXPECT_FALSE(parse_transfer_list(R"({"transfers": [{"state": "approved"}]})"));
  EXPECT_FALSE(parse_transfer_list("not json"));
}

TEST(TransferFeed, ParsesTheReviewerWorkspaceWhenOneWasRequested) {
  runtime::Result<std::vector<TransferUpdate>> parsed = parse_transfer_list(R"({"transfers": [
    {"id": "t1", "state": "in_review", "reviewer_workspace": {"requested_by": "rita",
     "requested_at": "2026-11-29T09:00:00.000Z", "url": "https://review.example/t1"}},
    {"id": "t2", "state": "in_review", "reviewer_workspace": null}], "next": null})");
  ASSERT_TRUE(parsed) << parsed.message();
  ASSERT_TRUE((*parsed)[0].reviewer_workspace.has_value());
  EXPECT_EQ((*parsed)[0].reviewer_workspace->requested_by, "rita");
  EXPECT_EQ((*parsed)[0].reviewer_workspace->url, "https://review.example/t1");
  EXPECT_FALSE((*parsed)[1].reviewer_workspace.has_value());
  EXPECT_FALSE(parse_transfer_list(R"([{"id": "t3", "state": "in_review", "reviewer_workspace": "yes"}])"));
}

TEST(TransferFeed, PollsTheGatewayWithABearerToken) {
  TestApiServer gateway;
  std::string seen_target;
  std::string seen_auth;
  std::mutex mutex;
  gateway.set_extra_route(
      [&](const std::string& method, const std::string& target, const std::string&, const std::string& auth) {
        std::lock_guard lock(mutex);
        if (auth != "Bearer feed-token") return TestApiServer::Reply{401, R"({"error": "unauthorised"})"};
        if (method == "GET" && target.starts_with("/api/v1/transfers")) {
          seen_target = target;
          return TestApiServer::Reply{200, R"({"transfers": [{"id": "t1", "state": "in_review"}]})"};
        }
        if (method == "PUT" && target == "/api/v1/datasources/jupyterhub/ds-1") return TestApiServer::Reply{200, "{}"};
        return TestApiServer::Reply{404, "{}"};
      });
  auto feed = GatewayTransferFeed::create(gateway.url(), "feed-token", "", "");
  ASSERT_TRUE(feed);
  runtime::Result<std::vector<TransferUpdate>> transfers = (*feed)->transfers("jupyterhub", "ds-1");
  ASSERT_TRUE(transfers) << transfers.message();
  ASSERT_EQ(transfers->size(), 1u);
  EXPECT_EQ((*transfers)[0].state, "in_review");
  EXPECT_EQ(seen_target, "/api/v1/transfers?datasource=ds-1&namespace=jupyterhub");
  EXPECT_TRUE((*feed)->register_datasource({"jupyterhub", "ds-1", "Uploaded", "d4e6", "x", "jupyterhub", "pvc"}));
  auto wrong = GatewayTransferFeed::create(gateway.url(), "wrong", "", "");
  EXPECT_FALSE((*wrong)->transfers("jupyterhub", "ds-1"));
}

TEST(Yaml, RoundTripsKubernetesObjects) {
  Json object = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", "x"}}},
                 {"data", {{"count", "10"}, {"flag", "true"}, {"text", "line 1\nline 2\n"}, {"empty", ""}}},
                 {"number", 3},
                 {"ratio", 0.5},
                 {"list", {1, "two", nullptr}}};
  runtime::Result<std::vector<Json>> back = yaml_documents_to_json(json_to_yaml(object), "round-trip");
  ASSERT_TRUE(back) << back.message();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], object);
  runtime::Result<std::vector<Json>> broken = yaml_documents_to_json("a: [1, 2\n", "broken.yaml");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.message().find("broken.yaml:"), std::string::npos);
}

// The long-running loop: leader election, informers and the worker, with the real clock and short periods.
TEST(ControllerRun, ImportsThroughWatchesAndSurvivesAGoneStream) {
  TestApiServer server;
  KubeClient client(config_for_server(server));
  SystemClock clock;
  ControllerOptions options;
  options.lease.identity = "controller-a";
  options.lease.retry_period = std::chrono::seconds(1);
  Controller controller(client, nullptr, clock, options);
  std::atomic<bool> stop{false};
  runtime::Status result = runtime::Status::ok();
  std::thread thread([&] { result = controller.run([&] { return stop.load(); }); });

  ASSERT_TRUE(eventually([&] { return server.open_watches() == 3; }));
  server.put(kSecrets, credentials_secret());
  server.put(kDataSources, import_datasource("gm"));
  server.put_status(kDataSources, "gm", {{"dataState", "READY"}});
  ASSERT_TRUE(eventually([&] { return server.objects(kJobs).size() == 1; }));
  server.compact();
  server.inject_gone();
  ASSERT_TRUE(eventually([&] { return server.open_watches() == 3; }));
  std::string job = server.objects(kJobs)[0]["metadata"]["name"];
  server.put_status(kJobs, job, {{"succeeded", 1}});
  ASSERT_TRUE(
      eventually([&] { return server.object(kDataSources, "gm")["status"].value("dataState", "") == "Completed"; }));
  stop = true;
  thread.join();
  EXPECT_TRUE(result) << result.message();
  EXPECT_EQ(server.object(kLeases, "airlock-k8s-sync")["spec"]["holderIdentity"], "");  // released on shutdown
}

TEST(ControllerRun, TwoControllersContendAndOnlyTheLeaderWorks) {
  TestApiServer server;
  KubeClient client(config_for_server(server));
  SystemClock clock;
  ControllerOptions options;
  options.lease.retry_period = std::chrono::seconds(1);
  options.lease.identity = "first";
  Controller first(client, nullptr, clock, options);
  options.lease.identity = "second";
  Controller second(client, nullptr, clock, options);
  std::atomic<bool> stop_first{false};
  std::atomic<bool> stop_second{false};
  std::thread a([&] { (void)first.run([&] { return stop_first.load(); }); });
  ASSERT_TRUE(eventually([&] { return server.open_watches() == 3; }));
  std::thread b([&] { (void)second.run([&] { return stop_second.load(); }); });
  server.put(kDataSources, import_datasource("gm"));
  ASSERT_TRUE(eventually([&] { return first.reconciles() > 0; }));
  EXPECT_EQ(second.reconciles(), 0);
  EXPECT_EQ(server.open_watches(), 3);
  stop_first = true;  // releases the lease: the second takes over
  a.join();
  ASSERT_TRUE(eventually([&] { return second.reconciles() > 0; }));
  EXPECT_EQ(server.object(kLeases, "airlock-k8s-sync")["spec"]["holderIdentity"], "second");
  stop_second = true;
  b.join();
}

}  // namespace
}  // namespace airlock::k8s::testing
