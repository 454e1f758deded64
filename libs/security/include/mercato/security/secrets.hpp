// Small building blocks for handling secrets: CSPRNG bytes and tokens, SHA-256 for storing
// tokens as hashes, a timing-safe comparison, and secret files written atomically with 0600 and
// refused when readable by group or others.
//
//   std::string refresh = RandomToken();          // 43 chars of base64url, 256 bits
//   store.Save(user, Sha256Hex(refresh));         // a database leak does not leak live tokens
//   auto key = ReadSecretFile("/run/secrets/k");  // failed_precondition if mode is 0644
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::security {

// `size` bytes from OpenSSL's CSPRNG. Throws std::runtime_error only if the CSPRNG fails: that is
// a broken host, not an expected outcome, and continuing without randomness would be worse.
std::string RandomBytes(size_t size);

// `bytes` random bytes as unpadded base64url, safe in URLs, headers and cookies.
std::string RandomToken(size_t bytes = 32);

// Lower-case hex SHA-256. For high-entropy secrets (refresh tokens, API keys) only: a fast hash
// is fine there because guessing is hopeless, whereas passwords need HashPassword.
std::string Sha256Hex(std::string_view data);

// Compares in time independent of where the inputs differ; only the lengths leak, which for
// fixed-size tokens and digests reveal nothing.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Replaces `path` atomically: a temporary file beside it (O_CREAT|O_EXCL, mode 0600), written,
// fsync'd, renamed over `path`, and the directory fsync'd, so a crash leaves the old or the new
// secret, never half of one. Missing parent directories are created with mode 0700.
// Error{kInternal} naming the path on any I/O failure.
Result<void> WriteSecretFile(const std::filesystem::path& path, std::string_view content);

// SHA-256 (hex) of the file's content, "" when it cannot be read: how a process notices that a
// secret file was replaced (a rotation), exactly, whatever the filesystem's timestamp
// granularity. Take it before loading the file, so a replacement in between costs one extra
// reload rather than a missed one.
std::string SecretFileDigest(const std::filesystem::path& path);

// The whole file. Error{kNotFound} if it does not exist; Error{kFailedPrecondition} naming the
// path if it is not a regular file or group/others may read or write it, so a mis-permissioned
// secret stops start-up instead of going unnoticed (Kubernetes: set defaultMode: 0400).
// Error{kInternal} on other I/O failures.
Result<std::string> ReadSecretFile(const std::filesystem::path& path);

}  // namespace mercato::security
