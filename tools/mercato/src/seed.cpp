#include "seed.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <thread>

#include "commands.hpp"
#include "mercato/http/blocking_client.hpp"
#include "state.hpp"

namespace mercato::runner {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const char kSeedHelp[] = R"(usage: mercato seed [options]

Loads the demo shop into the platform that `mercato up` runs on DIR: 20 categories and the
given number of products (catalog), warehouses "north" and "south" and their stock
(inventory), as the first admin. Deterministic: the same data every time. Safe to run again:
products that exist (by SKU) are kept, and stock receipts carry idempotency keys, so a run
that stopped half-way resumes and a complete one changes nothing. A detached `mercato up` runs
it once per data directory (DIR/run/seeded records that it did).

options:
  --data-dir DIR     the data directory `mercato up` used (default: ./data)
  --products N       how many products (default: 1000, at most 100000)
  --help             this text
)";

Result<SeedOptions> ParseSeedOptions(const std::vector<std::string>& args) {
  SeedOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return Error{ErrorCode::kInvalidArgument, arg + " needs a value"};
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--data-dir") {
      auto v = value();
      if (!v) return v.error();
      options.data_dir = *v;
    } else if (arg == "--products") {
      auto v = value();
      if (!v) return v.error();
      char* end = nullptr;
      long n = std::strtol(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || n < 1 || n > 100000) {
        return Error{ErrorCode::kInvalidArgument, "--products must be 1..100000"};
      }
      options.products = static_cast<int>(n);
    } else {
      return Error{ErrorCode::kInvalidArgument, "unknown option \"" + arg + "\""};
    }
  }
  return options;
}

namespace {

// A portable generator (std:: distributions differ between standard libraries): SplitMix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::int64_t Below(std::int64_t n) {
    return static_cast<std::int64_t>(Next() % static_cast<std::uint64_t>(n));
  }
  template <class T>
  const T& Pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(Below(static_cast<std::int64_t>(items.size())))];
  }

 private:
  std::uint64_t state_;
};

struct CategoryWords {
  const char* id;
  const char* name;
  std::vector<std::string> nouns;
};

const std::vector<CategoryWords>& Words() {
  static const std::vector<CategoryWords> words = {
      {"lighting",
       "Lighting",
       {"Desk Lamp", "Floor Lamp", "Pendant Light", "Wall Sconce", "String Lights"}},
      {"kitchen",
       "Kitchen",
       {"Chef Knife", "Cutting Board", "Saucepan", "Mixing Bowl", "Spice Rack"}},
      {"audio", "Audio", {"Headphones", "Bookshelf Speaker", "Turntable", "Soundbar", "Earbuds"}},
      {"outdoor", "Outdoor", {"Camping Tent", "Sleeping Bag", "Headlamp", "Hiking Pole", "Cooler"}},
      {"garden", "Garden", {"Pruning Shears", "Watering Can", "Planter", "Garden Hose", "Trowel"}},
      {"office",
       "Office",
       {"Notebook", "Desk Organizer", "Office Chair", "Monitor Stand", "Fountain Pen"}},
      {"books", "Books", {"Cookbook", "Travel Guide", "Novel", "Field Guide", "Atlas"}},
      {"toys", "Toys", {"Building Blocks", "Puzzle", "Kite", "Wooden Train", "Board Game"}},
      {"fitness", "Fitness", {"Yoga Mat", "Dumbbell", "Jump Rope", "Foam Roller", "Kettlebell"}},
      {"travel",
       "Travel",
       {"Backpack", "Carry-on Suitcase", "Packing Cubes", "Travel Pillow", "Passport Wallet"}},
      {"bath", "Bath", {"Bath Towel", "Shower Caddy", "Bath Mat", "Soap Dish", "Bathrobe"}},
      {"bedding", "Bedding", {"Duvet Cover", "Pillow", "Fitted Sheet", "Quilt", "Throw Blanket"}},
      {"tools", "Tools", {"Screwdriver Set", "Hammer", "Cordless Drill", "Tape Measure", "Wrench"}},
      {"pets", "Pets", {"Dog Bed", "Cat Tree", "Leash", "Pet Bowl", "Chew Toy"}},
      {"coffee",
       "Coffee",
       {"Pour-over Kettle", "Coffee Grinder", "French Press", "Espresso Cup", "Coffee Beans"}},
      {"tea", "Tea", {"Teapot", "Tea Infuser", "Matcha Whisk", "Loose Leaf Tea", "Tea Cups"}},
      {"gaming",
       "Gaming",
       {"Controller", "Gaming Mouse", "Mechanical Keyboard", "Headset Stand", "Mouse Pad"}},
      {"photo", "Photo", {"Tripod", "Camera Bag", "Lens Cloth", "Photo Frame", "Film Roll"}},
      {"cycling",
       "Cycling",
       {"Bike Helmet", "Bike Light", "Water Bottle", "Saddle Bag", "Bike Lock"}},
      {"running",
       "Running",
       {"Running Shoes", "Running Socks", "Hydration Vest", "Sports Watch", "Reflective Jacket"}},
  };
  return words;
}

