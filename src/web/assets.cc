#include "web/assets.h"

namespace sipman::web {

const EmbeddedAsset* FindAsset(std::string_view path) {
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    if (path == kEmbeddedAssets[i].path) return &kEmbeddedAssets[i];
  }
  return nullptr;
}

}  // namespace sipman::web
