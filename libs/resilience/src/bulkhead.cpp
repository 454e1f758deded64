#include "mercato/resilience/bulkhead.hpp"

#include <stdexcept>
#include <utility>

namespace mercato::resilience {

Bulkhead::Permit& Bulkhead::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Release();  // the permit being overwritten must not leak its slot
    owner_ = std::exchange(other.owner_, nullptr);
  }
  return *this;
}

void Bulkhead::Permit::Release() {
  if (owner_ == nullptr) return;
  // release: the work done under the permit happens-before the slot is seen free.
  owner_->in_flight_.fetch_sub(1, std::memory_order_release);
  owner_ = nullptr;
}

Bulkhead::Bulkhead(std::string name, int max_concurrent)
    : name_(std::move(name)), max_concurrent_(max_concurrent) {
  // A cap below one would reject every call: that is a configuration mistake, caught at start-up.
  if (max_concurrent_ < 1) {
    throw std::invalid_argument("bulkhead " + name_ + ": max_concurrent must be >= 1");
  }
}

Result<Bulkhead::Permit> Bulkhead::TryAcquire() {
  // Compare-exchange rather than fetch_add-then-undo: an increment past the cap, even a
  // momentary one, would let a concurrent reader see more calls in flight than allowed.
  int current = in_flight_.load(std::memory_order_relaxed);
  while (current < max_concurrent_) {
    if (in_flight_.compare_exchange_weak(current, current + 1, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
      return Permit(this);
    }
  }
  rejected_.fetch_add(1, std::memory_order_relaxed);
  return Error{ErrorCode::kResourceExhausted,
               "bulkhead " + name_ + " full (" + std::to_string(max_concurrent_) + " in flight)"};
}

}  // namespace mercato::resilience