const std::vector<std::string> kAdjectives = {
    "Compact",     "Classic",  "Modern",      "Rustic", "Deluxe",  "Essential", "Nordic",
    "Urban",       "Vintage",  "Lightweight", "Sturdy", "Elegant", "Everyday",  "Premium",
    "Handcrafted", "Foldable", "Cozy",        "Bold",   "Minimal", "Pro"};
const std::vector<std::string> kMaterials = {"Bamboo",    "Oak",     "Steel",   "Cotton",
                                             "Linen",     "Ceramic", "Leather", "Wool",
                                             "Aluminium", "Recycled"};
const std::vector<std::string> kColors = {"black", "white", "grey", "navy",
                                          "olive", "sand",  "red",  "teal"};

json::value ParseBody(const Result<http::BlockingResponse>& r) {
  if (!r) return nullptr;
  std::error_code ec;
  auto v = json::parse(r->body, ec);
  return ec ? json::value(nullptr) : v;
}

class Client {
 public:
  Client(int port, std::string token) : port_(port), token_(std::move(token)) {}
  Result<http::BlockingResponse> Call(
      const std::string& method, const std::string& path, const std::string& body = {},
      std::vector<std::pair<std::string, std::string>> extra = {}) const {
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    for (auto& h : extra) headers.push_back(std::move(h));
    return http::BlockingRequest({.method = method,
                                  .url = "http://127.0.0.1:" + std::to_string(port_) + path,
                                  .headers = std::move(headers),
                                  .body = body,
                                  .timeout = 30s});
  }

 private:
  int port_;
  std::string token_;
};

std::string Describe(const Result<http::BlockingResponse>& r) {
  return r ? "status " + std::to_string(r->status) + ": " + r->body.substr(0, 300)
           : r.error().message;
}

}  // namespace

std::vector<SeedCategory> SeedCategories() {
  std::vector<SeedCategory> out;
  for (const auto& w : Words()) out.push_back(SeedCategory{w.id, w.name});
  return out;
}

