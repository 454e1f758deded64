// catalog: products, categories, full-text search and reviews. `catalog --help` lists the
// configuration.
#include <cstdio>
#include <exception>

#include "app/catalog_app.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  auto config = config::Config::LoadOrExit("catalog", catalog::app::Schema(), argc, argv);
  try {
    service::Service service("catalog", config);
    catalog::app::CatalogApp app(service);
    service.SetOpenApi(catalog::app::OpenApiDocument());
    return service.Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "catalog: %s\n", e.what());
    return 1;
  }
}
