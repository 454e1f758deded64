#include "mercato/observability/otlp_exporter.hpp"
#include "mercato/testing/testing.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>

namespace mercato::obs {
namespace {

using namespace std::chrono_literals;

Span MakeSpan(std::string name, bool with_parent = true) {
  Span span;
  span.name = std::move(name);
  span.kind = SpanKind::kServer;
  span.context = *TraceContext::Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  if (with_parent)
    span.parent = std::array<uint8_t, 8>{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31};
  span.start = WallTime(std::chrono::seconds(1'700'000'000));
  span.end = span.start + 1500us;
  return span;
}

// Collects the spans of every batch the exporter sends.
class CapturingTransport {
 public:
  OtlpExporter::Transport Get() {
    return [this](const std::string& body) {
      auto doc = boost::json::parse(body);
      const auto& spans =
          doc.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array();
      std::lock_guard lock(mutex_);
      for (const auto& span : spans) names_.emplace_back(span.at("name").as_string());
      ++batches_;
      return true;
    };
  }
  std::vector<std::string> names() {
    std::lock_guard lock(mutex_);
    return names_;
  }
  int batches() {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> names_;
  int batches_ = 0;
};

double CounterValue(Registry& registry, const std::string& name) {
  return registry.AddCounter(name, "").WithLabels({}).Value();
}

TEST(OtlpExporter, EncodesTheOtlpJsonStructure) {
  Span with_parent = MakeSpan("GET /items/{id}");
  with_parent.attributes = {{"http.route", "/items/{id}"}, {"note", "quote\" \xff"}};
  with_parent.error = true;
  with_parent.status_message = "upstream failed";
  Span root = MakeSpan("root", false);

  auto doc = boost::json::parse(OtlpExporter::Encode("catalog", {with_parent, root}));

  const auto& resource_spans = doc.at("resourceSpans").as_array();
  ASSERT_EQ(resource_spans.size(), 1u);
  const auto& attribute = resource_spans[0].at("resource").at("attributes").at(0);
  EXPECT_EQ(attribute.at("key").as_string(), "service.name");
  EXPECT_EQ(attribute.at("value").at("stringValue").as_string(), "catalog");
  const auto& scope_spans = resource_spans[0].at("scopeSpans").at(0);
  EXPECT_EQ(scope_spans.at("scope").at("name").as_string(), "mercato");
  const auto& spans = scope_spans.at("spans").as_array();
  ASSERT_EQ(spans.size(), 2u);

  const auto& first = spans[0].as_object();
  EXPECT_EQ(first.at("traceId").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(first.at("spanId").as_string(), "00f067aa0ba902b7");
  EXPECT_EQ(first.at("parentSpanId").as_string(), "b7ad6b7169203331");
  EXPECT_EQ(first.at("name").as_string(), "GET /items/{id}");
  EXPECT_EQ(first.at("kind").as_int64(), 2);
  EXPECT_EQ(first.at("startTimeUnixNano").as_string(), "1700000000000000000");
  EXPECT_EQ(first.at("endTimeUnixNano").as_string(), "1700000000001500000");
  const auto& attributes = first.at("attributes").as_array();
  ASSERT_EQ(attributes.size(), 2u);
  EXPECT_EQ(attributes[0].at("key").as_string(), "http.route");
  EXPECT_EQ(attributes[0].at("value").at("stringValue").as_string(), "/items/{id}");
  EXPECT_EQ(attributes[1].at("value").at("stringValue").as_string(), "quote\" \xef\xbf\xbd");
  EXPECT_EQ(first.at("status").at("code").as_int64(), 2);
  EXPECT_EQ(first.at("status").at("message").as_string(), "upstream failed");

  const auto& second = spans[1].as_object();
  EXPECT_FALSE(second.contains("parentSpanId"));
  EXPECT_EQ(second.at("status").at("code").as_int64(), 1);
}

TEST(OtlpExporter, DeliversEverySpanAfterFlush) {
  Registry registry;
  CapturingTransport transport;
  OtlpExporter exporter(
      {.service_name = "svc", .max_queue = 100, .max_batch = 4, .flush_interval = 1h},
      transport.Get(), registry);

  for (int i = 0; i < 10; ++i) exporter.Export(MakeSpan("span" + std::to_string(i)));
  exporter.Flush();

  auto names = transport.names();
  ASSERT_EQ(names.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(names[static_cast<size_t>(i)], "span" + std::to_string(i));
  EXPECT_GE(transport.batches(), 3);  // batches hold at most 4 spans
  EXPECT_EQ(CounterValue(registry, "mercato_otlp_spans_exported_total"), 10);
  EXPECT_EQ(exporter.dropped(), 0u);
}

TEST(OtlpExporter, SendsAPartialBatchAfterTheFlushInterval) {
  Registry registry;
  CapturingTransport transport;
  OtlpExporter exporter(
      {.service_name = "svc", .max_queue = 100, .max_batch = 100, .flush_interval = 20ms},
      transport.Get(), registry);

  exporter.Export(MakeSpan("lonely"));
  EXPECT_TRUE(mercato::testing::WaitFor([&] { return !transport.names().empty(); }, 10s));

  EXPECT_EQ(transport.names(), std::vector<std::string>{"lonely"});
}

TEST(OtlpExporter, DestructorSendsWhatIsQueued) {
  Registry registry;
  CapturingTransport transport;

  {
    OtlpExporter exporter(
        {.service_name = "svc", .max_queue = 100, .max_batch = 50, .flush_interval = 1h},
        transport.Get(), registry);
    for (int i = 0; i < 3; ++i) exporter.Export(MakeSpan("s"));
  }

  EXPECT_EQ(transport.names().size(), 3u);
}

TEST(OtlpExporter, DropsAndCountsSpansWhenTheQueueIsFull) {
  Registry registry;
  std::mutex mutex;
  std::condition_variable changed;
  bool entered = false;
  bool release = false;
  int delivered = 0;
  auto blocking = [&](const std::string& body) {
    std::unique_lock lock(mutex);
    entered = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
    delivered += static_cast<int>(boost::json::parse(body)
                                      .at("resourceSpans")
                                      .at(0)
                                      .at("scopeSpans")
                                      .at(0)
                                      .at("spans")
                                      .as_array()
                                      .size());
    return true;
  };
  OtlpExporter exporter(
      {.service_name = "svc", .max_queue = 2, .max_batch = 1, .flush_interval = 1h}, blocking,
      registry);

  exporter.Export(MakeSpan("in-flight"));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return entered; }));
  }
  // The transport now holds the first span; the queue takes two more, the rest are dropped.
  for (int i = 0; i < 5; ++i) exporter.Export(MakeSpan("extra"));
  const uint64_t dropped_while_blocked = exporter.dropped();
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  exporter.Flush();

  EXPECT_EQ(dropped_while_blocked, 3u);
  EXPECT_EQ(exporter.dropped(), 3u);
  EXPECT_EQ(CounterValue(registry, "mercato_otlp_spans_dropped_total"), 3);
  std::lock_guard lock(mutex);
  EXPECT_EQ(delivered, 3);
}

TEST(OtlpExporter, CountsFailedExportsAndDropsTheBatch) {
  Registry registry;
  std::atomic<int> calls{0};
  OtlpExporter exporter(
      {.service_name = "svc", .max_queue = 100, .max_batch = 2, .flush_interval = 1h},
      [&calls](const std::string&) {
        ++calls;
        return false;
      },
      registry);

  for (int i = 0; i < 4; ++i) exporter.Export(MakeSpan("s"));
  exporter.Flush();

  EXPECT_EQ(calls.load(), 2);  // no retries
  EXPECT_EQ(CounterValue(registry, "mercato_otlp_export_failures_total"), 2);
  EXPECT_EQ(CounterValue(registry, "mercato_otlp_spans_exported_total"), 0);
}

TEST(OtlpExporter, TreatsAThrowingTransportAsAFailure) {
  Registry registry;
  OtlpExporter exporter(
      {.service_name = "svc", .max_queue = 100, .max_batch = 1, .flush_interval = 1h},
      [](const std::string&) -> bool { throw std::runtime_error("connect failed"); }, registry);

  exporter.Export(MakeSpan("s"));
  exporter.Flush();

  EXPECT_EQ(CounterValue(registry, "mercato_otlp_export_failures_total"), 1);
}

}  // namespace
}  // namespace mercato::obs
