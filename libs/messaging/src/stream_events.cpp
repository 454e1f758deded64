#include "mercato/messaging/broker.hpp"

namespace mercato::messaging {

Result<std::vector<StreamEvent>> ReadStreamEvents(Broker& broker, const std::string& stream) {
  std::vector<StreamEvent> events;
  auto last = broker.LastSequence(stream);
  if (!last) {
    if (last.error().code == ErrorCode::kNotFound) return events;  // no stream yet
    return last.error();
  }
  for (uint64_t seq = 1; seq <= *last; ++seq) {
    auto stored = broker.GetMessage(stream, seq);
    if (!stored) {
      if (stored.error().code == ErrorCode::kNotFound) continue;  // deleted (limits, purge)
      return stored.error();
    }
    auto event = Parse(stored->data);
    if (!event) {
      return Error{ErrorCode::kInvalidArgument,
                   stream + " message " + std::to_string(seq) +
                       " is not a CloudEvent: " + event.error().message};
    }
    events.push_back(StreamEvent{seq, stored->subject, stored->data, std::move(*event)});
  }
  return events;
}

}  // namespace mercato::messaging
