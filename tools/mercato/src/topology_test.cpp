#include "topology.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>

#include <gtest/gtest.h>

namespace mercato::runner {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mercato_topology_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

ProcessSpec Spec(std::string name, int port_offset) {
  ProcessSpec spec;
  spec.name = name;
  spec.binary = std::move(name);
  spec.port_offset = port_offset;
  return spec;
}

void WriteExecutable(const fs::path& file) {
  std::ofstream(file) << "#!/bin/sh\n";
  fs::permissions(file, fs::perms::owner_all);
}

TEST(ParseTopology, ReadsTheHelloExample) {
  auto topology = ParseTopology(R"({"processes":[{"name":"hello","binary":"hello","port_offset":190,
      "args":[],"ready_path":"/health/ready","env":{}}]})");

  ASSERT_TRUE(topology) << topology.error().message;
  ASSERT_EQ(topology->processes.size(), 1u);
  const ProcessSpec& hello = topology->processes[0];
  EXPECT_EQ(hello.name, "hello");
  EXPECT_EQ(hello.binary, "hello");
  EXPECT_EQ(hello.port_offset, 190);
  EXPECT_EQ(hello.ready, ReadyCheck::kHttp);
  EXPECT_EQ(hello.ready_path, "/health/ready");
  EXPECT_TRUE(hello.own_flags);
}

TEST(ParseTopology, KeepsStartOrder) {
  auto topology = ParseTopology(R"({"processes":[
      {"name":"nats","binary":"nats-server","port_offset":0,"ready":"tcp","own_flags":false},
      {"name":"identity","binary":"identity","port_offset":101},
      {"name":"catalog","binary":"catalog","port_offset":102}]})");

  ASSERT_TRUE(topology) << topology.error().message;
  EXPECT_EQ(topology->Names(), (std::vector<std::string>{"nats", "identity", "catalog"}));
  EXPECT_EQ(topology->processes[0].ready, ReadyCheck::kTcp);
  EXPECT_FALSE(topology->processes[0].own_flags);
}

TEST(ParseTopology, CommandTemplateImpliesNoOwnFlags) {
  auto topology = ParseTopology(R"({"processes":[{"name":"nats","binary":"nats-server",
      "command":"nats-server -p {port} -js -sd {data_dir}/nats","port_offset":0,"ready":"tcp"}]})");

  ASSERT_TRUE(topology) << topology.error().message;
  EXPECT_FALSE(topology->processes[0].own_flags);
  EXPECT_EQ(topology->processes[0].binary, "nats-server");
}

TEST(ParseTopology, ReadsANoticeAndDefaultsToNone) {
  auto topology = ParseTopology(R"({"processes":[
      {"name":"identity","binary":"identity","port_offset":101,
       "notice":"first admin's credentials: {data_dir}/secrets/admin.json"},
      {"name":"hello","binary":"hello","port_offset":190}]})");

  ASSERT_TRUE(topology) << topology.error().message;
  EXPECT_EQ(topology->processes[0].notice,
            "first admin's credentials: {data_dir}/secrets/admin.json");
  EXPECT_EQ(topology->processes[1].notice, "");
}

TEST(ParseTopology, RejectsANoticeThatIsNotOneLineOfText) {
  for (const char* notice : {R"(42)", R"("")", R"("two\nlines")", R"(["a"])"}) {
    SCOPED_TRACE(notice);
    auto topology = ParseTopology(
        std::string(R"({"processes":[{"name":"a","binary":"a","port_offset":1,"notice":)") +
        notice + "}]}");

    ASSERT_FALSE(topology);
    EXPECT_EQ(topology.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(topology.error().field, "processes[0].notice");
  }
}

TEST(ParseTopology, RejectsBadJsonWithItsPosition) {
  auto topology = ParseTopology("{\"processes\": [\n  {\"name\": \"hello\",}\n]}");

  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(topology.error().message.find("line 2"), std::string::npos) << topology.error().message;
}

TEST(ParseTopology, NamesTheMissingField) {
  auto topology = ParseTopology(R"({"processes":[{"name":"hello","binary":"hello"}]})");

  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(topology.error().field, "processes[0].port_offset");
}

TEST(ParseTopology, NamesTheWronglyTypedField) {
  auto topology = ParseTopology(
      R"({"processes":[{"name":"a","binary":"a","port_offset":1},{"name":"b","binary":"b","port_offset":2,"args":"--x"}]})");

  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().field, "processes[1].args");
}

