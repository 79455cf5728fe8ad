// Private to app: `sipman media FILE...`.
#ifndef SIPMAN_APP_MEDIA_COMMAND_H_
#define SIPMAN_APP_MEDIA_COMMAND_H_

#include <string>
#include <vector>

namespace sipman::app {

struct MediaOptions {
  bool json = false;  // one JSON object per stream, every figure
  std::vector<std::string> files;
};

// Prints one line per RTP stream of the files (docs/METRICS.md, "RTP
// streams") to stdout, and the totals to stderr. Returns the exit code.
int RunMedia(const MediaOptions& options);

}  // namespace sipman::app

#endif  // SIPMAN_APP_MEDIA_COMMAND_H_
