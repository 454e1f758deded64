#include "mercato/security/field_crypto.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>

#include "mercato/core/hex.hpp"
#include "mercato/security/base64url.hpp"

namespace mercato::security {
namespace {

constexpr uint8_t kFormatVersion = 0x01;
constexpr std::size_t kHeaderSize = 2;  // version, key id
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;
constexpr std::size_t kOverhead = kHeaderSize + kNonceSize + kTagSize;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// Wipes a string that held key material (the JSON text, decoded keys) before it is freed.
struct Wiped {
  std::string& text;
  ~Wiped() { OPENSSL_cleanse(text.data(), text.size()); }
};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
std::string_view View(const Keyring::Key& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

Error Corrupt(std::string what) {
  return Error{ErrorCode::kFailedPrecondition, "pii keyring: " + std::move(what)};
}
// errno text only: paths and sizes are not secret, contents are never included.
Error Io(std::string what, const std::filesystem::path& path) {
  return Error{ErrorCode::kUnavailable,
               "pii keyring: " + std::move(what) + " " + path.string() + ": " + strerror(errno)};
}
Error Undecryptable() {
  return Error{ErrorCode::kInvalidArgument, "encrypted field does not authenticate"};
}

Result<Keyring::Key> RandomKey() {
  Keyring::Key key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    return Error{ErrorCode::kInternal, "RAND_bytes failed"};
  return key;
}

Result<Keyring::Key> DecodeKey(const boost::json::value& value, std::string_view name) {
  if (!value.is_string()) return Corrupt(std::string(name) + " is not a string");
  auto bytes = Base64UrlDecode(value.get_string());
  if (!bytes) return Corrupt(std::string(name) + " is not base64url");
  Wiped wipe{*bytes};
  if (bytes->size() != Keyring::kKeySize) return Corrupt(std::string(name) + " is not 32 bytes");
  Keyring::Key key{};
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

// Ids are written as canonical decimal ("7", never "07"), so one id has one spelling.
std::optional<uint8_t> ParseKeyId(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < 1 || value > 255 || std::to_string(value) != text) return std::nullopt;
  return static_cast<uint8_t>(value);
}

Result<std::string> ReadSecretFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Io("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Io("cannot stat", path);
  }
  // Like ssh with its private keys: a key file others can read is already a leak, so refuse it
  // rather than run with keys of unknown exposure.
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Corrupt(path.string() + " is accessible by group or others (want mode 0600)");
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      OPENSSL_cleanse(text.data(), text.size());
      return Io("cannot read", path);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  OPENSSL_cleanse(buffer, sizeof buffer);
  ::close(fd);
  return text;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void SyncDirectory(const std::filesystem::path& directory) {
  // Makes the rename itself durable; best effort, as some filesystems refuse fsync on directories.
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

enum class Install { kReplace, kCreateOnly };
enum class Installed { kDone, kAlreadyExists };

// Writes `text` to a fresh 0600 temp file, fsyncs it, then puts it in place: rename() to replace
// (rotation), link() to create only if absent (first start), since link fails on an existing name
// where rename would silently overwrite another replica's freshly created keys.
Result<Installed> WriteSecretFile(const std::filesystem::path& directory, std::string_view text,
                                  Install mode) {
  const auto target = directory / Keyring::kFileName;
  const auto temp =
      directory / (std::string(Keyring::kFileName) + ".tmp." + std::to_string(::getpid()));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Io("cannot create", temp);
  bool ok = ::fchmod(fd, 0600) == 0 && WriteAll(fd, text) && ::fsync(fd) == 0;
  int saved_errno = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    saved_errno = errno;
  }
  if (!ok) {
    ::unlink(temp.c_str());
    errno = saved_errno;
    return Io("cannot write", temp);
  }
  Installed result = Installed::kDone;
  if (mode == Install::kReplace) {
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      saved_errno = errno;
      ::unlink(temp.c_str());
      errno = saved_errno;
      return Io("cannot rename onto", target);
    }
  } else {
    if (::link(temp.c_str(), target.c_str()) != 0) {
      saved_errno = errno;
      ::unlink(temp.c_str());
      if (saved_errno != EEXIST) {
        errno = saved_errno;
        return Io("cannot create", target);
      }
      return Installed::kAlreadyExists;
    }
    ::unlink(temp.c_str());
  }
  SyncDirectory(directory);
  return result;
}

}  // namespace

Keyring::~Keyring() {
  for (auto& [id, key] : keys_) OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(index_key_.data(), index_key_.size());
}

const Keyring::Key* Keyring::Find(uint8_t id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

std::string Keyring::ToJson() const {
  boost::json::object keys;
  for (const auto& [id, key] : keys_) keys[std::to_string(id)] = Base64UrlEncode(View(key));
  boost::json::object doc;
  doc["current"] = current_;
  doc["keys"] = std::move(keys);
  doc["index_key"] = Base64UrlEncode(View(index_key_));
  return boost::json::serialize(doc);
}

Result<Keyring> Keyring::LoadOrCreate(const std::filesystem::path& directory) {
  const auto path = directory / kFileName;
  Keyring keyring;
  keyring.directory_ = directory;

  if (::access(path.c_str(), F_OK) != 0) {
    if (errno != ENOENT) return Io("cannot access", path);
    auto key = RandomKey();
    if (!key) return key.error();
    auto index_key = RandomKey();
    if (!index_key) return index_key.error();
    keyring.keys_.emplace(1, *key);
    keyring.current_ = 1;
    keyring.index_key_ = *index_key;
    OPENSSL_cleanse(key->data(), key->size());
    OPENSSL_cleanse(index_key->data(), index_key->size());
    std::string text = keyring.ToJson();
    Wiped wipe{text};
    auto installed = WriteSecretFile(directory, text, Install::kCreateOnly);
    if (!installed) return installed.error();
    if (*installed == Installed::kDone) return keyring;
    // Another process created the file first: its keys are the ones in use, load them.
  }

  auto text = ReadSecretFile(path);
  if (!text) return text.error();
  Wiped wipe_text{*text};
  boost::system::error_code ec;
  auto doc = boost::json::parse(*text, ec);
  if (ec || !doc.is_object()) return Corrupt("file is not a JSON object");
  const auto& root = doc.as_object();

  Keyring loaded;
  loaded.directory_ = directory;
  const auto* keys = root.if_contains("keys");
  if (!keys || !keys->is_object() || keys->get_object().empty())
    return Corrupt("\"keys\" is missing or empty");
  for (const auto& [name, value] : keys->get_object()) {
    auto id = ParseKeyId(name);
    if (!id) return Corrupt("key id \"" + std::string(name) + "\" is not 1..255");
    auto key = DecodeKey(value, "key " + std::string(name));
    if (!key) return key.error();
    loaded.keys_.emplace(*id, *key);
    OPENSSL_cleanse(key->data(), key->size());
  }
  const auto* current = root.if_contains("current");
  if (!current || !current->is_int64() || current->get_int64() < 1 || current->get_int64() > 255 ||
      !loaded.HasKey(static_cast<uint8_t>(current->get_int64())))
    return Corrupt("\"current\" does not name a key in \"keys\"");
  loaded.current_ = static_cast<uint8_t>(current->get_int64());
  const auto* index_key = root.if_contains("index_key");
  if (!index_key) return Corrupt("\"index_key\" is missing");
  auto decoded_index_key = DecodeKey(*index_key, "index_key");
  if (!decoded_index_key) return decoded_index_key.error();
  loaded.index_key_ = *decoded_index_key;
  OPENSSL_cleanse(decoded_index_key->data(), decoded_index_key->size());
  // Wipe all JSON string storage holding keys before the document is freed.
  for (auto& [name, value] : doc.as_object()["keys"].as_object()) {
    auto& s = value.as_string();
    OPENSSL_cleanse(s.data(), s.size());
  }
  auto& index_text = doc.as_object()["index_key"].as_string();
  OPENSSL_cleanse(index_text.data(), index_text.size());
  return loaded;
}

Result<void> Keyring::Rotate() {
  const uint8_t last = keys_.empty() ? 0 : keys_.rbegin()->first;
  if (last == 255)
    return Error{ErrorCode::kResourceExhausted, "pii keyring: all 255 key ids are used"};
  auto key = RandomKey();
  if (!key) return key.error();
  const auto new_id = static_cast<uint8_t>(last + 1);

  // Save first, then switch in memory, so a failed save leaves this process on the old state.
  Keyring next;
  next.directory_ = directory_;
  next.keys_ = keys_;
  next.keys_.emplace(new_id, *key);
  next.current_ = new_id;
  next.index_key_ = index_key_;
  OPENSSL_cleanse(key->data(), key->size());
  std::string text = next.ToJson();
  Wiped wipe{text};
  auto saved = WriteSecretFile(directory_, text, Install::kReplace);
  if (!saved) return saved.error();
  for (auto& [id, old] : keys_) OPENSSL_cleanse(old.data(), old.size());  // `next` holds copies
  *this = std::move(next);
  return Ok();
}

Result<std::string> FieldCipher::Encrypt(std::string_view plaintext,
                                         std::string_view associated_data) const {
  const auto* key = keyring_.Find(keyring_.CurrentKeyId());
  if (!key) return Error{ErrorCode::kInternal, "keyring has no current key"};
  if (plaintext.size() > INT_MAX - kOverhead || associated_data.size() > INT_MAX - kHeaderSize)
    return Error{ErrorCode::kInvalidArgument, "field too large to encrypt"};

  std::string out(kOverhead + plaintext.size(), '\0');
  out[0] = static_cast<char>(kFormatVersion);
  out[1] = static_cast<char>(keyring_.CurrentKeyId());
  auto* nonce = Bytes(out) + kHeaderSize;
  if (RAND_bytes(nonce, static_cast<int>(kNonceSize)) != 1)
    return Error{ErrorCode::kInternal, "RAND_bytes failed"};
  auto* body = nonce + kNonceSize;

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  // The header goes in as AAD too, so the version and key id cannot be altered undetected.
  bool ok = ctx &&
            EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key->data(), nonce, nullptr) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(out), kHeaderSize) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                              static_cast<int>(associated_data.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), body, &len, Bytes(plaintext),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), body + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                                body + plaintext.size()) == 1;
  if (!ok) return Error{ErrorCode::kInternal, "AES-256-GCM encryption failed"};
  return Base64UrlEncode(out);
}