TEST(ParseTopology, RejectsUnknownKeysAsLikelyTypos) {
  auto topology = ParseTopology(
      R"({"processes":[{"name":"a","binary":"a","port_offset":1,"ready-path":"/x"}]})");

  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().field, "processes[0].ready-path");
}

TEST(ParseTopology, RejectsDuplicateNamesAndPorts) {
  auto names = ParseTopology(
      R"({"processes":[{"name":"a","binary":"a","port_offset":1},{"name":"a","binary":"b","port_offset":2}]})");
  auto ports = ParseTopology(
      R"({"processes":[{"name":"a","binary":"a","port_offset":1},{"name":"b","binary":"b","port_offset":1}]})");

  ASSERT_FALSE(names);
  EXPECT_EQ(names.error().field, "processes[1].name");
  ASSERT_FALSE(ports);
  EXPECT_EQ(ports.error().field, "processes[1].port_offset");
}

TEST(ParseTopology, RejectsUnknownReadyCheck) {
  auto topology =
      ParseTopology(R"({"processes":[{"name":"a","binary":"a","port_offset":1,"ready":"grpc"}]})");

  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().field, "processes[0].ready");
}

TEST(ParseTopology, RequiresProcessesArray) {
  auto topology = ParseTopology(R"({"procs":[]})");

  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().field, "processes");
}

TEST(LoadTopology, MissingFileIsNotFoundAndNamesThePath) {
  auto topology = LoadTopology("/nonexistent/topology.json");

  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().code, ErrorCode::kNotFound);
  EXPECT_NE(topology.error().message.find("/nonexistent/topology.json"), std::string::npos);
}

TEST(SelectProcesses, KeepsTopologyOrderAndRejectsUnknownNames) {
  auto topology = ParseTopology(R"({"processes":[{"name":"a","binary":"a","port_offset":1},
      {"name":"b","binary":"b","port_offset":2},{"name":"c","binary":"c","port_offset":3}]})");
  ASSERT_TRUE(topology);

  auto selected = SelectProcesses(*topology, {"c", "a"});
  auto unknown = SelectProcesses(*topology, {"a", "zzz"});

  ASSERT_TRUE(selected);
  EXPECT_EQ(selected->Names(), (std::vector<std::string>{"a", "c"}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
}

TEST(ExpandPlaceholders, ReplacesEveryKnownPlaceholder) {
  PlaceholderValues values{
      .port = 8190, .data_dir = "/srv/data", .name = "hello", .base_port = 8000, .ports = {}};

  auto expanded =
      ExpandPlaceholders("{name}:{port}@{data_dir}/x?base={base_port}&again={port}", values);

  ASSERT_TRUE(expanded);
  EXPECT_EQ(*expanded, "hello:8190@/srv/data/x?base=8000&again=8190");
}

TEST(ExpandPlaceholders, ResolvesAnotherProcessPort) {
  PlaceholderValues values{.port = 8190,
                           .data_dir = "",
                           .name = "hello",
                           .base_port = 8000,
                           .ports = {{"nats", 8222}, {"hello", 8190}}};

  auto expanded = ExpandPlaceholders("nats://127.0.0.1:{port:nats}", values);
  ASSERT_TRUE(expanded);
  EXPECT_EQ(*expanded, "nats://127.0.0.1:8222");

  auto unknown = ExpandPlaceholders("{port:redis}", values);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
}

TEST(ExpandPlaceholders, LeavesPlainTextAlone) {
  auto expanded = ExpandPlaceholders("--verbose", {});

  ASSERT_TRUE(expanded);
  EXPECT_EQ(*expanded, "--verbose");
}

TEST(ExpandPlaceholders, RejectsUnknownAndUnclosedPlaceholders) {
  auto unknown = ExpandPlaceholders("{prot}", {});
  auto unclosed = ExpandPlaceholders("{port", {});

  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("{prot}"), std::string::npos);
  ASSERT_FALSE(unclosed);
  EXPECT_EQ(unclosed.error().code, ErrorCode::kInvalidArgument);
}

