#include "mercato/storage/database.hpp"

namespace mercato::storage {

Connection::~Connection() = default;
Database::~Database() = default;

Result<Transaction> Transaction::Begin(Connection& connection, bool write) {
  if (auto begun = connection.Begin(write); !begun) return std::move(begun).error();
  return Transaction(connection);
}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
  if (this != &other) {
    if (connection_ != nullptr) (void)connection_->Rollback();
    connection_ = std::exchange(other.connection_, nullptr);
  }
  return *this;
}

Transaction::~Transaction() {
  // Nothing useful can be done with a failed rollback here: the backend discards the transaction
  // when the connection's next BEGIN fails or the connection closes.
  if (connection_ != nullptr) (void)connection_->Rollback();
}

Result<void> Transaction::Commit() {
  if (connection_ == nullptr)
    return Error{ErrorCode::kFailedPrecondition, "transaction is not active"};
  auto committed = connection_->Commit();
  // A failed COMMIT leaves the transaction to the destructor, which rolls it back.
  if (committed) connection_ = nullptr;
  return committed;
}

Result<void> Transaction::Rollback() {
  if (connection_ == nullptr)
    return Error{ErrorCode::kFailedPrecondition, "transaction is not active"};
  return std::exchange(connection_, nullptr)->Rollback();
}

Task<Result<void>> Database::PingAsync() {
  co_return co_await Read([](Connection& c) -> Result<void> {
    auto rows = c.Query("SELECT 1");
    if (!rows) return std::move(rows).error();
    return Ok();
  });
}

}  // namespace mercato::storage
