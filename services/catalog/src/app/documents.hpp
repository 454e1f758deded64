// What the catalog says about its data: the JSON documents of the API (api/openapi.yaml) and the
// integration events it publishes (contracts/events/catalog.*.json). Kept in one place so the
// handlers, the cache and the outbox all speak the same shapes.
//
//   std::string body = app::Serialize(app::ProductJson(product));   // numbers as people write them
//   auto event = app::ProductCreatedEvent(product, ctx.trace());    // for messaging::Enqueue
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "domain/product.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/observability/trace.hpp"

namespace mercato::catalog::app {

// JSON text like boost::json::serialize, except that floating-point numbers are written in their
// shortest plain form (3.15, not 3.15E0): the API's rating averages are read by people too.
std::string Serialize(const boost::json::value& value);

boost::json::object PriceJson(const domain::Price& price);
// {id, sku, name, description, price, categories, images, attributes, weight_g,
//  rating: {average, count}, created_at, updated_at}
boost::json::object ProductJson(const domain::Product& product);
boost::json::object CategoryJson(const domain::Category& category);
boost::json::object ReviewJson(const domain::Review& review);
// {"items": [...], "page": N, "page_size": N, "total": N}
boost::json::object ListJson(boost::json::array items, std::int64_t page, std::int64_t page_size,
                             std::int64_t total);

// The product's strong ETag: its version, quoted ("\"7\""). Every change bumps the version.
std::string ETagOf(const domain::Product& product);

// The integration events (CloudEvents subject = product id), each matching its contract.
inline constexpr std::string_view kEventContext = "catalog";
messaging::Event ProductCreatedEvent(const domain::Product& product,
                                     const std::optional<obs::TraceContext>& trace);
messaging::Event ProductUpdatedEvent(const domain::Product& product,
                                     const std::optional<obs::TraceContext>& trace);
messaging::Event PriceChangedEvent(const domain::Product& before, const domain::Product& after,
                                   const std::optional<obs::TraceContext>& trace);
messaging::Event ProductDeletedEvent(const std::string& product_id, WallTime deleted_at,
                                     const std::optional<obs::TraceContext>& trace);
messaging::Event ReviewAddedEvent(const domain::Review& review, const domain::Rating& rating,
                                  const std::optional<obs::TraceContext>& trace);

}  // namespace mercato::catalog::app