TEST(ResolveBinary, PrefersTheRunnersOwnDirectory) {
  TempDir exe_dir, path_dir;
  WriteExecutable(exe_dir.path() / "svc");
  WriteExecutable(path_dir.path() / "svc");

  auto resolved = ResolveBinary("svc", exe_dir.path(), path_dir.path().string());

  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(*resolved, exe_dir.path() / "svc");
}

TEST(ResolveBinary, FallsBackToPath) {
  TempDir exe_dir, first, second;
  WriteExecutable(second.path() / "tool");

  auto resolved =
      ResolveBinary("tool", exe_dir.path(), first.path().string() + ":" + second.path().string());

  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(*resolved, second.path() / "tool");
}

TEST(ResolveBinary, SkipsFilesThatAreNotExecutable) {
  TempDir exe_dir, path_dir;
  std::ofstream(exe_dir.path() / "svc") << "data";
  WriteExecutable(path_dir.path() / "svc");

  auto resolved = ResolveBinary("svc", exe_dir.path(), path_dir.path().string());

  ASSERT_TRUE(resolved);
  EXPECT_EQ(*resolved, path_dir.path() / "svc");
}

TEST(ResolveBinary, MissingBinaryIsNotFound) {
  TempDir exe_dir;

  auto resolved = ResolveBinary("no-such-binary", exe_dir.path(), "/nonexistent");

  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().code, ErrorCode::kNotFound);
}

TEST(PlanLaunch, AppendsOwnFlagsAndExpandsArgs) {
  TempDir exe_dir;
  WriteExecutable(exe_dir.path() / "hello");
  ProcessSpec spec = Spec("hello", 190);
  spec.args = {"--instance", "{name}-{base_port}"};
  spec.env = {{"MERCATO_HELLO_PORT", "{port}"}};

  auto plan = PlanLaunch(
      spec,
      {.base_port = 8000, .ports = {}, .data_dir = "/srv/data", .exe_dir = exe_dir.path(), .path_env = ""});

  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->port, 8190);
  EXPECT_EQ(plan->argv,
            (std::vector<std::string>{(exe_dir.path() / "hello").string(), "--instance",
                                      "hello-8000", "--port", "8190", "--data-dir", "/srv/data"}));
  EXPECT_EQ(plan->env.at("MERCATO_HELLO_PORT"), "8190");
  EXPECT_EQ(plan->log_file, fs::path("/srv/data/logs/hello.log"));
}

TEST(PlanLaunch, CommandTemplateBecomesTheArguments) {
  TempDir exe_dir;
  WriteExecutable(exe_dir.path() / "nats-server");
  auto topology = ParseTopology(R"({"processes":[{"name":"nats","binary":"nats-server",
      "command":"nats-server -p {port} -sd {data_dir}/nats","port_offset":0,"ready":"tcp"}]})");
  ASSERT_TRUE(topology);

  auto plan = PlanLaunch(
      topology->processes[0],
      {.base_port = 4222, .ports = {}, .data_dir = "/my data", .exe_dir = exe_dir.path(), .path_env = ""});

  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->argv, (std::vector<std::string>{(exe_dir.path() / "nats-server").string(), "-p",
                                                  "4222", "-sd", "/my data/nats"}));
}

TEST(PlanLaunch, ExpandsTheNotice) {
  TempDir exe_dir;
  WriteExecutable(exe_dir.path() / "identity");
  ProcessSpec spec = Spec("identity", 101);
  spec.notice = "admin in {data_dir}/secrets/admin.json; {name} on {port}, bus on {port:nats}";

  auto plan = PlanLaunch(spec, {.base_port = 8000,
                                .ports = {{"nats", 4222}, {"identity", 8101}},
                                .data_dir = "/srv/data",
                                .exe_dir = exe_dir.path(),
                                .path_env = ""});

  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->notice, "admin in /srv/data/secrets/admin.json; identity on 8101, bus on 4222");
}

TEST(PlanLaunch, WithoutANoticeHasNone) {
  TempDir exe_dir;
  WriteExecutable(exe_dir.path() / "hello");

  auto plan = PlanLaunch(Spec("hello", 190), {.base_port = 8000,
                                              .ports = {},
                                              .data_dir = "/srv/data",
                                              .exe_dir = exe_dir.path(),
                                              .path_env = ""});

  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->notice, "");
}

