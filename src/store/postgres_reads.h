// Private to store/: the web API's searches and analytics over PostgreSQL
// (postgres_search.cc, postgres_analytics.cc), behind the CallSearch and
// CallAnalytics interfaces, and the read connection they share.
#ifndef SIPMAN_STORE_POSTGRES_READS_H_
#define SIPMAN_STORE_POSTGRES_READS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/analytics.h"
#include "store/call_search.h"
#include "store/postgres_store.h"

namespace sipman::store::internal {

// `url` is a libpq URI ("postgresql://user@host:port/db?...").
Result<std::unique_ptr<CallSearch>> OpenPostgresCallSearch(const std::string& url);
Result<std::unique_ptr<CallAnalytics>> OpenPostgresCallAnalytics(const std::string& url);

// One read connection: connects and brings the schema up to date on Open,
// and reconnects once when a query finds the connection lost (a restarted
// server), so a long-running `sipman serve` survives it.
class PgReader {
 public:
  Status Open(const std::string& url);
  // Runs `sql` with text parameters $1..$n; an error names `what` and the
  // database ("cannot search calls in PostgreSQL database postgresql://...").
  Result<PgResult> Query(const std::string& what, const std::string& sql,
                         const std::vector<std::string>& params);
  // "PostgreSQL database URL", without the URL's password.
  const std::string& where() const { return where_; }

 private:
  std::string url_;
  std::string where_;
  PgConnection conn_;
};

// The parameters of one query, each added where the SQL needs it: Int
// returns "$n::bigint" (a timestamp would not fit the int4 PostgreSQL
// infers next to a small literal), Text "$n".
class PgParams {
 public:
  std::string Int(int64_t value);
  std::string Text(std::string value);
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// The condition that `column` (collation "C": byte order) starts with
// `prefix`, as a range its index serves: prefix <= column < the prefix with
// its last character incremented. Exact for every UTF-8 prefix.
std::string PgPrefixCondition(const char* column, const std::string& prefix, PgParams* params);


}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_POSTGRES_READS_H_
