// A scripted, misbehaving HTTP/1.1 upstream for the client tests. Built on raw Asio, not Beast,
// so a framing bug in the client cannot hide behind a parser shared with the server. It listens
// on 127.0.0.1 on an ephemeral port, runs on its own thread, counts what it sees, and answers
// each request as the test scripted: a status, a stall, a reset, a slow reply.
//
//   TestUpstream upstream;
//   upstream.Push(Behaviour::Reply(503));          // first request
//   upstream.SetDefault(Behaviour::Reply(200));    // every later one
//   ... call upstream.base_url() ...
//   EXPECT_EQ(upstream.requests(), 2);
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace mercato::http::testing {

// How the upstream treats one request (or, for kResetOnAccept, one connection).
struct Behaviour {
  enum class Kind {
    kReply,           // answer with `status` after `delay`
    kStall,           // read the request, never answer, keep the connection open
    kResetAfterRead,  // read the request, then abort the connection (RST)
    kCloseAfterRead,  // read the request, then close the connection politely (FIN)
    kResetOnAccept,   // abort the connection right after accepting it, before reading
  };
  Kind kind = Kind::kReply;
  int status = 200;
  std::string body;
  std::optional<std::string> retry_after;
  bool close = false;  // "Connection: close", then close after the reply
  std::chrono::milliseconds delay{0};

  static Behaviour Reply(int status, std::string body = {}) {
    Behaviour b;
    b.status = status;
    b.body = std::move(body);
    return b;
  }
  static Behaviour Of(Kind kind) {
    Behaviour b;
    b.kind = kind;
    return b;
  }
  Behaviour& WithRetryAfter(std::string value) {
    retry_after = std::move(value);
    return *this;
  }
  Behaviour& WithClose() {
    close = true;
    return *this;
  }
  Behaviour& WithDelay(std::chrono::milliseconds d) {
    delay = d;
    return *this;
  }
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // First value, case-insensitive; nullopt if absent.
  std::optional<std::string> Header(std::string_view name) const;
};

class TestUpstream {
 public:
  TestUpstream();
  ~TestUpstream();
  TestUpstream(const TestUpstream&) = delete;
  TestUpstream& operator=(const TestUpstream&) = delete;

  uint16_t port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  // Behaviours are consumed in order, one per request (kResetOnAccept: per connection); the
  // default answers once the queue is empty.
  void Push(Behaviour behaviour);
  void SetDefault(Behaviour behaviour);

  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }         // accepted so far
  int open_connections() const { return open_connections_.load(); }
  std::optional<ReceivedRequest> last_request() const;

  // Waits until `condition` holds, re-checking whenever the upstream sees something; false if
  // `timeout` passes first.
  bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

  // Closes every connection that is not busy answering a request (a server's idle timeout), and
  // returns once they are closed.
  void CloseIdleConnections();

 private:
  struct Conn;
  void Accept();
  void ReadRequest(std::shared_ptr<Conn> conn);
  void ReadBody(std::shared_ptr<Conn> conn, size_t header_bytes, size_t content_length);
  void Handle(std::shared_ptr<Conn> conn, ReceivedRequest request);
  void WriteReply(std::shared_ptr<Conn> conn, const Behaviour& behaviour);
  void Drain(std::shared_ptr<Conn> conn);
  void Abort(const std::shared_ptr<Conn>& conn);
  void Finish(const std::shared_ptr<Conn>& conn);
  std::optional<Behaviour> NextForAccept();
  Behaviour NextForRequest();
  void Notify();

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::set<std::shared_ptr<Conn>> conns_;  // server thread only

  mutable std::mutex mutex_;  // guards the script and the last request
  std::deque<Behaviour> script_;
  Behaviour default_;
  std::optional<ReceivedRequest> last_request_;

  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> open_connections_{0};

  std::mutex event_mutex_;  // only for waiting; never held while calling out
  std::condition_variable event_;

  std::thread thread_;
};

}  // namespace mercato::http::testing
