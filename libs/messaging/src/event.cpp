#include "mercato/messaging/event.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <utility>

#include "mercato/core/id.hpp"

namespace mercato::messaging {
namespace {

namespace json = boost::json;

constexpr std::string_view kSpecVersion = "1.0";
constexpr std::string_view kContentType = "application/json";

Error Invalid(std::string message, std::string attribute) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(attribute)};
}

// The attribute as a string, or nullptr when absent; a present non-string is an error because
// CloudEvents attributes in JSON format are all strings here.
Result<const json::string*> OptionalString(const json::object& envelope, std::string_view name) {
  const json::value* value = envelope.if_contains(name);
  if (value == nullptr) return static_cast<const json::string*>(nullptr);
  const json::string* text = value->if_string();
  if (text == nullptr) return Invalid(std::string(name) + " must be a string", std::string(name));
  return text;
}

// CloudEvents requires these to be non-empty strings; a message without one cannot be routed,
// deduplicated or traced, so it is rejected rather than defaulted.
Result<std::string> RequiredString(const json::object& envelope, std::string_view name) {
  auto text = OptionalString(envelope, name);
  if (!text) return std::move(text).error();
  if (*text == nullptr) return Invalid("missing " + std::string(name), std::string(name));
  if ((*text)->empty()) return Invalid(std::string(name) + " is empty", std::string(name));
  return std::string(**text);
}

// "mercato.<context>.<EventType>": exactly three non-empty dot-separated parts, because the
// NATS subject (and so the stream) is derived from the last two.
bool IsMercatoType(std::string_view type) {
  if (!type.starts_with(kTypePrefix)) return false;
  std::string_view rest = type.substr(kTypePrefix.size());
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return false;
  return rest.find('.', dot + 1) == std::string_view::npos;
}

}  // namespace

std::string Event::subject_name() const {
  std::string_view name = type;
  if (name.starts_with(kTypePrefix)) name.remove_prefix(kTypePrefix.size());
  return std::string(name);
}

std::string_view Event::short_type() const {
  std::string_view name = type;
  size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

Event MakeEvent(std::string_view context, std::string_view event_type, std::string aggregate_id,
                boost::json::value data, const std::optional<obs::TraceContext>& trace,
                const Clock& clock) {
  Event event;
  event.id = NewId(clock);
  event.type.reserve(kTypePrefix.size() + context.size() + 1 + event_type.size());
  event.type.append(kTypePrefix).append(context).append(".").append(event_type);
  event.source = std::string(context);
  event.subject = std::move(aggregate_id);
  event.time = FormatRfc3339(clock.WallNow());
  // A child span context, not the caller's own: the publish is a hop of its own in the trace.
  if (trace) event.traceparent = trace->Child().ToTraceparent();
  event.data = std::move(data);
  return event;
}

std::string Serialize(const Event& event) {
  // boost::json::object keeps insertion order, so the wire form follows ARCHITECTURE.md §3.
  json::object envelope;
  envelope.reserve(9);
  envelope.emplace("specversion", kSpecVersion);
  envelope.emplace("id", event.id);
  envelope.emplace("type", event.type);
  envelope.emplace("source", event.source);
  // CloudEvents: optional attributes, when present, must be non-empty; omit rather than send "".
  if (!event.subject.empty()) envelope.emplace("subject", event.subject);
  envelope.emplace("time", event.time);
  if (!event.traceparent.empty()) envelope.emplace("traceparent", event.traceparent);
  envelope.emplace("datacontenttype", kContentType);
  envelope.emplace("data", event.data);
  return json::serialize(envelope);
}

Result<Event> Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return Invalid("event is not valid JSON: " + ec.message(), "");
  const json::object* envelope = parsed.if_object();
  if (envelope == nullptr) return Invalid("event is not a JSON object", "");

  auto spec_version = RequiredString(*envelope, "specversion");
  if (!spec_version) return std::move(spec_version).error();
  if (*spec_version != kSpecVersion) {
    return Invalid("specversion must be \"1.0\"", "specversion");
  }

  Event event;
  auto id = RequiredString(*envelope, "id");
  if (!id) return std::move(id).error();
  event.id = std::move(*id);

  auto type = RequiredString(*envelope, "type");
  if (!type) return std::move(type).error();
  if (!IsMercatoType(*type)) {
    return Invalid("type must look like \"mercato.<context>.<EventType>\"", "type");
  }
  event.type = std::move(*type);

  auto source = RequiredString(*envelope, "source");
  if (!source) return std::move(source).error();
  event.source = std::move(*source);

  auto subject = OptionalString(*envelope, "subject");
  if (!subject) return std::move(subject).error();
  if (*subject != nullptr) {
    if ((*subject)->empty()) return Invalid("subject is empty", "subject");
    event.subject = std::string(**subject);
  }

  // Required although CloudEvents makes it optional: every Mercato producer stamps it, and
  // consumers order and audit by it.
  auto time = RequiredString(*envelope, "time");
  if (!time) return std::move(time).error();
  WallTime parsed_time;
  if (!ParseRfc3339(*time, parsed_time)) return Invalid("time is not RFC 3339", "time");
  event.time = std::move(*time);

  auto content_type = OptionalString(*envelope, "datacontenttype");
  if (!content_type) return std::move(content_type).error();
  if (*content_type != nullptr && **content_type != kContentType) {
    return Invalid("datacontenttype must be application/json", "datacontenttype");
  }

  auto traceparent = OptionalString(*envelope, "traceparent");
  if (!traceparent) return std::move(traceparent).error();
  if (*traceparent != nullptr) {
    if (!obs::TraceContext::Parse(**traceparent)) {
      return Invalid("traceparent is not a W3C traceparent", "traceparent");
    }
    event.traceparent = std::string(**traceparent);
  }

  // data_base64 is not accepted: contracts describe JSON data, and application/json is enforced.
  const json::value* data = envelope->if_contains("data");
  if (data == nullptr) return Invalid("missing data", "data");
  event.data = *data;
  return event;
}

}  // namespace mercato::messaging
