// A PostgreSQL table as CSV: COPY ... TO STDOUT streamed with PQgetCopyData, in a read-only transaction.
#include <libpq-fe.h>

#include <memory>

#include "airlock/gateway/import/sources.h"

namespace airlock::gateway::import {
namespace {

using runtime::Error;
using runtime::Result;

struct ConnectionCloser {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnectionHandle = std::unique_ptr<PGconn, ConnectionCloser>;
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

std::string trimmed_error(PGconn* connection) {
  std::string message = PQerrorMessage(connection);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

// Quotes an identifier the way PQescapeIdentifier does, without a connection (for postgres_copy_sql()).
std::string quote_identifier(std::string_view identifier) {
  std::string quoted = "\"";
  for (char c : identifier) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// The identifier quoted by libpq (which knows the connection's encoding).
Result<std::string> escape_identifier(PGconn* connection, std::string_view identifier) {
  char* escaped = PQescapeIdentifier(connection, identifier.data(), identifier.size());
  if (escaped == nullptr)
    return Error{"cannot quote the identifier \"" + std::string(identifier) + "\": " + trimmed_error(connection)};
  std::string out(escaped);
  PQfreemem(escaped);
  return out;
}

struct TableName {
  std::string schema;
  std::string table;
};

Result<TableName> split_table(const PostgresTable& table) {
  TableName name{table.schema, table.name};
  if (name.schema.empty()) {
    std::size_t dot = table.name.find('.');
    if (dot != std::string::npos) name = {table.name.substr(0, dot), table.name.substr(dot + 1)};
  }
  if (name.table.empty()) return Error{"empty table name in \"" + table.name + "\""};
  if (name.table.find('\0') != std::string::npos || name.schema.find('\0') != std::string::npos) {
    return Error{"a table name may not hold a NUL byte"};
  }
  return name;
}

template <typename Quote>
Result<std::string> copy_sql(const PostgresTable& table, Quote quote) {
  std::string select;
  if (!table.query.empty()) {
    select = table.query;
    while (!select.empty() && (select.back() == ';' || std::isspace(static_cast<unsigned char>(select.back())))) {
      select.pop_back();
    }
  } else {
    Result<TableName> name = split_table(table);
    if (!name) return name.error();
    std::string qualified;
    if (!name->schema.empty()) {
      Result<std::string> schema = quote(name->schema);
      if (!schema) return schema.error();
      qualified = *schema + ".";
    }
    Result<std::string> quoted = quote(name->table);
    if (!quoted) return quoted.error();
    select = "SELECT * FROM " + qualified + *quoted;
  }
  return "COPY (" + select + ") TO STDOUT WITH (FORMAT csv, HEADER)";
}

Result<bool> exec_command(PGconn* connection, const std::string& sql) {
  ResultHandle result(PQexec(connection, sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) return Error{sql + ": " + trimmed_error(connection)};
  return true;
}

}  // namespace

Result<std::string> postgres_copy_sql(const PostgresTable& table) {
  return copy_sql(table,
                  [](std::string_view identifier) -> Result<std::string> { return quote_identifier(identifier); });
}

Result<std::uint64_t> copy_postgres_table(const PostgresOptions& options, const PostgresTable& table,
                                          const ChunkSink& sink) {
  std::string timeout = std::to_string(options.connect_timeout.count());
  std::vector<const char*> keywords{"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values{options.url.c_str(), timeout.c_str(), "airlock-import"};
  if (!options.user.empty()) {
    keywords.push_back("user");
    values.push_back(options.user.c_str());
  }
  if (!options.password.empty()) {
    keywords.push_back("password");
    values.push_back(options.password.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  ConnectionHandle connection(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (!connection) return Error{"PostgreSQL: out of memory"};
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    return Error{"connecting to PostgreSQL: " + trimmed_error(connection.get())};
  }
  // A snapshot of the table, and no way for a query to change anything.
  if (Result<bool> begun = exec_command(connection.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !begun) {
    return begun.error();
  }
  Result<std::string> sql =
      copy_sql(table, [&](std::string_view identifier) { return escape_identifier(connection.get(), identifier); });
  if (!sql) return sql.error();
  ResultHandle started(PQexec(connection.get(), sql->c_str()));
  if (PQresultStatus(started.get()) != PGRES_COPY_OUT) {
    return Error{"PostgreSQL: " + *sql + ": " + trimmed_error(connection.get())};
  }
  std::uint64_t bytes = 0;
  while (true) {
    char* row = nullptr;
    int length = PQgetCopyData(connection.get(), &row, /*async=*/0);
    if (length > 0) {
      bytes += static_cast<std::uint64_t>(length);
      runtime::Status sunk = sink(std::span<const char>(row, static_cast<std::size_t>(length)));
      PQfreemem(row);
      // Returning closes the connection, which ends the COPY on the server.
      if (!sunk) return Error{sunk.message()};
      continue;
    }
    if (length == -1) break;
    return Error{"PostgreSQL: reading the COPY of " + table.name + " after " + std::to_string(bytes) +
                 " bytes: " + trimmed_error(connection.get())};
  }
  ResultHandle finished(PQgetResult(connection.get()));
  if (PQresultStatus(finished.get()) != PGRES_COMMAND_OK) {
    return Error{"PostgreSQL: the COPY of " + table.name + " failed after " + std::to_string(bytes) +
                 " bytes: " + trimmed_error(connection.get())};
  }
  while (PGresult* rest = PQgetResult(connection.get())) PQclear(rest);
  if (Result<bool> committed = exec_command(connection.get(), "COMMIT"); !committed) return committed.error();
  return bytes;
}

}  // namespace airlock::gateway::import
