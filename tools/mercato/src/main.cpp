// mercato: the local runner. Starts Mercato's processes from deploy/local/topology.json,
// supervises them, and reports on them; see `mercato --help`.
//
//   mercato up --detach && mercato status && mercato down
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "seed.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mercato::runner;

// Where this executable lives: bare binary names in the topology resolve here first.
fs::path ExecutableDir(const char* argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::absolute(argv0, ec);
  return self.parent_path();
}

template <class Parse, class Run>
int Dispatch(const std::string& command, const std::vector<std::string>& args, Parse parse,
             const char* help, Run run) {
  auto options = parse(args);
  if (!options) {
    std::cerr << "mercato " << command << ": " << options.error().message << std::endl;
    return kExitUsage;
  }
  if (options->help) {
    std::cout << help;
    return kExitOk;
  }
  return run(*options);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kMainHelp;
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());

  if (command == "up") {
    const fs::path exe_dir = ExecutableDir(argv[0]);
    return Dispatch(command, args, ParseUpOptions, kUpHelp,
                    [&](const UpOptions& options) { return RunUp(options, exe_dir); });
  }
  if (command == "status") {
    return Dispatch(command, args, ParseDataDirOptions, kStatusHelp, RunStatus);
  }
  if (command == "down") {
    return Dispatch(command, args, ParseDataDirOptions, kDownHelp, RunDown);
  }
  if (command == "seed") {
    return Dispatch(command, args, ParseSeedOptions, kSeedHelp, RunSeed);
  }
  std::cerr << "mercato: unknown command \"" << command
            << "\" (commands: up, status, down, seed; see mercato --help)" << std::endl;
  return kExitUsage;
}
