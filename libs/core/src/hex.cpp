#include "mercato/core/hex.hpp"

namespace mercato {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

void AppendHex(std::string& out, std::span<const uint8_t> bytes) {
  out.reserve(out.size() + 2 * bytes.size());
  for (const uint8_t b : bytes) {
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xf];
  }
}

std::string HexEncode(std::span<const uint8_t> bytes) {
  std::string out;
  AppendHex(out, bytes);
  return out;
}

}  // namespace mercato
