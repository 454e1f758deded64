// W3C Trace Context (traceparent) and spans. A TraceContext names the current trace and span; the
// server parses or creates one per request and every outgoing call and event carries a child.
// Finished spans go to the process' SpanExporter (OTLP/HTTP when an endpoint is configured).
//
//   auto ctx = obs::TraceContext::Parse(header).value_or(obs::TraceContext::NewRoot());
//   obs::SpanRecorder span("GET /items/{id}", obs::SpanKind::kServer, ctx);  // ends on scope exit
//   outgoing.Set("traceparent", span.context().ToTraceparent());
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/clock.hpp"

namespace mercato::obs {

struct TraceContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  uint8_t flags = 0x01;  // sampled

  // Parses "00-<32 hex>-<16 hex>-<2 hex>" per W3C: lower-case hex only, all-zero ids invalid,
  // version ff invalid, a future version may carry extra "-..." fields after the flags.
  static std::optional<TraceContext> Parse(std::string_view traceparent);
  // A new trace with random ids, sampled.
  static TraceContext NewRoot();
  // Same trace, new span id: the context to hand to a callee.
  TraceContext Child() const;

  bool sampled() const { return (flags & 0x01) != 0; }
  std::string ToTraceparent() const;
  std::string TraceIdHex() const;
  std::string SpanIdHex() const;
};

enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };

struct Span {
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  TraceContext context;                            // this span's ids
  std::optional<std::array<uint8_t, 8>> parent;  // parent span id, if any
  WallTime start;
  WallTime end;
  std::vector<std::pair<std::string, std::string>> attributes;
  bool error = false;
  std::string status_message;
};

class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  // Must not block: queue or drop.
  virtual void Export(Span span) = 0;
};

// The process-wide exporter (none by default: spans are then discarded cheaply).
void SetSpanExporter(std::shared_ptr<SpanExporter> exporter);
std::shared_ptr<SpanExporter> GetSpanExporter();
bool TracingEnabled();

// Records one span from construction to destruction (or End()), then exports it.
class SpanRecorder {
 public:
  // A child span of `parent` (its span id becomes this span's parent).
  SpanRecorder(std::string name, SpanKind kind, const TraceContext& parent);
  // A span that keeps `self` as its own context (the server's span for an incoming request
  // uses the context it already minted), with `parent` as its parent span id if given.
  SpanRecorder(std::string name, SpanKind kind, const TraceContext& self,
               std::optional<std::array<uint8_t, 8>> parent);
  ~SpanRecorder();
  SpanRecorder(const SpanRecorder&) = delete;
  SpanRecorder& operator=(const SpanRecorder&) = delete;

  const TraceContext& context() const { return span_.context; }
  void SetAttribute(std::string key, std::string value);
  void SetError(std::string message);
  void End();

 private:
  Span span_;
  bool ended_ = false;
  bool active_ = false;
};

}  // namespace mercato::obs
