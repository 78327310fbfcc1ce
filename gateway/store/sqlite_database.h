// A thin RAII layer over one SQLite connection: prepared statements cached by their SQL text,
// typed binds and reads, and errors as "storage: ..." messages. Not thread-safe: the owner serialises.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/runtime/result.h"

namespace airlock::gateway::sqlite {

// A cached prepared statement in use: reset and unbound when it goes out of scope.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* statement) : statement_(statement) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t number);
  Statement& bind_null(int index);
  Statement& bind_optional(int index, const std::optional<std::uint64_t>& number);

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(statement_); }

  std::string text(int column) const;
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

  // Whether a bind failed (the step reports it too, but with a less helpful message).
  int bind_error() const { return bind_error_; }

 private:
  sqlite3_stmt* statement_;
  int bind_error_ = SQLITE_OK;
};

class Database {
 public:
  // flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, or SQLITE_OPEN_READONLY.
  static runtime::Result<std::unique_ptr<Database>> open(const std::string& path, int flags);
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs statements that return no rows (pragmas, DDL, BEGIN/COMMIT).
  runtime::Status execute(const std::string& sql);
  // The cached prepared statement for `sql`, ready to bind.
  runtime::Result<std::unique_ptr<Statement>> prepare(const std::string& sql);

  // "storage: WHAT: <sqlite message>"
  runtime::Error error(std::string_view what) const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

}  // namespace airlock::gateway::sqlite
