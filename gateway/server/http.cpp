#include "http.h"

#include <nlohmann/json.hpp>

namespace airlock::gateway::server {

Response json_response(unsigned status, std::string body, unsigned version, bool keep_alive) {
  Response response{static_cast<http::status>(status), version};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(keep_alive);
  response.body() = std::move(body);
  response.body() += "\n";
  response.prepare_payload();
  return response;
}

Response error_response(unsigned status, std::string_view code, std::string_view message, unsigned version,
                        bool keep_alive) {
  nlohmann::ordered_json body{{"error", code}, {"message", message}};
  return json_response(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), version,
                       keep_alive);
}

Response empty_response(unsigned status, unsigned version, bool keep_alive) {
  Response response{static_cast<http::status>(status), version};
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

bool wants_keep_alive(const RequestHeader& header) {
  auto connection = header.find(http::field::connection);
  if (connection == header.end()) return header.version() >= 11;
  http::token_list tokens(connection->value());
  if (header.version() >= 11) return !tokens.exists("close");
  return tokens.exists("keep-alive");
}

std::string_view target_path(std::string_view target) {
  std::size_t query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

std::string query_parameter(std::string_view target, std::string_view name) {
  std::size_t query = target.find('?');
  if (query == std::string_view::npos) return {};
  std::string_view rest = target.substr(query + 1);
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      std::string value;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        auto hex = [](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
          value.push_back(static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2])));
          i += 2;
        } else if (raw[i] == '+') {
          value.push_back(' ');
        } else {
          value.push_back(raw[i]);
        }
      }
      return value;
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace airlock::gateway::server
