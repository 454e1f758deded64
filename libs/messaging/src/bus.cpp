#include "mercato/messaging/bus.hpp"

#include "mercato/service/auth.hpp"

#include <boost/json.hpp>
#include <condition_variable>

#include "mercato/core/random.hpp"
#include "mercato/observability/log.hpp"

namespace mercato::messaging {

void AddConfig(config::Schema& schema, std::string default_nats_url) {
  schema.String("nats-url", std::move(default_nats_url), "NATS JetStream URL; empty disables messaging")
      .Duration("consumer-ack-wait", "30s", "time a consumer has to acknowledge an event before it is redelivered")
      .Int("consumer-max-deliver", 5, "deliveries of a failing event before it is dead-lettered", 1, 1000)
      .Int("consumer-concurrency", 4, "events of different aggregates handled at once per consumer", 1, 256)
      .Duration("outbox-poll", "1s", "outbox relay's safety-net poll (commits wake it at once)");
}

Bus::Bus(service::Service& service, storage::Database& db, std::vector<StreamSpec> streams)
    : service_(service), db_(db), streams_(std::move(streams)) {
  const auto& config = service.config();
  auto url = config.GetString("nats-url");
  enabled_ = !url.empty();
  ack_wait_ = config.GetDuration("consumer-ack-wait");
  max_deliver_ = static_cast<int>(config.GetInt("consumer-max-deliver"));
  concurrency_ = static_cast<int>(config.GetInt("consumer-concurrency"));
  outbox_poll_ = config.GetDuration("outbox-poll");
  if (!enabled_) return;

  BrokerOptions options;
  options.url = url;
  options.name = service.name();
  auto broker = Broker::Connect(options);
  if (!broker) throw std::runtime_error("nats: " + broker.error().message);
  broker_ = std::move(*broker);

  RelayOptions relay;
  relay.service = service.name();
  relay.idle_poll = outbox_poll_;
  relay_ = std::make_unique<OutboxRelay>(db_, *broker_, relay, service.metrics());

  // Reported, not critical: while the broker is away the service keeps taking writes (the outbox
  // holds their events), so taking it out of load balancing would only make things worse.
  service.health().Add(
      "nats",
      [this] {
        if (!broker_->Connected()) return obs::CheckResult::Down("not connected");
        if (!ready_.load()) return obs::CheckResult::Down("provisioning streams and consumers");
        return obs::CheckResult::Up();
      },
      /*critical=*/false);
  AddRoutes();
}

Bus::~Bus() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (bootstrap_.joinable()) bootstrap_.join();
  for (auto& consumer : consumers_) consumer->Stop();
  if (relay_) relay_->Stop();
}

EventConsumer& Bus::Consume(ConsumerOptions options) {
  if (options.service.empty()) options.service = service_.name();
  options.ack_wait = ack_wait_;
  options.max_deliver = max_deliver_;
  options.concurrency = concurrency_;
  if (!enabled_) throw std::logic_error("Bus::Consume on a bus without nats-url; check enabled() first");
  // The consumed stream is provisioned too (with the producer's own spec, derived from the
  // context in the filter), so services that consume each other can start in any order.
  auto context = options.filter_subject.substr(0, options.filter_subject.find('.'));
  bool known = false;
  for (const auto& spec : streams_) known = known || spec.name == options.stream;
  if (!known && !context.empty()) streams_.push_back(StreamSpec::ForContext(options.stream, context));
  consumers_.push_back(std::make_unique<EventConsumer>(db_, *broker_, options, service_.metrics()));
  return *consumers_.back();
}

void Bus::Start() {
  if (!enabled_) {
    obs::LogInfo("messaging disabled (no nats-url)");
    return;
  }
  relay_->Start();
  bootstrap_ = std::thread([this] { Bootstrap(); });
}

void Bus::Notify() {
  if (relay_) relay_->Notify();
}

