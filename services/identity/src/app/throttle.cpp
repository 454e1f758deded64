#include "app/throttle.hpp"

#include <algorithm>
#include <vector>

namespace mercato::identity::app {

namespace {
constexpr Duration kInFlightWait = std::chrono::seconds(1);
}

Duration LoginThrottle::DelayAfter(int failures, int free) const {
  if (failures <= free) return Duration::zero();
  Duration delay = options_.base_delay;
  for (int i = free + 1; i < failures && delay < options_.max_delay; ++i) delay *= 2;
  return std::min(delay, options_.max_delay);
}

Duration LoginThrottle::Remaining(Map& map, const std::string& key, SteadyTime now) {
  auto it = map.find(key);
  if (it == map.end()) return Duration::zero();
  if (it->second.in_flight == 0 && now - it->second.last_failure > options_.forget_after) {
    map.erase(it);
    return Duration::zero();
  }
  return std::max(Duration::zero(), it->second.locked_until - now);
}

void LoginThrottle::Fail(Map& map, const std::string& key, int free, SteadyTime now) {
  if (map.size() >= options_.max_keys && !map.count(key)) Trim(map, now);
  Entry& e = map[key];
  if (e.failures > 0 && now - e.last_failure > options_.forget_after) e.failures = 0;
  ++e.failures;
  e.last_failure = now;
  e.locked_until = now + DelayAfter(e.failures, free);
}

void LoginThrottle::Release(Map& map, const std::string& key) {
  auto it = map.find(key);
  if (it == map.end()) return;
  if (it->second.in_flight > 0) --it->second.in_flight;
  if (it->second.in_flight == 0 && it->second.failures == 0) map.erase(it);
}

// Over capacity: drop forgotten keys, then the half with the fewest failures, never a key with
// an attempt in flight. Keys with many failures (the ones under attack) are the last to go.
void LoginThrottle::Trim(Map& map, SteadyTime now) {
  std::erase_if(map, [&](const auto& kv) {
    return kv.second.in_flight == 0 && now - kv.second.last_failure > options_.forget_after;
  });
  if (map.size() < options_.max_keys) return;
  std::vector<int> failures;
  failures.reserve(map.size());
  for (const auto& [key, e] : map) failures.push_back(e.failures);
  auto middle = failures.begin() + static_cast<std::ptrdiff_t>(failures.size() / 2);
  std::nth_element(failures.begin(), middle, failures.end());
  const int cutoff = *middle;
  std::erase_if(map, [&](const auto& kv) {
    return kv.second.in_flight == 0 && kv.second.failures <= cutoff;
  });
}

Duration LoginThrottle::Begin(std::string_view account_view, std::string_view address_view) {
  const std::string account(account_view);
  const std::string address(address_view);
  std::lock_guard lock(mutex_);
  const SteadyTime now = clock_.Now();
  Duration wait = std::max(Remaining(accounts_, account, now), Remaining(addresses_, address, now));
  if (wait > Duration::zero()) return wait;
  auto a = accounts_.find(account);
  if (a != accounts_.end() && a->second.in_flight > 0) return kInFlightWait;
  auto b = addresses_.find(address);
  if (b != addresses_.end() && b->second.in_flight >= options_.max_in_flight_per_address)
    return kInFlightWait;
  if (accounts_.size() >= options_.max_keys && a == accounts_.end()) Trim(accounts_, now);
  if (addresses_.size() >= options_.max_keys && b == addresses_.end()) Trim(addresses_, now);
  ++accounts_[account].in_flight;
  ++addresses_[address].in_flight;
  return Duration::zero();
}

void LoginThrottle::Finish(std::string_view account_view, std::string_view address_view,
                           bool success) {
  const std::string account(account_view);
  const std::string address(address_view);
  std::lock_guard lock(mutex_);
  const SteadyTime now = clock_.Now();
  if (success) {
    if (auto it = accounts_.find(account); it != accounts_.end()) it->second.failures = 0;
  } else {
    Fail(accounts_, account, options_.account_free_failures, now);
    Fail(addresses_, address, options_.address_free_failures, now);
  }
  Release(accounts_, account);
  Release(addresses_, address);
}

Duration LoginThrottle::AddressRetryAfter(std::string_view address) {
  std::lock_guard lock(mutex_);
  return Remaining(addresses_, std::string(address), clock_.Now());
}

void LoginThrottle::RecordAddressFailure(std::string_view address) {
  std::lock_guard lock(mutex_);
  Fail(addresses_, std::string(address), options_.address_free_failures, clock_.Now());
}

std::size_t LoginThrottle::TrackedKeys() const {
  std::lock_guard lock(mutex_);
  return accounts_.size() + addresses_.size();
}

}  // namespace mercato::identity::app
