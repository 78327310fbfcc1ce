// The reconcilers end to end through the test API server: imports, uploads, decisions back to the cluster, reviewer
// workspaces, deletion, conflicts, and restarts of the controller and of the server mid-reconcile.
#include "airlock/k8s/controller.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace airlock::k8s::testing {
namespace {

const std::string kImport = "example-data-source-1";
const std::string kUpload = "ds-782b4a1f07234229980f75f2f651412a";

TransferUpdate with_workspace(TransferUpdate update) {
  update.reviewer_workspace =
      TransferUpdate::ReviewerWorkspace{"rita", "2026-11-29T09:00:00.000Z", "https://review/t1"};
  return update;
}

class ControllerTest : public ::testing::Test {
 protected:
  ControllerTest()
      : client_(config_for_server(server_)),
        clock_(TimePoint(std::chrono::seconds(1'800'000'000))),
        controller_(std::make_unique<Controller>(client_, &feed_, clock_, ControllerOptions{})) {}

  void create_ready_import() {
    server_.put(kSecrets, credentials_secret());
    server_.put(kDataSources, import_datasource(kImport));
    server_.put_status(kDataSources, kImport, {{"dataState", "READY"}});
  }
  Json datasource(const std::string& name) { return server_.object(kDataSources, name); }
  std::string job_name() { return datasource(kImport)["status"].value("importJob", ""); }

  TestApiServer server_;
  KubeClient client_;
  ManualClock clock_;
  FakeTransferFeed feed_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(ControllerTest, ReadyImportGetsPvcSecretAndJob) {
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));

  Json pvc = server_.object(kPvcs, kImport + "-data");
  ASSERT_TRUE(pvc.is_object());
  EXPECT_EQ(pvc["spec"]["storageClassName"], "jupyter-default");
  EXPECT_EQ(pvc["metadata"]["labels"]["app.kubernetes.io/managed-by"], "airlock-k8s-sync");
  EXPECT_EQ(pvc["metadata"]["ownerReferences"][0]["uid"], datasource(kImport)["metadata"]["uid"]);

  Json secret = server_.object(kSecrets, kImport + "-import-credentials");
  ASSERT_TRUE(secret.is_object());
  EXPECT_EQ(secret["stringData"]["DatabricksUsername"], "alice");
  EXPECT_EQ(secret["stringData"]["DatabricksPassword"], "s3cret");
  EXPECT_NE(secret["stringData"]["datasource.json"].get<std::string>().find("databricks"), std::string::npos);

  Json status = datasource(kImport)["status"];
  EXPECT_EQ(status["stage"], "Importing");
  EXPECT_EQ(status["dataState"], "READY");
  Json job = server_.object(kJobs, job_name());
  ASSERT_TRUE(job.is_object());
  EXPECT_EQ(job["spec"]["template"]["spec"]["containers"][0]["args"][0], "import");
  EXPECT_EQ(job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], kImport + "-data");
  EXPECT_EQ(datasource(kImport)["metadata"]["finalizers"][0], kFinalizer);
}

TEST_F(ControllerTest, SucceededJobCompletesTheImportAndDropsCredentials) {
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  server_.put_status(kJobs, job_name(),
                     {{"succeeded", 1}, {"conditions", {{{"type", "Complete"}, {"status", "True"}}}}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json ds = datasource(kImport);
  EXPECT_EQ(ds["status"]["dataState"], "Completed");
  EXPECT_EQ(ds["status"]["stage"], "Imported");
  EXPECT_EQ(condition(ds, "Imported")["status"], "True");
  EXPECT_EQ(condition(ds, "Imported")["observedGeneration"], ds["metadata"]["generation"]);
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.object(kSecrets, kImport + "-import-credentials").is_null());
  EXPECT_TRUE(server_.object(kPvcs, kImport + "-data").is_object());
}

TEST_F(ControllerTest, FailedJobFailsTheImportWithTheReasonAndAnEvent) {
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  server_.put_status(kJobs, job_name(),
                     {{"failed", 3},
                      {"conditions",
                       {{{"type", "Failed"},
                         {"status", "True"},
                         {"reason", "BackoffLimitExceeded"},
                         {"message", "Job has reached the specified backoff limit"}}}}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json ds = datasource(kImport);
  EXPECT_EQ(ds["status"]["dataState"], "Failed");
  EXPECT_EQ(condition(ds, "Imported")["reason"], "BackoffLimitExceeded");
  EXPECT_NE(ds["status"]["failureReason"].get<std::string>().find("backoff limit"), std::string::npos);
  bool found = false;
  for (const Json& event : server_.objects(kEvents)) {
    found = found || (event["reason"] == "ImportFailed" && event["involvedObject"]["name"] == kImport &&
                      event["type"] == "Warning");
  }
  EXPECT_TRUE(found);
}

TEST_F(ControllerTest, ImportJobStopsRetryingOnceTheImportIsDecided) {
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json rules = server_.object(kJobs, job_name())["spec"]["podFailurePolicy"]["rules"];
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0]["action"], "FailJob");
  EXPECT_EQ(rules[0]["onExitCodes"]["operator"], "In");
  EXPECT_EQ(rules[0]["onExitCodes"]["values"], Json::array({3, 4}));
  EXPECT_EQ(rules[1]["action"], "Ignore");
  EXPECT_EQ(rules[1]["onPodConditions"][0]["type"], "DisruptionTarget");
  EXPECT_EQ(server_.object(kJobs, job_name())["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

TEST_F(ControllerTest, ImportJobReportsToTheGatewayWhenOneIsConfigured) {
  ControllerOptions options;
  options.import_gateway_url = "http://airlock-gateway:8080";
  controller_ = std::make_unique<Controller>(client_, &feed_, clock_, options);
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json pod = server_.object(kJobs, job_name())["spec"]["template"]["spec"];
  std::string args = pod["containers"][0]["args"].dump();
  EXPECT_NE(args.find(R"("--gateway","http://airlock-gateway:8080","--token-file","/etc/airlock/gateway/token")"),
            std::string::npos)
      << args;
  EXPECT_EQ(pod["volumes"][2]["secret"]["secretName"], "airlock-import-gateway-token");
}

TEST_F(ControllerTest, DeniedImportFailsWithoutRetries) {
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  server_.put_status(kJobs, job_name(),
                     {{"failed", 1},
                      {"conditions",
                       {{{"type", "Failed"},
                         {"status", "True"},
                         {"reason", "PodFailurePolicy"},
                         {"message",
                          "Container import for pod jupyterhub/x failed with exit code 4 matching FailJob "
                          "rule at index 0"}}}}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json ds = datasource(kImport);
  EXPECT_EQ(ds["status"]["dataState"], "Failed");
  EXPECT_EQ(ds["status"]["stage"], "ImportDenied");
  EXPECT_EQ(condition(ds, "Imported")["reason"], "Denied");
}

TEST_F(ControllerTest, EscalatedImportIsReviewedThenReleasedByAJob) {
  const std::string run = "5f0c0123456789abcdef0123456789ab";
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  std::string import_job = job_name();
  server_.put_status(kJobs, import_job,
                     {{"failed", 1},
                      {"conditions",
                       {{{"type", "Failed"},
                         {"status", "True"},
                         {"reason", "PodFailurePolicy"},
                         {"message",
                          "Container import for pod jupyterhub/x failed with exit code 3 matching FailJob "
                          "rule at index 0"}}}}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json ds = datasource(kImport);
  EXPECT_EQ(ds["status"]["stage"], "AwaitingReview");
  EXPECT_EQ(ds["status"]["dataState"], "READY");  // not failed: reviewers decide
  EXPECT_EQ(condition(ds, "Imported")["reason"], "Escalated");

  TransferUpdate reported = transfer(run, "in_review", 20, "escalate");
  reported.channel = "import";
  reported.datasource = kImport;
  reported.workspace = "";
  feed_.set(kImport, {with_workspace(reported)});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_EQ(datasource(kImport)["status"]["stage"], "InReview");
  Json review = server_.object(kDeployments, kImport + "-review");
  ASSERT_TRUE(review.is_object());
  Json mount = review["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0];
  EXPECT_EQ(mount["subPath"], "quarantine/" + run);  // only the run under review, read-only
  EXPECT_EQ(mount["readOnly"], true);
  EXPECT_TRUE(server_.objects(kJobs).size() == 1u);  // no release before the approval

  reported.state = "approved";
  reported.reviewed_by = "ann";
  reported.updated_at_ms = 30;
  feed_.set(kImport, {reported});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.object(kDeployments, kImport + "-review").is_null());
  Json release = server_.object(kJobs, kImport + "-release-" + run.substr(0, 12));
  ASSERT_TRUE(release.is_object());
  EXPECT_EQ(release["spec"]["template"]["spec"]["containers"][0]["args"],
            Json::array({"import", "--release", run, "--output", "/data"}));
  EXPECT_EQ(release["spec"]["template"]["spec"]["volumes"].size(), 1u);  // the data volume, no credentials
  EXPECT_EQ(datasource(kImport)["status"]["stage"], "Releasing");

  server_.put_status(kJobs, kImport + "-release-" + run.substr(0, 12),
                     {{"succeeded", 1}, {"conditions", {{{"type", "Complete"}, {"status", "True"}}}}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  ds = datasource(kImport);
  EXPECT_EQ(ds["status"]["dataState"], "Completed");
  EXPECT_EQ(ds["status"]["stage"], "Imported");
  EXPECT_EQ(condition(ds, "Imported")["reason"], "Released");
}

TEST_F(ControllerTest, RejectedImportFailsAndIsNeverReleased) {
  const std::string run = "6a0c0123456789abcdef0123456789ab";
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  server_.put_status(kJobs, job_name(),
                     {{"conditions",
                       {{{"type", "Failed"},
                         {"status", "True"},
                         {"reason", "PodFailurePolicy"},
                         {"message", "Container import failed with exit code 3 matching FailJob rule at index 0"}}}}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  TransferUpdate reported = transfer(run, "rejected", 20, "escalate", "ann");
  reported.channel = "import";
  feed_.set(kImport, {reported});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json ds = datasource(kImport);
  EXPECT_EQ(ds["status"]["dataState"], "Failed");
  EXPECT_EQ(ds["status"]["stage"], "Rejected");
  EXPECT_TRUE(server_.object(kJobs, kImport + "-release-" + run.substr(0, 12)).is_null());
}

TEST_F(ControllerTest, RejectedImportIsDiscardedByAJobOnceItsRetentionIsOver) {
  const std::string run = "7c0c0123456789abcdef0123456789ab";
  const std::string waiting = "8d0c0123456789abcdef0123456789ab";
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
  TransferUpdate rejected = transfer(run, "rejected", now_ms, "escalate", "ann");
  rejected.channel = "import";
  TransferUpdate in_review = transfer(waiting, "in_review", now_ms - 1, "escalate");
  in_review.channel = "import";
  feed_.set(kImport, {rejected, in_review});
  const std::string discard = kImport + "-discard-" + run.substr(0, 12);

  // Within the retention (30 days by default) the copy stays for investigation.
  clock_.advance(std::chrono::hours(24 * 29));
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.object(kJobs, discard).is_null());

  clock_.advance(std::chrono::hours(24 * 2));
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json job = server_.object(kJobs, discard);
  ASSERT_TRUE(job.is_object());
  Json pod = job["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["args"], Json::array({"import", "--discard", run, "--output", "/data"}));
  ASSERT_EQ(pod["volumes"].size(), 1u);  // the data volume only: no credentials, no gateway token
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], kImport + "-data");
  EXPECT_EQ(job["metadata"]["annotations"]["xlscsde.nhs.uk/transfer"], run);
  // Only the rejected run goes: the one still in review is kept, and nothing is released.
  EXPECT_TRUE(server_.object(kJobs, kImport + "-discard-" + waiting.substr(0, 12)).is_null());
  EXPECT_TRUE(server_.object(kJobs, kImport + "-release-" + run.substr(0, 12)).is_null());
  EXPECT_EQ(condition(datasource(kImport), "Discarded")["reason"], "JobRunning");

  server_.put_status(kJobs, discard, {{"succeeded", 1}, {"conditions", {{{"type", "Complete"}, {"status", "True"}}}}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  Json done = condition(datasource(kImport), "Discarded");
  EXPECT_EQ(done["status"], "True");
  EXPECT_EQ(done["reason"], "RetentionOver");
  EXPECT_NE(done["message"].get<std::string>().find(run), std::string::npos);
}

TEST_F(ControllerTest, ARetentionOfZeroKeepsRejectedImports) {
  ControllerOptions options;
  options.rejected_import_retention = std::chrono::seconds(0);
  controller_ = std::make_unique<Controller>(client_, &feed_, clock_, options);
  const std::string run = "9e0c0123456789abcdef0123456789ab";
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  TransferUpdate rejected = transfer(run, "returned", 20, "escalate", "ann");  // decided long ago
  rejected.channel = "import";
  feed_.set(kImport, {rejected});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.object(kJobs, kImport + "-discard-" + run.substr(0, 12)).is_null());
  // The default retention would have discarded it.
  controller_ = std::make_unique<Controller>(client_, &feed_, clock_, ControllerOptions{});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.object(kJobs, kImport + "-discard-" + run.substr(0, 12)).is_object());
}

TEST_F(ControllerTest, ImportWaitsForReadyAndDoesNotRestartOnceStaged) {
  server_.put(kSecrets, credentials_secret());
  server_.put(kDataSources, import_datasource(kImport));
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.objects(kJobs).empty());
  server_.put_status(kDataSources, kImport, {{"dataState", "READY"}, {"stage", "Published"}});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.objects(kJobs).empty());
}

TEST_F(ControllerTest, ReconcilingAgainChangesNothing) {
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  std::string version = server_.resource_version();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_EQ(server_.resource_version(), version);
  EXPECT_EQ(server_.objects(kJobs).size(), 1u);
}

TEST_F(ControllerTest, MissingCredentialsStopBeforeTheJobWithAnEvent) {
  server_.put(kDataSources, import_datasource(kImport));
  server_.put_status(kDataSources, kImport, {{"dataState", "READY"}});
  runtime::Status status = controller_->reconcile("jupyterhub/" + kImport);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("airlock-import-credentials"), std::string::npos);
  EXPECT_TRUE(server_.objects(kJobs).empty());
  EXPECT_EQ(condition(datasource(kImport), "Synced")["status"], "False");
  ASSERT_FALSE(server_.objects(kEvents).empty());
  EXPECT_EQ(server_.objects(kEvents)[0]["reason"], "CredentialsMissing");
}

TEST_F(ControllerTest, ARestartedControllerFinishesWhatACrashedOneStarted) {
  create_ready_import();
  server_.set_fault([](const std::string& method, const std::string& target) {
    return method == "PATCH" && target.find("/jobs/") != std::string::npos ? -1 : 0;
  });
  EXPECT_FALSE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(server_.object(kPvcs, kImport + "-data").is_object());
  EXPECT_TRUE(server_.objects(kJobs).empty());
  EXPECT_EQ(datasource(kImport)["status"].value("stage", ""), "");

  server_.set_fault(nullptr);
  controller_ = std::make_unique<Controller>(client_, &feed_, clock_, ControllerOptions{});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_EQ(server_.objects(kJobs).size(), 1u);
  EXPECT_EQ(datasource(kImport)["status"]["stage"], "Importing");
}

TEST_F(ControllerTest, ARestartedServerLetsTheReconcileFinish) {
  create_ready_import();
  server_.set_fault([](const std::string& method, const std::string& target) {
    return method == "PUT" && target.find("/status") != std::string::npos ? -1 : 0;
  });
  EXPECT_FALSE(controller_->reconcile("jupyterhub/" + kImport));
  server_.stop();
  EXPECT_FALSE(controller_->reconcile("jupyterhub/" + kImport));  // connection refused
  server_.set_fault(nullptr);
  server_.start();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_EQ(datasource(kImport)["status"]["stage"], "Importing");
  EXPECT_EQ(server_.objects(kJobs).size(), 1u);
}

TEST_F(ControllerTest, StatusConflictsAreRetriedOnFreshReads) {
  create_ready_import();
  int injected = 0;
  server_.set_fault([&](const std::string& method, const std::string& target) {
    if (method == "PUT" && target.find("/status") != std::string::npos && injected == 0) {
      ++injected;  // someone else writes in between our read and our write
      Json ds = server_.object(kDataSources, kImport);
      ds["metadata"]["labels"]["touched"] = "yes";
      server_.put(kDataSources, ds);
    }
    return 0;
  });
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_EQ(injected, 1);
  Json ds = datasource(kImport);
  EXPECT_EQ(ds["metadata"]["labels"]["touched"], "yes");
  EXPECT_EQ(ds["status"]["stage"], "Importing");
}

TEST_F(ControllerTest, UploadedSourceGetsAStagingPvcAndIsRegistered) {
  server_.put(kDataSources, uploaded_datasource(kUpload));
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  Json pvc = server_.object(kPvcs, "pvc-782b4a1f07234229980f75f2f651412a");
  ASSERT_TRUE(pvc.is_object());
  EXPECT_EQ(pvc["metadata"]["labels"]["app.kubernetes.io/component"], "staging");
  ASSERT_EQ(feed_.registrations().size(), 1u);
  EXPECT_EQ(feed_.registrations()[0].pvc, "pvc-782b4a1f07234229980f75f2f651412a");
  Json ds = datasource(kUpload);
  EXPECT_EQ(ds["status"]["stage"], "AwaitingUpload");
  EXPECT_EQ(condition(ds, "Registered")["status"], "True");
  EXPECT_TRUE(server_.objects(kBindings).empty());
}

TEST_F(ControllerTest, EscalationStartsAReviewerWorkspaceWithOnlyTheStagingVolume) {
  server_.put(kDataSources, uploaded_datasource(kUpload));
  feed_.set(kUpload, {transfer("t1", "escalated", 10, "escalate")});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  // No reviewer asked for a workspace yet: none runs.
  EXPECT_TRUE(server_.object(kDeployments, kUpload + "-review").is_null());
  feed_.set(kUpload, {with_workspace(transfer("t1", "escalated", 10, "escalate"))});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  Json deployment = server_.object(kDeployments, kUpload + "-review");
  ASSERT_TRUE(deployment.is_object());
  Json pod = deployment["spec"]["template"]["spec"];
  ASSERT_EQ(pod["volumes"].size(), 1u);
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "pvc-782b4a1f07234229980f75f2f651412a");
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["readOnly"], true);
  EXPECT_EQ(pod["containers"][0]["volumeMounts"][0]["readOnly"], true);
  Json ds = datasource(kUpload);
  EXPECT_EQ(ds["status"]["stage"], "Escalated");
  EXPECT_EQ(ds["status"]["transferId"], "t1");
  EXPECT_EQ(condition(ds, "UnderReview")["status"], "True");
  EXPECT_EQ(condition(ds, "Approved")["status"], "Unknown");
  EXPECT_NE(ds["status"]["decision"]["summary"].get<std::string>().find("data-approver"), std::string::npos);

  feed_.set(kUpload, {with_workspace(transfer("t1", "in_review", 20, "escalate"))});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  EXPECT_EQ(datasource(kUpload)["status"]["stage"], "InReview");
  Json env = server_.object(kDeployments, kUpload + "-review")["spec"]["template"]["spec"]["containers"][0]["env"];
  EXPECT_NE(env.dump().find("https://review/t1"), std::string::npos);
  EXPECT_NE(env.dump().find("AIRLOCK_TRANSFER"), std::string::npos);
}

TEST_F(ControllerTest, ApprovalBindsTheWorkspaceAndRevocationUnbindsIt) {
  server_.put(kDataSources, uploaded_datasource(kUpload));
  feed_.set(kUpload, {with_workspace(transfer("t1", "in_review", 10, "escalate"))});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  ASSERT_TRUE(server_.object(kDeployments, kUpload + "-review").is_object());
  std::string first_transition = condition(datasource(kUpload), "Approved")["lastTransitionTime"];

  clock_.advance(std::chrono::minutes(5));
  feed_.set(kUpload, {transfer("t1", "approved", 20, "escalate", "reviewer@nhs.net")});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  Json binding = server_.object(kBindings, "dsb-782b4a1f07234229980f75f2f651412a");
  ASSERT_TRUE(binding.is_object());
  EXPECT_EQ(binding["spec"]["workspace"], "advanced-generic-workspace");
  EXPECT_EQ(binding["spec"]["datasource"], kUpload);
  EXPECT_TRUE(server_.object(kDeployments, kUpload + "-review").is_null());  // removed after the decision
  Json ds = datasource(kUpload);
  EXPECT_EQ(ds["status"]["stage"], "Approved");
  EXPECT_EQ(condition(ds, "Approved")["reason"], "Reviewed");
  EXPECT_NE(condition(ds, "Approved")["lastTransitionTime"], first_transition);
  EXPECT_EQ(condition(ds, "UnderReview")["reason"], "Reviewed");
  EXPECT_EQ(condition(ds, "Bound")["status"], "True");

  feed_.set(kUpload, {transfer("t1", "revoked", 30, "escalate", "reviewer@nhs.net")});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  EXPECT_TRUE(server_.object(kBindings, "dsb-782b4a1f07234229980f75f2f651412a").is_null());
  ds = datasource(kUpload);
  EXPECT_EQ(ds["status"]["stage"], "Revoked");
  EXPECT_EQ(condition(ds, "Bound")["reason"], "Revoked");
  EXPECT_EQ(condition(ds, "Approved")["status"], "False");
}

TEST_F(ControllerTest, DenialIsReflectedWithoutABinding) {
  server_.put(kDataSources, uploaded_datasource(kUpload));
  TransferUpdate denied = transfer("t9", "denied", 10, "deny");
  denied.reason = "the archive holds an executable";
  feed_.set(kUpload, {denied});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  Json ds = datasource(kUpload);
  EXPECT_EQ(ds["status"]["stage"], "Denied");
  EXPECT_EQ(condition(ds, "Approved")["reason"], "Denied");
  EXPECT_NE(condition(ds, "Approved")["message"].get<std::string>().find("executable"), std::string::npos);
  EXPECT_TRUE(server_.objects(kBindings).empty());
}

TEST_F(ControllerTest, AnUnreachableGatewayLeavesBindingsAlone) {
  server_.put(kDataSources, uploaded_datasource(kUpload));
  feed_.set(kUpload, {transfer("t1", "approved", 10, "approve")});
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kUpload));
  ASSERT_TRUE(server_.object(kBindings, "dsb-782b4a1f07234229980f75f2f651412a").is_object());
  feed_.set_failing(true);
  EXPECT_FALSE(controller_->reconcile("jupyterhub/" + kUpload));
  EXPECT_TRUE(server_.object(kBindings, "dsb-782b4a1f07234229980f75f2f651412a").is_object());
  EXPECT_EQ(condition(datasource(kUpload), "Synced")["status"], "False");
}

TEST_F(ControllerTest, DeletionCleansUpChildrenInAnotherNamespace) {
  ControllerOptions options;
  options.storage_ns = "airlock-storage";
  controller_ = std::make_unique<Controller>(client_, &feed_, clock_, options);
  create_ready_import();
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  const std::string other_pvcs = "/api/v1/namespaces/airlock-storage/persistentvolumeclaims";
  Json pvc = server_.object(other_pvcs, kImport + "-data");
  ASSERT_TRUE(pvc.is_object());
  EXPECT_FALSE(pvc["metadata"].contains("ownerReferences"));  // no cross-namespace owners

  ASSERT_TRUE(client_.remove(resources::data_source().object_path(kNamespace, kImport)).ok());
  EXPECT_TRUE(datasource(kImport)["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(controller_->reconcile("jupyterhub/" + kImport));
  EXPECT_TRUE(datasource(kImport).is_null());
  EXPECT_TRUE(server_.objects(other_pvcs).empty());
  EXPECT_TRUE(server_.objects("/apis/batch/v1/namespaces/airlock-storage/jobs").empty());
}

TEST_F(ControllerTest, FailedReconcilesBackOffPerKey) {
  server_.put(kDataSources, import_datasource(kImport));
  server_.put_status(kDataSources, kImport, {{"dataState", "READY"}});  // no credentials: fails
  controller_->queue().add("jupyterhub/" + kImport);
  ASSERT_TRUE(controller_->process_next());
  EXPECT_EQ(controller_->queue().failures("jupyterhub/" + kImport), 1);
  EXPECT_FALSE(controller_->process_next());  // waiting out its backoff
  clock_.advance(std::chrono::milliseconds(5));
  ASSERT_TRUE(controller_->process_next());
  EXPECT_EQ(controller_->queue().failures("jupyterhub/" + kImport), 2);
  server_.put(kSecrets, credentials_secret());
  clock_.advance(std::chrono::milliseconds(10));
  ASSERT_TRUE(controller_->process_next());
  EXPECT_EQ(controller_->queue().failures("jupyterhub/" + kImport), 0);
  EXPECT_EQ(datasource(kImport)["status"]["stage"], "Importing");
}

TEST_F(ControllerTest, RunOnceReconcilesEverySourceAndReturns) {
  create_ready_import();
  server_.put(kDataSources, uploaded_datasource(kUpload));
  ASSERT_TRUE(controller_->run_once());
  EXPECT_EQ(datasource(kImport)["status"]["stage"], "Importing");
  EXPECT_EQ(datasource(kUpload)["status"]["stage"], "AwaitingUpload");
}

TEST(Render, WritesTheChildrenWithCredentialsRedacted) {
  std::vector<Json> manifests = render_manifests({import_datasource(kImport), uploaded_datasource(kUpload)}, {});
  std::vector<std::string> kinds;
  for (const Json& manifest : manifests) kinds.push_back(manifest["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"PersistentVolumeClaim", "Secret", "Job", "PersistentVolumeClaim"}));
  EXPECT_EQ(manifests[1]["stringData"]["DatabricksPassword"],
            "<from Secret airlock-import-credentials key DatabricksPassword>");
}

TEST(ChildName, StaysWithinSixtyThreeCharacters) {
  std::string long_name(80, 'a');
  std::string name = child_name(long_name, "import-credentials");
  EXPECT_LE(name.size(), 63u);
  EXPECT_TRUE(name.ends_with("-import-credentials"));
  EXPECT_NE(child_name(long_name, "x"), child_name(std::string(79, 'a') + "b", "x"));
  EXPECT_EQ(binding_name("ds-1234"), "dsb-1234");
  EXPECT_EQ(binding_name("gm-attendances"), "gm-attendances-binding");
}

}  // namespace
}  // namespace airlock::k8s::testing
