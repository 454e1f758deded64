#include "app/documents.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "mercato/observability/log.hpp"

namespace mercato::catalog::app {

namespace json = boost::json;

namespace {

void Write(std::string& out, const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      out += "null";
      return;
    case json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
    case json::kind::uint64:
      out += json::serialize(value);
      return;
    case json::kind::double_: {
      const double number = value.get_double();
      if (!std::isfinite(number)) {
        out += "null";  // JSON has no NaN or infinity
        return;
      }
      char buffer[32];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), number);
      out.append(buffer, ec == std::errc() ? end : buffer);
      return;
    }
    case json::kind::string:
      out += '"';
      obs::AppendJsonEscaped(out, value.get_string());
      out += '"';
      return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value.get_array()) {
        if (!first) out += ',';
        first = false;
        Write(out, item);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : value.get_object()) {
        if (!first) out += ',';
        first = false;
        out += '"';
        obs::AppendJsonEscaped(out, member.key());
        out += "\":";
        Write(out, member.value());
      }
      out += '}';
      return;
    }
  }
}

json::array Strings(const std::vector<std::string>& items) {
  json::array array;
  array.reserve(items.size());
  for (const auto& item : items) array.emplace_back(item);
  return array;
}

messaging::Event Make(std::string_view type, const std::string& product_id, json::object data,
                      const std::optional<obs::TraceContext>& trace) {
  return messaging::MakeEvent(kEventContext, type, product_id, std::move(data), trace);
}

}  // namespace

std::string Serialize(const json::value& value) {
  std::string out;
  out.reserve(512);
  Write(out, value);
  return out;
}

json::object PriceJson(const domain::Price& price) {
  return json::object{{"amount", price.amount}, {"currency", price.currency}};
}

json::object ProductJson(const domain::Product& p) {
  return json::object{
      {"id", p.id},
      {"sku", p.sku},
      {"name", p.name},
      {"description", p.description},
      {"price", PriceJson(p.price)},
      {"categories", Strings(p.categories)},
      {"images", Strings(p.images)},
      {"attributes", p.attributes},
      {"weight_g", p.weight_g},
      {"rating", json::object{{"average", p.rating.Average()}, {"count", p.rating.count}}},
      {"created_at", FormatRfc3339(p.created_at)},
      {"updated_at", FormatRfc3339(p.updated_at)}};
}

json::object CategoryJson(const domain::Category& c) {
  return json::object{{"id", c.id},
                      {"name", c.name},
                      {"description", c.description},
                      {"created_at", FormatRfc3339(c.created_at)}};
}

json::object ReviewJson(const domain::Review& r) {
  return json::object{{"id", r.id},
                      {"product_id", r.product_id},
                      {"user_id", r.user_id},
                      {"rating", r.rating},
                      {"title", r.title},
                      {"body", r.body},
                      {"created_at", FormatRfc3339(r.created_at)}};
}

json::object ListJson(json::array items, std::int64_t page, std::int64_t page_size,
                      std::int64_t total) {
  return json::object{
      {"items", std::move(items)}, {"page", page}, {"page_size", page_size}, {"total", total}};
}

std::string ETagOf(const domain::Product& product) {
  return "\"" + std::to_string(product.version) + "\"";
}

messaging::Event ProductCreatedEvent(const domain::Product& p,
                                     const std::optional<obs::TraceContext>& trace) {
  return Make("ProductCreated", p.id,
              json::object{{"product_id", p.id},
                           {"sku", p.sku},
                           {"name", p.name},
                           {"price", PriceJson(p.price)},
                           {"categories", Strings(p.categories)},
                           {"created_at", FormatRfc3339(p.created_at)}},
              trace);
}

messaging::Event ProductUpdatedEvent(const domain::Product& p,
                                     const std::optional<obs::TraceContext>& trace) {
  return Make("ProductUpdated", p.id,
              json::object{{"product_id", p.id},
                           {"name", p.name},
                           {"price", PriceJson(p.price)},
                           {"categories", Strings(p.categories)},
                           {"updated_at", FormatRfc3339(p.updated_at)}},
              trace);
}

messaging::Event PriceChangedEvent(const domain::Product& before, const domain::Product& after,
                                   const std::optional<obs::TraceContext>& trace) {
  return Make("PriceChanged", after.id,
              json::object{{"product_id", after.id},
                           {"old_price", PriceJson(before.price)},
                           {"new_price", PriceJson(after.price)},
                           {"changed_at", FormatRfc3339(after.updated_at)}},
              trace);
}

messaging::Event ProductDeletedEvent(const std::string& product_id, WallTime deleted_at,
                                     const std::optional<obs::TraceContext>& trace) {
  return Make("ProductDeleted", product_id,
              json::object{{"product_id", product_id}, {"deleted_at", FormatRfc3339(deleted_at)}},
              trace);
}

messaging::Event ReviewAddedEvent(const domain::Review& review, const domain::Rating& rating,
                                  const std::optional<obs::TraceContext>& trace) {
  return Make("ReviewAdded", review.product_id,
              json::object{{"product_id", review.product_id},
                           {"review_id", review.id},
                           {"user_id", review.user_id},
                           {"rating", review.rating},
                           {"rating_average", rating.Average()},
                           {"rating_count", rating.count}},
              trace);
}

}  // namespace mercato::catalog::app
