#include "mercato/security/secrets.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

#include "mercato/core/hex.hpp"
#include "mercato/security/base64url.hpp"

namespace mercato::security {
namespace {

Error IoError(std::string_view what, const std::filesystem::path& path, int err) {
  return Error{ErrorCode::kInternal,
               std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

// Closes on every exit path; a failed close of a read-only fd is of no interest.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int Get() const { return fd_; }
  // For the write path, where close can report a deferred write error.
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Result<void> WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

// mkdir -p with 0700 for what it creates; existing directories keep their mode (they may be
// shared, e.g. /run), which is the operator's business.
Result<void> EnsureDirectory(const std::filesystem::path& dir) {
  if (dir.empty()) return Ok();
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Ok();
  if (auto parent = EnsureDirectory(dir.parent_path()); !parent) return parent;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return IoError("cannot create directory", dir, errno);
  }
  return Ok();
}

}  // namespace

std::string RandomBytes(size_t size) {
  std::string out(size, '\0');
  // RAND_bytes takes an int; fill in chunks so huge sizes cannot overflow it.
  size_t done = 0;
  while (done < size) {
    size_t chunk = std::min<size_t>(size - done, std::numeric_limits<int>::max());
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), static_cast<int>(chunk)) !=
        1) {
      throw std::runtime_error("RAND_bytes failed: the CSPRNG is unavailable");
    }
    done += chunk;
  }
  return out;
}

std::string RandomToken(size_t bytes) { return Base64UrlEncode(RandomBytes(bytes)); }

std::string Sha256Hex(std::string_view data) {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    // Only fails on allocation failure or a broken provider setup: a bug, not an input error.
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  return HexEncode(digest, size);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<void> WriteSecretFile(const std::filesystem::path& path, std::string_view content) {
  if (auto dir = EnsureDirectory(path.parent_path()); !dir) return dir;

  // A random suffix rather than a fixed ".tmp": two writers never share a temporary, and O_EXCL
  // refuses a file (or symlink) an attacker planted under the expected name.
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + RandomToken(8);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.Get() < 0) return IoError("cannot create", tmp, errno);

  auto fail = [&](Error error) {
    ::unlink(tmp.c_str());
    return error;
  };
  // The umask can only remove bits, but be explicit so the mode never depends on it.
  if (::fchmod(fd.Get(), 0600) != 0) return fail(IoError("cannot chmod", tmp, errno));
  if (auto written = WriteAll(fd.Get(), content, tmp); !written) return fail(written.error());
  if (::fsync(fd.Get()) != 0) return fail(IoError("cannot fsync", tmp, errno));
  if (::close(fd.Release()) != 0) return fail(IoError("cannot close", tmp, errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(IoError("cannot rename onto", path, errno));

  // Persist the rename itself; without this a crash can bring back the old directory entry.
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.Get() < 0 || ::fsync(dir_fd.Get()) != 0) return IoError("cannot fsync", dir, errno);
  return Ok();
}

Result<std::string> ReadSecretFile(const std::filesystem::path& path) {
  // Symlinks are followed on purpose: Kubernetes mounts secrets through ..data/ symlinks. The mode
  // is checked on the opened descriptor, so it is the file actually read.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.Get() < 0) {
    if (errno == ENOENT) return Error{ErrorCode::kNotFound, "no secret file " + path.string()};
    return IoError("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.Get(), &st) != 0) return IoError("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Error{ErrorCode::kFailedPrecondition,
                 "secret " + path.string() + " is not a regular file"};
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{ErrorCode::kFailedPrecondition,
                 "secret " + path.string() + " has mode " + mode +
                     ": group/others must have no access (chmod 600)"};
  }

  std::string out;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot read", path, errno);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::string SecretFileDigest(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return Sha256Hex(content);
}

}  // namespace mercato::security
