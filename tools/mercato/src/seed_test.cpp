// The demo data of `mercato seed`: deterministic, the documented shape, valid for the APIs.
#include "seed.hpp"

#include <gtest/gtest.h>

#include <set>

namespace mercato::runner {
namespace {

TEST(Seed, TheSameDataEveryTime) {
  auto a = SeedProducts(1000);
  auto b = SeedProducts(1000);
  ASSERT_EQ(a.size(), 1000u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].sku, b[i].sku);
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].price_cents, b[i].price_cents);
    EXPECT_EQ(a[i].stock_north, b[i].stock_north);
  }
  EXPECT_EQ(a[0].sku, "SEED-00001");
  EXPECT_EQ(a[999].sku, "SEED-01000");
}

TEST(Seed, TwentyCategoriesAllUsedUniqueSkusSaneValues) {
  auto categories = SeedCategories();
  EXPECT_EQ(categories.size(), 20u);
  std::set<std::string> category_ids, used, skus;
  for (const auto& c : categories) category_ids.insert(c.id);
  int out_of_stock = 0;
  for (const auto& p : SeedProducts(1000)) {
    EXPECT_TRUE(skus.insert(p.sku).second) << p.sku;
    ASSERT_FALSE(p.categories.empty());
    for (const auto& c : p.categories) {
      EXPECT_TRUE(category_ids.count(c)) << c;
      used.insert(c);
    }
    EXPECT_GE(p.price_cents, 299);
    EXPECT_LT(p.price_cents, 60000);
    EXPECT_GT(p.weight_g, 0);
    EXPECT_LE(p.name.size(), 100u);
    EXPECT_GE(p.stock_north, 0);
    out_of_stock += p.stock_north + p.stock_south == 0;
  }
  EXPECT_EQ(used.size(), 20u);
  EXPECT_GT(out_of_stock, 0) << "a few products are out of stock, as in a real shop";
  EXPECT_LT(out_of_stock, 100);
}

TEST(Seed, OptionsAreChecked) {
  EXPECT_TRUE(ParseSeedOptions({"--products", "50", "--data-dir", "/tmp/x"}));
  EXPECT_EQ(ParseSeedOptions({"--products", "50"})->products, 50);
  EXPECT_FALSE(ParseSeedOptions({"--products", "0"}));
  EXPECT_FALSE(ParseSeedOptions({"--products", "ten"}));
  EXPECT_FALSE(ParseSeedOptions({"--bogus"}));
  EXPECT_TRUE(ParseSeedOptions({"--help"})->help);
}

}  // namespace
}  // namespace mercato::runner
