#include "test_upstream.hpp"

#include <array>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <charconv>
#include <future>

namespace mercato::http::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

bool SameIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Parses the request line and header fields of `head` (which ends with the blank line).
ReceivedRequest ParseHead(std::string_view head) {
  ReceivedRequest request;
  size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    if (first) {
      first = false;
      const size_t sp1 = line.find(' ');
      const size_t sp2 = line.find(' ', sp1 + 1);
      request.method = std::string(line.substr(0, sp1));
      if (sp1 != std::string_view::npos) request.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    request.headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                                 std::string(Trim(line.substr(colon + 1))));
  }
  return request;
}

}  // namespace

std::optional<std::string> ReceivedRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (SameIgnoringCase(key, name)) return value;
  }
  return std::nullopt;
}

struct TestUpstream::Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;
  std::string buffer;
  std::array<char, 4096> scratch{};
  // From a request's arrival until its reply is handed to the socket. Not cleared in the write's
  // completion handler: the client may already hold the reply before that handler runs.
  bool answering = false;
};

TestUpstream::TestUpstream() : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  port_ = acceptor_.local_endpoint().port();
  Accept();
  thread_ = std::thread([this] { io_.run(); });
}

TestUpstream::~TestUpstream() {
  io_.stop();
  thread_.join();
}

std::string TestUpstream::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void TestUpstream::Push(Behaviour behaviour) {
  std::lock_guard lock(mutex_);
  script_.push_back(std::move(behaviour));
}

void TestUpstream::SetDefault(Behaviour behaviour) {
  std::lock_guard lock(mutex_);
  default_ = std::move(behaviour);
}

std::optional<ReceivedRequest> TestUpstream::last_request() const {
  std::lock_guard lock(mutex_);
  return last_request_;
}

bool TestUpstream::WaitFor(const std::function<bool()>& condition,
                           std::chrono::milliseconds timeout) {
  std::unique_lock lock(event_mutex_);
  return event_.wait_for(lock, timeout, condition);
}

void TestUpstream::CloseIdleConnections() {
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    const auto snapshot = conns_;
    for (const auto& conn : snapshot) {
      if (conn->answering) continue;
      boost::system::error_code ignored;
      conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
      Finish(conn);
    }
    done.set_value();
  });
  done.get_future().wait();
}

void TestUpstream::Notify() {
  // Taking the mutex orders this notification after a waiter's check of its condition.
  { std::lock_guard lock(event_mutex_); }
  event_.notify_all();
}

std::optional<Behaviour> TestUpstream::NextForAccept() {
  std::lock_guard lock(mutex_);
  if (!script_.empty()) {
    if (script_.front().kind != Behaviour::Kind::kResetOnAccept) return std::nullopt;
    Behaviour b = std::move(script_.front());
    script_.pop_front();
    return b;
  }
  if (default_.kind == Behaviour::Kind::kResetOnAccept) return default_;
  return std::nullopt;
}

Behaviour TestUpstream::NextForRequest() {
  std::lock_guard lock(mutex_);
  if (script_.empty()) return default_;
  Behaviour b = std::move(script_.front());
  script_.pop_front();
  return b;
}

void TestUpstream::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      ++connections_;
      if (NextForAccept()) {
        boost::system::error_code ignored;
        socket.set_option(asio::socket_base::linger(true, 0), ignored);
        socket.close(ignored);
      } else {
        auto conn = std::make_shared<Conn>(std::move(socket));
        conns_.insert(conn);
        ++open_connections_;
        ReadRequest(conn);
      }
      Notify();
    }
    Accept();
  });
}

void TestUpstream::ReadRequest(std::shared_ptr<Conn> conn) {
  asio::async_read_until(
      conn->socket, asio::dynamic_buffer(conn->buffer), "\r\n\r\n",
      [this, conn](boost::system::error_code ec, size_t header_bytes) {
        if (ec) {
          Finish(conn);
          return;
        }
        conn->answering = true;
        size_t content_length = 0;
        const auto head = ParseHead(std::string_view(conn->buffer).substr(0, header_bytes));
        if (auto value = head.Header("Content-Length")) {
          std::from_chars(value->data(), value->data() + value->size(), content_length);
        }
        ReadBody(conn, header_bytes, content_length);
      });
}

