// Login throttling: failed attempts are counted per account and per client address; past a free
// allowance each further failure locks that key for a delay that doubles up to a cap. While a
// key is locked, attempts answer 429 with Retry-After without checking the password, so guessing
// costs the attacker time and the server no Argon2 work. An account has at most one attempt in
// flight (an address a few), so a burst of parallel guesses cannot all pass the check before the
// first failure is counted. Unknown emails are throttled exactly like real ones (the account key
// is a keyed hash of the normalised email), so the throttle does not reveal which accounts
// exist. In memory: one identity replica; see the README.
//
//   if (auto wait = throttle.Begin(account, address); wait > Duration::zero()) → 429, Retry-After
//   ... verify ...;  throttle.Finish(account, address, ok);     // exactly once after admission
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mercato/core/clock.hpp"

namespace mercato::identity::app {

class LoginThrottle {
 public:
  struct Options {
    int account_free_failures = 5;   // failures per account before delays start
    int address_free_failures = 20;  // per client address (many accounts from one place)
    Duration base_delay = std::chrono::seconds(1);
    Duration max_delay = std::chrono::minutes(15);
    // A key whose last failure is older than this starts from zero again.
    Duration forget_after = std::chrono::hours(1);
    int max_in_flight_per_address = 8;
    std::size_t max_keys = 100000;  // memory bound per map; the least-failed keys go first
  };

  LoginThrottle(Options options, const Clock& clock) : options_(options), clock_(clock) {}

  // Admits one attempt: zero when admitted (call Finish once it is decided), else how long the
  // caller must wait (a locked key, or an attempt for the same account still in flight).
  Duration Begin(std::string_view account, std::string_view address);
  // A failure counts against both keys; a success clears the account's failures (not the
  // address's: one good password does not excuse a thousand bad guesses at other accounts).
  void Finish(std::string_view account, std::string_view address, bool success);

  // Address-only throttling for attempts that are not logins (sign-ups that hit a taken email).
  Duration AddressRetryAfter(std::string_view address);
  void RecordAddressFailure(std::string_view address);

  // The delay imposed after the n-th consecutive failure, for `free` free failures.
  Duration DelayAfter(int failures, int free) const;
  std::size_t TrackedKeys() const;

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;
    SteadyTime last_failure{};
    SteadyTime locked_until{};
  };
  using Map = std::unordered_map<std::string, Entry>;

  Duration Remaining(Map& map, const std::string& key, SteadyTime now);
  void Fail(Map& map, const std::string& key, int free, SteadyTime now);
  void Release(Map& map, const std::string& key);
  void Trim(Map& map, SteadyTime now);

  Options options_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  Map accounts_;
  Map addresses_;
};

}  // namespace mercato::identity::app
