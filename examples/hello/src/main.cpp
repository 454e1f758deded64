// hello: the sample service of the Mercato chassis. `hello --help` lists its configuration.
#include <cstdio>
#include <exception>

#include "hello_app.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  auto config = config::Config::LoadOrExit("hello", hello::Schema(), argc, argv);
  try {
    service::Service service("hello", config);
    hello::HelloApp app(service);
    service.SetOpenApi(hello::OpenApiDocument());
    return service.Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hello: %s\n", e.what());
    return 1;
  }
}