Result<DecryptedField> FieldCipher::Decrypt(std::string_view stored,
                                            std::string_view associated_data) const {
  auto raw = Base64UrlDecode(stored);
  if (!raw) return Error{ErrorCode::kInvalidArgument, "encrypted field is not base64url"};
  if (raw->size() < kOverhead || raw->size() > INT_MAX)
    return Error{ErrorCode::kInvalidArgument, "encrypted field has an impossible length"};
  if (associated_data.size() > INT_MAX) return Undecryptable();
  const auto* bytes = Bytes(*raw);
  if (bytes[0] != kFormatVersion)
    return Error{ErrorCode::kInvalidArgument, "encrypted field has an unknown format version"};
  const uint8_t key_id = bytes[1];
  const auto* key = keyring_.Find(key_id);
  if (!key) {
    return Error{ErrorCode::kFailedPrecondition,
                 "encrypted field uses key " + std::to_string(key_id) + ", not in the keyring"};
  }
  const auto* nonce = bytes + kHeaderSize;
  const auto* body = nonce + kNonceSize;
  const std::size_t body_size = raw->size() - kOverhead;
  // The tag is passed to OpenSSL through a non-const pointer; copy it rather than cast away const.
  std::array<unsigned char, kTagSize> tag{};
  std::copy(body + body_size, body + body_size + kTagSize, tag.begin());

  DecryptedField result;
  result.plaintext.assign(body_size, '\0');
  auto* out = Bytes(result.plaintext);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx &&
            EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key->data(), nonce, nullptr) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes, kHeaderSize) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                              static_cast<int>(associated_data.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), out, &len, body, static_cast<int>(body_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                                tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), out + len, &len) == 1;
  if (!ok) {
    // Unauthenticated output must not escape, not even in memory that is about to be freed.
    OPENSSL_cleanse(result.plaintext.data(), result.plaintext.size());
    return Undecryptable();
  }
  result.needs_reencrypt = key_id != keyring_.CurrentKeyId();
  return result;
}

Result<std::string> BlindIndex(const Keyring& keyring, std::string_view normalized_value) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  std::size_t mac_size = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, keyring.index_key_.data(),
                 keyring.index_key_.size(), Bytes(normalized_value), normalized_value.size(),
                 mac.data(), mac.size(), &mac_size))
    return Error{ErrorCode::kInternal, "HMAC-SHA256 failed"};
  return HexEncode(mac.data(), mac_size);
}

}  // namespace mercato::security
