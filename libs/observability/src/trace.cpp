#include "mercato/observability/trace.hpp"

#include <atomic>
#include <mutex>

#include "mercato/core/hex.hpp"
#include "mercato/core/random.hpp"

namespace mercato::obs {
namespace {

constexpr size_t kVersion00Length = 55;  // "00-" + 32 + "-" + 16 + "-" + 2

// Lower-case hex only: W3C forbids upper case in traceparent.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <size_t N>
bool ParseHex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  bool all_zero = true;
  for (size_t i = 0; i < N; ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
    all_zero = all_zero && out[i] == 0;
  }
  return !all_zero;  // all-zero ids are invalid per the spec
}

bool ParseByte(std::string_view text, uint8_t& out) {
  const int hi = HexValue(text[0]);
  const int lo = HexValue(text[1]);
  if (hi < 0 || lo < 0) return false;
  out = static_cast<uint8_t>(hi << 4 | lo);
  return true;
}

template <size_t N>
void FillRandom(std::array<uint8_t, N>& bytes) {
  // Retry on the (astronomically unlikely) all-zero draw, which would be an invalid id.
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = RandomU64();
      for (size_t k = 0; k < 8 && i + k < N; ++k) bytes[i + k] = static_cast<uint8_t>(r >> (8 * k));
    }
  } while (bytes == std::array<uint8_t, N>{});
}

// The exporter is read on the hot path only through g_enabled; the shared_ptr itself is taken
// under the mutex when a span actually ends.
std::mutex g_exporter_mutex;
std::shared_ptr<SpanExporter> g_exporter;
std::atomic<bool> g_enabled{false};

}  // namespace

std::optional<TraceContext> TraceContext::Parse(std::string_view tp) {
  if (tp.size() < kVersion00Length) return std::nullopt;
  uint8_t version = 0;
  if (!ParseByte(tp.substr(0, 2), version) || version == 0xff) return std::nullopt;
  if (version == 0x00 && tp.size() != kVersion00Length) return std::nullopt;
  // A future version may append fields, but only after a '-'.
  if (tp.size() > kVersion00Length && tp[kVersion00Length] != '-') return std::nullopt;
  if (tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return std::nullopt;

  TraceContext ctx;
  if (!ParseHex(tp.substr(3, 32), ctx.trace_id)) return std::nullopt;
  if (!ParseHex(tp.substr(36, 16), ctx.span_id)) return std::nullopt;
  if (!ParseByte(tp.substr(53, 2), ctx.flags)) return std::nullopt;
  return ctx;
}

TraceContext TraceContext::NewRoot() {
  TraceContext ctx;
  FillRandom(ctx.trace_id);
  FillRandom(ctx.span_id);
  ctx.flags = 0x01;
  return ctx;
}

TraceContext TraceContext::Child() const {
  TraceContext child = *this;
  FillRandom(child.span_id);
  return child;
}

std::string TraceContext::ToTraceparent() const {
  std::string out;
  out.reserve(kVersion00Length);
  out += "00-";
  AppendHex(out, trace_id);
  out += '-';
  AppendHex(out, span_id);
  out += '-';
  AppendHex(out, {&flags, 1});
  return out;
}

std::string TraceContext::TraceIdHex() const { return HexEncode(trace_id); }

std::string TraceContext::SpanIdHex() const { return HexEncode(span_id); }

void SetSpanExporter(std::shared_ptr<SpanExporter> exporter) {
  std::lock_guard lock(g_exporter_mutex);
  g_enabled.store(exporter != nullptr, std::memory_order_release);
  g_exporter = std::move(exporter);
}

std::shared_ptr<SpanExporter> GetSpanExporter() {
  std::lock_guard lock(g_exporter_mutex);
  return g_exporter;
}

bool TracingEnabled() { return g_enabled.load(std::memory_order_relaxed); }

SpanRecorder::SpanRecorder(std::string name, SpanKind kind, const TraceContext& parent) {
  active_ = TracingEnabled() && parent.sampled();
  if (!active_) {
    // Not recorded: pass the caller's context through unchanged (W3C allows this), so callees
    // still join the trace without us minting a span id nobody will ever see.
    span_.context = parent;
    return;
  }
  span_.name = std::move(name);
  span_.kind = kind;
  span_.context = parent.Child();
  span_.parent = parent.span_id;
  span_.start = std::chrono::system_clock::now();
}

SpanRecorder::SpanRecorder(std::string name, SpanKind kind, const TraceContext& self,
                           std::optional<std::array<uint8_t, 8>> parent) {
  span_.context = self;
  active_ = TracingEnabled() && self.sampled();
  if (!active_) return;
  span_.name = std::move(name);
  span_.kind = kind;
  span_.parent = parent;
  span_.start = std::chrono::system_clock::now();
}

SpanRecorder::~SpanRecorder() { End(); }

void SpanRecorder::SetAttribute(std::string key, std::string value) {
  if (!active_ || ended_) return;
  span_.attributes.emplace_back(std::move(key), std::move(value));
}

void SpanRecorder::SetError(std::string message) {
  if (!active_ || ended_) return;
  span_.error = true;
  span_.status_message = std::move(message);
}

void SpanRecorder::End() {
  if (!active_ || ended_) return;
  ended_ = true;
  span_.end = std::chrono::system_clock::now();
  // The exporter may have been removed since the span started; then the span is simply lost.
  if (std::shared_ptr<SpanExporter> exporter = GetSpanExporter())
    exporter->Export(std::move(span_));
}

}  // namespace mercato::obs
