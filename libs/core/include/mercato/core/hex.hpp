// Lower-case hexadecimal encoding of bytes: trace and span ids (W3C traceparent forbids upper
// case), OTLP ids. Two digits per byte, most significant nibble first.
//
//   std::array<uint8_t, 8> id = ...;
//   std::string hex = mercato::HexEncode(id);  // "00f067aa0ba902b7"
//   mercato::AppendHex(out, id);                // onto an existing string, no temporary
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace mercato {

void AppendHex(std::string& out, std::span<const uint8_t> bytes);
std::string HexEncode(std::span<const uint8_t> bytes);
inline std::string HexEncode(const uint8_t* data, size_t size) { return HexEncode({data, size}); }

}  // namespace mercato
