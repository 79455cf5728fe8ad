#include "store/store.h"

#include <utility>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace sipman::store {

StoreUrl ParseStoreUrl(std::string_view url) {
  StoreUrl parsed;
  parsed.postgres = url.starts_with("postgresql://") || url.starts_with("postgres://");
  if (!parsed.postgres) {
    if (url.starts_with("sqlite:")) url.remove_prefix(7);
    parsed.sqlite_path = url;
    parsed.shown = url;
    return parsed;
  }
  // user:password@host: the password is shown as ***.
  parsed.shown = url;
  const size_t scheme = url.find("://") + 3;
  const size_t at = url.find('@', scheme);
  const size_t slash = url.find('/', scheme);
  const size_t colon = url.find(':', scheme);
  if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash) &&
      colon != std::string_view::npos && colon < at) {
    parsed.shown = std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
  }
  return parsed;
}

Result<std::vector<StoredMessageRow>> Store::MessagesOfStoredCall(const calls::CallRecord& call) {
  Result<std::vector<StoredMessageRow>> all = MessagesOfCall(call.call_id);
  if (!all.ok()) return all;
  std::vector<StoredMessageRow> mine;
  for (StoredMessageRow& m : *all) {
    if (m.sensor != call.sensor) continue;
    if (call.invite_ts > 0 && m.ts < call.invite_ts - kCallMessageMargin) continue;
    if (call.end_ts > 0 && m.ts > call.end_ts + kCallMessageMargin) continue;
    mine.push_back(std::move(m));
  }
  return mine;
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  const StoreUrl parsed = ParseStoreUrl(options.url);
  if (parsed.postgres) return internal::PostgresStore::Open(options, options.url);
  std::string_view url = parsed.sqlite_path;
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
