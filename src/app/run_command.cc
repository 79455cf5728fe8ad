#include "app/run_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "app/correlator.h"
#include "app/logger.h"
#include "app/packet_queue.h"
#include "app/pipeline.h"
#include "capture/capture.h"
#include "store/store.h"

namespace sipman::app {
namespace {

using Clock = std::chrono::steady_clock;

// How long the capture thread and the worker wait for input before they do
// their housekeeping (spill hand-over, idle timers, stop checks).
constexpr int kPollMs = 100;

unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

// What the worker publishes for the status line (relaxed: figures only).
struct WorkerGauges {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> open_calls{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<bool> done{false};
};

class Daemon {
 public:
  Daemon(const RunOptions& options, Logger* log) : options_(options), log_(log) {}

  int Run() {
    // Every thread started from here on (the store's writer included)
    // inherits this mask, so the signals reach only sigtimedwait below.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    if (!OpenSource()) return 1;
    store::StoreOptions store_options;
    store_options.url = options_.db;
    store_options.sensor = options_.sensor;
    store_options.max_queued_rows = options_.store_queue_rows;
    store_options.stats_second_retention_s = options_.stats_second_hours * 3600;
    auto store = store::Store::Open(store_options);
    if (!store.ok()) {
      log_->Line("%s", store.status().message().c_str());
      return 1;
    }
    store_ = std::move(store.value());

    PacketQueueOptions queue_options;
    queue_options.capacity_bytes = static_cast<size_t>(options_.queue_mb) << 20;
    queue_options.max_packets = options_.queue_packets;
    queue_options.spill_dir = options_.spill_dir;
    queue_options.snaplen = std::max(options_.snaplen, 262144);
    queue_ = std::make_unique<PacketQueue>(queue_options);

    calls::CallTrackerOptions tracker_options;
    tracker_options.correlation_header = options_.correlation_header;
    correlator_ = std::make_unique<Correlator>(tracker_options, store_.get());

    if (options_.interfaces.empty()) {
      log_->Line("replaying %s at %s; calls go to %s (sensor %s); spill directory %s",
                 source_->Describe().c_str(), SpeedText().c_str(), options_.db.c_str(),
                 options_.sensor.c_str(), options_.spill_dir.c_str());
    } else {
      log_->Line("capturing on %s (filter \"%s\", buffer %d MiB, snaplen %d%s); calls go to %s "
                 "(sensor %s); spill directory %s",
                 source_->Describe().c_str(), options_.filter.c_str(), options_.buffer_mb,
                 options_.snaplen, options_.promisc ? ", promiscuous" : "", options_.db.c_str(),
                 options_.sensor.c_str(), options_.spill_dir.c_str());
    }
    started_ = Clock::now();
    std::thread capture([this] { CaptureLoop(); });
    std::thread worker([this] { WorkerLoop(); });
    MainLoop(signals);
    capture.join();
    worker.join();
    for (const std::string& e : queue_->TakeErrors()) log_->Line("spill: %s", e.c_str());

    Status closed = store_->Close();
    if (!closed.ok()) {
      log_->Line("writing %s failed: %s", options_.db.c_str(), closed.message().c_str());
      failed_ = true;
    }
    PrintSummary();
    log_->Line("stopped");
    return failed_ ? 1 : 0;
  }

 private:
  std::string SpeedText() const {
    if (options_.pcap_speed == 0) return "full speed";
    char text[32];
    std::snprintf(text, sizeof text, "%gx real time", options_.pcap_speed);
    return text;
  }

  bool OpenSource() {
    if (!options_.pcap_files.empty()) {
      auto replay = capture::ReplaySource::Open(options_.pcap_files, options_.pcap_speed);
      if (!replay.ok()) {
        log_->Line("%s", replay.status().message().c_str());
        return false;
      }
      source_ = std::move(replay.value());
      return true;
    }
    capture::LiveOptions live;
    live.interfaces = options_.interfaces;
    live.filter = options_.filter;
    live.snaplen = options_.snaplen;
    live.buffer_mb = options_.buffer_mb;
    live.promiscuous = options_.promisc;
    live.immediate = options_.immediate;
    live.timeout_ms = options_.timeout_ms;
    auto source = capture::LiveSource::Open(live);
    if (!source.ok()) {
      log_->Line("%s", source.status().message().c_str());
      return false;
    }
    source_ = std::move(source.value());
    return true;
  }

  void CaptureLoop() {
    capture::PacketVisitor push = [this](const capture::Packet& packet) { queue_->Push(packet); };
    for (;;) {
      auto polled = source_->Poll(kPollMs, push);
      queue_->ProducerTick();
      for (const std::string& w : source_->TakeWarnings()) log_->Line("warning: %s", w.c_str());
      if (!polled.ok()) {
        log_->Line("capture failed: %s", polled.status().message().c_str());
        failed_ = true;
        break;
      }
      if (*polled == capture::PollResult::kEnd) break;
    }
    queue_->CloseProducer();
    capture_done_.store(true, std::memory_order_release);
  }

