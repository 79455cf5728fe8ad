#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "capture/capture.h"
#include "capture/frame_reader.h"

namespace sipman::capture {
namespace {

// Merges several readers by timestamp. Each reader's current packet stays
// valid while the others advance, because a reader only reuses its buffer
// on its own next read; so the merge copies nothing.
class MergingFileSource : public FileSource {
 public:
  explicit MergingFileSource(std::vector<std::unique_ptr<FrameReader>> readers)
      : readers_(std::move(readers)), heads_(readers_.size()), live_(readers_.size(), false) {
    for (size_t i = 0; i < readers_.size(); ++i) Advance(i);
  }

  bool Next(Packet* packet) override {
    // Refill the head handed out last time; its bytes are no longer needed.
    if (pending_ != kNone) {
      Advance(pending_);
      pending_ = kNone;
    }
    size_t best = kNone;
    for (size_t i = 0; i < heads_.size(); ++i) {
      if (live_[i] && (best == kNone || heads_[i].ts < heads_[best].ts)) best = i;
    }
    if (best == kNone) return false;
    *packet = heads_[best];
    pending_ = best;
    return true;
  }

  const std::vector<std::string>& warnings() const override {
    warnings_.clear();
    for (const auto& r : readers_) {
      warnings_.insert(warnings_.end(), r->warnings().begin(), r->warnings().end());
    }
    return warnings_;
  }

  uint64_t unsupported_link_frames() const override {
    uint64_t n = 0;
    for (const auto& r : readers_) n += r->unsupported_link_frames();
    return n;
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void Advance(size_t i) {
    live_[i] = readers_[i]->Next(&heads_[i]);
    heads_[i].file_index = static_cast<uint32_t>(i);
  }

  std::vector<std::unique_ptr<FrameReader>> readers_;
  std::vector<Packet> heads_;
  std::vector<bool> live_;
  size_t pending_ = kNone;
  mutable std::vector<std::string> warnings_;
};

}  // namespace

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::vector<std::string>& paths) {
  if (paths.empty()) return Status::Error("no capture file given (name one or more pcap/pcapng files)");
  std::vector<std::unique_ptr<FrameReader>> readers;
  for (const std::string& path : paths) {
    // "-" (standard input) and pipes can be read once only: they go straight
    // to libpcap, without the readability probe and the pcapng pre-scan.
    struct stat st;
    bool seekable = false;
    if (path != "-") {
      if (::stat(path.c_str(), &st) != 0) {
        return Status::Error("cannot open capture file " + path + ": " + std::strerror(errno));
      }
      seekable = S_ISREG(st.st_mode);
    }
    if (seekable) {
      // Check readability first so the error names the real cause, not
      // libpcap's paraphrase of it.
      FILE* probe = std::fopen(path.c_str(), "rb");
      if (probe == nullptr) {
        return Status::Error("cannot open capture file " + path + ": " + std::strerror(errno));
      }
      std::fclose(probe);
    }
    auto reader = seekable && PcapngHasMixedLinkTypes(path) ? OpenPcapng(path) : OpenWithLibpcap(path);
    if (!reader.ok()) return reader.status();
    readers.push_back(std::move(reader.value()));
  }
  return std::unique_ptr<FileSource>(new MergingFileSource(std::move(readers)));
}

}  // namespace sipman::capture
