#include "probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "mercato/http/blocking_client.hpp"

namespace mercato::runner {

bool CanConnect(int port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool connected = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    connected = true;
  } else if (errno == EINPROGRESS) {
    pollfd waiting{.fd = fd, .events = POLLOUT, .revents = 0};
    if (::poll(&waiting, 1, static_cast<int>(timeout.count())) == 1) {
      int error = 0;
      socklen_t length = sizeof error;
      connected = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
    }
  }
  ::close(fd);
  return connected;
}

bool ProbeReady(ReadyCheck check, int port, std::string_view path,
                std::chrono::milliseconds timeout) {
  if (check == ReadyCheck::kTcp) return CanConnect(port, timeout);
  auto response =
      http::BlockingRequest({.method = "GET",
                             .url = "http://127.0.0.1:" + std::to_string(port) + std::string(path),
                             .headers = {},
                             .body = {},
                             .timeout = timeout});
  return response && response->status == 200;
}

}  // namespace mercato::runner
