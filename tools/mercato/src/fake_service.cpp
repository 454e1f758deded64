// fake_service: a stand-in Mercato service for the runner's component test. It takes the flags
// the runner appends (--port, --data-dir), answers HTTP with raw POSIX sockets (200 for
// /health/ready and /health/live, 404 otherwise) and, with --crash-after-ms N, exits 1 after N ms
// the first time it runs on a port (a marker file in --data-dir remembers), so restarts show.
//
//   fake_service --port 18190 --data-dir /tmp/x --crash-after-ms 300
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Flags {
  int port = 0;
  fs::path data_dir = ".";
  long crash_after_ms = -1;
};

bool ParseNumber(const char* text, long& out) {
  std::string_view view(text);
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), out);
  return ec == std::errc{} && end == view.data() + view.size();
}

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view name = argv[i];
    long number = 0;
    if (name == "--port" && ParseNumber(argv[i + 1], number)) {
      flags.port = static_cast<int>(number);
    } else if (name == "--data-dir") {
      flags.data_dir = argv[i + 1];
    } else if (name == "--crash-after-ms" && ParseNumber(argv[i + 1], number)) {
      flags.crash_after_ms = number;
    } else {
      std::fprintf(stderr, "fake_service: bad flag %s\n", argv[i]);
      return false;
    }
  }
  return flags.port > 0;
}

int Listen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // rebind at once after a crash
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads the request head (bounded, with a short timeout) and answers by path.
void Serve(int client) {
  std::string request;
  char buffer[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16 * 1024) {
    pollfd readable{.fd = client, .events = POLLIN, .revents = 0};
    if (::poll(&readable, 1, 1000) != 1) break;
    ssize_t n = ::read(client, buffer, sizeof buffer);
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  // "GET /health/ready HTTP/1.1": the path is the second word.
  size_t first_space = request.find(' ');
  size_t second_space = request.find(' ', first_space + 1);
  std::string path = first_space == std::string::npos || second_space == std::string::npos
                         ? ""
                         : request.substr(first_space + 1, second_space - first_space - 1);
  const bool known = path == "/health/ready" || path == "/health/live";
  const std::string body = known ? "{\"status\":\"ok\"}" : "{\"status\":\"not found\"}";
  const std::string response =
      std::string(known ? "HTTP/1.1 200 OK" : "HTTP/1.1 404 Not Found") +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  [[maybe_unused]] ssize_t ignored = ::write(client, response.data(), response.size());
  ::close(client);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    std::fprintf(stderr, "usage: fake_service --port N [--data-dir DIR] [--crash-after-ms N]\n");
    return 2;
  }
  const fs::path marker =
      flags.data_dir / ("fake_service-" + std::to_string(flags.port) + ".crashed");
  std::error_code ec;
  const bool crash = flags.crash_after_ms >= 0 && !fs::exists(marker, ec);
  const auto crash_at = Clock::now() + std::chrono::milliseconds(flags.crash_after_ms);

  int listener = Listen(flags.port);
  if (listener < 0) {
    std::fprintf(stderr, "fake_service: cannot listen on port %d: %s\n", flags.port,
                 std::strerror(errno));
    return 1;
  }
  std::printf("fake_service listening on 127.0.0.1:%d%s\n", flags.port,
              crash ? " (will crash)" : "");
  std::fflush(stdout);

  while (true) {
    int timeout_ms = 1000;
    if (crash) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(crash_at - Clock::now());
      if (left.count() <= 0) {
        std::ofstream(marker) << "crashed once\n";
        std::printf("fake_service: crashing as asked (--crash-after-ms %ld)\n",
                    flags.crash_after_ms);
        return 1;
      }
      timeout_ms = static_cast<int>(std::min<long>(left.count() + 1, 1000));
    }
    pollfd acceptable{.fd = listener, .events = POLLIN, .revents = 0};
    if (::poll(&acceptable, 1, timeout_ms) == 1) {
      int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) Serve(client);
    }
  }
}
