#include "mercato/testing/testing.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mercato::testing {

namespace fs = std::filesystem;

std::string BinaryPath(std::string_view name) {
  if (const char* dir = std::getenv("MERCATO_BIN_DIR"); dir && *dir) {
    return std::string(dir) + "/" + std::string(name);
  }
  // Tests live in <build>/tests; binaries in <build>/bin or the shared build/bin.
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  for (auto candidate : {self.parent_path().parent_path() / "bin" / name,
                         self.parent_path().parent_path().parent_path() / "bin" / name}) {
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return "build/bin/" + std::string(name);
}

bool WaitFor(const std::function<bool()>& condition, Duration timeout, Duration poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);  // the poll interval of a condition wait, not a fixed delay
  }
}

TempDir::TempDir() {
  std::string base = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  std::string pattern = base + "/mercato-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data()))
    throw std::runtime_error("mkdtemp failed: " + std::string(strerror(errno)));
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

// A socket bound to 127.0.0.1:`port` (0: the kernel picks), or -1. Close-on-exec, so a child a
// test starts never inherits it. Without SO_REUSEADDR: a port that still has connections in
// TIME_WAIT counts as taken, which errs on the safe side.
int BindLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

}  // namespace

uint16_t FreeTcpPort() {
  int fd = BindLoopback(0);
  uint16_t port = fd >= 0 ? BoundPort(fd) : 0;
  if (fd >= 0) close(fd);
  if (port == 0) throw std::runtime_error("FreeTcpPort: cannot bind 127.0.0.1:0");
  return port;
}

uint16_t FreeTcpPortRange(int count) {
  if (count < 1) throw std::invalid_argument("FreeTcpPortRange: count must be >= 1");
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int base = FreeTcpPort();
    if (base + count - 1 > 65535) continue;
    bool all_free = true;
    for (int i = 1; i < count && all_free; ++i) {
      int fd = BindLoopback(static_cast<uint16_t>(base + i));
      all_free = fd >= 0;
      if (fd >= 0) close(fd);
    }
    if (all_free) return static_cast<uint16_t>(base);
  }
  throw std::runtime_error("FreeTcpPortRange: no " + std::to_string(count) +
                           " consecutive free ports found");
}

uint16_t ClosedTcpPort() {
  // Bound but never listening: the kernel answers a SYN with RST (connection refused). The socket
  // is deliberately never closed, so the port stays reserved for the rest of the test process.
  int fd = BindLoopback(0);
  uint16_t port = fd >= 0 ? BoundPort(fd) : 0;
  if (port == 0) throw std::runtime_error("ClosedTcpPort: cannot bind 127.0.0.1:0");
  return port;
}

ChildProcess ChildProcess::Start(const std::string& binary, const std::vector<std::string>& args,
                                 const std::vector<std::pair<std::string, std::string>>& env,
                                 const std::string& log_file) {
  if (access(binary.c_str(), X_OK) != 0) throw std::runtime_error("not an executable: " + binary);
  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The child's environment, complete before fork: after fork() in a multi-threaded process only
  // async-signal-safe calls are allowed until exec, and setenv() (malloc, a lock) is not one.
  // Same result as setenv(k, v, 1) for each override in order: a later one wins.
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry) env_storage.emplace_back(*entry);
  for (const auto& assignment : env) {
    const std::string& key = assignment.first;
    const std::string& value = assignment.second;
    auto same_key = [&key](const std::string& entry) {
      return entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
             entry[key.size()] == '=';
    };
    auto existing = std::find_if(env_storage.begin(), env_storage.end(), same_key);
    if (existing != env_storage.end()) {
      *existing = key + "=" + value;
    } else {
      env_storage.push_back(key + "=" + value);
    }
  }
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* log_path = log_file.empty() ? nullptr : log_file.c_str();

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls from here to execve.
    if (log_path != nullptr) {
      int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ChildProcess child;
  child.pid_ = pid;
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && Running()) {
      kill(pid_, SIGKILL);
      Wait(std::chrono::seconds(5));
    }
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && Running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(5));
  }
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exit_code_ >= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && exit_code_ < 0) kill(pid_, signal);
}

int ChildProcess::Wait(Duration timeout) {
  WaitFor([this] { return !Running(); }, timeout, std::chrono::milliseconds(5));
  return exit_code_;
}

ServiceProcess ServiceProcess::Start(const std::string& name, const std::vector<std::string>& args,
                                     Duration timeout,
                                     const std::vector<std::pair<std::string, std::string>>& env) {
  ServiceProcess service{TempDir(), name};
  service.Launch(args, env, timeout);
  return service;
}

void ServiceProcess::Restart(const std::vector<std::string>& args,
                             const std::vector<std::pair<std::string, std::string>>& env,
                             Duration timeout) {
  if (process_.Running()) {
    process_.Signal(SIGKILL);
    process_.Wait(std::chrono::seconds(5));
  }
  Launch(args, env, timeout);
}

