// Identifiers: UUIDv7 strings (RFC 9562), time-ordered so that index inserts stay append-mostly
// and ids sort by creation time. Ids are opaque to clients. IdGenerator lets tests fix them.
//
//   std::string id = mercato::NewId();            // "01936a4e-7c1f-7a3b-9d2e-5f0a1b2c3d4e"
//   mercato::SequentialIds ids("ord");  ids.Next() // "ord-000001"
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "mercato/core/clock.hpp"

namespace mercato {

// A new UUIDv7 from the real clock; monotonic within the process even within one millisecond.
std::string NewId();
// A UUIDv7 whose timestamp comes from `clock` (the random part is still random).
std::string NewId(const Clock& clock);
// True for the canonical 8-4-4-4-12 lower- or upper-case hex form.
bool IsUuid(std::string_view text);

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  virtual std::string Next() = 0;
};

class UuidV7Generator final : public IdGenerator {
 public:
  std::string Next() override { return NewId(); }
};

// "<prefix>-000001", "<prefix>-000002", ...: deterministic ids for tests.
class SequentialIds final : public IdGenerator {
 public:
  explicit SequentialIds(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Next() override;

 private:
  std::string prefix_;
  std::atomic<uint64_t> next_{1};
};

}  // namespace mercato
