#include "store/store.h"

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace sipman::store {

CallCursor CallCursor::After(const calls::CallRecord& last) {
  return CallCursor{last.invite_ts, last.call_id, last.sensor, last.end_ts};
}

RegistrationCursor RegistrationCursor::After(const calls::RegistrationRecord& last) {
  return RegistrationCursor{last.first_seen, last.call_id, last.sensor};
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::string_view url = options.url;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return internal::PostgresStore::Open(options, options.url);
  }
  if (url.starts_with("sqlite:")) url.remove_prefix(7);
  if (url.empty()) {
    return Status::Error("no database given: name a SQLite file, e.g. sipman.db or sqlite:PATH");
  }
  if (url == ":memory:" || url.starts_with("file::memory:")) {
    return Status::Error(
        "cannot use an in-memory SQLite database: the writer and the queries use separate "
        "connections; name a file, e.g. sipman.db");
  }
  return internal::SqliteStore::Open(options, std::string(url));
}

}  // namespace sipman::store
