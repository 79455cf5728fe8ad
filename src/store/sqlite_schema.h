// Private to store/: the SQLite schema as a list of versioned migrations.
//
// A migration is frozen once released: a schema change is a new entry with
// the next version, never an edit of an old one. The table schema_migrations
// records which versions a database has (one row per applied migration).
#ifndef SIPMAN_STORE_SQLITE_SCHEMA_H_
#define SIPMAN_STORE_SQLITE_SCHEMA_H_

#include <sqlite3.h>

#include <span>
#include <string_view>

#include "base/status.h"

namespace sipman::store::internal {

struct Migration {
  int version;              // 1, 2, ... without gaps
  const char* description;  // recorded in schema_migrations
  const char* sql;          // run in the migration's transaction
};

// Every migration, in version order.
std::span<const Migration> SqliteMigrations();

// The schema version this build writes: the last migration's.
int LatestSqliteSchemaVersion();

// The highest version recorded in the database; 0 for a fresh one.
Result<int> SqliteSchemaVersion(sqlite3* db);

// Brings the database to the latest version in one transaction and returns
// how many migrations ran (0 when already up to date). A database from a
// newer SIPMan is refused, untouched. `db_name` appears in error messages.
Result<int> MigrateSqlite(sqlite3* db, std::string_view db_name);

// Opens an existing SIPMan database for the read paths (reports, web
// searches): `url` is a file name or "sqlite:PATH". Brings the schema up to
// date, then makes the connection read-only (query_only) and runs
// `pragmas` (may be empty). Sets *path to the file name, for messages.
// The caller closes the handle with sqlite3_close.
Result<sqlite3*> OpenSqliteReader(const std::string& url, std::string_view pragmas,
                                  std::string* path);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_SQLITE_SCHEMA_H_
