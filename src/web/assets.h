// Private to web/: the UI files embedded into the binary, and how they are
// served. The table is generated at build time by scripts/embed-assets from
// ui/dist (or a placeholder page when the UI is not built).
#ifndef SIPMAN_WEB_ASSETS_H_
#define SIPMAN_WEB_ASSETS_H_

#include <cstddef>
#include <string_view>

#include "web/http.h"

namespace sipman::web {

struct EmbeddedAsset {
  const char* path;          // "/index.html", "/assets/index-1a2b.js"
  const char* content_type;  // "text/javascript; charset=utf-8"
  const char* data;
  size_t size;
};

extern const EmbeddedAsset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

// The asset at this (decoded) path, or nullptr.
const EmbeddedAsset* FindAsset(std::string_view path);

// Answers a GET or HEAD of `path` (decoded, outside /api/) with its file,
// else with index.html; false, with `response` untouched, when there is no
// index.html either.
bool ServeUiFile(std::string_view path, HttpResponse* response);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_ASSETS_H_
