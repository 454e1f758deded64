// BlockingRequest: one HTTP/1.1 exchange on a private io_context, one connection per call.
// Beast's tcp_stream enforces timeouts only on asynchronous operations, so each step is started
// asynchronously and the io_context is run until that step completes; the caller's thread
// blocks, which is what this client is for.

#include "mercato/http/blocking_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/http/types.hpp"

namespace mercato::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kUserAgent = "mercato";
// Generous for the callers this serves (health probes, OTLP, tests) while still bounding memory
// when a peer streams garbage at us.
constexpr uint64_t kBodyLimit = 64ull * 1024 * 1024;

struct Target {
  std::string host;         // for the resolver: no brackets around IPv6
  uint16_t port = 80;
  std::string host_header;  // as written in the URL: "[::1]:8080", "example.com"
  std::string path;         // path + "?" + query, never empty
};

Result<Target> ParseUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Error{ErrorCode::kInvalidArgument, "bad URL: " + std::string(url), "url"};
  const auto& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::http) {
    return Error{ErrorCode::kInvalidArgument, "only http:// URLs are supported: " + std::string(url),
                 "url"};
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    return Error{ErrorCode::kInvalidArgument, "URL has no host: " + std::string(url), "url"};
  }
  Target t;
  t.host = u.host_address();
  if (u.has_port()) {
    // port_number() wraps values past 65535, so the digits are checked here.
    const std::string_view digits = u.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value == 0 ||
        value > 65535) {
      return Error{ErrorCode::kInvalidArgument, "bad port in URL: " + std::string(url), "url"};
    }
    t.port = static_cast<uint16_t>(value);
  }
  t.host_header = std::string(u.encoded_host_and_port());
  t.path = std::string(u.encoded_target());
  if (t.path.empty() || t.path.front() != '/') t.path.insert(0, "/");
  return t;
}

// Runs one asynchronous operation to completion on `ioc` and returns its error code.
template <class Initiate>
beast::error_code RunOne(asio::io_context& ioc, Initiate&& initiate) {
  beast::error_code result = asio::error::would_block;
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

bool IsTimeout(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

Error NetworkError(const beast::error_code& ec, std::string_view step, const Target& t) {
  std::string message = std::string(step) + " " + t.host_header + ": " + ec.message();
  if (IsTimeout(ec)) return Error{ErrorCode::kDeadlineExceeded, std::move(message)};
  if (ec == bhttp::error::body_limit) return Error{ErrorCode::kResourceExhausted, std::move(message)};
  // Refused, reset, EOF, unreachable, or a response we cannot parse: the peer is not usable now.
  return Error{ErrorCode::kUnavailable, std::move(message)};
}

std::chrono::steady_clock::duration Remaining(std::chrono::steady_clock::time_point deadline) {
  const auto now = std::chrono::steady_clock::now();
  return deadline > now ? deadline - now : std::chrono::steady_clock::duration::zero();
}

}  // namespace

std::string BlockingResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

Result<BlockingResponse> BlockingRequest(const BlockingCall& call) {
  auto target = ParseUrl(call.url);
  if (!target) return target.error();
  if (call.method.empty()) return Error{ErrorCode::kInvalidArgument, "empty method", "method"};
  // The deadline is computed once: connect, write and read share one budget.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::max(call.timeout, Duration::zero()));

  asio::io_context ioc;
  beast::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  // An IP literal needs no resolver. A name is resolved synchronously: getaddrinfo cannot be
  // interrupted anyway (Asio's async resolve runs it on a helper thread it must join), so the
  // deadline is checked once it returns.
  const auto address = asio::ip::make_address(target->host, ec);
  if (!ec) {
    endpoints.emplace_back(address, target->port);
  } else {
    tcp::resolver resolver(ioc);
    const auto results = resolver.resolve(target->host, std::to_string(target->port),
                                          tcp::resolver::numeric_service, ec);
    if (ec) {
      return Error{ErrorCode::kUnavailable, "resolve " + target->host + ": " + ec.message()};
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  if (Remaining(deadline) == std::chrono::steady_clock::duration::zero()) {
    return Error{ErrorCode::kDeadlineExceeded, "resolve " + target->host + ": timed out"};
  }

  beast::tcp_stream stream(ioc);
  stream.expires_after(Remaining(deadline));
  ec = RunOne(ioc, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
  if (ec) return NetworkError(ec, "connect", *target);

  bhttp::request<bhttp::string_body> request;
  const auto verb = bhttp::string_to_verb(call.method);
  if (verb == bhttp::verb::unknown) {
    request.method_string(call.method);
  } else {
    request.method(verb);
  }
  request.target(target->path);
  request.version(11);
  request.set(bhttp::field::host, target->host_header);
  request.set(bhttp::field::user_agent, kUserAgent);
  for (const auto& [name, value] : call.headers) {
    // The framing headers are ours: a caller's Content-Length could disagree with the body.
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
        EqualsIgnoreCase(name, "Connection")) {
      continue;
    }
    if (EqualsIgnoreCase(name, "Host") || EqualsIgnoreCase(name, "User-Agent")) {
      request.set(name, value);
    } else {
      request.insert(name, value);
    }
  }
  request.set(bhttp::field::connection, "close");
  request.body() = call.body;
  request.prepare_payload();

  stream.expires_after(Remaining(deadline));
  ec = RunOne(ioc, [&](auto handler) { bhttp::async_write(stream, request, std::move(handler)); });
  if (ec) return NetworkError(ec, "write to", *target);

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kBodyLimit);
  // A response to HEAD announces a length but carries no body.
  if (request.method() == bhttp::verb::head) parser.skip(true);
  stream.expires_after(Remaining(deadline));
  ec = RunOne(ioc, [&](auto handler) {
    bhttp::async_read(stream, buffer, parser, std::move(handler));
  });
  if (ec) return NetworkError(ec, "read from", *target);

  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  auto& message = parser.get();
  BlockingResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  return response;
}

}  // namespace mercato::http
