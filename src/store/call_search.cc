// CallSearch::Open: the backend the URL names (store::ParseStoreUrl).
#include "store/call_search.h"

#include "store/postgres_reads.h"
#include "store/sqlite_reads.h"
#include "store/store.h"

namespace sipman::store {

Result<std::unique_ptr<CallSearch>> CallSearch::Open(const std::string& url) {
  if (ParseStoreUrl(url).postgres) return internal::OpenPostgresCallSearch(url);
  return internal::OpenSqliteCallSearch(url);
}

}  // namespace sipman::store