TEST(PlanLaunch, RejectsUnknownPlaceholdersInTheNotice) {
  TempDir exe_dir;
  WriteExecutable(exe_dir.path() / "identity");
  ProcessSpec typo = Spec("identity", 101);
  typo.notice = "credentials: {datadir}/secrets/admin.json";
  ProcessSpec unknown_process = Spec("identity", 101);
  unknown_process.notice = "bus on {port:redis}";
  const LaunchContext context{.base_port = 8000,
                              .ports = {{"identity", 8101}},
                              .data_dir = "/srv/data",
                              .exe_dir = exe_dir.path(),
                              .path_env = ""};

  auto with_typo = PlanLaunch(typo, context);
  auto with_unknown_process = PlanLaunch(unknown_process, context);

  ASSERT_FALSE(with_typo);
  EXPECT_EQ(with_typo.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(with_typo.error().field, "notice");
  EXPECT_NE(with_typo.error().message.find("{datadir}"), std::string::npos)
      << with_typo.error().message;
  ASSERT_FALSE(with_unknown_process);
  EXPECT_EQ(with_unknown_process.error().field, "notice");
}

TEST(PlanLaunch, RejectsPortsOutOfRange) {
  TempDir exe_dir;
  WriteExecutable(exe_dir.path() / "hello");
  ProcessSpec spec = Spec("hello", 190);

  auto plan = PlanLaunch(
      spec, {.base_port = 65500, .ports = {}, .data_dir = "/d", .exe_dir = exe_dir.path(), .path_env = ""});

  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kInvalidArgument);
}

TEST(FindDefaultTopology, WalksUpFromTheExecutable) {
  TempDir repo;
  fs::create_directories(repo.path() / "deploy/local");
  fs::create_directories(repo.path() / "build/bin");
  std::ofstream(repo.path() / "deploy/local/topology.json") << "{}";

  auto found = FindDefaultTopology(repo.path() / "build/bin", "/nonexistent");

  ASSERT_TRUE(found);
  EXPECT_EQ(*found, repo.path() / "deploy/local/topology.json");
}

// The checked-in deploy/local/topology.json, found by walking up from this test binary (it lives
// in the build tree of the checkout), or from ctest's MERCATO_SOURCE_DIR.
TEST(CheckedInTopology, ParsesAndPointsAtTheFirstAdminsCredentials) {
  std::optional<fs::path> file;
  if (const char* source = std::getenv("MERCATO_SOURCE_DIR"); source != nullptr && *source) {
    file = fs::path(source) / "deploy/local/topology.json";
  } else {
    std::error_code ec;
    file = FindDefaultTopology(fs::read_symlink("/proc/self/exe", ec).parent_path(),
                               fs::current_path());
  }
  ASSERT_TRUE(file);

  auto topology = LoadTopology(*file);

  ASSERT_TRUE(topology) << topology.error().message;
  auto identity = std::find_if(topology->processes.begin(), topology->processes.end(),
                               [](const ProcessSpec& spec) { return spec.name == "identity"; });
  ASSERT_NE(identity, topology->processes.end());
  EXPECT_EQ(identity->port_offset, 101);
  EXPECT_NE(identity->notice.find("{data_dir}/secrets/admin.json"), std::string::npos)
      << identity->notice;
  // Every entry must also plan: placeholders in args, env and notices all resolve.
  std::map<std::string, int> ports;
  for (const auto& spec : topology->processes) ports[spec.name] = 8000 + spec.port_offset;
  for (const auto& spec : topology->processes) {
    const PlaceholderValues values{.port = ports[spec.name],
                                   .data_dir = "/srv/data",
                                   .name = spec.name,
                                   .base_port = 8000,
                                   .ports = ports};
    std::vector<std::string> templates = spec.args;
    if (spec.command) templates.push_back(*spec.command);
    for (const auto& [key, value] : spec.env) templates.push_back(value);
    templates.push_back(spec.notice);
    for (const auto& text : templates) {
      auto expanded = ExpandPlaceholders(text, values);
      EXPECT_TRUE(expanded) << spec.name << ": " << expanded.error().message;
    }
  }
}

}  // namespace
}  // namespace mercato::runner
