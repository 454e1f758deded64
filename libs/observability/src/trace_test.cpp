#include "mercato/observability/trace.hpp"

#include <gtest/gtest.h>

#include <mutex>

namespace mercato::obs {
namespace {

class CapturingExporter final : public SpanExporter {
 public:
  void Export(Span span) override {
    std::lock_guard lock(mutex_);
    spans_.push_back(std::move(span));
  }
  std::vector<Span> spans() {
    std::lock_guard lock(mutex_);
    return spans_;
  }

 private:
  std::mutex mutex_;
  std::vector<Span> spans_;
};

// Installs an exporter for one test and always removes it, so tests do not leak global state.
class ScopedExporter {
 public:
  explicit ScopedExporter(std::shared_ptr<SpanExporter> exporter) {
    SetSpanExporter(std::move(exporter));
  }
  ~ScopedExporter() { SetSpanExporter(nullptr); }
};

TEST(TraceContext, ParsesAndRoundTripsSpecExamples) {
  for (const char* header : {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}) {
    auto ctx = TraceContext::Parse(header);

    ASSERT_TRUE(ctx.has_value()) << header;
    EXPECT_EQ(ctx->ToTraceparent(), header);
  }
}

TEST(TraceContext, ExposesIdsAndSampledFlag) {
  auto ctx = TraceContext::Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");

  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->SpanIdHex(), "00f067aa0ba902b7");
  EXPECT_EQ(ctx->trace_id[0], 0x4b);
  EXPECT_EQ(ctx->span_id[7], 0xb7);
  EXPECT_FALSE(ctx->sampled());
}

TEST(TraceContext, RejectsInvalidForms) {
  const char* kInvalid[] = {
      "",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",       // upper-case trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",       // upper-case span id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",       // upper-case flags
      "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // upper-case version
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",       // all-zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",       // all-zero span id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // forbidden version
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",        // short trace id
      "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",      // long trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",        // short span id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",        // short flags
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // bad separator
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",       // bad separator
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",       // bad separator
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",      // v00 with extra
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what",  // v00 with extra
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01what",   // future, no '-'
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902g7-01",       // not hex
      "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // short version
  };
  for (const char* header : kInvalid) {
    EXPECT_FALSE(TraceContext::Parse(header).has_value()) << header;
  }
}

TEST(TraceContext, AcceptsFutureVersionWithExtraFields) {
  auto ctx = TraceContext::Parse(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future");
  auto exact = TraceContext::Parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

  ASSERT_TRUE(ctx.has_value());
  ASSERT_TRUE(exact.has_value());
  // We only speak version 00, so that is what we propagate.
  EXPECT_EQ(ctx->ToTraceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(TraceContext, NewRootIsSampledWithRandomNonZeroIds) {
  auto a = TraceContext::NewRoot();
  auto b = TraceContext::NewRoot();

  EXPECT_TRUE(a.sampled());
  EXPECT_NE(a.trace_id, b.trace_id);
  EXPECT_NE(a.span_id, b.span_id);
  auto parsed = TraceContext::Parse(a.ToTraceparent());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, a.trace_id);
}

TEST(TraceContext, ChildKeepsTraceIdAndChangesSpanId) {
  auto parent = TraceContext::NewRoot();

  auto child = parent.Child();

  EXPECT_EQ(child.trace_id, parent.trace_id);
  EXPECT_NE(child.span_id, parent.span_id);
  EXPECT_EQ(child.flags, parent.flags);
}

TEST(SpanRecorder, ExportsAChildSpanWithParentIdOnScopeExit) {
  auto exporter = std::make_shared<CapturingExporter>();
  ScopedExporter scoped(exporter);
  auto parent = TraceContext::NewRoot();
  TraceContext recorded_context;

  {
    SpanRecorder span("GET /items/{id}", SpanKind::kServer, parent);
    span.SetAttribute("http.route", "/items/{id}");
    span.SetError("boom");
    recorded_context = span.context();
  }
  auto spans = exporter->spans();

  ASSERT_EQ(spans.size(), 1u);
  const Span& span = spans[0];
  EXPECT_EQ(span.name, "GET /items/{id}");
  EXPECT_EQ(span.kind, SpanKind::kServer);
  EXPECT_EQ(span.context.trace_id, parent.trace_id);
  EXPECT_EQ(span.context.span_id, recorded_context.span_id);
  EXPECT_NE(span.context.span_id, parent.span_id);
  ASSERT_TRUE(span.parent.has_value());
  EXPECT_EQ(*span.parent, parent.span_id);
  EXPECT_LE(span.start, span.end);
  ASSERT_EQ(span.attributes.size(), 1u);
  EXPECT_EQ(span.attributes[0],
            std::make_pair(std::string("http.route"), std::string("/items/{id}")));
  EXPECT_TRUE(span.error);
  EXPECT_EQ(span.status_message, "boom");
}

TEST(SpanRecorder, KeepsItsOwnContextWhenGivenOne) {
  auto exporter = std::make_shared<CapturingExporter>();
  ScopedExporter scoped(exporter);
  auto self = TraceContext::NewRoot();

  SpanRecorder span("work", SpanKind::kInternal, self, std::nullopt);
  span.End();
  span.End();  // idempotent

  auto spans = exporter->spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].context.span_id, self.span_id);
  EXPECT_FALSE(spans[0].parent.has_value());
}

TEST(SpanRecorder, ExportsNothingWithoutAnExporter) {
  SetSpanExporter(nullptr);
  auto parent = TraceContext::NewRoot();

  ASSERT_FALSE(TracingEnabled());
  SpanRecorder span("ignored", SpanKind::kClient, parent);
  // The unrecorded span passes the caller's context through for propagation.
  EXPECT_EQ(span.context().span_id, parent.span_id);
  // An exporter installed mid-span must not receive a span that was never recorded.
  auto exporter = std::make_shared<CapturingExporter>();
  ScopedExporter scoped(exporter);
  span.End();

  EXPECT_TRUE(exporter->spans().empty());
}

TEST(SpanRecorder, ExportsNothingForUnsampledContexts) {
  auto exporter = std::make_shared<CapturingExporter>();
  ScopedExporter scoped(exporter);
  auto parent = TraceContext::NewRoot();
  parent.flags = 0x00;

  { SpanRecorder span("unsampled", SpanKind::kServer, parent); }

  EXPECT_TRUE(TracingEnabled());
  EXPECT_TRUE(exporter->spans().empty());
}

}  // namespace
}  // namespace mercato::obs
