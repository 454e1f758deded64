// A bulkhead caps concurrent calls to one upstream, so a slow dependency cannot take every
// connection and coroutine of the service with it. Past the cap, calls are rejected at once with
// resource_exhausted (no queue: the caller's retry/fallback policy decides). Thread-safe.
//
//   auto permit = bulkhead.TryAcquire();
//   if (!permit) return permit.error();      // resource_exhausted
//   ... call ...                             // the permit is released when it goes out of scope
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "mercato/core/result.hpp"

namespace mercato::resilience {

class Bulkhead {
 public:
  class Permit {
   public:
    Permit() = default;
    explicit Permit(Bulkhead* owner) : owner_(owner) {}
    Permit(Permit&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { Release(); }
    void Release();

   private:
    Bulkhead* owner_ = nullptr;
  };

  Bulkhead(std::string name, int max_concurrent);

  Result<Permit> TryAcquire();
  int in_flight() const { return in_flight_.load(); }
  int max_concurrent() const { return max_concurrent_; }
  uint64_t rejected() const { return rejected_.load(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int max_concurrent_;
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace mercato::resilience
