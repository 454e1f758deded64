// A real identity service for the component tests of the services that verify its tokens
// (zero trust: catalog, inventory, ... check every caller themselves): started with the bus off,
// cheap Argon2id and the per-address login throttle lifted (every test speaks from 127.0.0.1),
// plus the three kinds of caller a test needs. Failures throw std::runtime_error naming the step.
//
//   auto identity = testing::StartIdentityForTest();
//   auto service = testing::ServiceProcess::Start("catalog", {"--jwks-url",
//   testing::JwksUrl(identity)}); std::string admin = testing::AdminToken(identity);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mercato/testing/testing.hpp"

namespace mercato::testing {

// identity on an ephemeral port, with `extra` flags appended.
ServiceProcess StartIdentityForTest(const std::vector<std::string>& extra = {});

// http://127.0.0.1:<port>/.well-known/jwks.json: what a verifying service's --jwks-url needs.
std::string JwksUrl(const ServiceProcess& identity);

// An access token of the first admin (from <data dir>/secrets/admin.json).
std::string AdminToken(const ServiceProcess& identity);

// A service token (role `service`, sub = client) from the client-credentials grant, with the
// secret identity wrote to <data dir>/secrets/clients/<client>.json.
std::string ServiceToken(const ServiceProcess& identity, std::string_view client);

struct TestCustomer {
  std::string id;
  std::string email;
  std::string token;
};
// Registers a new customer (a unique email built from `tag`) and logs them in.
TestCustomer RegisterCustomer(const ServiceProcess& identity, std::string_view tag);

}  // namespace mercato::testing
