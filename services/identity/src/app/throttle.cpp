#include "app/throttle.hpp"

#include <algorithm>

namespace mercato::identity::app {

Duration LoginThrottle::DelayAfter(int failures, int free) const {
  if (failures <= free) return Duration::zero();
  Duration delay = options_.base_delay;
  for (int i = free + 1; i < failures && delay < options_.max_delay; ++i) delay *= 2;
  return std::min(delay, options_.max_delay);
}

Duration LoginThrottle::Remaining(Map& map, const std::string& key, SteadyTime now) {
  auto it = map.find(key);
  if (it == map.end()) return Duration::zero();
  if (now - it->second.last_failure > options_.forget_after) {
    map.erase(it);
    return Duration::zero();
  }
  return std::max(Duration::zero(), it->second.locked_until - now);
}

void LoginThrottle::Fail(Map& map, const std::string& key, int free, SteadyTime now) {
  if (map.size() >= options_.max_keys && !map.count(key)) Trim(map, now);
  Entry& e = map[key];
  if (e.failures > 0 && now - e.last_failure > options_.forget_after) e = Entry{};
  ++e.failures;
  e.last_failure = now;
  e.locked_until = now + DelayAfter(e.failures, free);
}

// Drops forgotten and unlocked keys; if the map is still full, clears it rather than grow
// without bound (an attacker able to fill 100k keys is throttled by address anyway).
void LoginThrottle::Trim(Map& map, SteadyTime now) {
  std::erase_if(map, [&](const auto& kv) {
    return now - kv.second.last_failure > options_.forget_after || kv.second.locked_until <= now;
  });
  if (map.size() >= options_.max_keys) map.clear();
}

Duration LoginThrottle::RetryAfter(std::string_view account, std::string_view address) {
  std::lock_guard lock(mutex_);
  const SteadyTime now = clock_.Now();
  return std::max(Remaining(accounts_, std::string(account), now),
                  Remaining(addresses_, std::string(address), now));
}

void LoginThrottle::RecordFailure(std::string_view account, std::string_view address) {
  std::lock_guard lock(mutex_);
  const SteadyTime now = clock_.Now();
  Fail(accounts_, std::string(account), options_.account_free_failures, now);
  Fail(addresses_, std::string(address), options_.address_free_failures, now);
}

void LoginThrottle::RecordSuccess(std::string_view account) {
  std::lock_guard lock(mutex_);
  accounts_.erase(std::string(account));
}

std::size_t LoginThrottle::TrackedKeys() const {
  std::lock_guard lock(mutex_);
  return accounts_.size() + addresses_.size();
}

}  // namespace mercato::identity::app
