// Broker over nats.c (JetStream). The only file in Mercato that includes nats.h.
//
// Blocking by design: every call here waits for the server (publish ack, ack-sync, fetch, stream
// admin). nats.c delivers those replies on its own threads, so a caller must never be an
// event-loop (Asio) thread: it would stall every request on that loop for up to request_timeout.
// Callers are the outbox relay's thread, consumer threads and start-up code.
//
// Thread-safety: a Broker may be used from several threads at once: nats.c's connection and
// JetStream context are thread-safe. A PullConsumer, and each Message it returns, must be used by
// one thread at a time (nats.c parses message headers lazily, mutating the message).
//
// Lifetimes: the connection and JetStream context live in a shared NatsHandles object held by the
// Broker, every PullConsumer and every Message, so a consumer or message that outlives its Broker
// still acks/destroys against a live connection. nats_Close() is never called: other Broker
// instances in the process may still be using the library, and nats.c frees the rest at exit.

#include "mercato/messaging/broker.hpp"

#include <nats/nats.h>

#include <climits>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "mercato/observability/log.hpp"

namespace mercato::messaging {

namespace {

// nats.c takes milliseconds for most timeouts; round up so a sub-millisecond duration never
// becomes 0, which nats.c treats as "invalid" or "no wait".
int64_t Millis(Duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return ms < 1 ? 1 : ms;
}

// JetStream configuration fields (AckWait, Duplicates, MaxAge) are nanoseconds.
int64_t Nanos(Duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

// "Timeout: <nats.c's detail>" — the detail only when nats.c recorded it for this very status on
// this thread (its last-error slot is per thread and may hold an older, unrelated error).
std::string StatusText(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (last == s && detail != nullptr && *detail != '\0' && text != detail) {
    text += ": ";
    text += detail;
  }
  return text;
}

// Maps a nats.c status (plus JetStream's error code, when the server sent one) to Mercato's
// canonical codes, by what the caller should do next.
Error ToError(std::string_view what, natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  ErrorCode code = ErrorCode::kInternal;
  switch (s) {
    // The broker is down, restarting, unreachable or slow to answer: retry later. A timeout is
    // not deadline_exceeded here: the caller gave no deadline, the broker did not answer.
    // No responders: no JetStream stream (or JetStream itself) listens on the subject yet.
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_NO_SERVER:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_INSUFFICIENT_BUFFER:  // the reconnect buffer is full during an outage
      code = ErrorCode::kUnavailable;
      break;
    case NATS_CONNECTION_AUTH_FAILED:
      code = ErrorCode::kUnauthenticated;
      break;
    case NATS_NOT_PERMITTED:
      code = ErrorCode::kPermissionDenied;
      break;
    case NATS_NOT_FOUND:
      code = ErrorCode::kNotFound;
      break;
    case NATS_INVALID_ARG:
      code = ErrorCode::kInvalidArgument;
      break;
    case NATS_MAX_PAYLOAD:
      code = ErrorCode::kInvalidArgument;
      break;
    default:
      if (jerr == JSStreamNotFoundErr || jerr == JSConsumerNotFoundErr ||
          jerr == JSNoMessageFoundErr) {
        code = ErrorCode::kNotFound;
      } else if (jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr) {
        code = ErrorCode::kUnavailable;
      } else if (jerr != 0) {
        // The server understood and refused (a conflicting config, a limit): retrying the same
        // request will not help until something changes.
        code = ErrorCode::kFailedPrecondition;
      }
      break;
  }
  std::string message = std::string(what) + ": " + StatusText(s);
  if (jerr != 0) message += " (jetstream error " + std::to_string(static_cast<int>(jerr)) + ")";
  return Error{code, std::move(message)};
}

// The connection and its JetStream context, shared by the Broker, its consumers and messages.
struct NatsHandles {
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  Duration request_timeout{};

  NatsHandles() = default;
  NatsHandles(const NatsHandles&) = delete;
  NatsHandles& operator=(const NatsHandles&) = delete;
  ~NatsHandles() {
    // The context first: it uses the connection. Destroying the connection closes it (and stops
    // a background reconnect) without touching durable consumers on the server.
    if (js != nullptr) jsCtx_Destroy(js);
    if (conn != nullptr) natsConnection_Destroy(conn);
  }

  // Per-call JetStream options: the wait for the server's reply.
  jsOptions Options() const {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = Millis(request_timeout);
    return o;
  }
};

// nats.c callbacks run on its own threads. They get no closure: a pointer to our state could
// dangle, since nats.c may still run a queued callback after natsConnection_Destroy returns.
void OnConnected(natsConnection*, void*) { obs::LogInfo("broker connected"); }
void OnReconnected(natsConnection*, void*) { obs::LogInfo("broker reconnected"); }
void OnDisconnected(natsConnection* nc, void*) {
  // A deliberate close (Broker destroyed) also reports a disconnect; only an outage is news.
  if (!natsConnection_IsClosed(nc)) obs::LogWarn("broker disconnected; reconnecting");
}

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
struct MetaDataDeleter {
  void operator()(jsMsgMetaData* m) const { jsMsgMetaData_Destroy(m); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};

// The headers of a message as (name, value) pairs, every value of a repeated name included.
std::vector<std::pair<std::string, std::string>> HeadersOf(natsMsg* msg) {
  std::vector<std::pair<std::string, std::string>> out;
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &key_count) != NATS_OK) return out;  // none
  for (int i = 0; i < key_count; ++i) {
    const char** values = nullptr;
    int value_count = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &value_count) != NATS_OK) continue;
    for (int j = 0; j < value_count; ++j) out.emplace_back(keys[i], values[j]);
    std::free(static_cast<void*>(values));  // nats.c: the array is ours, the strings are not
  }
  std::free(static_cast<void*>(keys));
  return out;
}

