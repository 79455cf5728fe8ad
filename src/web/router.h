// Private to web/: maps (method, path) to a route id. Patterns are literal
// segments and "{name}" placeholders ("/api/v1/calls/{id}/pcap").
#ifndef SIPMAN_WEB_ROUTER_H_
#define SIPMAN_WEB_ROUTER_H_

#include <string>
#include <string_view>
#include <vector>

namespace sipman::web {

class Router {
 public:
  struct Match {
    int id = -1;            // the route, or -1
    bool path_known = false;  // some route has this path (405 when id is -1)
    std::string allow;      // methods of that path, for Allow:
    std::vector<std::string> params;  // placeholder values in order (not decoded)
  };

  void Add(std::string_view method, std::string_view pattern, int id);
  // HEAD matches GET routes.
  Match Find(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{}" for a placeholder
    int id;
  };
  std::vector<Route> routes_;
};

}  // namespace sipman::web

#endif  // SIPMAN_WEB_ROUTER_H_
