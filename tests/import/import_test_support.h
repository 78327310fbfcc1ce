// Shared by the import tests: temporary directories, a test CA and server certificate made with OpenSSL, a
// local HTTPS server on Beast, running the real `airlock` binary, and a throwaway PostgreSQL server.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace airlock::import_test {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_file(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "airlock-import-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every regular file under `root`, relative, sorted.
inline std::vector<std::string> files_under(const fs::path& root) {
  std::vector<std::string> files;
  std::error_code error;
  if (!fs::exists(root, error)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root, error)) {
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), root).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// --- certificates ---------------------------------------------------------------------------------------------
struct TestPki {
  std::string ca_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
};

inline std::string pem_of(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, certificate);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return pem;
}

inline std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return pem;
}

inline void add_extension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

inline X509* make_certificate(EVP_PKEY* key, EVP_PKEY* signer, X509* issuer, const char* common_name, bool ca,
                              long serial) {
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), serial);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 86400);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(certificate, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* context_issuer = issuer != nullptr ? issuer : certificate;
  if (ca) {
    add_extension(certificate, context_issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(certificate, context_issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(certificate, context_issuer, NID_subject_key_identifier, "hash");
  } else {
    add_extension(certificate, context_issuer, NID_basic_constraints, "CA:FALSE");
    add_extension(certificate, context_issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_extension(certificate, context_issuer, NID_ext_key_usage, "serverAuth");
  }
  X509_sign(certificate, signer, EVP_sha256());
  return certificate;
}

// A fresh CA and a server certificate for localhost and 127.0.0.1 signed by it.
inline TestPki make_test_pki() {
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  EVP_PKEY* server_key = EVP_EC_gen("P-256");
  X509* ca = make_certificate(ca_key, ca_key, nullptr, "Airlock import test CA", true, 1);
  X509* server = make_certificate(server_key, ca_key, ca, "localhost", false, 2);
  TestPki pki{pem_of(ca), pem_of(server), pem_of(server_key)};
  X509_free(server);
  X509_free(ca);
  EVP_PKEY_free(server_key);
  EVP_PKEY_free(ca_key);
  return pki;
}

// --- a local HTTPS server ---------------------------------------------------------------------------------------
struct TestResponse {
  int status = 200;
  std::string content_type = "application/octet-stream";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Sends the full Content-Length but only this many body bytes, then drops the connection (no TLS close).
  std::size_t cut_after = std::string::npos;
};

using TestRequest = http::request<http::string_body>;
using TestHandler = std::function<TestResponse(const TestRequest&)>;

class TlsTestServer {
 public:
  TlsTestServer(const TestPki& pki, TestHandler handler)
      : tls_(ssl::context::tls_server), acceptor_(context_), handler_(std::move(handler)) {
    tls_.use_certificate_chain(net::buffer(pki.server_cert_pem));
    tls_.use_private_key(net::buffer(pki.server_key_pem), ssl::context::pem);
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~TlsTestServer() {
    stopping_ = true;
    beast::error_code ignored;
    tcp::socket poke(context_);
    poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ignored);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const {
    return "https://localhost:" + std::to_string(port_) + std::string(path);
  }
  std::vector<std::string> targets() const {
    std::lock_guard lock(mutex_);
    return targets_;
  }

 private:
  void serve() {
    while (!stopping_) {
      tcp::socket socket(context_);
      beast::error_code error;
      acceptor_.accept(socket, error);
      if (stopping_) return;
      if (error) continue;
      handle(std::move(socket));
    }
  }

  void handle(tcp::socket socket) {
    beast::error_code error;
    beast::ssl_stream<tcp::socket> stream(std::move(socket), tls_);
    stream.handshake(ssl::stream_base::server, error);
    if (error) return;
    beast::flat_buffer buffer;
    TestRequest request;
    http::read(stream, buffer, request, error);
    if (error) return;
    {
      std::lock_guard lock(mutex_);
      targets_.push_back(std::string(request.target()));
    }
    TestResponse response = handler_(request);
    std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                       std::string(http::obsolete_reason(static_cast<http::status>(response.status))) + "\r\n";
    head += "Content-Type: " + response.content_type + "\r\n";
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    net::write(stream, net::buffer(head), error);
    std::size_t send = std::min(response.cut_after, response.body.size());
    if (!error) net::write(stream, net::buffer(response.body.data(), send), error);
    if (response.cut_after != std::string::npos) {
      stream.next_layer().close(error);  // abruptly: no close_notify, fewer bytes than promised
      return;
    }
    stream.shutdown(error);
  }

  net::io_context context_;
  ssl::context tls_;
  tcp::acceptor acceptor_;
  TestHandler handler_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> targets_;
  std::thread thread_;
};

// --- processes -----------------------------------------------------------------------------------------------
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

inline CommandResult run_command(const std::vector<std::string>& arguments, const fs::path& scratch,
                                 const std::string& environment = "") {
  std::string command = environment;
  for (const std::string& argument : arguments) command += " " + shell_quote(argument);
  fs::path out = scratch / "command.out";
  fs::path err = scratch / "command.err";
  command += " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string()) + " </dev/null";
  int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

// Policies as the standard library has them, with `localhost` added to the trusted source domains so that
// local test servers are judged by the real rules.
inline bool write_test_policies(const fs::path& directory) {
  fs::path standard = fs::path(AIRLOCK_SOURCE_DIR) / "policies";
  for (const char* name : {"ingress.policy", "archives.policy"}) {
    write_file(directory / name, read_file(standard / name));
  }
  std::string imports = read_file(standard / "imports.policy");
  const std::string from = R"(let trusted_domains = ["xlscsde.nhs.uk", "digital.nhs.uk"])";
  std::size_t at = imports.find(from);
  if (at == std::string::npos) return false;
  imports.replace(at, from.size(), R"(let trusted_domains = ["xlscsde.nhs.uk", "digital.nhs.uk", "localhost"])");
  write_file(directory / "imports.policy", imports);
  return true;
}

// --- PostgreSQL ------------------------------------------------------------------------------------------------
inline fs::path postgres_bin_dir() {
  std::error_code error;
  fs::path root = "/usr/lib/postgresql";
  if (!fs::exists(root, error)) return {};
  std::vector<fs::path> candidates;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    if (fs::exists(entry.path() / "bin" / "initdb") && fs::exists(entry.path() / "bin" / "pg_ctl")) {
      candidates.push_back(entry.path() / "bin");
    }
  }
  std::sort(candidates.begin(), candidates.end());
  return candidates.empty() ? fs::path() : candidates.back();
}

inline std::uint16_t free_port() {
  net::io_context context;
  tcp::acceptor acceptor(context, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// initdb into a temporary directory (as the postgres user when we are root), password authentication,
// a unix socket in that directory and a free TCP port on 127.0.0.1.
class PostgresServer {
 public:
  static constexpr const char* kUser = "airlock";
  static constexpr const char* kPassword = "s3cret-pg-password";

  explicit PostgresServer(fs::path bin) : bin_(std::move(bin)) {}
  ~PostgresServer() { stop(); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Empty on success, else what went wrong (with the server's log).
  std::string start() {
    port_ = free_port();
    fs::path root = dir_.path();
    fs::path pwfile = root / "pwfile";
    write_file(pwfile, std::string(kPassword) + "\n");
    std::string as_user;
    if (::geteuid() == 0) {
      struct passwd* postgres = ::getpwnam("postgres");
      if (postgres == nullptr) return "running as root and there is no postgres user";
      if (::chown(root.c_str(), postgres->pw_uid, postgres->pw_gid) != 0 ||
          ::chown(pwfile.c_str(), postgres->pw_uid, postgres->pw_gid) != 0) {
        return "cannot hand the temporary directory to postgres";
      }
      as_user = "runuser -u postgres --";
    }
    CommandResult init =
        run_command({(bin_ / "initdb").string(), "-D", (root / "data").string(), "-U", kUser, "--auth=scram-sha-256",
                     "--pwfile=" + pwfile.string(), "-E", "UTF8", "--no-sync", "--locale=C"},
                    scratch_.path(), as_user);
    if (init.exit_code != 0) return "initdb failed: " + init.out + init.err;
    std::string options = "-p " + std::to_string(port_) + " -k " + root.string() +
                          " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off";
    CommandResult started = run_command({(bin_ / "pg_ctl").string(), "-D", (root / "data").string(), "-o", options,
                                         "-l", (root / "server.log").string(), "-w", "-t", "60", "start"},
                                        scratch_.path(), as_user);
    if (started.exit_code != 0)
      return "pg_ctl start failed: " + started.out + started.err + read_file(root / "server.log");
    as_user_ = as_user;
    running_ = true;
    return "";
  }

  void stop() {
    if (!running_) return;
    running_ = false;
    (void)run_command({(bin_ / "pg_ctl").string(), "-D", (dir_.path() / "data").string(), "-m", "fast", "-w", "stop"},
                      scratch_.path(), as_user_);
  }

  // Runs SQL with psql over TCP as the test user; the exit code and output.
  CommandResult psql(const std::string& database, const std::string& sql) {
    fs::path script = scratch_.path() / "script.sql";
    write_file(script, sql);
    return run_command({(bin_ / "psql").string(), url(database), "-v", "ON_ERROR_STOP=1", "-q", "-f", script.string()},
                       scratch_.path(), std::string("PGPASSWORD=") + kPassword);
  }

  std::string url(const std::string& database) const {
    return "postgresql://" + std::string(kUser) + "@localhost:" + std::to_string(port_) + "/" + database;
  }
  std::uint16_t port() const { return port_; }
  std::string log() const { return read_file(dir_.path() / "server.log"); }

 private:
  fs::path bin_;
  TempDir dir_;
  TempDir scratch_;
  std::uint16_t port_ = 0;
  bool running_ = false;
  std::string as_user_;
};

}  // namespace airlock::import_test