// Streams first, then consumers; both need the broker, which may come up after the service.
void Bus::Bootstrap() {
  Duration backoff = std::chrono::milliseconds(100);
  size_t next_stream = 0;
  size_t next_consumer = 0;
  while (!stopping_.load()) {
    Result<void> step = Ok();
    while (step && next_stream < streams_.size()) {
      step = broker_->EnsureStream(streams_[next_stream]);
      if (step) ++next_stream;
    }
    while (step && next_stream == streams_.size() && next_consumer < consumers_.size()) {
      step = consumers_[next_consumer]->Start();
      if (step) ++next_consumer;
    }
    if (step) {
      ready_ = true;
      obs::LogInfo("messaging ready", {{"streams", streams_.size()}, {"consumers", consumers_.size()}});
      relay_->Notify();
      return;
    }
    obs::LogWarn("messaging not ready yet; retrying", {{"error", step.error().message}});
    {
      // Woken at once by the destructor, so a shutdown is not held up by the backoff.
      std::unique_lock lock(stop_mutex_);
      stop_cv_.wait_for(lock, backoff, [this] { return stopping_.load(); });
    }
    backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(5));
  }
}

void Bus::AddRoutes() {
  auto& router = service_.router();
  router.Add(http::Method::kGet, "/admin/dead-letters", [this](http::RequestContext& ctx) -> Task<http::Response> {
    auto allowed = co_await service_.CheckAdmin(ctx);
    if (!allowed) co_return service::AuthProblem(allowed.error());
    size_t limit = 100;
    if (auto text = ctx.Query("limit")) {
      char* end = nullptr;
      long long v = std::strtoll(text->c_str(), &end, 10);
      if (text->empty() || *end != '\0' || v < 1 || v > 1000) {
        co_return http::Problem(ErrorCode::kInvalidArgument, "limit must be an integer in 1..1000", "limit");
      }
      limit = static_cast<size_t>(v);
    }
    Result<std::vector<DeadLetter>> letters = Error{ErrorCode::kInternal, "not run"};
    std::function<void()> list = [&] { letters = ListDeadLetters(*broker_, service_.name(), limit); };
    co_await http::RunBlocking(std::move(list));
    if (!letters) co_return http::Problem(letters.error());
    boost::json::array items;
    for (const auto& letter : *letters) {
      items.push_back({{"sequence", letter.sequence},
                       {"service", letter.service},
                       {"subject", letter.original_subject},
                       {"event_id", letter.event_id},
                       {"error", letter.error},
                       {"deliveries", letter.deliveries},
                       {"time", letter.time}});
    }
    auto total = items.size();
    co_return http::Json(http::Status::kOk, boost::json::object{{"items", std::move(items)},
                                                               {"page", 1},
                                                               {"page_size", limit},
                                                               {"total", total}});
  });
  router.Add(http::Method::kPost, "/admin/dead-letters/{sequence}/replay",
             [this](http::RequestContext& ctx) -> Task<http::Response> {
               auto allowed = co_await service_.CheckAdmin(ctx);
               if (!allowed) co_return service::AuthProblem(allowed.error());
               auto text = ctx.PathParam("sequence");
               char* end = nullptr;
               unsigned long long sequence = std::strtoull(text.c_str(), &end, 10);
               if (text.empty() || *end != '\0' || sequence == 0) {
                 co_return http::Problem(ErrorCode::kInvalidArgument, "sequence must be a positive integer",
                                         "sequence");
               }
               Result<void> replayed = Ok();
               std::function<void()> replay = [&] { replayed = ReplayDeadLetter(*broker_, sequence); };
               co_await http::RunBlocking(std::move(replay));
               if (!replayed) co_return http::Problem(replayed.error());
               ctx.Log().Info("dead letter replayed", {{"sequence", static_cast<uint64_t>(sequence)}});
               co_return http::Json(http::Status::kAccepted,
                                    boost::json::object{{"sequence", sequence}, {"status", "replayed"}});
             });
}

}  // namespace mercato::messaging
