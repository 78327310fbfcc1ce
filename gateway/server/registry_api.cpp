// Data source registration and import reports (being written).
#include "service.h"

namespace airlock::gateway::server {

std::optional<Response> Service::handle_registry(const RequestHeader& header, const std::string& body,
                                                 const Principal& principal) {
  (void)header;
  (void)body;
  (void)principal;
  return std::nullopt;
}

}  // namespace airlock::gateway::server