std::vector<SeedProduct> SeedProducts(int count) {
  Rng rng(20261125);
  std::vector<SeedProduct> out;
  out.reserve(static_cast<std::size_t>(count));
  const auto& words = Words();
  for (int i = 0; i < count; ++i) {
    const auto& category = words[static_cast<std::size_t>(i) % words.size()];
    SeedProduct p;
    char sku[32];
    std::snprintf(sku, sizeof sku, "SEED-%05d", i + 1);
    p.sku = sku;
    const std::string& adjective = rng.Pick(kAdjectives);
    p.material = rng.Pick(kMaterials);
    const std::string& noun = rng.Pick(category.nouns);
    p.name = adjective + " " + p.material + " " + noun;
    p.color = rng.Pick(kColors);
    p.description = "A " + adjective + " " + noun + " in " + p.color + ", made of " + p.material +
                    ". Part of our " + category.name + " range; item " + p.sku + ".";
    p.price_cents = 299 + rng.Below(200) * 250 + rng.Below(100);
    p.categories = {category.id};
    if (rng.Below(5) == 0) {  // some products sit in a second category
      const auto& second =
          words[static_cast<std::size_t>(rng.Below(static_cast<std::int64_t>(words.size())))];
      if (second.id != p.categories[0]) p.categories.push_back(second.id);
    }
    p.weight_g = 50 + rng.Below(4950);
    p.stock_north = rng.Below(10) == 0 ? 0 : rng.Below(120);
    p.stock_south = rng.Below(10) == 0 ? 0 : rng.Below(80);
    out.push_back(std::move(p));
  }
  return out;
}

