// Routes requests by method and path template. Templates are literal segments and `{name}`
// parameters ("/orders/{id}/items/{product_id}"); a literal segment beats a parameter at the same
// position. A path that matches no template is 404; one that matches with another method is 405
// with `Allow`. Metrics are keyed by the template, never by the raw path.
//
//   router.Add(http::Method::kGet, "/items/{id}", [this](http::RequestContext& ctx) {
//     return GetItem(ctx);
//   });
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/task.hpp"
#include "mercato/http/request_context.hpp"
#include "mercato/http/response.hpp"

namespace mercato::http {

using Handler = std::function<Task<Response>(RequestContext&)>;

class Router {
 public:
  struct Route {
    Method method;
    std::string method_text;  // for kOther
    std::string path_template;
    Handler handler;
    void* user_data = nullptr;  // the server keeps per-route metric handles here
  };

  struct Match {
    const Route* route = nullptr;                  // null: no route for this method and path
    std::vector<RequestContext::Field> params;     // views into the template and the path
    std::vector<Method> allowed;                   // when the path matched other methods (405)
  };

  // Throws std::invalid_argument on a malformed template or a duplicate (method, template).
  void Add(Method method, std::string path_template, Handler handler);

  Match Find(Method method, std::string_view path) const;

  std::vector<std::unique_ptr<Route>>& routes() { return routes_; }
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  struct Segment {
    bool is_param;
    std::string text;  // literal text, or the parameter name
  };
  struct Compiled {
    std::vector<Segment> segments;
    Route* route;
  };
  std::vector<std::unique_ptr<Route>> routes_;
  std::vector<Compiled> compiled_;
};

std::string AllowHeader(const std::vector<Method>& methods);

}  // namespace mercato::http