void ServiceProcess::Launch(const std::vector<std::string>& args,
                            const std::vector<std::pair<std::string, std::string>>& env,
                            Duration timeout) {
  std::string port_file = data_dir() + "/port";
  std::error_code ignored;
  fs::remove(port_file, ignored);  // a restart must not read the previous run's port
  port_ = 0;
  std::vector<std::string> all{"--port",      "0",      "--data-dir", data_dir() + "/data",
                               "--port-file", port_file};
  all.insert(all.end(), args.begin(), args.end());
  process_ = ChildProcess::Start(BinaryPath(name_), all, env, log_path());

  bool listening = WaitFor(
      [&] {
        std::ifstream in(port_file);
        int port = 0;
        if (in >> port && port > 0) {
          port_ = static_cast<uint16_t>(port);
          return true;
        }
        return !process_.Running();
      },
      timeout);
  if (!listening || port_ == 0) {
    throw std::runtime_error(name_ + " did not start listening; log:\n" + Logs());
  }
  bool ready = WaitFor(
      [&] {
        auto r = Get(port_, "/health/ready");
        return (r && r->status == 200) || !process_.Running();
      },
      timeout, std::chrono::milliseconds(20));
  if (!ready || !process_.Running()) {
    throw std::runtime_error(name_ + " did not become ready; log:\n" + Logs());
  }
}

std::string ServiceProcess::Logs() const {
  std::ifstream in(log_path());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

InProcessServer::InProcessServer(http::Router& router, http::ServerOptions options,
                                 obs::Registry& metrics) {
  options.port = 0;
  options.handle_signals = false;  // the test process' signals are not the server's business
  server_ = std::make_unique<http::Server>(options, router, metrics);
  server_->Listen();
  runner_ = std::thread([this] { server_->Run(); });
}

InProcessServer::~InProcessServer() { Stop(); }

void InProcessServer::Stop() {
  if (!runner_.joinable()) return;
  server_->Stop();
  runner_.join();
}

Result<http::BlockingResponse> Request(uint16_t port, std::string method, std::string path,
                                       std::string body,
                                       std::vector<std::pair<std::string, std::string>> headers,
                                       Duration timeout) {
  http::BlockingCall call;
  call.method = std::move(method);
  call.url = "http://127.0.0.1:" + std::to_string(port) + path;
  call.headers = std::move(headers);
  call.body = std::move(body);
  call.timeout = timeout;
  return http::BlockingRequest(call);
}

RawConnection::RawConnection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    throw std::runtime_error("connect to port " + std::to_string(port) + " failed");
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

namespace {

// Reads once with a timeout; -1 on error/timeout, 0 on close, else bytes read.
ssize_t ReadSome(int fd, std::string& out, Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  int r = poll(&p, 1, ms < 0 ? 0 : ms);
  if (r <= 0) return -1;
  char buf[16384];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
  if (n < 0) return 0;  // reset counts as closed
  return n;
}

}  // namespace

std::string RawConnection::ReadUntilClosed(Duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::move(pending_);
  pending_.clear();
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) break;
    if (ReadSome(fd_, out, left) <= 0) break;
  }
  return out;
}

std::string RawConnection::ReadUntil(std::string_view marker, Duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::move(pending_);
  pending_.clear();
  while (out.find(marker) == std::string::npos) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) break;
    if (ReadSome(fd_, out, left) <= 0) break;
  }
  return out;
}

bool RawConnection::PeerClosed(Duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) return false;
    ssize_t n = ReadSome(fd_, pending_, left);
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

CaptureServer::CaptureServer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      pipe(stop_pipe_) != 0) {
    throw std::runtime_error("CaptureServer: cannot listen");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Loop(); });
}

CaptureServer::~CaptureServer() {
  if (write(stop_pipe_[1], "x", 1) < 0) {
    // The loop also ends when the listener is closed below.
  }
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
}

std::vector<CaptureServer::Captured> CaptureServer::Requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void CaptureServer::Loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    // One request per connection, read with a bounded wait so a silent client cannot wedge us.
    std::string data;
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ReadSome(fd, data, std::chrono::milliseconds(200)) == 0) break;
      if (header_end == std::string::npos &&
          (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        std::string head = data.substr(0, header_end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (auto p = head.find("content-length:"); p != std::string::npos) {
          content_length = std::strtoull(head.c_str() + p + 15, nullptr, 10);
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
    }
    if (header_end != std::string::npos) {
      Captured captured;
      std::istringstream line(data.substr(0, data.find("\r\n")));
      line >> captured.method >> captured.path;
      captured.body = data.substr(header_end + 4, content_length);
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(captured));
    }
    std::string_view reply =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}";
    if (send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) {
      // The client went away; nothing to do.
    }
    close(fd);
  }
}

int StatusOf(std::string_view raw) {
  if (raw.substr(0, 5) != "HTTP/") return 0;
  auto space = raw.find(' ');
  if (space == std::string_view::npos || space + 4 > raw.size()) return 0;
  return std::atoi(std::string(raw.substr(space + 1, 3)).c_str());
}

}  // namespace mercato::testing
