#include "mercato/messaging/event.hpp"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "mercato/core/id.hpp"

namespace mercato::messaging {
namespace {

namespace json = boost::json;

constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

WallTime At(std::string_view rfc3339) {
  WallTime t;
  EXPECT_TRUE(ParseRfc3339(rfc3339, t)) << rfc3339;
  return t;
}

json::value ItemData() {
  return json::object{{"item_id", "it-1"},
                      {"name", "Mug"},
                      {"price", json::object{{"amount", 1299}, {"currency", "EUR"}}}};
}

Event FixedEvent() {
  Event event;
  event.id = "01936a4e-7c1f-7a3b-9d2e-5f0a1b2c3d4e";
  event.type = "mercato.orders.OrderConfirmed";
  event.source = "orders";
  event.subject = "ord-1";
  event.time = "2026-11-25T19:03:17.123Z";
  event.traceparent = kTraceparent;
  event.data = json::object{{"order_id", "ord-1"}};
  return event;
}

// A valid envelope as a JSON object, for tests to break one attribute at a time.
json::object ValidEnvelope() { return json::parse(Serialize(FixedEvent())).as_object(); }

TEST(Event, MakeEventFillsTheEnvelope) {
  FakeClock clock;
  clock.SetWall(At("2026-11-25T19:03:17.123Z"));

  Event event = MakeEvent("hello", "ItemUpdated", "it-1", ItemData(), std::nullopt, clock);

  EXPECT_TRUE(IsUuid(event.id)) << event.id;
  EXPECT_EQ(event.id[14], '7') << "UUIDv7 expected: " << event.id;
  EXPECT_EQ(event.type, "mercato.hello.ItemUpdated");
  EXPECT_EQ(event.source, "hello");
  EXPECT_EQ(event.subject, "it-1");
  EXPECT_EQ(event.time, "2026-11-25T19:03:17.123Z");
  EXPECT_EQ(event.traceparent, "");
  EXPECT_EQ(event.data, ItemData());
}

TEST(Event, MakeEventGivesEachEventANewId) {
  FakeClock clock;
  Event first = MakeEvent("orders", "OrderConfirmed", "ord-1", nullptr, std::nullopt, clock);
  Event second = MakeEvent("orders", "OrderConfirmed", "ord-1", nullptr, std::nullopt, clock);
  EXPECT_NE(first.id, second.id);
}

TEST(Event, MakeEventContinuesTheTraceWithANewSpan) {
  auto trace = obs::TraceContext::Parse(kTraceparent);
  ASSERT_TRUE(trace);

  Event event = MakeEvent("orders", "OrderConfirmed", "ord-1", nullptr, trace);

  auto carried = obs::TraceContext::Parse(event.traceparent);
  ASSERT_TRUE(carried) << event.traceparent;
  EXPECT_EQ(carried->TraceIdHex(), trace->TraceIdHex());
  EXPECT_NE(carried->SpanIdHex(), trace->SpanIdHex());
  EXPECT_EQ(carried->flags, trace->flags);
}

TEST(Event, NamesItsSubjectAndShortType) {
  Event event = FixedEvent();
  EXPECT_EQ(event.subject_name(), "orders.OrderConfirmed");
  EXPECT_EQ(event.short_type(), "OrderConfirmed");
}

TEST(Event, SerializesToStructuredModeInArchitectureOrder) {
  EXPECT_EQ(Serialize(FixedEvent()),
            R"({"specversion":"1.0","id":"01936a4e-7c1f-7a3b-9d2e-5f0a1b2c3d4e",)"
            R"("type":"mercato.orders.OrderConfirmed","source":"orders","subject":"ord-1",)"
            R"("time":"2026-11-25T19:03:17.123Z",)"
            R"("traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",)"
            R"("datacontenttype":"application/json","data":{"order_id":"ord-1"}})");
}

TEST(Event, SerializeOmitsEmptyTraceparent) {
  Event event = FixedEvent();
  event.traceparent.clear();
  json::object envelope = json::parse(Serialize(event)).as_object();
  EXPECT_FALSE(envelope.contains("traceparent"));
  EXPECT_EQ(envelope.at("datacontenttype"), "application/json");
}

TEST(Event, RoundTripsThroughJson) {
  auto trace = obs::TraceContext::NewRoot();
  Event original = MakeEvent("hello", "ItemUpdated", "it-1", ItemData(), trace);

  auto parsed = Parse(Serialize(original));

  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->id, original.id);
  EXPECT_EQ(parsed->type, original.type);
  EXPECT_EQ(parsed->source, original.source);
  EXPECT_EQ(parsed->subject, original.subject);
  EXPECT_EQ(parsed->time, original.time);
  EXPECT_EQ(parsed->traceparent, original.traceparent);
  EXPECT_EQ(parsed->data, original.data);
  EXPECT_EQ(Serialize(*parsed), Serialize(original));
}

TEST(Event, ParseAcceptsOptionalAttributesAbsentAndIgnoresExtensions) {
  json::object envelope = ValidEnvelope();
  envelope.erase("traceparent");
  envelope.erase("datacontenttype");
  envelope.erase("subject");
  envelope["time"] = "2026-11-25T20:03:17+01:00";
  envelope["correlationid"] = "c-1";  // a CloudEvents extension we do not know

  auto parsed = Parse(json::serialize(envelope));

  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->traceparent, "");
  EXPECT_EQ(parsed->subject, "");
  EXPECT_EQ(parsed->time, "2026-11-25T20:03:17+01:00");
}