class NatsMessage final : public Message {
 public:
  NatsMessage(std::shared_ptr<NatsHandles> nats, natsMsg* msg) : nats_(std::move(nats)), msg_(msg) {
    subject_ = natsMsg_GetSubject(msg);
    if (const char* data = natsMsg_GetData(msg); data != nullptr) {
      data_.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
    }
    jsMsgMetaData* raw = nullptr;
    if (natsMsg_GetMetaData(&raw, msg) == NATS_OK) {
      std::unique_ptr<jsMsgMetaData, MetaDataDeleter> meta(raw);
      stream_sequence_ = meta->Sequence.Stream;
      num_delivered_ = meta->NumDelivered;
      num_pending_ = meta->NumPending;
    }
  }

  const std::string& subject() const override { return subject_; }
  const std::string& data() const override { return data_; }
  uint64_t stream_sequence() const override { return stream_sequence_; }
  uint64_t num_delivered() const override { return num_delivered_; }
  uint64_t num_pending() const override { return num_pending_; }

  std::optional<std::string> header(const std::string& name) const override {
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg_.get(), name.c_str(), &value) != NATS_OK || value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  }

  Result<void> Ack() override {
    // Synchronous: once this returns the server has recorded the ack, so the caller may treat
    // the message as done (and an idempotent consumer may forget about it).
    jsOptions o = nats_->Options();
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsMsg_AckSync(msg_.get(), &o, &jerr);
    if (s != NATS_OK) return ToError("ack", s, jerr);
    return Ok();
  }

  Result<void> Nak(Duration delay) override {
    jsOptions o = nats_->Options();
    // nats.c's NakWithDelay takes milliseconds (it converts to the server's nanoseconds).
    natsStatus s = delay > Duration::zero()
                       ? natsMsg_NakWithDelay(msg_.get(), Millis(delay), &o)
                       : natsMsg_Nak(msg_.get(), &o);
    if (s != NATS_OK) return ToError("nak", s);
    return Ok();
  }

  Result<void> Term() override {
    jsOptions o = nats_->Options();
    natsStatus s = natsMsg_Term(msg_.get(), &o);
    if (s != NATS_OK) return ToError("term", s);
    return Ok();
  }

  Result<void> InProgress() override {
    jsOptions o = nats_->Options();
    natsStatus s = natsMsg_InProgress(msg_.get(), &o);
    if (s != NATS_OK) return ToError("in progress", s);
    return Ok();
  }

 private:
  std::shared_ptr<NatsHandles> nats_;  // declared first: destroyed after msg_
  std::unique_ptr<natsMsg, MsgDeleter> msg_;
  std::string subject_;
  std::string data_;
  uint64_t stream_sequence_ = 0;
  uint64_t num_delivered_ = 0;
  uint64_t num_pending_ = 0;
};

