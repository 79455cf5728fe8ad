#include "web/router.h"

namespace sipman::web {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

void Router::Add(std::string_view method, std::string_view pattern, int id) {
  Route route{std::string(method), {}, id};
  for (std::string_view part : Split(pattern)) {
    route.segments.emplace_back(part.starts_with("{") ? "{}" : std::string(part));
  }
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match match;
  std::vector<std::string_view> parts = Split(path);
  for (const Route& route : routes_) {
    if (route.segments.size() != parts.size()) continue;
    std::vector<std::string> params;
    bool same = true;
    for (size_t i = 0; i < parts.size() && same; ++i) {
      if (route.segments[i] == "{}") {
        if (parts[i].empty()) same = false;
        params.emplace_back(parts[i]);
      } else {
        same = route.segments[i] == parts[i];
      }
    }
    if (!same) continue;
    match.path_known = true;
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += route.method;
    if (match.id < 0 && (route.method == method || (method == "HEAD" && route.method == "GET"))) {
      match.id = route.id;
      match.params = std::move(params);
    }
  }
  return match;
}

}  // namespace sipman::web
