// CallSearch::Open: the backend the URL names (store::ParseStoreUrl).
#include "store/call_search.h"

#include <cstdio>

#include "store/postgres_reads.h"
#include "store/sqlite_reads.h"
#include "store/store.h"

namespace sipman::store {

Result<std::unique_ptr<CallSearch>> CallSearch::Open(const std::string& url) {
  if (ParseStoreUrl(url).postgres) return internal::OpenPostgresCallSearch(url);
  return internal::OpenSqliteCallSearch(url);
}

std::string MosBelowSql(const std::string& placeholder) {
  return "mos_min >= 0 AND mos_min < " + placeholder;
}

std::string MosText(double mos) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", mos);
  return text;
}

std::string MediaFlagSql(const std::string& quoted_flag) {
  return "(',' || media_flags || ',') LIKE ('%,' || " + quoted_flag + " || ',%')";
}

}  // namespace sipman::store
