// The web pages (replaced by the web helper).
#include "service.h"

namespace airlock::gateway::server {

std::optional<Response> Service::handle_web(const RequestHeader& header) {
  (void)header;
  return std::nullopt;
}

}  // namespace airlock::gateway::server
