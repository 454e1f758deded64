#include "mercato/http/request_context.hpp"

#include <boost/json/parse.hpp>

namespace mercato::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

RequestContext::RequestContext(Method method, std::string_view method_text,
                               std::string_view target, std::vector<Field> headers,
                               std::string body, const obs::TraceContext& trace,
                               std::optional<std::array<uint8_t, 8>> parent_span,
                               std::string correlation_id, resilience::Deadline deadline)
    : method_(method),
      method_text_(method_text),
      target_(target),
      headers_(std::move(headers)),
      body_(std::move(body)),
      trace_(trace),
      parent_span_(parent_span),
      correlation_id_(std::move(correlation_id)),
      deadline_(deadline) {
  auto q = target_.find('?');
  path_ = target_.substr(0, q);
  if (q != std::string_view::npos) query_ = target_.substr(q + 1);
}

std::optional<std::string_view> RequestContext::Header(std::string_view name) const {
  for (const auto& [n, v] : headers_) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> RequestContext::Query(std::string_view name) const {
  std::string_view rest = query_;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (key == name || PercentDecode(key, true) == name) return PercentDecode(value, true);
  }
  return std::nullopt;
}

std::string RequestContext::PathParam(std::string_view name) const {
  for (const auto& [n, v] : params_) {
    if (n == name) return PercentDecode(v, false);
  }
  return {};
}

Result<boost::json::value> RequestContext::JsonBody() const {
  if (body_.empty()) return Error{ErrorCode::kInvalidArgument, "request body must be JSON"};
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body_, ec);
  if (ec) return Error{ErrorCode::kInvalidArgument, "malformed JSON body: " + ec.message()};
  return v;
}

obs::LogIds RequestContext::LogIds() const {
  if (trace_hex_.empty()) {
    trace_hex_ = trace_.TraceIdHex();
    span_hex_ = trace_.SpanIdHex();
  }
  return obs::LogIds{trace_hex_, span_hex_, correlation_id_};
}

}  // namespace mercato::http
