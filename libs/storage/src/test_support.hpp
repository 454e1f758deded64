// Helpers shared by the storage tests: a temporary directory removed afterwards, and a way to
// run a coroutine to completion on an io_context driven by the test thread.
#pragma once

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace mercato::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/mercato_storage_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs make_task() on a fresh io_context on this thread and rethrows what the coroutine threw.
// make_task stays alive until the coroutine ends, so a lambda's captures are safe to use in it.
template <class MakeTask>
void RunCoroutine(MakeTask make_task) {
  boost::asio::io_context io;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, make_task(), [&failure](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace mercato::storage::testing