class NatsPullConsumer final : public PullConsumer {
 public:
  NatsPullConsumer(std::shared_ptr<NatsHandles> nats, natsSubscription* sub, std::string stream,
                   std::string durable)
      : nats_(std::move(nats)), sub_(sub), stream_(std::move(stream)), durable_(std::move(durable)) {}
  NatsPullConsumer(const NatsPullConsumer&) = delete;
  NatsPullConsumer& operator=(const NatsPullConsumer&) = delete;

  // Destroy, never Unsubscribe: unsubscribing a durable pull subscription deletes the consumer
  // on the server, and with it the position every restart of the service resumes from.
  ~NatsPullConsumer() override { natsSubscription_Destroy(sub_); }

  Result<std::vector<std::unique_ptr<Message>>> Fetch(int batch, Duration timeout) override {
    if (batch < 1) return Error{ErrorCode::kInvalidArgument, "fetch batch must be >= 1", "batch"};
    natsMsgList list{nullptr, 0};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_Fetch(&list, sub_, batch, Millis(timeout), &jerr);
    std::vector<std::unique_ptr<Message>> out;
    // Messages that did arrive are handed out even if the batch then timed out: they are
    // delivered (the server counts them), so dropping them would only delay them by ack_wait.
    out.reserve(static_cast<size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
      if (list.Msgs[i] == nullptr) continue;
      out.push_back(std::make_unique<NatsMessage>(nats_, list.Msgs[i]));
      list.Msgs[i] = nullptr;  // now owned by the NatsMessage; natsMsgList_Destroy skips it
    }
    natsMsgList_Destroy(&list);
    if (s == NATS_OK || s == NATS_TIMEOUT || !out.empty()) return out;  // timeout: nothing new
    return ToError("fetch", s, jerr);
  }

  Result<uint64_t> Pending() override {
    jsOptions o = nats_->Options();
    jsConsumerInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    // By name, not natsSubscription_GetConsumerInfo: nats.c 3.4 answers "Invalid Subscription"
    // for a pull subscription bound to an existing durable.
    natsStatus s = js_GetConsumerInfo(&info, nats_->js, stream_.c_str(), durable_.c_str(), &o, &jerr);
    if (s != NATS_OK) return ToError("consumer info", s, jerr);
    uint64_t pending = info->NumPending;
    jsConsumerInfo_Destroy(info);
    return pending;
  }

 private:
  std::shared_ptr<NatsHandles> nats_;  // declared first: destroyed after the subscription
  natsSubscription* sub_;
  std::string stream_;
  std::string durable_;
};

class NatsBroker final : public Broker {
 public:
  explicit NatsBroker(std::shared_ptr<NatsHandles> nats) : nats_(std::move(nats)) {}

  bool Connected() const override {
    return natsConnection_Status(nats_->conn) == NATS_CONN_STATUS_CONNECTED;
  }

