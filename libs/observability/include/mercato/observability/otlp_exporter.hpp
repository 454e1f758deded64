// Exports spans as OTLP/HTTP JSON (POST <endpoint>/v1/traces) from a background thread: batched,
// with a bounded queue; spans that find the queue full are dropped and counted, never blocking the
// request path. The HTTP POST itself is injected (the http library provides one), which keeps this
// library free of network code and lets tests capture batches.
//
//   auto exporter = std::make_shared<obs::OtlpExporter>(options, [](const std::string& body) {
//     return http::BlockingPost(url, body, "application/json", 2s);  // true on 2xx
//   });
//   obs::SetSpanExporter(exporter);
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mercato/observability/metrics.hpp"
#include "mercato/observability/trace.hpp"

namespace mercato::obs {

class OtlpExporter final : public SpanExporter {
 public:
  struct Options {
    std::string service_name;
    size_t max_queue = 2048;
    size_t max_batch = 256;
    Duration flush_interval = std::chrono::seconds(1);
  };
  using Transport = std::function<bool(const std::string& json_body)>;

  OtlpExporter(Options options, Transport transport, Registry& metrics = Registry::Default());
  ~OtlpExporter() override;  // flushes what is queued, then stops the thread

  void Export(Span span) override;
  // Sends everything queued now; returns when done (used at shutdown and by tests).
  void Flush();

  uint64_t dropped() const;

  // The OTLP JSON document for one batch (resourceSpans/scopeSpans/spans, hex ids, unix nanos).
  static std::string Encode(const std::string& service_name, const std::vector<Span>& spans);

 private:
  void Loop();
  Options options_;
  Transport transport_;
  Counter& exported_;
  Counter& dropped_;
  Counter& failed_;
  // This exporter's own drops; the counter above may be shared with other exporters.
  std::atomic<uint64_t> dropped_count_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::deque<Span> queue_;
  bool stopping_ = false;
  bool flush_requested_ = false;
  uint64_t in_flight_ = 0;
  std::thread thread_;
};

}  // namespace mercato::obs
