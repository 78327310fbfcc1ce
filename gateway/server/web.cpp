// The web pages: `/` redirects to `/ui/`, `/ui/...` answers the HTML shell of each page (the page itself is
// built in the browser by /assets/app.js from the JSON API), `/assets/NAME` the embedded static files
// (web_assets.h). Nothing here needs a principal: the pages hold no data, the API they call checks who asks.
// Every answer carries a strict Content-Security-Policy (no inline script or style, nothing from another
// origin, no framing) and the other security headers. docs/web.md describes the pages.
#include <algorithm>
#include <array>

#include "service.h"
#include "web_assets.h"

namespace airlock::gateway::server {
namespace {

// Scripts, styles, images and API calls from this origin only; no inline code, no plugins, no <base>, no
// framing, forms post only here.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

struct Page {
  std::string_view name;   // data-page of the shell: which module app.js runs
  std::string_view title;  // the document's title until the page sets a more precise one
};

bool is_transfer_id(std::string_view id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The page a /ui path shows, or nullopt (404).
std::optional<Page> page_for(std::string_view path) {
  if (path == "/ui/") return Page{"upload", "Upload files"};
  if (path == "/ui/transfers") return Page{"transfers", "My transfers"};
  if (path == "/ui/reviews") return Page{"queue", "Reviews"};
  if (path == "/ui/sign-in") return Page{"sign-in", "Sign in"};
  if (path.starts_with("/ui/transfers/") && is_transfer_id(path.substr(14))) return Page{"transfer", "Transfer"};
  if (path.starts_with("/ui/reviews/") && is_transfer_id(path.substr(12))) return Page{"case", "Review case"};
  return std::nullopt;
}

std::string_view content_type_for(std::string_view name) {
  constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kTypes{{
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (name.ends_with(extension)) return type;
  }
  return "application/octet-stream";
}

const WebAsset* find_asset(std::string_view name) {
  for (const WebAsset& asset : web_assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

void set_security_headers(Response& response) {
  response.set("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "same-origin");
  response.set("X-Frame-Options", "DENY");
  response.set("Cross-Origin-Opener-Policy", "same-origin");
  response.set("Cross-Origin-Resource-Policy", "same-origin");
  response.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()");
}

// Whether If-None-Match names `etag` (a list, weak or strong, or "*").
bool etag_matches(const RequestHeader& header, std::string_view etag) {
  auto it = header.find(http::field::if_none_match);
  if (it == header.end()) return false;
  std::string_view list = it->value();
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// 200 with `body` (its headers only for HEAD), or 304 when the client holds this version.
Response static_response(const RequestHeader& header, std::string_view body, std::string_view content_type,
                         const std::string& etag) {
  bool keep_alive = wants_keep_alive(header);
  bool not_modified = etag_matches(header, etag);
  Response response{not_modified ? http::status::not_modified : http::status::ok, header.version()};
  set_security_headers(response);
  response.set(http::field::etag, etag);
  // Names are not versioned: the browser revalidates every time, which costs a 304 on a loaded page.
  response.set(http::field::cache_control, "no-cache");
  response.keep_alive(keep_alive);
  if (not_modified) return response;
  response.set(http::field::content_type, std::string(content_type));
  if (header.method() == http::verb::head) {
    response.content_length(body.size());
  } else {
    response.body() = std::string(body);
    response.prepare_payload();
  }
  return response;
}

Response not_found_page(const RequestHeader& header) {
  Response response{http::status::not_found, header.version()};
  set_security_headers(response);
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(wants_keep_alive(header));
  std::string body =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Page not found - Airlock</title>"
      "<link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><main id=\"main\" class=\"narrow\">"
      "<h1>Page not found</h1><p>There is no page at this address.</p>"
      "<p><a href=\"/ui/\">Upload files</a> &middot; <a href=\"/ui/transfers\">My transfers</a> &middot; "
      "<a href=\"/ui/reviews\">Reviews</a></p></main></body></html>\n";
  if (header.method() == http::verb::head) {
    response.content_length(body.size());
  } else {
    response.body() = std::move(body);
    response.prepare_payload();
  }
  return response;
}

// The shell with its page name and title filled in. The title is a fixed string of ours, never request data.
std::string shell_for(std::string_view shell, const Page& page) {
  std::string out(shell);
  auto replace = [&out](std::string_view placeholder, std::string_view value) {
    for (std::size_t at = out.find(placeholder); at != std::string::npos;
         at = out.find(placeholder, at + value.size())) {
      out.replace(at, placeholder.size(), value);
    }
  };
  replace("@PAGE@", page.name);
  replace("@TITLE@", page.title);
  return out;
}

}  // namespace

std::optional<Response> Service::handle_web(const RequestHeader& header) {
  std::string_view path = target_path(header.target());
  bool ours = path == "/" || path == "/ui" || path.starts_with("/ui/") || path.starts_with("/assets/");
  if (!ours) return std::nullopt;

  unsigned version = header.version();
  bool keep_alive = wants_keep_alive(header);
  http::verb method = header.method();
  if (method != http::verb::get && method != http::verb::head) {
    Response response = error_response(405, "method_not_allowed", "use GET", version, keep_alive);
    response.set(http::field::allow, "GET, HEAD");
    set_security_headers(response);
    return response;
  }

  if (path == "/" || path == "/ui") {
    Response response{http::status::found, version};
    response.set(http::field::location, "/ui/");
    response.set(http::field::cache_control, "no-store");
    set_security_headers(response);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    return response;
  }

  if (path.starts_with("/assets/")) {
    std::string_view name = path.substr(8);
    const WebAsset* asset = name.ends_with(".html") ? nullptr : find_asset(name);
    if (asset == nullptr) {
      Response response = error_response(404, "not_found", "no such asset", version, keep_alive);
      set_security_headers(response);
      return response;
    }
    return static_response(header, asset->bytes, content_type_for(name), "\"" + std::string(asset->sha256) + "\"");
  }

  std::optional<Page> page = page_for(path);
  const WebAsset* shell = find_asset("shell.html");
  if (!page || shell == nullptr) return not_found_page(header);
  std::string etag = "\"" + std::string(shell->sha256.substr(0, 32)) + "-" + std::string(page->name) + "\"";
  return static_response(header, shell_for(shell->bytes, *page), "text/html; charset=utf-8", etag);
}

}  // namespace airlock::gateway::server
