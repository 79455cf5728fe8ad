#include "app/run_worker.h"

#include <algorithm>

#include "base/time.h"

namespace sipman::app {

RunWorker::RunWorker(const RunWorkerParts& parts)
    : options_(*parts.options),
      store_(parts.store),
      correlator_(parts.correlator),
      handler_(parts.handler),
      source_(parts.source),
      queue_(parts.queue),
      hep_queue_(parts.hep_queue),
      web_(parts.web),
      metrics_(parts.metrics),
      hep_(parts.correlator) {}

void RunWorker::Run() {
  // HEP inside what is captured: always in a replayed file; from live
  // interfaces only when asked (a sensor on a SIP server that also sends
  // HEP would otherwise see every message twice).
  net::DecoderOptions decoder_options;
  decoder_options.decode_hep = !options_.pcap_files.empty() || options_.hep_in_capture;
  PacketPipeline pipeline(handler_, &totals_, decoder_options);
  pipeline_ = &pipeline;
  capture::Packet packet, hep_packet;
  Clock::time_point last_advance = Clock::now();
  bool capture_open = queue_ != nullptr;
  bool hep_open = hep_queue_ != nullptr;
  bool idle = false;
  while (capture_open || hep_open) {
    // With two queues, neither may block the other for long: each waits
    // a little, and only after a round found nothing.
    const int wait = capture_open && hep_open ? (idle ? kRunPollMs / 10 : 0) : kRunPollMs;
    bool got = false;
    if (capture_open) {
      PacketQueue::PopResult r = queue_->Pop(&packet, wait);
      if (r == PacketQueue::PopResult::kPacket) {
        pipeline.OnPacket(packet);
        AfterPacket(packet.ts);
        got = true;
      } else if (r == PacketQueue::PopResult::kEnd) {
        capture_open = false;
      }
    }
    if (hep_open) {
      PacketQueue::PopResult r = hep_queue_->Pop(&hep_packet, wait);
      if (r == PacketQueue::PopResult::kPacket) {
        hep_.OnQueued(&pipeline, hep_packet);
        AfterPacket(hep_packet.ts);
        got = true;
      } else if (r == PacketQueue::PopResult::kEnd) {
        hep_open = false;
      }
    }
    idle = !got;
    if (got) continue;
    Clock::time_point now = Clock::now();
    SampleDrops(now, false);
    MaybeSnapshotMetrics(now, false);
    if (now - last_advance >= std::chrono::seconds(1)) {
      correlator_->AdvanceTime(VirtualNow(now));
      last_advance = now;
      Publish();
    }
    MaybeSnapshotActive(now);
  }
  pipeline.Finish();
  pipeline_ = nullptr;
  SampleDrops(Clock::now(), true);
  correlator_->Finish(VirtualNow(Clock::now()));
  // Every call is in `calls` now (queued before this): none is still up.
  store_->ReplaceActiveCalls(options_.sensor, {});
  Publish();
  MaybeSnapshotMetrics(Clock::now(), true);
  done_.store(true, std::memory_order_release);
}

// Capture time now, by the worker's reckoning: the newest packet's time
// plus the wall time since it arrived (scaled for a replay), so calls end
// by their timers even when no packet comes.
// A full-speed replay (--pcap-speed 0) has no scale: while it runs,
// packets come back to back and idle time is nil; once it has ended (with
// HEP still coming in), capture time runs as wall time, or the calls it
// left open would never reach their timers.
TimestampNs RunWorker::VirtualNow(Clock::time_point now) const {
  if (last_ts_ == 0) return last_ts_;
  const double speed = options_.pcap_speed > 0 ? options_.pcap_speed : 1.0;
  auto idle = std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_packet_wall_).count();
  return last_ts_ + static_cast<TimestampNs>(static_cast<double>(idle) * speed);
}

void RunWorker::Publish() {
  gauges_.packets.store(totals_.packets, std::memory_order_relaxed);
  gauges_.messages.store(totals_.messages, std::memory_order_relaxed);
  gauges_.open_calls.store(correlator_->tracker_counters().open_calls, std::memory_order_relaxed);
}

void RunWorker::AfterPacket(TimestampNs ts) {
  if (ts > last_ts_) last_ts_ = ts;
  last_packet_wall_ = Clock::now();
  SampleDrops(last_packet_wall_, false);
  MaybeSnapshotActive(last_packet_wall_);
  MaybeSnapshotMetrics(last_packet_wall_, false);
  Publish();
}

// About once a second (and at the end, `force`), counts the calls up now
// (for the live stream's "concurrent" events) and copies the counters
// that /metrics shows. Nothing without the web GUI.
void RunWorker::MaybeSnapshotMetrics(Clock::time_point now, bool force) {
  if (!web_) return;
  if (!force && now - last_metrics_ < std::chrono::seconds(1)) return;
  last_metrics_ = now;
  const uint64_t up = force ? 0 : correlator_->CountOpenCalls(VirtualNow(now));
  gauges_.concurrent_calls.store(up, std::memory_order_relaxed);
  Publish();
  metrics_->Set(correlator_->traffic_totals(), *correlator_, gauges_.Load(),
               pipeline_ != nullptr ? pipeline_->decoder_counters() : totals_.decoder);
  // The dashboard sees each second about a second after it ends, not
  // kOpenSeconds later; the final counts follow when it closes.
  if (!force) correlator_->PublishOpenSeconds(VirtualNow(now));
}

// Every --active-interval seconds, replaces this sensor's rows of
// active_calls with the calls still up.
void RunWorker::MaybeSnapshotActive(Clock::time_point now) {
  if (options_.active_interval <= 0) return;
  if (last_active_ != Clock::time_point{} &&
      now - last_active_ < std::chrono::duration<double>(options_.active_interval)) {
    return;
  }
  last_active_ = now;
  store_->ReplaceActiveCalls(options_.sensor, correlator_->OpenCalls(VirtualNow(now)));
}

// About once a second (and at the end, `force`), adds the capture's new
// kernel and interface drops to the traffic counters' current second.
void RunWorker::SampleDrops(Clock::time_point now, bool force) {
  if (!force && now - last_drop_sample_ < std::chrono::seconds(1)) return;
  last_drop_sample_ = now;
  const uint64_t spilled = store_->counters().spilled_rows;
  if (spilled > spilled_seen_) {
    correlator_->AddSpilled(last_ts_ != 0 ? VirtualNow(now) : WallClockNs(), spilled - spilled_seen_);
    spilled_seen_ = spilled;
  }
  if (!source_) return;
  capture::SourceStats s = source_->stats();
  uint64_t kernel = s.kernel_drops - std::min(s.kernel_drops, kernel_drops_seen_);
  uint64_t interface = s.interface_drops - std::min(s.interface_drops, interface_drops_seen_);
  kernel_drops_seen_ = std::max(kernel_drops_seen_, s.kernel_drops);
  interface_drops_seen_ = std::max(interface_drops_seen_, s.interface_drops);
  if (kernel == 0 && interface == 0) return;
  // Capture time: the worker's reckoning once packets came, else the
  // wall clock (a live capture stamps packets with it).
  TimestampNs ts = last_ts_ != 0 ? VirtualNow(now) : WallClockNs();
  correlator_->AddDrops(ts, kernel, interface);
}

}  // namespace sipman::app
