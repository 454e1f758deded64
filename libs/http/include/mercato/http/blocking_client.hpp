// A small synchronous HTTP/1.1 client for code that has no event loop: the local runner's health
// probes, the OTLP exporter's background thread, tests. One connection per call, closed after.
// Service code uses the asynchronous Client (client.hpp) instead.
//
//   auto r = http::BlockingRequest({.method = "GET", .url = "http://127.0.0.1:8080/health/ready"});
//   if (r && r->status == 200) ...
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mercato/core/clock.hpp"
#include "mercato/core/result.hpp"

namespace mercato::http {

struct BlockingCall {
  std::string method = "GET";
  std::string url;  // http://host:port/path?query (https is not supported here)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Duration timeout = std::chrono::seconds(5);  // the whole call: connect, write, read
};

struct BlockingResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // First value of a header, case-insensitive; empty if absent.
  std::string Header(std::string_view name) const;
};

// unavailable: connect failed/reset; deadline_exceeded: timed out; invalid_argument: bad URL.
Result<BlockingResponse> BlockingRequest(const BlockingCall& call);

}  // namespace mercato::http