  // Capture time now, by the worker's reckoning: the newest packet's time
  // plus the wall time since it arrived (scaled for a replay), so calls end
  // by their timers even when no packet comes.
  TimestampNs VirtualNow(Clock::time_point now) const {
    if (last_ts_ == 0 || options_.pcap_speed <= 0) return last_ts_;
    auto idle = std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_packet_wall_).count();
    return last_ts_ + static_cast<TimestampNs>(static_cast<double>(idle) * options_.pcap_speed);
  }

  void Publish() {
    gauges_.packets.store(totals_.packets, std::memory_order_relaxed);
    gauges_.messages.store(totals_.messages, std::memory_order_relaxed);
    gauges_.open_calls.store(correlator_->tracker_counters().open_calls, std::memory_order_relaxed);
    gauges_.calls.store(correlator_->total_calls(), std::memory_order_relaxed);
  }

  void WorkerLoop() {
    PacketPipeline pipeline(correlator_.get(), &totals_);
    capture::Packet packet;
    Clock::time_point last_advance = Clock::now();
    for (;;) {
      PacketQueue::PopResult r = queue_->Pop(&packet, kPollMs);
      if (r == PacketQueue::PopResult::kPacket) {
        pipeline.OnPacket(packet);
        if (packet.ts > last_ts_) last_ts_ = packet.ts;
        last_packet_wall_ = Clock::now();
        SampleDrops(last_packet_wall_, false);
        MaybeSnapshotActive(last_packet_wall_);
        Publish();
        continue;
      }
      if (r == PacketQueue::PopResult::kEnd) break;
      Clock::time_point now = Clock::now();
      SampleDrops(now, false);
      if (now - last_advance >= std::chrono::seconds(1)) {
        correlator_->AdvanceTime(VirtualNow(now));
        last_advance = now;
        Publish();
      }
      MaybeSnapshotActive(now);
    }
    pipeline.Finish();
    SampleDrops(Clock::now(), true);
    correlator_->Finish(VirtualNow(Clock::now()));
    // Every call is in `calls` now (queued before this): none is still up.
    store_->ReplaceActiveCalls(options_.sensor, {});
    Publish();
    gauges_.done.store(true, std::memory_order_release);
  }

