// Readiness probes: one question, "does the process on this port say it is ready right now?",
// asked over HTTP (GET <path> must answer 200) or, for tools that speak no HTTP, by a TCP
// connect. Used while starting, while supervising restarts, and live by `mercato status`.
//
//   bool ready = runner::ProbeReady(ReadyCheck::kHttp, 8190, "/health/ready");
#pragma once

#include <chrono>
#include <string_view>

#include "topology.hpp"

namespace mercato::runner {

// Short by default: probes run inside the supervisor loop, which must stay responsive to signals.
inline constexpr std::chrono::milliseconds kProbeTimeout{1000};

bool ProbeReady(ReadyCheck check, int port, std::string_view path,
                std::chrono::milliseconds timeout = kProbeTimeout);

// True if something accepts a TCP connection on 127.0.0.1:port within `timeout`.
bool CanConnect(int port, std::chrono::milliseconds timeout);

}  // namespace mercato::runner
