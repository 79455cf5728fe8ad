// Private to store/: the web API's searches and analytics over SQLite
// (sqlite_search.cc, sqlite_analytics.cc), behind the CallSearch and
// CallAnalytics interfaces; CallSearch::Open and CallAnalytics::Open pick
// them for a SQLite URL.
#ifndef SIPMAN_STORE_SQLITE_READS_H_
#define SIPMAN_STORE_SQLITE_READS_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "store/analytics.h"
#include "store/call_search.h"

namespace sipman::store::internal {

// `url` is a file name, "sqlite:" before it accepted; the file must exist
// and be SIPMan's (the schema is brought up to date).
Result<std::unique_ptr<CallSearch>> OpenSqliteCallSearch(const std::string& url);
Result<std::unique_ptr<CallAnalytics>> OpenSqliteCallAnalytics(const std::string& url);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_SQLITE_READS_H_