int RunSeed(const SeedOptions& options) {
  const fs::path data_dir = fs::absolute(options.data_dir);
  auto state = ReadRunState(StateFilePath(data_dir));
  if (!state) {
    std::cerr << "mercato seed: nothing runs on " << data_dir.string()
              << " (start it with mercato up --detach)\n";
    return kExitNotRunning;
  }
  auto port_of = [&](const std::string& name) {
    for (const auto& p : state->processes) {
      if (p.name == name) return p.port;
    }
    return 0;
  };
  const int identity_port = port_of("identity"), catalog_port = port_of("catalog"),
            inventory_port = port_of("inventory");
  if (!identity_port || !catalog_port || !inventory_port) {
    std::cerr
        << "mercato seed: needs identity, catalog and inventory running (see mercato status)\n";
    return kExitFailure;
  }

  std::ifstream admin_file(data_dir / "secrets" / "admin.json");
  std::string admin{std::istreambuf_iterator<char>(admin_file), std::istreambuf_iterator<char>()};
  auto login = Client(identity_port, "").Call("POST", "/auth/login", admin);
  auto login_body = ParseBody(login);
  if (!login || login->status != 200 || !login_body.is_object()) {
    std::cerr << "mercato seed: cannot log in as the first admin: " << Describe(login) << "\n";
    return kExitFailure;
  }
  const auto* access = login_body.as_object().if_contains("access_token");
  if (!access || !access->is_string()) {
    std::cerr << "mercato seed: identity's login answer has no access_token\n";
    return kExitFailure;
  }
  const std::string token(access->as_string());
  Client catalog(catalog_port, token), inventory(inventory_port, token);

  const fs::path marker = data_dir / "run" / "seeded";
  if (options.skip_if_done && fs::exists(marker)) return kExitOk;

  // What the catalog already holds, by SKU: a run that stopped half-way resumes where it was.
  std::map<std::string, std::string> existing;
  for (int page = 1;; ++page) {
    auto listed = ParseBody(
        catalog.Call("GET", "/products?sort=price_asc&page_size=100&page=" + std::to_string(page)));
    const json::object* o = listed.if_object();
    const json::value* items = o ? o->if_contains("items") : nullptr;
    if (!items || !items->is_array()) {
      std::cerr << "mercato seed: cannot list the catalog's products\n";
      return kExitFailure;
    }
    for (const auto& item : items->as_array()) {
      const json::object* p = item.if_object();
      const json::value* sku = p ? p->if_contains("sku") : nullptr;
      const json::value* id = p ? p->if_contains("id") : nullptr;
      if (sku && sku->is_string() && id && id->is_string())
        existing[std::string(sku->as_string())] = std::string(id->as_string());
    }
    if (items->as_array().size() < 100) break;
  }

  const auto started = std::chrono::steady_clock::now();
  for (const auto& c : SeedCategories()) {
    auto r = catalog.Call("POST", "/categories",
                          json::serialize(json::object{{"id", c.id}, {"name", c.name}}));
    if (!r || (r->status != 201 && r->status != 409)) {
      std::cerr << "mercato seed: category " << c.id << ": " << Describe(r) << "\n";
      return kExitFailure;
    }
  }
  for (const char* w : {"north", "south"}) {
    auto r = inventory.Call(
        "POST", "/warehouses",
        json::serialize(json::object{{"id", w}, {"name", std::string(w) + " warehouse"}}));
    if (!r || (r->status != 201 && r->status != 409)) {
      std::cerr << "mercato seed: warehouse " << w << ": " << Describe(r) << "\n";
      return kExitFailure;
    }
  }

  const auto products = SeedProducts(options.products);
  std::vector<std::string> ids;
  ids.reserve(products.size());
  std::size_t created_count = 0;
  for (std::size_t i = 0; i < products.size(); ++i) {
    const auto& p = products[i];
    if (auto known = existing.find(p.sku); known != existing.end()) {
      ids.push_back(known->second);
      continue;
    }
    json::array categories;
    for (const auto& c : p.categories) categories.emplace_back(c);
    json::object body{{"sku", p.sku},
                      {"name", p.name},
                      {"description", p.description},
                      {"price", {{"amount", p.price_cents}, {"currency", "USD"}}},
                      {"categories", std::move(categories)},
                      {"attributes", {{"color", p.color}, {"material", p.material}}},
                      {"weight_g", p.weight_g}};
    auto r = catalog.Call("POST", "/products", json::serialize(body));
    auto created = ParseBody(r);
    const json::value* id = created.is_object() ? created.as_object().if_contains("id") : nullptr;
    if (!r || r->status != 201 || !id || !id->is_string()) {
      std::cerr << "mercato seed: product " << p.sku << ": " << Describe(r) << "\n";
      return kExitFailure;
    }
    ids.emplace_back(id->as_string());
    ++created_count;
    if ((i + 1) % 100 == 0 || i + 1 == products.size()) {
      std::cout << "mercato seed: catalog " << (i + 1) << "/" << products.size() << " products\r"
                << std::flush;
    }
  }
  std::cout << "\n";

  // Inventory learns the products from catalog's events: wait for each before receiving stock.
  std::int64_t units = 0;
  for (std::size_t i = 0; i < products.size(); ++i) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (true) {
      auto known = inventory.Call("GET", "/stock/" + ids[i]);
      if (known && known->status == 200) break;
      if (std::chrono::steady_clock::now() > deadline) {
        std::cerr << "mercato seed: inventory never learned product " << products[i].sku
                  << " (is the event bus up? see mercato status)\n";
        return kExitFailure;
      }
      std::this_thread::sleep_for(50ms);
    }
    for (auto [warehouse, quantity] : {std::pair{"north", products[i].stock_north},
                                       std::pair{"south", products[i].stock_south}}) {
      if (quantity == 0) continue;
      auto r = inventory.Call(
          "POST", "/stock/" + ids[i] + "/receipts",
          json::serialize(json::object{{"warehouse_id", warehouse}, {"quantity", quantity}}),
          {{"Idempotency-Key", "seed-" + products[i].sku + "-" + warehouse}});
      if (!r || (r->status != 201 && r->status != 200)) {
        std::cerr << "mercato seed: stock of " << products[i].sku << ": " << Describe(r) << "\n";
        return kExitFailure;
      }
      units += quantity;
    }
    if ((i + 1) % 100 == 0 || i + 1 == products.size()) {
      std::cout << "mercato seed: inventory " << (i + 1) << "/" << products.size()
                << " products stocked\r" << std::flush;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "\nmercato seed: " << products.size() << " products (" << created_count
            << " new) in " << SeedCategories().size() << " categories, " << units
            << " units in 2 warehouses, in " << static_cast<int>(seconds) << " s\n";
  std::error_code ec;
  fs::create_directories(marker.parent_path(), ec);
  std::ofstream(marker) << "seeded " << products.size() << " products\n";
  return kExitOk;
}

}  // namespace mercato::runner
