#include "mercato/testing/nats_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace mercato::testing {

namespace {

// True if 127.0.0.1:`port` accepts a connection and greets with NATS' "INFO {...}" line. Reading
// the greeting (not just connecting) makes sure it is a NATS server that is serving clients, not
// some other process that took the port after FreeTcpPort released it.
bool GreetsLikeNats(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    pollfd pfd{fd, POLLIN, 0};
    char buf[5] = {};
    if (poll(&pfd, 1, 1000) == 1 && recv(fd, buf, sizeof buf, MSG_WAITALL) == 5) {
      ok = std::string(buf, 5) == "INFO ";
    }
  }
  close(fd);
  return ok;
}

}  // namespace

std::string NatsServerBinary() {
  if (const char* env = std::getenv("MERCATO_NATS_SERVER"); env && *env) {
    if (access(env, X_OK) == 0) return env;
    throw std::runtime_error(std::string("MERCATO_NATS_SERVER is not an executable: ") + env);
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path && *path) {
    std::stringstream ss(path);
    for (std::string dir; std::getline(ss, dir, ':');) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.insert(dirs.end(), {"/usr/sbin", "/usr/local/sbin", "/usr/local/bin"});
  for (const auto& dir : dirs) {
    std::string candidate = dir + "/nats-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(
      "nats-server not found in PATH, /usr/sbin or /usr/local/sbin (apt-get install nats-server, "
      "or set MERCATO_NATS_SERVER)");
}

NatsServer::NatsServer(Duration start_timeout)
    : binary_(NatsServerBinary()),
      store_dir_(dir_.path() + "/js"),
      log_path_(dir_.path() + "/nats-server.log"),
      start_timeout_(start_timeout) {
  // FreeTcpPort's port can be taken before the server binds it; a fresh port is then the cure.
  // Restarts (Start) keep the port, since clients reconnect to the URL they were given.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreeTcpPort();
    if (Launch()) return;
    Kill();
  }
  throw std::runtime_error("nats-server did not start accepting connections; log:\n" + Logs());
}

NatsServer::~NatsServer() { Kill(); }

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

bool NatsServer::Launch() {
  // Loopback only, no monitoring port (it is off unless -m is given), JetStream with its own store.
  std::vector<std::string> args = {"-a",  "127.0.0.1", "-p",      std::to_string(port_),
                                   "-js", "-sd",       store_dir_};
  process_ = ChildProcess::Start(binary_, args, {}, log_path_);
  // JetStream is enabled before the client listener opens, so accepting means ready.
  bool accepting = WaitFor([this] { return !process_.Running() || GreetsLikeNats(port_); },
                           start_timeout_, std::chrono::milliseconds(20));
  return accepting && process_.Running();
}

void NatsServer::Start() {
  if (process_.Running()) return;
  if (!Launch()) {
    Kill();
    throw std::runtime_error("nats-server did not restart on port " + std::to_string(port_) +
                             "; log:\n" + Logs());
  }
}

void NatsServer::Stop() {
  if (!process_.Running()) return;
  process_.Signal(SIGTERM);
  if (process_.Wait(std::chrono::seconds(10)) < 0) Kill();
}

void NatsServer::Kill() {
  if (!process_.Running()) return;
  process_.Signal(SIGKILL);
  process_.Wait(std::chrono::seconds(5));
}

bool NatsServer::Running() { return process_.Running(); }

std::string NatsServer::Logs() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mercato::testing
