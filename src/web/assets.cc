#include "web/assets.h"

namespace sipman::web {

const EmbeddedAsset* FindAsset(std::string_view path) {
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    if (path == kEmbeddedAssets[i].path) return &kEmbeddedAssets[i];
  }
  return nullptr;
}

bool ServeUiFile(std::string_view path, HttpResponse* response) {
  // The UI's files are public: they are the same in every installation
  // and hold no data; every data request goes through the API's checks.
  const EmbeddedAsset* asset = FindAsset(path);
  bool fallback = asset == nullptr;
  if (fallback) asset = FindAsset("/index.html");
  if (asset == nullptr) return false;
  response->status = 200;
  response->content_type = asset->content_type;
  response->body.assign(asset->data, asset->size);
  response->AddHeader("Cache-Control", !fallback && path.starts_with("/assets/")
                                           ? "public, max-age=31536000, immutable"
                                           : "no-cache");
  response->AddHeader("Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                      "frame-ancestors 'none'");
  response->AddHeader("X-Frame-Options", "DENY");
  response->AddHeader("Referrer-Policy", "no-referrer");
  return true;
}

}  // namespace sipman::web
