// The shared blocking pool behind http::RunBlocking: blocking work (health checks, file I/O,
// CPU-heavy hashing) leaves the network threads and the coroutine resumes where it was.
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <thread>

#include "mercato/http/server.hpp"

namespace mercato::http {
namespace {

boost::asio::thread_pool& BlockingPool() {
  static boost::asio::thread_pool pool(std::max(2u, std::thread::hardware_concurrency()));
  return pool;
}

}  // namespace

Task<void> RunBlocking(std::function<void()> fn) {
  namespace asio = boost::asio;
  std::exception_ptr error;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&fn, &error](auto handler) {
        asio::post(BlockingPool(), [&fn, &error, handler = std::move(handler)]() mutable {
          try {
            fn();
          } catch (...) {
            error = std::current_exception();
          }
          // Back to the awaiting coroutine's own executor.
          asio::post(std::move(handler));
        });
      },
      asio::use_awaitable);
  if (error) std::rethrow_exception(error);
}

}  // namespace mercato::http
