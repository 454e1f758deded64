#include "mercato/observability/otlp_exporter.hpp"

#include <charconv>

#include "mercato/core/hex.hpp"
#include "mercato/observability/log.hpp"

namespace mercato::obs {
namespace {

void AppendString(std::string& out, std::string_view text) {
  out += '"';
  AppendJsonEscaped(out, text);  // never invalid JSON, even for non-UTF-8 span names
  out += '"';
}

// OTLP/JSON carries 64-bit integers as decimal strings.
void AppendUnixNanos(std::string& out, WallTime t) {
  const int64_t nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof buf, nanos < 0 ? 0 : nanos);
  out += '"';
  out.append(buf, result.ptr);
  out += '"';
}

void AppendSpan(std::string& out, const Span& span) {
  out += "{\"traceId\":\"";
  AppendHex(out, span.context.trace_id);
  out += "\",\"spanId\":\"";
  AppendHex(out, span.context.span_id);
  out += '"';
  if (span.parent) {
    out += ",\"parentSpanId\":\"";
    AppendHex(out, *span.parent);
    out += '"';
  }
  out += ",\"name\":";
  AppendString(out, span.name);
  out += ",\"kind\":";
  out += static_cast<char>('0' + static_cast<int>(span.kind));  // OTLP's SpanKind numbering
  out += ",\"startTimeUnixNano\":";
  AppendUnixNanos(out, span.start);
  out += ",\"endTimeUnixNano\":";
  AppendUnixNanos(out, span.end);
  out += ",\"attributes\":[";
  for (size_t i = 0; i < span.attributes.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"key\":";
    AppendString(out, span.attributes[i].first);
    out += ",\"value\":{\"stringValue\":";
    AppendString(out, span.attributes[i].second);
    out += "}}";
  }
  // STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2.
  out += "],\"status\":{\"code\":";
  out += span.error ? '2' : '1';
  out += ",\"message\":";
  AppendString(out, span.status_message);
  out += "}}";
}

}  // namespace

OtlpExporter::OtlpExporter(Options options, Transport transport, Registry& metrics)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      exported_(
          metrics
              .AddCounter("mercato_otlp_spans_exported_total", "Spans sent to the OTLP collector.")
              .WithLabels({})),
      dropped_(metrics
                   .AddCounter("mercato_otlp_spans_dropped_total",
                               "Spans dropped because the export queue was full.")
                   .WithLabels({})),
      failed_(metrics
                  .AddCounter("mercato_otlp_export_failures_total",
                              "OTLP export requests that failed; their spans are lost.")
                  .WithLabels({})) {
  if (options_.max_batch == 0) options_.max_batch = 1;
  thread_ = std::thread([this] { Loop(); });
}

OtlpExporter::~OtlpExporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void OtlpExporter::Export(Span span) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() < options_.max_queue) {
      queue_.push_back(std::move(span));
      if (queue_.size() < options_.max_batch) return;
    } else {
      dropped_count_.fetch_add(1, std::memory_order_relaxed);
      dropped_.Inc();
      return;
    }
  }
  wake_.notify_one();  // a full batch is ready
}

void OtlpExporter::Flush() {
  std::unique_lock lock(mutex_);
  flush_requested_ = true;
  wake_.notify_one();
  flushed_.wait(lock, [this] { return queue_.empty() && in_flight_ == 0; });
}

uint64_t OtlpExporter::dropped() const { return dropped_count_.load(std::memory_order_relaxed); }

void OtlpExporter::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, options_.flush_interval, [this] {
      return stopping_ || flush_requested_ || queue_.size() >= options_.max_batch;
    });
    if (queue_.empty()) {
      flush_requested_ = false;
      flushed_.notify_all();
      if (stopping_) return;
      continue;
    }
    std::vector<Span> batch;
    const size_t n = std::min(queue_.size(), options_.max_batch);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    in_flight_ = n;
    lock.unlock();

    bool ok = false;
    try {
      ok = transport_(Encode(options_.service_name, batch));
    } catch (...) {
      ok = false;  // a throwing transport is just a failed export
    }
    // Failed batches are dropped, not retried: an unreachable collector must not grow memory or
    // delay newer spans.
    if (ok) {
      exported_.Inc(static_cast<double>(n));
    } else {
      failed_.Inc();
      LogWarn("otlp export failed, spans dropped", {{"spans", n}});
    }

    lock.lock();
    in_flight_ = 0;
    if (queue_.empty()) flushed_.notify_all();
  }
}

std::string OtlpExporter::Encode(const std::string& service_name, const std::vector<Span>& spans) {
  std::string out;
  out.reserve(256 + spans.size() * 320);
  out +=
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":)";
  AppendString(out, service_name);
  out += R"(}}]},"scopeSpans":[{"scope":{"name":"mercato"},"spans":[)";
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out += ',';
    AppendSpan(out, spans[i]);
  }
  out += "]}]}]}";
  return out;
}

}  // namespace mercato::obs
