// Fault injection for crash tests: a process started with MERCATO_FAULT=<name> kills itself with
// SIGKILL when it reaches FaultPoint(<name>), so a test can crash a service at the worst moment
// (after a publish and before its mark, after an effect and before its ack) and check that
// recovery neither loses nor repeats anything. Without the variable a fault point costs one
// comparison against a cached empty string.
//
//   FaultPoint("relay.after_publish_before_mark");
#pragma once

#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>

namespace mercato::messaging {

inline void FaultPoint(std::string_view name) {
  // Read once per process: getenv is not safe against concurrent setenv, and the hot paths that
  // call this must not pay for a lookup each time.
  static const std::string armed = [] {
    const char* value = std::getenv("MERCATO_FAULT");
    return value != nullptr ? std::string(value) : std::string();
  }();
  if (!armed.empty() && armed == name) std::raise(SIGKILL);
}

}  // namespace mercato::messaging
