// The review API (being written).
#include "service.h"

namespace airlock::gateway::server {

std::optional<Response> Service::handle_reviews(const RequestHeader& header, const std::string& body,
                                                const Principal& principal) {
  (void)header;
  (void)body;
  (void)principal;
  return std::nullopt;
}

}  // namespace airlock::gateway::server