  Result<void> EnsureStream(const StreamSpec& spec) override {
    if (spec.name.empty()) return Error{ErrorCode::kInvalidArgument, "stream name is empty", "name"};
    std::vector<const char*> subjects;
    subjects.reserve(spec.subjects.size());
    for (const auto& subject : spec.subjects) subjects.push_back(subject.c_str());

    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = spec.name.c_str();
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    // File storage: events must survive a broker restart (see PLATFORM-NOTES on fsync).
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Duplicates = Nanos(spec.duplicate_window);
    cfg.MaxAge = Nanos(spec.max_age);
    cfg.MaxBytes = spec.max_bytes;
    cfg.Replicas = spec.replicas;

    jsOptions o = nats_->Options();
    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&info, nats_->js, &cfg, &o, &jerr);
    if (s != NATS_OK && jerr == JSStreamNameExistErr) {
      // It exists with a different config: bring it to this one (limits change across deploys).
      jerr = static_cast<jsErrCode>(0);
      s = js_UpdateStream(&info, nats_->js, &cfg, &o, &jerr);
    }
    if (info != nullptr) jsStreamInfo_Destroy(info);
    if (s != NATS_OK) return ToError("ensure stream " + spec.name, s, jerr);
    return Ok();
  }

  Result<PublishAck> Publish(const std::string& subject, const std::string& msg_id,
                             const std::string& payload,
                             const std::vector<std::pair<std::string, std::string>>& headers) override {
    if (subject.empty()) return Error{ErrorCode::kInvalidArgument, "subject is empty", "subject"};
    if (payload.size() > static_cast<size_t>(INT_MAX)) {
      return Error{ErrorCode::kInvalidArgument, "payload too large", "payload"};
    }
    natsMsg* raw = nullptr;
    natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, payload.data(),
                                  static_cast<int>(payload.size()));
    if (s != NATS_OK) return ToError("publish " + subject, s);
    std::unique_ptr<natsMsg, MsgDeleter> msg(raw);  // js_PublishMsg does not take ownership
    for (const auto& [name, value] : headers) {
      s = natsMsgHeader_Add(msg.get(), name.c_str(), value.c_str());
      if (s != NATS_OK) return ToError("publish header " + name, s);
    }

    jsPubOptions po;
    jsPubOptions_Init(&po);
    // Nats-Msg-Id: the server drops a second message with this id inside the stream's duplicate
    // window, which makes the outbox relay's at-least-once retries exactly-once in the stream.
    po.MsgId = msg_id.empty() ? nullptr : msg_id.c_str();
    po.MaxWait = Millis(nats_->request_timeout);

    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_PublishMsg(&ack, nats_->js, msg.get(), &po, &jerr);
    // During an outage nats.c buffers the publish for the reconnect and the wait for the ack
    // times out (unavailable). The buffered copy may still reach the stream after reconnecting;
    // the caller's retry carries the same msg id and is then acked as a duplicate.
    if (s != NATS_OK) return ToError("publish " + subject, s, jerr);
    PublishAck out{ack->Stream != nullptr ? ack->Stream : "", ack->Sequence, ack->Duplicate};
    jsPubAck_Destroy(ack);
    return out;
  }

  Result<std::unique_ptr<PullConsumer>> Subscribe(const ConsumerSpec& spec) override {
    if (spec.stream.empty()) return Error{ErrorCode::kInvalidArgument, "stream is empty", "stream"};
    if (spec.durable.empty()) return Error{ErrorCode::kInvalidArgument, "durable is empty", "durable"};
    if (spec.filter_subject.empty()) {
      return Error{ErrorCode::kInvalidArgument, "filter subject is empty", "filter_subject"};
    }

    jsConsumerConfig cfg;
    jsConsumerConfig_Init(&cfg);
    cfg.Durable = spec.durable.c_str();
    cfg.FilterSubject = spec.filter_subject.c_str();
    cfg.AckPolicy = js_AckExplicit;
    cfg.DeliverPolicy = js_DeliverAll;
    cfg.AckWait = Nanos(spec.ack_wait);
    cfg.MaxDeliver = spec.max_deliver;
    cfg.MaxAckPending = spec.max_ack_pending;

    // Create the durable, or bring an existing one to this spec. js_PullSubscribe alone would
    // refuse to bind to a durable whose ack_wait or max_deliver differ from a previous deploy's.
    jsOptions o = nats_->Options();
    jsConsumerInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddConsumer(&info, nats_->js, spec.stream.c_str(), &cfg, &o, &jerr);
    if (s != NATS_OK && jerr != JSStreamNotFoundErr && jerr != 0) {
      if (info != nullptr) jsConsumerInfo_Destroy(info);
      info = nullptr;
      jsErrCode update_jerr = static_cast<jsErrCode>(0);
      natsStatus update = js_UpdateConsumer(&info, nats_->js, spec.stream.c_str(), &cfg, &o, &update_jerr);
      // On failure the create's error is reported: it says why the consumer could not be made.
      if (update == NATS_OK) s = NATS_OK;
    }
    if (info != nullptr) jsConsumerInfo_Destroy(info);
    if (s != NATS_OK) return ToError("create consumer " + spec.durable, s, jerr);

    // Bind to it (Stream + Consumer): a pull subscription on the durable that now exists.
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = spec.stream.c_str();
    so.Consumer = spec.durable.c_str();
    so.Config = cfg;
    natsSubscription* sub = nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_PullSubscribe(&sub, nats_->js, spec.filter_subject.c_str(), spec.durable.c_str(), &o,
                         &so, &jerr);
    if (s != NATS_OK) return ToError("subscribe " + spec.durable, s, jerr);
    return std::unique_ptr<PullConsumer>(std::make_unique<NatsPullConsumer>(nats_, sub, spec.stream, spec.durable));
  }

  Result<StoredMessage> GetMessage(const std::string& stream, uint64_t sequence) override {
    if (sequence == 0) return Error{ErrorCode::kNotFound, "no message at sequence 0", "sequence"};
    jsOptions o = nats_->Options();
    natsMsg* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, nats_->js, stream.c_str(), sequence, &o, &jerr);
    if (s != NATS_OK) {
      return ToError("get message " + stream + "/" + std::to_string(sequence), s, jerr);
    }
    std::unique_ptr<natsMsg, MsgDeleter> msg(raw);
    StoredMessage out;
    out.sequence = natsMsg_GetSequence(msg.get());
    out.subject = natsMsg_GetSubject(msg.get());
    if (const char* data = natsMsg_GetData(msg.get()); data != nullptr) {
      out.data.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
    }
    out.headers = HeadersOf(msg.get());
    auto since_epoch = std::chrono::nanoseconds(natsMsg_GetTime(msg.get()));
    out.time = FormatRfc3339(WallTime(std::chrono::duration_cast<WallTime::duration>(since_epoch)));
    return out;
  }

  Result<uint64_t> LastSequence(const std::string& stream) override {
    jsOptions o = nats_->Options();
    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, nats_->js, stream.c_str(), &o, &jerr);
    if (s != NATS_OK) return ToError("stream info " + stream, s, jerr);
    uint64_t last = info->State.LastSeq;
    jsStreamInfo_Destroy(info);
    return last;
  }

 private:
  std::shared_ptr<NatsHandles> nats_;
};

}  // namespace

