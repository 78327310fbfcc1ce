// The gateway's network service: HTTP/1.1 (optionally TLS), tus 1.0.0 resumable uploads, the transfer API,
// health and metrics. No Beast or Asio here: the implementation lives in gateway/server/.
#pragma once

#include <string>

#include "airlock/gateway/config.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway {

struct ServerOptions {
  Config config;
  // When set, the bound address ("127.0.0.1:41234") is written here once the server listens, so a
  // test or a script that asked for port 0 learns the port without parsing logs.
  std::string port_file;
};

// Opens the state store and the file store under config.data_dir, compiles the policies under
// config.policies_dir, listens, and serves until SIGTERM or SIGINT. Then it stops accepting, lets
// in-flight requests finish for config.shutdown_grace, checkpoints the uploads still running (their
// received bytes are synced and their offsets stored) and returns 0. An error before serving (bad
// policies, a port in use, an unreadable certificate) is returned as an Error naming its cause.
runtime::Result<int> run_server(const ServerOptions& options);

}  // namespace airlock::gateway