struct MalformedCase {
  std::string name;
  std::string json;
  std::string field;
};

std::string Without(std::string_view attribute) {
  json::object envelope = ValidEnvelope();
  envelope.erase(attribute);
  return json::serialize(envelope);
}

std::string With(std::string_view attribute, json::value value) {
  json::object envelope = ValidEnvelope();
  envelope[attribute] = std::move(value);
  return json::serialize(envelope);
}

TEST(Event, ParseRejectsEachMalformedEnvelopeNamingTheAttribute) {
  const std::vector<MalformedCase> cases = {
      {"not JSON", "{\"specversion\":", ""},
      {"not an object", R"(["specversion","1.0"])", ""},
      {"missing specversion", Without("specversion"), "specversion"},
      {"wrong specversion", With("specversion", "0.3"), "specversion"},
      {"specversion not a string", With("specversion", 1.0), "specversion"},
      {"missing id", Without("id"), "id"},
      {"empty id", With("id", ""), "id"},
      {"numeric id", With("id", 42), "id"},
      {"missing type", Without("type"), "type"},
      {"foreign type prefix", With("type", "com.example.orders.OrderConfirmed"), "type"},
      {"type without event name", With("type", "mercato.orders"), "type"},
      {"type with four parts", With("type", "mercato.orders.v1.OrderConfirmed"), "type"},
      {"type with empty context", With("type", "mercato..OrderConfirmed"), "type"},
      {"missing source", Without("source"), "source"},
      {"empty subject", With("subject", ""), "subject"},
      {"missing time", Without("time"), "time"},
      {"time not RFC 3339", With("time", "25/11/2026 19:03"), "time"},
      {"time without offset", With("time", "2026-11-25T19:03:17"), "time"},
      {"wrong datacontenttype", With("datacontenttype", "text/plain"), "datacontenttype"},
      {"bad traceparent", With("traceparent", "00-zz-00f067aa0ba902b7-01"), "traceparent"},
      {"empty traceparent", With("traceparent", ""), "traceparent"},
      {"all-zero trace id",
       With("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
       "traceparent"},
      {"data missing", Without("data"), "data"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": " + c.json);
    auto parsed = Parse(c.json);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(parsed.error().field, c.field);
  }
}

}  // namespace
}  // namespace mercato::messaging
