#include "mercato/testing/identity.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "mercato/core/random.hpp"
#include "mercato/testing/http_json.hpp"

namespace mercato::testing {

namespace {

namespace json = boost::json;
constexpr std::string_view kPassword = "Quokka-Lantern-Orbit-47";

// ServiceProcess passes --data-dir <its temp dir>/data.
std::string SecretsDir(const ServiceProcess& identity) {
  return identity.data_dir() + "/data/secrets";
}

json::object ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) throw std::runtime_error("cannot read " + path);
  return value.as_object();
}

// POSTs to identity and returns the JSON object answered with `status`.
json::object Post(const ServiceProcess& identity, const std::string& path, const std::string& body,
                  const std::string& content_type, int status) {
  auto r = Request(identity.port(), "POST", path, body, {{"Content-Type", content_type}},
                   std::chrono::seconds(30));
  if (!r || r->status != status) {
    throw std::runtime_error(path + ": want " + std::to_string(status) + ", got " +
                             (r ? std::to_string(r->status) + " " + r->body : r.error().message));
  }
  std::error_code ec;
  auto value = json::parse(r->body, ec);
  if (ec || !value.is_object()) throw std::runtime_error(path + ": not a JSON object: " + r->body);
  return value.as_object();
}

std::string AccessToken(const json::object& tokens, std::string_view what) {
  std::string token = Str(tokens, "access_token");
  if (token.empty()) throw std::runtime_error(std::string(what) + ": no access_token");
  return token;
}

}  // namespace

ServiceProcess StartIdentityForTest(const std::vector<std::string>& extra) {
  std::vector<std::string> args{
      "--nats-url=", "--password-memory-kib", "1024",  "--password-iterations",
      "1",           "--ip-free-failures",    "100000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServiceProcess::Start("identity", args, std::chrono::seconds(60));
}

std::string JwksUrl(const ServiceProcess& identity) {
  return "http://127.0.0.1:" + std::to_string(identity.port()) + "/.well-known/jwks.json";
}

std::string AdminToken(const ServiceProcess& identity) {
  auto admin = ReadJson(SecretsDir(identity) + "/admin.json");
  json::object credentials{{"email", Str(admin, "email")}, {"password", Str(admin, "password")}};
  return AccessToken(
      Post(identity, "/auth/login", json::serialize(credentials), "application/json", 200),
      "admin login");
}

std::string ServiceToken(const ServiceProcess& identity, std::string_view client) {
  auto credentials = ReadJson(SecretsDir(identity) + "/clients/" + std::string(client) + ".json");
  // Client ids and secrets are base64url: nothing to escape in the form.
  const std::string form = "grant_type=client_credentials&client_id=" + std::string(client) +
                           "&client_secret=" + Str(credentials, "client_secret");
  return AccessToken(Post(identity, "/oauth/token", form, "application/x-www-form-urlencoded", 200),
                     "client credentials");
}

TestCustomer RegisterCustomer(const ServiceProcess& identity, std::string_view tag) {
  static std::atomic<int> counter{0};
  TestCustomer customer;
  customer.email = std::string(tag) + "-" + std::to_string(::getpid()) + "x" +
                   std::to_string(counter.fetch_add(1)) + "x" +
                   std::to_string(RandomBelow(1'000'000'000)) + "@example.com";
  auto user = Post(identity, "/auth/register",
                   json::serialize(json::object{
                       {"email", customer.email}, {"password", kPassword}, {"name", "Test User"}}),
                   "application/json", 201);
  customer.id = Str(user, "id");
  customer.token = AccessToken(
      Post(identity, "/auth/login",
           json::serialize(json::object{{"email", customer.email}, {"password", kPassword}}),
           "application/json", 200),
      "customer login");
  return customer;
}

}  // namespace mercato::testing