  // Every --active-interval seconds, replaces this sensor's rows of
  // active_calls with the calls still up. Worker thread only: the tracker is
  // single-threaded.
  void MaybeSnapshotActive(Clock::time_point now) {
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
  void SampleDrops(Clock::time_point now, bool force) {
    if (!force && now - last_drop_sample_ < std::chrono::seconds(1)) return;
    last_drop_sample_ = now;
    capture::SourceStats s = source_->stats();
    uint64_t kernel = s.kernel_drops - std::min(s.kernel_drops, kernel_drops_seen_);
    uint64_t interface = s.interface_drops - std::min(s.interface_drops, interface_drops_seen_);
    kernel_drops_seen_ = std::max(kernel_drops_seen_, s.kernel_drops);
    interface_drops_seen_ = std::max(interface_drops_seen_, s.interface_drops);
    if (kernel == 0 && interface == 0) return;
    // Capture time: the worker's reckoning once packets came, else the
    // wall clock (a live capture stamps packets with it).
    TimestampNs ts = last_ts_ != 0 ? VirtualNow(now)
                                   : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count();
    correlator_->AddDrops(ts, kernel, interface);
  }

  void MainLoop(const sigset_t& signals) {
    bool stopping = false;
    Clock::time_point next_status = Clock::now() + StatsPeriod();
    while (!gauges_.done.load(std::memory_order_acquire)) {
      struct timespec wait = {0, kPollMs * 1000000L};
      siginfo_t info;
      int sig = sigtimedwait(&signals, &info, &wait);
      if (sig == SIGHUP) {
        Status s = log_->Reopen();
        if (s.ok()) {
          log_->Line("SIGHUP: log reopened");
        } else {
          log_->Line("SIGHUP: %s", s.message().c_str());
        }
      } else if (sig == SIGINT || sig == SIGTERM) {
        if (!stopping) {
          log_->Line("%s: stopping capture, draining %llu queued and %llu spilled packets",
                     sig == SIGINT ? "SIGINT" : "SIGTERM", U(queue_->counters().queued),
                     U(queue_->counters().spill_pending));
          source_->Stop();
          stopping = true;
        } else {
          log_->Line("second %s while draining: exiting now; %llu queued and %llu spilled packets "
                     "are not stored", sig == SIGINT ? "SIGINT" : "SIGTERM",
                     U(queue_->counters().queued), U(queue_->counters().spill_pending));
          std::_Exit(1);
        }
      }
      if (!stopping && capture_done_.load(std::memory_order_acquire)) {
        log_->Line("capture ended: draining %llu queued and %llu spilled packets",
                   U(queue_->counters().queued), U(queue_->counters().spill_pending));
        stopping = true;
      }
      for (const std::string& e : queue_->TakeErrors()) log_->Line("spill: %s", e.c_str());
      Clock::time_point now = Clock::now();
      if (options_.stats_interval > 0 && now >= next_status) {
        LogStatus(now);
        next_status = now + StatsPeriod();
      }
    }
  }

  Clock::duration StatsPeriod() const {
    double s = options_.stats_interval > 0 ? options_.stats_interval : 1.0;
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  void LogStatus(Clock::time_point now) {
    double seconds = std::chrono::duration<double>(now - last_status_).count();
    if (last_status_ == Clock::time_point{}) {
      seconds = std::chrono::duration<double>(now - started_).count();
    }
    capture::SourceStats s = source_->stats();
    uint64_t messages = gauges_.messages.load(std::memory_order_relaxed);
    PacketQueueCounters q = queue_->counters();
    auto rate = [&](uint64_t now_value, uint64_t before) {
      return seconds > 0 ? static_cast<double>(now_value - before) / seconds : 0.0;
    };
    log_->Line("status: %.0f packets/s, %.0f messages/s, %llu open calls, %llu calls stored, "
               "queue %llu packets (%llu spilled, %llu to read back), kernel drops %llu, "
               "interface drops %llu",
               rate(s.packets, status_packets_), rate(messages, status_messages_),
               U(gauges_.open_calls.load(std::memory_order_relaxed)),
               U(store_->counters().calls_written), U(q.queued), U(q.spilled), U(q.spill_pending),
               U(s.kernel_drops), U(s.interface_drops));
    status_packets_ = s.packets;
    status_messages_ = messages;
    last_status_ = now;
  }

  void PrintSummary() {
    double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    capture::SourceStats s = source_->stats();
    PacketQueueCounters q = queue_->counters();
    store::StoreCounters st = store_->counters();
    const calls::CallTrackerCounters& c = correlator_->tracker_counters();
    std::printf("sipman run: %s, %.3f s\n", source_->Describe().c_str(), elapsed);
    std::printf("packets: %llu  bytes: %llu  kernel drops: %llu  interface drops: %llu\n",
                U(totals_.packets), U(totals_.bytes), U(s.kernel_drops), U(s.interface_drops));
    std::printf("queue: max %llu packets  spilled: %llu packets (%llu bytes, %llu files)  "
                "lost to spill errors: %llu\n",
                U(q.max_queued), U(q.spilled), U(q.spilled_bytes), U(q.spill_segments),
                U(q.spill_lost));
    std::printf("messages: %llu  malformed: %llu  retransmissions: %llu  orphans: %llu\n",
                U(totals_.messages), U(totals_.malformed), U(c.retransmissions),
                U(c.orphan_requests + c.orphan_responses));
    stats::TrafficSummary traffic = correlator_->traffic_summary();
    std::printf("traffic: %llu SIP packets, %llu bytes over %lld s; bytes/s average %.1f "
                "peak %llu; messages/s average %.2f peak %llu\n",
                U(traffic.totals.packets), U(traffic.totals.frame_bytes),
                static_cast<long long>(traffic.span_seconds), traffic.frame_bytes.average,
                U(traffic.frame_bytes.peak), traffic.messages.average, U(traffic.messages.peak));
    std::printf("calls: %llu\n", U(correlator_->total_calls()));
    for (calls::CallState state : kCallStates) {
      std::printf("  %-12s %llu\n", std::string(calls::CallStateName(state)).c_str(),
                  U(correlator_->calls(state)));
    }
    std::printf("registrations: %llu\n", U(correlator_->total_registrations()));
    for (const auto& [result, count] : correlator_->registrations_by_result()) {
      std::printf("  %-12s %llu\n", result.c_str(), U(count));
    }
    std::printf("stored in %s (sensor %s): %llu calls, %llu registrations, %llu messages "
                "(%llu already there)\n",
                options_.db.c_str(), options_.sensor.c_str(), U(st.calls_written),
                U(st.registrations_written), U(st.messages_written), U(st.duplicates_ignored));
    std::fflush(stdout);
  }

  const RunOptions& options_;
  Logger* log_;
  std::unique_ptr<capture::PacketSource> source_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PacketQueue> queue_;
  std::unique_ptr<Correlator> correlator_;
  std::atomic<bool> capture_done_{false};
  std::atomic<bool> failed_{false};
  Clock::time_point started_;

  // Worker thread only (read by the main thread after join).
  PipelineTotals totals_;
  TimestampNs last_ts_ = 0;
  Clock::time_point last_packet_wall_;
  Clock::time_point last_drop_sample_;
  Clock::time_point last_active_;  // last active_calls snapshot
  uint64_t kernel_drops_seen_ = 0, interface_drops_seen_ = 0;
  WorkerGauges gauges_;

  // Main thread only.
  Clock::time_point last_status_;
  uint64_t status_packets_ = 0, status_messages_ = 0;
};

}  // namespace

int RunDaemon(const RunOptions& options) {
  Logger log;
  Status opened = log.Open(options.log_file);
  if (!opened.ok()) {
    std::fprintf(stderr, "sipman run: %s\n", opened.message().c_str());
    return 1;
  }
  Daemon daemon(options, &log);
  return daemon.Run();
}

}  // namespace sipman::app
