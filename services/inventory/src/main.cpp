// inventory: warehouses, stock, receipts and reservations. `inventory --help` lists the flags.
#include <cstdio>
#include <exception>

#include "inventory_app.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  auto config = config::Config::LoadOrExit("inventory", inventory::Schema(), argc, argv);
  try {
    service::Service service("inventory", config);
    inventory::InventoryApp app(service);
    service.SetOpenApi(inventory::OpenApiDocument());
    return service.Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inventory: %s\n", e.what());
    return 1;
  }
}
