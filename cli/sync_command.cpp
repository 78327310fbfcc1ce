// `airlock sync`: the k8s-sync controller. Reconciles AnalyticsWorkspaceDataSources until stopped (SIGINT/SIGTERM),
// once with --once, or writes the manifests it would apply with --render DIR.
#ifdef AIRLOCK_WITH_K8S
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>

#ifdef AIRLOCK_WITH_GATEWAY
#include "airlock/gateway/config.h"
#endif
#include "airlock/k8s/client.h"
#include "airlock/k8s/controller.h"
#include "airlock/k8s/yaml.h"
#include "command.h"
#include "io.h"

namespace airlock::cli {
namespace {

namespace fs = std::filesystem;
using k8s::Json;

std::optional<std::string> environment(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

runtime::Result<k8s::ClusterConfig> cluster_config(const ParsedArguments& arguments) {
  if (!arguments.has("--kubeconfig") && environment("KUBERNETES_SERVICE_HOST")) {
    return k8s::load_in_cluster_config(environment);
  }
  fs::path path = arguments.value("--kubeconfig");
  if (path.empty()) {
    if (auto from_environment = environment("KUBECONFIG")) {
      path = from_environment->substr(0, from_environment->find(':'));
    } else if (auto home = environment("HOME")) {
      path = fs::path(*home) / ".kube" / "config";
    }
  }
  if (path.empty()) return runtime::Error{"no kubeconfig: pass --kubeconfig PATH"};
  return k8s::load_kubeconfig(path, arguments.value("--context"));
}

std::string manifest_file_name(const Json& object) {
  std::string kind = object.value("kind", "object");
  for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return object["metadata"].value("namespace", "cluster") + "-" + kind + "-" + object["metadata"].value("name", "") +
         ".yaml";
}

int render(const ParsedArguments& arguments, const k8s::ControllerOptions& options, Console& console) {
  std::vector<Json> datasources;
  if (!arguments.positionals().empty()) {
    for (const std::string& path : arguments.positionals()) {
      runtime::Result<std::string> text = read_input(path, console.in);
      if (!text) {
        console.err << "error: " << text.message() << "\n";
        return kExitFailure;
      }
      runtime::Result<std::vector<Json>> documents = k8s::yaml_documents_to_json(*text, input_name(path));
      if (!documents) {
        console.err << documents.message() << "\n";
        return kExitFailure;
      }
      for (Json& document : *documents) {
        if (document.value("kind", "") == "AnalyticsWorkspaceDataSource") datasources.push_back(std::move(document));
      }
    }
  } else {
    runtime::Result<k8s::ClusterConfig> config = cluster_config(arguments);
    if (!config) {
      console.err << "error: " << config.message() << "\n";
      return kExitFailure;
    }
    k8s::KubeClient client(*config);
    k8s::ApiResponse list = client.get(k8s::resources::data_source().collection_path(options.ns));
    if (!list.ok()) {
      console.err << "error: list data sources in " << options.ns << ": " << list.describe() << "\n";
      return kExitFailure;
    }
    for (Json& item : list.body["items"]) {
      item["apiVersion"] = k8s::resources::data_source().api_version();
      item["kind"] = k8s::resources::data_source().kind;
      datasources.push_back(std::move(item));
    }
  }
  fs::path directory = arguments.value("--render");
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    console.err << "error: cannot create " << directory.string() << ": " << error.message() << "\n";
    return kExitFailure;
  }
  std::vector<Json> manifests = k8s::render_manifests(datasources, options);
  for (const Json& manifest : manifests) {
    fs::path path = directory / manifest_file_name(manifest);
    std::ofstream out(path);
    out << "# Rendered by `airlock sync --render`: what k8s-sync would apply (server-side apply, field manager "
        << options.field_manager << ").\n"
        << k8s::json_to_yaml(manifest);
    if (!out) {
      console.err << "error: cannot write " << path.string() << "\n";
      return kExitFailure;
    }
    console.out << path.string() << "\n";
  }
  console.err << manifests.size() << " manifests for " << datasources.size() << " data sources in "
              << directory.string() << "\n";
  return kExitOk;
}

int run_sync(const CommandSpec& /*spec*/, const ParsedArguments& arguments, Console& console) {
  k8s::ControllerOptions options;
  auto set = [&](const char* flag, std::string& target) {
    if (arguments.has(flag)) target = arguments.value(flag);
  };
  set("--namespace", options.ns);
  options.storage_ns = options.ns;
  options.lease.ns = options.ns;
  set("--storage-namespace", options.storage_ns);
  set("--storage-class", options.storage_class);
  set("--staging-storage-class", options.staging_storage_class);
  set("--import-image", options.import_image);
  set("--reviewer-image", options.reviewer_image);
  set("--credentials-secret", options.credentials_secret);
  set("--gateway", options.import_gateway_url);  // import Jobs report their runs there
  if (arguments.has("--rejected-import-retention")) {
#ifdef AIRLOCK_WITH_GATEWAY
    runtime::Result<std::chrono::seconds> retention =
        gateway::parse_duration(arguments.value("--rejected-import-retention"));
    if (!retention) {
      console.err << "error: --rejected-import-retention: " << retention.message() << "\n";
      return kExitUsage;
    }
    options.rejected_import_retention = *retention;
#else
    console.err << "error: --rejected-import-retention needs a build with the gateway\n";
    return kExitUsage;
#endif
  }
  if (arguments.has("--render")) return render(arguments, options, console);
  if (!arguments.positionals().empty()) {
    console.err << "error: data source files are read only with --render DIR\n";
    return kExitUsage;
  }

  runtime::Result<k8s::ClusterConfig> config = cluster_config(arguments);
  if (!config) {
    console.err << "error: " << config.message() << "\n";
    return kExitFailure;
  }
  std::unique_ptr<k8s::GatewayTransferFeed> feed;
  if (arguments.has("--gateway")) {
    std::string token = environment("AIRLOCK_GATEWAY_TOKEN").value_or("");
    auto created = k8s::GatewayTransferFeed::create(arguments.value("--gateway"), token,
                                                    arguments.value("--gateway-token-file"), "");
    if (!created) {
      console.err << "error: " << created.message() << "\n";
      return kExitUsage;
    }
    feed = std::move(*created);
  }
  options.lease.identity =
      arguments.has("--identity") ? arguments.value("--identity") : environment("POD_NAME").value_or("");
  if (options.lease.identity.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    options.lease.identity = std::string(host) + "-" + std::to_string(::getpid());
  }

  k8s::KubeClient client(*config);
  k8s::SystemClock clock;
  k8s::Controller controller(client, feed.get(), clock, options);
  if (arguments.has("--once")) {
    runtime::Status status = controller.run_once();
    if (!status) {
      console.err << "error: " << status.message() << "\n";
      return kExitFailure;
    }
    console.err << "reconciled the data sources in " << options.ns << "\n";
    return kExitOk;
  }

  // SIGINT and SIGTERM are blocked and polled: no handler, no global flag.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> stopping{false};
  auto should_stop = [&] {
    if (stopping.load()) return true;
    timespec zero{0, 0};
    if (sigtimedwait(&signals, nullptr, &zero) > 0) stopping = true;
    return stopping.load();
  };
  console.err << "airlock sync: " << options.lease.identity << " watching " << options.ns << "\n";
  runtime::Status status = controller.run(should_stop);
  if (!status) {
    console.err << "error: " << status.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

CommandSpec sync_command() {
  return CommandSpec{
      .name = "sync",
      .summary = "run the Kubernetes controller (k8s-sync) that materialises approved data in the cluster",
      .synopsis = "airlock sync [--kubeconfig PATH] [--namespace NS] [--once | --render DIR [FILE...]]",
      .description =
          "Watches AnalyticsWorkspaceDataSources and reconciles them: an Import source whose dataState is READY\n"
          "gets a PVC, a credentials Secret and a Job running `airlock import`; an Uploaded source gets a staging\n"
          "PVC and is registered with the gateway; the gateway's decisions come back as status, conditions,\n"
          "reviewer workspaces and AnalyticsWorkspaceDataBindings. Runs with leader election on a Lease.\n"
          "Inside a Pod it uses the service account; otherwise --kubeconfig, $KUBECONFIG or ~/.kube/config.\n"
          "--once reconciles every data source once and exits. --render DIR writes the manifests it would apply\n"
          "(credentials redacted), for the data sources in FILEs or, without FILEs, in the cluster.\n",
      .flags = {{.name = "--kubeconfig", .value_name = "PATH", .help = "kubeconfig to use (its current context)"},
                {.name = "--context", .value_name = "NAME", .help = "kubeconfig context instead of the current one"},
                {.name = "--namespace", .value_name = "NS", .help = "namespace of the data sources (jupyterhub)"},
                {.name = "--storage-namespace",
                 .value_name = "NS",
                 .help = "namespace of PVCs, Secrets, Jobs, reviewer workspaces (--namespace)"},
                {.name = "--storage-class",
                 .value_name = "NAME",
                 .help = "storage class of import PVCs (jupyter-default)"},
                {.name = "--staging-storage-class",
                 .value_name = "NAME",
                 .help = "storage class of upload staging PVCs (jupyter-default)"},
                {.name = "--import-image", .value_name = "IMAGE", .help = "image of the import Job"},
                {.name = "--reviewer-image", .value_name = "IMAGE", .help = "image of reviewer workspaces"},
                {.name = "--credentials-secret",
                 .value_name = "NAME",
                 .help = "Secret holding import credentials (airlock-import-credentials)"},
                {.name = "--gateway", .value_name = "URL", .help = "the gateway, for transfer decisions"},
                {.name = "--gateway-token-file",
                 .value_name = "PATH",
                 .help = "bearer token for the gateway (or $AIRLOCK_GATEWAY_TOKEN)"},
                {.name = "--rejected-import-retention",
                 .value_name = "DURATION",
                 .help = "keep a rejected import's quarantined copy this long, then delete it (30d; 0: keep)"},
                {.name = "--identity", .value_name = "NAME", .help = "leader election identity ($POD_NAME)"},
                {.name = "--once", .value_name = "", .help = "reconcile every data source once and exit"},
                {.name = "--render", .value_name = "DIR", .help = "write the manifests it would apply to DIR"}},
      .positional_name = "FILE",
      .min_positionals = 0,
      .examples = {"airlock sync --render rendered/ examples/k8s/datasource-import.yaml",
                   "airlock sync --kubeconfig ~/.kube/config --namespace jupyterhub --once",
                   "airlock sync --gateway http://airlock-gateway:8080 --gateway-token-file /var/run/airlock/token"},
      .run = run_sync,
  };
}

}  // namespace airlock::cli

#endif  // AIRLOCK_WITH_K8S
