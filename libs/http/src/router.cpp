#include "mercato/http/router.hpp"

#include <stdexcept>

namespace mercato::http {
namespace {

// Splits "/a/b/c" into {"a","b","c"}; "/" into {}. A trailing slash is not significant.
template <class Out>
void SplitPath(std::string_view path, Out& out) {
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    if (i >= path.size()) break;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
}

}  // namespace

void Router::Add(Method method, std::string path_template, Handler handler) {
  if (path_template.empty() || path_template[0] != '/') {
    throw std::invalid_argument("route template must start with '/': " + path_template);
  }
  Compiled compiled;
  std::vector<std::string_view> parts;
  SplitPath(path_template, parts);
  for (auto part : parts) {
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      auto name = part.substr(1, part.size() - 2);
      if (name.empty() || name.find_first_of("{}/") != std::string_view::npos) {
        throw std::invalid_argument("bad parameter in route template: " + path_template);
      }
      compiled.segments.push_back({true, std::string(name)});
    } else if (part.find_first_of("{}") != std::string_view::npos) {
      throw std::invalid_argument("braces must enclose a whole segment: " + path_template);
    } else {
      compiled.segments.push_back({false, std::string(part)});
    }
  }
  for (const auto& existing : compiled_) {
    if (existing.route->method != method || existing.segments.size() != compiled.segments.size()) {
      continue;
    }
    bool same = true;
    for (size_t i = 0; i < existing.segments.size() && same; ++i) {
      const auto& a = existing.segments[i];
      const auto& b = compiled.segments[i];
      same = a.is_param == b.is_param && (a.is_param || a.text == b.text);
    }
    if (same) throw std::invalid_argument("duplicate route: " + path_template);
  }
  auto route = std::make_unique<Route>();
  route->method = method;
  route->method_text = std::string(ToString(method));
  route->path_template = std::move(path_template);
  route->handler = std::move(handler);
  compiled.route = route.get();
  routes_.push_back(std::move(route));
  compiled_.push_back(std::move(compiled));
}

Router::Match Router::Find(Method method, std::string_view path) const {
  Match match;
  // Paths are short: a small fixed buffer of segment views avoids an allocation per request.
  std::vector<std::string_view> parts;
  parts.reserve(8);
  SplitPath(path, parts);

  // Score: more literal segments earlier wins ("/items/new" beats "/items/{id}").
  const Compiled* best = nullptr;
  uint64_t best_score = 0;
  for (const auto& c : compiled_) {
    if (c.segments.size() != parts.size()) continue;
    uint64_t score = 0;
    bool ok = true;
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto& seg = c.segments[i];
      if (seg.is_param) {
        score <<= 1;
      } else if (seg.text == parts[i]) {
        score = (score << 1) | 1;
      } else {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (c.route->method != method) {
      bool seen = false;
      for (auto m : match.allowed) seen = seen || m == c.route->method;
      if (!seen) match.allowed.push_back(c.route->method);
      continue;
    }
    if (!best || score > best_score) {
      best = &c;
      best_score = score;
    }
  }
  if (best) {
    match.route = best->route;
    match.allowed.clear();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (best->segments[i].is_param) match.params.emplace_back(best->segments[i].text, parts[i]);
    }
  }
  return match;
}

std::string AllowHeader(const std::vector<Method>& methods) {
  std::string out;
  for (auto m : methods) {
    if (!out.empty()) out += ", ";
    out += ToString(m);
  }
  return out;
}

}  // namespace mercato::http
