// `mercato seed`: loads a realistic, deterministic demo shop into a running platform — 20
// categories and about 1,000 products in the catalog, two warehouses and their stock in
// inventory — through the services' own admin APIs (as the first admin, from
// <data-dir>/secrets/admin.json). Resumable: existing SKUs are kept, receipts are idempotent.
//
//   mercato up --detach && mercato seed       (make up does both)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mercato/core/result.hpp"

namespace mercato::runner {

struct SeedOptions {
  bool help = false;
  std::filesystem::path data_dir = "data";
  int products = 1000;
  bool skip_if_done = false;  // `mercato up`: nothing to do once DIR/run/seeded exists
};

Result<SeedOptions> ParseSeedOptions(const std::vector<std::string>& args);
extern const char kSeedHelp[];

struct SeedCategory {
  std::string id;
  std::string name;
};
struct SeedProduct {
  std::string sku;
  std::string name;
  std::string description;
  std::int64_t price_cents = 0;
  std::vector<std::string> categories;
  std::string color;
  std::string material;
  std::int64_t weight_g = 0;
  std::int64_t stock_north = 0;  // units to receive per warehouse (0: none)
  std::int64_t stock_south = 0;
};

// The demo data: always the same for the same count (a fixed seed and a portable generator).
std::vector<SeedCategory> SeedCategories();
std::vector<SeedProduct> SeedProducts(int count);

// Seeds the platform running on `data_dir` (its run state names the ports). Exit code.
int RunSeed(const SeedOptions& options);

}  // namespace mercato::runner
