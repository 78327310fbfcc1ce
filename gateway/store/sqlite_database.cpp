#include "sqlite_database.h"

#include <utility>

namespace airlock::gateway::sqlite {

Statement& Statement::bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::int64_t number) {
  int rc = sqlite3_bind_int64(statement_, index, number);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(statement_, index);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bind_optional(int index, const std::optional<std::uint64_t>& number) {
  if (!number) return bind_null(index);
  return bind(index, static_cast<std::int64_t>(*number));
}

std::string Statement::text(int column) const {
  const unsigned char* data = sqlite3_column_text(statement_, column);
  if (data == nullptr) return {};
  int size = sqlite3_column_bytes(statement_, column);
  return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
}

runtime::Result<std::unique_ptr<Database>> Database::open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return runtime::Error{"storage: cannot open database " + path + ": " + message};
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Database>(new Database(db, path));
}

Database::~Database() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  sqlite3_close(db_);
}

runtime::Status Database::execute(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return runtime::Error{"storage: " + path_ + ": " + text};
  }
  return runtime::Status::ok();
}

runtime::Result<std::unique_ptr<Statement>> Database::prepare(const std::string& sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1), SQLITE_PREPARE_PERSISTENT,
                                &statement, nullptr);
    if (rc != SQLITE_OK) return error("cannot prepare statement");
    found = statements_.emplace(sql, statement).first;
  }
  return std::make_unique<Statement>(found->second);
}

runtime::Error Database::error(std::string_view what) const {
  return runtime::Error{"storage: " + std::string(what) + ": " + sqlite3_errmsg(db_) + " (" + path_ + ")"};
}

}  // namespace airlock::gateway::sqlite