StreamSpec StreamSpec::ForContext(std::string stream_name, const std::string& context) {
  StreamSpec spec;
  spec.name = std::move(stream_name);
  spec.subjects = {context + ".>"};
  return spec;
}

StreamSpec StreamSpec::DeadLetters() {
  StreamSpec spec;
  spec.name = "DLQ";
  spec.subjects = {"dlq.>"};
  // Dead letters wait for a person to look at them; a week can pass unnoticed over a holiday.
  spec.max_age = std::chrono::hours(24 * 30);
  return spec;
}

Result<std::unique_ptr<Broker>> Broker::Connect(const BrokerOptions& options) {
  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);  // also initialises the library (nats_Open)
  if (s != NATS_OK) return ToError("nats options", s);
  std::unique_ptr<natsOptions, OptionsDeleter> opts(raw);  // the connection keeps its own copy

  if (s == NATS_OK) s = natsOptions_SetURL(opts.get(), options.url.c_str());
  if (s == NATS_OK && !options.name.empty()) s = natsOptions_SetName(opts.get(), options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), Millis(options.connect_timeout));
  // Once connected, reconnect forever: a service outlives broker restarts and never has to be
  // restarted itself to find the broker again.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), Millis(options.reconnect_wait));
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts.get(), OnDisconnected, nullptr);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts.get(), OnReconnected, nullptr);
  if (s == NATS_OK && options.retry_on_failed_connect) {
    // With a callback, natsConnection_Connect returns at once (NATS_NOT_YET_CONNECTED) and keeps
    // trying in the background, so a service can start before the broker.
    s = natsOptions_SetRetryOnFailedConnect(opts.get(), true, OnConnected, nullptr);
  }
  if (s != NATS_OK) return ToError("nats options", s);

  auto nats = std::make_shared<NatsHandles>();
  nats->request_timeout = options.request_timeout;
  s = natsConnection_Connect(&nats->conn, opts.get());
  if (s == NATS_NOT_YET_CONNECTED && nats->conn != nullptr) {
    obs::LogWarn("broker not reachable yet; connecting in the background",
                 {{"name", options.name}});
  } else if (s != NATS_OK) {
    nats->conn = nullptr;  // nats.c returns no connection on failure
    return ToError("connect to broker", s);
  }

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = Millis(options.request_timeout);
  s = natsConnection_JetStream(&nats->js, nats->conn, &jo);
  if (s != NATS_OK) return ToError("jetstream context", s);
  return std::unique_ptr<Broker>(std::make_unique<NatsBroker>(std::move(nats)));
}

}  // namespace mercato::messaging
