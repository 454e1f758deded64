// inventory_reserve: reservations per second through the real inventory service, with durable
// storage (SQLite synchronous=FULL, the service's setting), against a baseline of the same
// number of bare durable SQLite write transactions per second on the same disk.
//
//   reservations:  N client threads → POST /reservations (service token verified, all-or-none
//                  allocation, reservation + lines + stock update + outbox event in one
//                  transaction, fsync) → 201
//   baseline:      N threads → one INSERT per transaction into a fresh SQLite file (FULL) through
//                  the same storage library: the price of a durable commit and nothing else
//
// Starts nats-server, identity and inventory on loopback ports, announces one product the way
// catalog does and receives plenty of stock. Prints both rates and the ratio.
//
//   build/bin/inventory_reserve --seconds 10 --threads 8
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "mercato/core/id.hpp"
#include "mercato/messaging/broker.hpp"
#include "mercato/messaging/event.hpp"
#include "mercato/observability/log.hpp"
#include "mercato/storage/sqlite.hpp"
#include "mercato/testing/identity.hpp"
#include "mercato/testing/nats_server.hpp"
#include "mercato/testing/testing.hpp"

namespace {

using namespace mercato;
using namespace std::chrono_literals;
namespace json = boost::json;

struct Options {
  double seconds = 10;
  int threads = 8;
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "inventory_reserve: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--seconds") {
      o.seconds = std::atof(value().c_str());
    } else if (arg == "--threads") {
      o.threads = std::atoi(value().c_str());
    } else if (arg == "--help" || arg == "-h") {
      std::puts(
          "usage: inventory_reserve [--seconds S] [--threads N]\n"
          "Reservations/s through the inventory service vs bare durable SQLite commits/s.");
      std::exit(0);
    } else {
      std::fprintf(stderr, "inventory_reserve: unknown argument %s (see --help)\n", arg.c_str());
      std::exit(2);
    }
  }
  if (o.seconds <= 0 || o.threads < 1) {
    std::fprintf(stderr, "inventory_reserve: --seconds must be > 0 and --threads >= 1\n");
    std::exit(2);
  }
  return o;
}

// Runs `op` from `threads` threads for `seconds`; returns successful operations per second.
template <class Op>
double Rate(int threads, double seconds, Op op, std::atomic<long>& failures) {
  std::atomic<long> done{0};
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      long n = 0;
      while (std::chrono::steady_clock::now() < until) {
        if (op(t, n++)) {
          ++done;
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(done.load()) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseArgs(argc, argv);
  obs::ConfigureLogging("inventory_reserve", obs::LogLevel::kWarn);
  try {
    testing::NatsServer nats;
    auto identity = testing::StartIdentityForTest({"--log-level", "warn"});
    auto inventory = testing::ServiceProcess::Start(
        "inventory",
        {"--nats-url", nats.url(), "--jwks-url", testing::JwksUrl(identity), "--log-level", "warn"},
        60s);
    const std::string admin = testing::AdminToken(identity);
    const std::string service = testing::ServiceToken(identity, "orders");

    // One product, announced like catalog does, with stock for every reservation the run makes.
    const std::string product = "bench-" + NewId();
    auto broker = messaging::Broker::Connect({.url = nats.url(), .name = "bench-catalog"});
    if (!broker) throw std::runtime_error(broker.error().message);
    if (auto s = (*broker)->EnsureStream(messaging::StreamSpec::ForContext("CATALOG", "catalog"));
        !s) {
      throw std::runtime_error(s.error().message);
    }
    auto created =
        messaging::MakeEvent("catalog", "ProductCreated", product,
                             json::object{{"product_id", product},
                                          {"sku", "BENCH"},
                                          {"name", "Bench"},
                                          {"price", {{"amount", 100}, {"currency", "USD"}}},
                                          {"categories", json::array{"bench"}},
                                          {"created_at", FormatRfc3339(Clock::Real().WallNow())}});
    if (auto p =
            (*broker)->Publish(created.subject_name(), created.id, messaging::Serialize(created));
        !p) {
      throw std::runtime_error(p.error().message);
    }
    if (!testing::WaitFor(
            [&] {
              auto r = testing::Get(inventory.port(), "/stock/" + product);
              return r && r->status == 200;
            },
            30s)) {
      throw std::runtime_error("inventory never learned the product");
    }
    auto auth = [](const std::string& t) {
      return std::vector<std::pair<std::string, std::string>>{{"Content-Type", "application/json"},
                                                              {"Authorization", "Bearer " + t}};
    };
    for (const char* w : {"w1", "w2"}) {
      auto warehouse =
          testing::Request(inventory.port(), "POST", "/warehouses",
                           std::string(R"({"id":")") + w + R"(","name":"Bench"})", auth(admin));
      if (!warehouse || warehouse->status != 201) throw std::runtime_error("warehouse failed");
      auto r = testing::Request(
          inventory.port(), "POST", "/stock/" + product + "/receipts",
          std::string(R"({"warehouse_id":")") + w + R"(","quantity":100000000})", auth(admin));
      if (!r || r->status != 201) throw std::runtime_error("receipt failed");
    }

    std::printf("inventory_reserve: %d threads x %.0f s, SQLite synchronous=FULL, %u cores\n",
                options.threads, options.seconds, std::thread::hardware_concurrency());
    std::atomic<long> reserve_failures{0};
    const auto headers = auth(service);
    const double reservations = Rate(
        options.threads, options.seconds,
        [&](int t, long n) {
          const std::string body = R"({"order_id":"o-)" + std::to_string(t) + "-" +
                                   std::to_string(n) + R"(","items":[{"product_id":")" + product +
                                   R"(","quantity":1}],"ttl_seconds":900})";
          auto r = testing::Request(inventory.port(), "POST", "/reservations", body, headers);
          return r && r->status == 201;
        },
        reserve_failures);

    testing::TempDir dir;
    auto db = storage::OpenSqlite({.path = dir.path() + "/baseline.db", .synchronous_full = true});
    if (!db) throw std::runtime_error(db.error().message);
    auto table = (*db)->WriteBlocking([](storage::Connection& c) {
      return c.ExecuteScript("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)");
    });
    if (!table) throw std::runtime_error(table.error().message);
    std::atomic<long> baseline_failures{0};
    storage::Database& database = **db;
    const double commits = Rate(
        options.threads, options.seconds,
        [&](int t, long n) {
          auto r = database.TransactBlocking([&](storage::Connection& c) {
            return c.Execute("INSERT INTO t (id, v) VALUES ($1, $2)",
                             {std::to_string(t) + "-" + std::to_string(n), n});
          });
          return static_cast<bool>(r);
        },
        baseline_failures);

    auto invariants =
        testing::Request(inventory.port(), "GET", "/admin/invariants", {}, auth(admin));
    const bool intact = invariants && invariants->body.find("\"ok\":true") != std::string::npos;
    std::printf("%-44s %10.0f /s  (%ld failed)\n", "POST /reservations (verified, durable)",
                reservations, reserve_failures.load());
    std::printf("%-44s %10.0f /s  (%ld failed)\n", "bare durable SQLite commits (baseline)",
                commits, baseline_failures.load());
    std::printf("reservations/s vs durable commits/s: %.2fx; invariant after the run: %s\n",
                reservations / commits, intact ? "intact" : "VIOLATED");
    return intact && reserve_failures.load() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inventory_reserve: %s\n", e.what());
    return 1;
  }
}
