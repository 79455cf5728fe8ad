#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture.h"

namespace sipman::capture {
namespace {

// Packets delivered per Poll at speed 0, so the caller's housekeeping (and
// Stop) still runs during a fast replay.
constexpr int kFastBatch = 512;

class ReplaySourceImpl : public ReplaySource {
 public:
  ReplaySourceImpl(std::unique_ptr<FileSource> files, std::string describe, double speed)
      : files_(std::move(files)), describe_(std::move(describe)), speed_(speed) {}

  Result<PollResult> Poll(int timeout_ms, const PacketVisitor& visitor) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (int delivered = 0;;) {
      if (stop_.load(std::memory_order_acquire)) return PollResult::kEnd;
      if (!have_pending_) {
        if (!files_->Next(&pending_)) return PollResult::kEnd;
        have_pending_ = true;
      }
      if (speed_ > 0) {
        auto now = std::chrono::steady_clock::now();
        if (!started_) {
          started_ = true;
          first_ts_ = pending_.ts;
          start_wall_ = now;
        }
        auto offset_ns = static_cast<int64_t>(static_cast<double>(pending_.ts - first_ts_) / speed_);
        auto due = start_wall_ + std::chrono::nanoseconds(offset_ns > 0 ? offset_ns : 0);
        if (due > now) {
          if (delivered > 0) return PollResult::kOk;
          std::this_thread::sleep_until(due < deadline ? due : deadline);
          if (due > deadline) return PollResult::kOk;
        }
      } else if (delivered >= kFastBatch) {
        return PollResult::kOk;
      }
      ++packets_;
      bytes_ += pending_.wire_len;
      visitor(pending_);
      have_pending_ = false;
      ++delivered;
    }
  }

  void Stop() override { stop_.store(true, std::memory_order_release); }

  SourceStats stats() const override {
    SourceStats s;
    s.packets = packets_.load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.kernel_received = s.packets;
    return s;
  }

  std::vector<std::string> TakeWarnings() override {
    const std::vector<std::string>& all = files_->warnings();
    std::vector<std::string> fresh(all.begin() + static_cast<ptrdiff_t>(warned_), all.end());
    warned_ = all.size();
    return fresh;
  }

  std::string Describe() const override { return describe_; }

 private:
  std::unique_ptr<FileSource> files_;
  std::string describe_;
  double speed_;
  std::atomic<bool> stop_{false};
  Packet pending_;
  bool have_pending_ = false;
  bool started_ = false;
  TimestampNs first_ts_ = 0;
  std::chrono::steady_clock::time_point start_wall_;
  std::atomic<uint64_t> packets_{0}, bytes_{0};
  size_t warned_ = 0;
};

}  // namespace

Result<std::unique_ptr<ReplaySource>> ReplaySource::Open(const std::vector<std::string>& paths,
                                                         double speed) {
  if (!(speed >= 0)) return Status::Error("replay speed must be 0 (as fast as possible) or more");
  auto files = FileSource::Open(paths);
  if (!files.ok()) return files.status();
  std::string describe;
  for (const std::string& p : paths) describe += (describe.empty() ? "" : ",") + p;
  describe += " (replay)";
  return std::unique_ptr<ReplaySource>(
      new ReplaySourceImpl(std::move(files.value()), std::move(describe), speed));
}

}  // namespace sipman::capture
