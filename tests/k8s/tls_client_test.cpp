// The Kubernetes client over TLS: a test API endpoint with a CA made by the test, the server's certificate checked
// against the kubeconfig's CA and its name, and the client authenticated by the certificate the kubeconfig names.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "airlock/k8s/client.h"

namespace airlock::k8s::testing {
namespace {

namespace fs = std::filesystem;

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl command.
class Certificates {
 public:
  explicit Certificates(const std::string& name) {
    dir_ = fs::temp_directory_path() / ("airlock-k8s-tls-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ok_ = make_ca("ca") && make_ca("other-ca") && make_leaf("server", "ca", "127.0.0.1", "IP:127.0.0.1") &&
          make_leaf("client", "ca", "airlock-k8s-sync", "") &&
          make_leaf("stranger", "other-ca", "airlock-k8s-sync", "");
  }
  ~Certificates() { fs::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string path(const std::string& file) const { return (dir_ / file).string(); }

 private:
  bool make_ca(const std::string& name) {
    return run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + name + " -keyout " +
               path(name + ".key") + " -out " + path(name + ".crt")) == 0;
  }
  bool make_leaf(const std::string& name, const std::string& ca, const std::string& cn, const std::string& san) {
    std::string extensions = path(name + ".ext");
    std::ofstream(extensions) << (san.empty() ? "extendedKeyUsage=clientAuth\n"
                                              : "subjectAltName=" + san + "\nextendedKeyUsage=serverAuth\n");
    return run("openssl req -newkey rsa:2048 -nodes -subj /CN=" + cn + " -keyout " + path(name + ".key") + " -out " +
               path(name + ".csr")) == 0 &&
           run("openssl x509 -req -days 2 -in " + path(name + ".csr") + " -CA " + path(ca + ".crt") + " -CAkey " +
               path(ca + ".key") + " -CAcreateserial -extfile " + extensions + " -out " + path(name + ".crt")) == 0;
  }

  fs::path dir_;
  bool ok_ = false;
};

// Answers each request over TLS (client certificate required, checked against the CA) with the client's common
// name and the path, as JSON.
class TlsEndpoint {
 public:
  explicit TlsEndpoint(const Certificates& certificates) {
    context_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(context_, certificates.path("server.crt").c_str());
    SSL_CTX_use_PrivateKey_file(context_, certificates.path("server.key").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_load_verify_locations(context_, certificates.path("ca.crt").c_str(), nullptr);
    SSL_CTX_set_verify(context_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 8);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TlsEndpoint() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(context_);
  }
  int port() const { return port_; }
  int handshakes_refused() const { return refused_.load(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) continue;
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      SSL* ssl = SSL_new(context_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        answer(ssl);
      } else {
        ++refused_;
      }
      SSL_free(ssl);
      ::close(fd);
    }
  }
  void answer(SSL* ssl) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      int n = SSL_read(ssl, buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    std::string path = request.substr(request.find(' ') + 1);
    path = path.substr(0, path.find(' '));
    std::string common_name;
    if (X509* peer = SSL_get_peer_certificate(ssl)) {
      char name[256] = {0};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof name);
      common_name = name;
      X509_free(peer);
    }
    std::string body = nlohmann::json{{"kind", "Status"}, {"client", common_name}, {"path", path}}.dump();
    std::string response =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    SSL_write(ssl, response.data(), static_cast<int>(response.size()));
    SSL_shutdown(ssl);
  }

  SSL_CTX* context_ = nullptr;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> refused_{0};
  std::thread thread_;
};

std::string kubeconfig(const Certificates& certificates, int port, const std::string& ca, const std::string& client) {
  std::string path = certificates.path("kubeconfig-" + ca + "-" + client);
  std::ofstream(path) << "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: test\n  cluster:\n"
                      << "    server: https://127.0.0.1:" << port << "\n    certificate-authority: " << ca
                      << ".crt\nusers:\n- name: sync\n  user:\n"
                      << (client.empty()
                              ? "    token: no-certificate\n"
                              : "    client-certificate: " + client + ".crt\n    client-key: " + client + ".key\n")
                      << "contexts:\n- name: test\n  context: {cluster: test, user: sync, namespace: jupyterhub}\n";
  return path;
}

TEST(KubeClientTls, AuthenticatesWithTheKubeconfigsClientCertificateAndTrustsItsCa) {
  Certificates certificates("trusted");
  ASSERT_TRUE(certificates.ok());
  TlsEndpoint endpoint(certificates);
  runtime::Result<ClusterConfig> config = load_kubeconfig(kubeconfig(certificates, endpoint.port(), "ca", "client"));
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->scheme, "https");
  KubeClient client(*config, std::chrono::seconds(10));
  ApiResponse response = client.get("/api/v1/namespaces/jupyterhub/secrets");
  ASSERT_TRUE(response.ok()) << response.describe();
  EXPECT_EQ(response.body["client"], "airlock-k8s-sync");
  EXPECT_EQ(response.body["path"], "/api/v1/namespaces/jupyterhub/secrets");
  EXPECT_EQ(endpoint.handshakes_refused(), 0);
}

TEST(KubeClientTls, RefusesAServerWhoseCertificateAnotherCaSigned) {
  Certificates certificates("wrong-ca");
  ASSERT_TRUE(certificates.ok());
  TlsEndpoint endpoint(certificates);
  runtime::Result<ClusterConfig> config =
      load_kubeconfig(kubeconfig(certificates, endpoint.port(), "other-ca", "client"));
  ASSERT_TRUE(config) << config.message();
  KubeClient client(*config, std::chrono::seconds(10));
  ApiResponse response = client.get("/api/v1/namespaces");
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
  EXPECT_TRUE(response.body.is_null());
}

TEST(KubeClientTls, TheServerRefusesAClientWithoutATrustedCertificate) {
  Certificates certificates("client-cert");
  ASSERT_TRUE(certificates.ok());
  TlsEndpoint endpoint(certificates);
  for (const std::string& client : {std::string(), std::string("stranger")}) {
    runtime::Result<ClusterConfig> config = load_kubeconfig(kubeconfig(certificates, endpoint.port(), "ca", client));
    ASSERT_TRUE(config) << config.message();
    KubeClient kube(*config, std::chrono::seconds(10));
    ApiResponse response = kube.get("/api/v1/namespaces");
    EXPECT_FALSE(response.ok()) << client;
    EXPECT_FALSE(response.body.is_object() && response.body.contains("client")) << client;
  }
  EXPECT_GE(endpoint.handshakes_refused(), 2);
}

}  // namespace
}  // namespace airlock::k8s::testing
