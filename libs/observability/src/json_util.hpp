// Small JSON writing helpers shared by the log, health and OTLP encoders (private to the library).
// They append to a caller-owned string so hot paths reuse one buffer:
//   AppendJsonDouble(out, 0.25);  // "0.25"; NaN and infinities become null
#pragma once

#include <string>

namespace mercato::obs {

// Shortest round-trip form for finite values, `null` otherwise (JSON has no NaN).
void AppendJsonDouble(std::string& out, double v);

}  // namespace mercato::obs
