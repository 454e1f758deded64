// Events as CloudEvents 1.0 in JSON structured mode: the envelope every Mercato event travels in,
// on the bus and in the outbox. The `traceparent` extension carries the trace across the bus.
//
//   auto event = messaging::MakeEvent("orders", "OrderConfirmed", order.id,
//                                     boost::json::object{{"order_id", order.id}}, ctx.trace());
//   event.subject_name();        // "orders.OrderConfirmed": the NATS subject
//   std::string wire = messaging::Serialize(event);
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"
#include "mercato/observability/trace.hpp"

namespace mercato::messaging {

inline constexpr std::string_view kTypePrefix = "mercato.";

struct Event {
  std::string id;           // UUIDv7; also the broker's Nats-Msg-Id and the inbox key
  std::string type;         // "mercato.orders.OrderConfirmed"
  std::string source;       // the bounded context: "orders"
  std::string subject;      // the aggregate id
  std::string time;         // RFC 3339 UTC
  std::string traceparent;  // W3C; empty when the producer had no trace
  boost::json::value data;  // the payload (amounts as integer minor units + currency)

  // "orders.OrderConfirmed": <context>.<EventType>, the NATS subject it is published on.
  std::string subject_name() const;
  // "OrderConfirmed"
  std::string_view short_type() const;
};

// A new event with a fresh id and the current time; the trace, when given, is continued as a
// child span context so consumers join the producer's trace.
Event MakeEvent(std::string_view context, std::string_view event_type, std::string aggregate_id,
                boost::json::value data, const std::optional<obs::TraceContext>& trace = std::nullopt,
                const Clock& clock = Clock::Real());

std::string Serialize(const Event& event);
// Validates the CloudEvents envelope (specversion 1.0, required attributes, mercato type prefix,
// datacontenttype application/json); invalid_argument naming the offending attribute otherwise.
Result<Event> Parse(std::string_view json);

}  // namespace mercato::messaging