void TestUpstream::ReadBody(std::shared_ptr<Conn> conn, size_t header_bytes, size_t content_length) {
  const size_t have = conn->buffer.size() - header_bytes;
  if (have < content_length) {
    asio::async_read(conn->socket, asio::dynamic_buffer(conn->buffer),
                     asio::transfer_exactly(content_length - have),
                     [this, conn, header_bytes, content_length](boost::system::error_code ec, size_t) {
                       if (ec) {
                         Finish(conn);
                         return;
                       }
                       ReadBody(conn, header_bytes, content_length);
                     });
    return;
  }
  auto request = ParseHead(std::string_view(conn->buffer).substr(0, header_bytes));
  request.body = conn->buffer.substr(header_bytes, content_length);
  conn->buffer.erase(0, header_bytes + content_length);
  Handle(std::move(conn), std::move(request));
}

void TestUpstream::Handle(std::shared_ptr<Conn> conn, ReceivedRequest request) {
  {
    std::lock_guard lock(mutex_);
    last_request_ = std::move(request);
  }
  ++requests_;
  Notify();
  Behaviour behaviour = NextForRequest();
  switch (behaviour.kind) {
    case Behaviour::Kind::kReply:
      if (behaviour.delay.count() > 0) {
        conn->timer.expires_after(behaviour.delay);
        conn->timer.async_wait([this, conn, behaviour](boost::system::error_code ec) {
          if (ec) return;
          WriteReply(conn, behaviour);
        });
      } else {
        WriteReply(conn, behaviour);
      }
      return;
    case Behaviour::Kind::kStall:
      Drain(conn);
      return;
    case Behaviour::Kind::kResetAfterRead:
    case Behaviour::Kind::kResetOnAccept:
      Abort(conn);
      return;
    case Behaviour::Kind::kCloseAfterRead: {
      boost::system::error_code ignored;
      conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
      Finish(conn);
      return;
    }
  }
}

void TestUpstream::WriteReply(std::shared_ptr<Conn> conn, const Behaviour& behaviour) {
  auto text = std::make_shared<std::string>();
  *text = "HTTP/1.1 " + std::to_string(behaviour.status) + " Scripted\r\n";
  *text += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(behaviour.body.size()) + "\r\n";
  if (behaviour.retry_after) *text += "Retry-After: " + *behaviour.retry_after + "\r\n";
  if (behaviour.close) *text += "Connection: close\r\n";
  *text += "\r\n" + behaviour.body;
  const bool close = behaviour.close;
  asio::async_write(conn->socket, asio::buffer(*text),
                    [this, conn, text, close](boost::system::error_code ec, size_t) {
                      if (ec || close) {
                        boost::system::error_code ignored;
                        conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
                        Finish(conn);
                        return;
                      }
                      ReadRequest(conn);
                    });
  conn->answering = false;
}

void TestUpstream::Drain(std::shared_ptr<Conn> conn) {
  conn->socket.async_read_some(asio::buffer(conn->scratch),
                               [this, conn](boost::system::error_code ec, size_t) {
                                 if (ec) {
                                   Finish(conn);
                                   return;
                                 }
                                 Drain(conn);
                               });
}

void TestUpstream::Abort(const std::shared_ptr<Conn>& conn) {
  // Linger 0 turns close() into an RST, which is what a crashed or overloaded peer looks like.
  boost::system::error_code ignored;
  conn->socket.set_option(asio::socket_base::linger(true, 0), ignored);
  Finish(conn);
}

void TestUpstream::Finish(const std::shared_ptr<Conn>& conn) {
  boost::system::error_code ignored;
  conn->socket.close(ignored);
  conn->timer.cancel();
  if (conns_.erase(conn) > 0) --open_connections_;
  Notify();
}

}  // namespace mercato::http::testing
