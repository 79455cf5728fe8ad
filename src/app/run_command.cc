#include "app/run_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "app/correlator.h"
#include "app/hep_input.h"
#include "app/logger.h"
#include "app/packet_queue.h"
#include "app/pipeline.h"
#include "app/process.h"
#include "app/run_metrics.h"
#include "app/run_report.h"
#include "capture/capture.h"
#include "hep/hep.h"
#include "stats/stats.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {
namespace {

using Clock = std::chrono::steady_clock;

// How long the capture thread and the worker wait for input before they do
// their housekeeping (spill hand-over, idle timers, stop checks).
constexpr int kPollMs = 100;

unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

// "http://HOST:PORT/" (or https://) for a --listen value and the port bound.
std::string WebUrl(const std::string& listen, uint16_t port, bool https) {
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "localhost";
  std::string url = https ? "https://" : "http://";
  url.append(host).append(":").append(std::to_string(port)).append("/");
  return url;
}

class Daemon {
 public:
  Daemon(const RunOptions& options, Logger* log) : options_(options), log_(log) {}

  int Run() {
    // Every thread started from here on (the store's writer included)
    // inherits this mask, so the signals reach only sigtimedwait below.
    const sigset_t signals = BlockStopSignals();

    if (!options_.interfaces.empty() || !options_.pcap_files.empty()) {
      if (!OpenSource()) return 1;
    }
    if (!OpenHepSender()) return 1;
    store::StoreOptions store_options;
    store_options.url = options_.db;
    store_options.sensor = options_.sensor;
    store_options.max_queued_rows = options_.store_queue_rows;
    store_options.stats_second_retention_s = options_.stats_second_hours * 3600;
    // PostgreSQL's batches spill beside the packets while the server is away.
    store_options.spill_dir = options_.spill_dir + "/store";
    // A failing write (disk full, ...) is logged the moment it happens; the
    // status line, /metrics and /healthz show it while it lasts.
    store_options.on_write_event = [log = log_](const std::string& event) {
      log->Line("store: %s", event.c_str());
    };
    auto store = store::Store::Open(store_options);
    if (!store.ok()) {
      log_->Line("%s", store.status().message().c_str());
      return 1;
    }
    store_ = std::move(store.value());
    if (!StartWeb()) {
      (void)store_->Close();
      return 1;
    }

    PacketQueueOptions queue_options;
    queue_options.capacity_bytes = static_cast<size_t>(options_.queue_mb) << 20;
    queue_options.max_packets = options_.queue_packets;
    queue_options.spill_dir = options_.spill_dir;
    queue_options.snaplen = std::max(options_.snaplen, 262144);
    if (source_) queue_ = std::make_unique<PacketQueue>(queue_options);
    if (!options_.hep_listen.empty()) {
      // A queue of its own (one producer per queue), spilling beside the other.
      PacketQueueOptions hep_queue_options = queue_options;
      hep_queue_options.spill_dir = options_.spill_dir + "/hep";
      hep_queue_ = std::make_unique<PacketQueue>(hep_queue_options);
      hep_intake_ = std::make_unique<HepIntake>(hep_queue_.get());
      hep::HepListenerOptions listen;
      listen.address = options_.hep_listen_host;
      listen.port = options_.hep_listen_port;
      listen.auth_key = options_.hep_auth;
      hep_listener_ = std::make_unique<hep::HepListener>(listen, hep_intake_.get());
    }

    calls::CallTrackerOptions tracker_options;
    tracker_options.correlation_header = options_.correlation_header;
    correlator_ = std::make_unique<Correlator>(tracker_options, store_.get());
    correlator_->set_local_nets(options_.local_nets);
    if (web_) correlator_->set_live(web_->live());
    handler_ = correlator_.get();
    if (hep_sender_) {
      forwarder_ = std::make_unique<HepForwarder>(hep_sender_.get(), correlator_.get());
      handler_ = forwarder_.get();
    }

    if (!source_) {
      // HEP is the only source.
    } else if (options_.interfaces.empty()) {
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
    if (hep_listener_) {
      Status s = hep_listener_->Start();
      if (!s.ok()) {
        log_->Line("%s", s.message().c_str());
        if (web_) web_->Stop();
        (void)store_->Close();
        return 1;
      }
      log_->Line("receiving HEP on udp and tcp %s:%u%s; calls go to %s (sensor: each capture "
                 "agent's node name, else hep-<capture id>)",
                 options_.hep_listen_host.c_str(), hep_listener_->udp_port(),
                 options_.hep_auth.empty() ? "" : " (auth key required)", options_.db.c_str());
    }
    if (hep_sender_) {
      log_->Line("forwarding every SIP message as HEPv3 to %s (capture id %u, node name %s)",
                 options_.hep_send.c_str(), options_.hep_capture_id, options_.sensor.c_str());
    }
    started_ = Clock::now();
    std::thread capture;
    if (source_) capture = std::thread([this] { CaptureLoop(); });
    std::thread worker([this] { WorkerLoop(); });
    MainLoop(signals);
    if (capture.joinable()) capture.join();
    worker.join();
    TakeQueueErrors();
    if (hep_sender_) hep_sender_->Flush(1000);
    bool summarized = false;
    if (web_ && !options_.pcap_files.empty() && !stop_requested_ && !failed_ &&
        !options_.exit_after_replay) {
      Status flushed = store_->Flush();
      if (!flushed.ok()) {
        log_->Line("writing %s failed: %s", options_.db.c_str(), flushed.message().c_str());
        failed_ = true;
      }
      PrintSummary();
      summarized = true;
      ServeUntilSignal(signals);
    }
    // The server reads the store: it stops first.
    if (web_) web_->Stop();

    Status closed = store_->Close();
    if (!closed.ok()) {
      log_->Line("writing %s failed: %s", options_.db.c_str(), closed.message().c_str());
      failed_ = true;
    }
    if (!summarized) PrintSummary();
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

  // Starts the web GUI and API (unless --no-web) on the open store. The
  // generated admin password of a first start goes to standard output.
  bool StartWeb() {
    if (!options_.web) return true;
    web::WebServerOptions web_options;
    web_options.listen = options_.listen;
    web_options.db_path = options_.db;
    web_options.tls_cert_file = options_.tls_cert_file;
    web_options.tls_key_file = options_.tls_key_file;
    Status password = ReadAdminPassword(options_.admin_password_file, &web_options.admin_password);
    if (!password.ok()) {
      log_->Line("%s", password.message().c_str());
      return false;
    }
    web_options.metrics = [this](std::string* out) {
      metrics_.Render(out);
      RenderStoreMetrics(store_->counters(), out);
    };
    auto server = web::WebServer::Create(web_options, store_.get());
    if (!server.ok()) {
      log_->Line("web GUI: %s", server.status().message().c_str());
      return false;
    }
    Status s = (*server)->Start();
    if (!s.ok()) {
      log_->Line("web GUI: %s; or start without the web GUI: --no-web", s.message().c_str());
      return false;
    }
    web_ = std::move(server.value());
    log_->Line("web GUI on %s (user admin; --listen changes the address, --no-web turns it off)",
               WebUrl(options_.listen, web_->port(), !options_.tls_cert_file.empty()).c_str());
    return true;
  }

  bool OpenHepSender() {
    if (options_.hep_send.empty()) return true;
    hep::HepSenderOptions send;
    send.host = options_.hep_send_host;
    send.port = options_.hep_send_port;
    send.tcp = options_.hep_send_tcp;
    send.capture_id = options_.hep_capture_id;
    send.auth_key = options_.hep_auth;
    send.node_name = options_.sensor;
    auto sender = hep::HepSender::Open(send);
    if (!sender.ok()) {
      log_->Line("%s", sender.status().message().c_str());
      return false;
    }
    hep_sender_ = std::move(sender.value());
    return true;
  }

  void TakeQueueErrors() {
    for (PacketQueue* q : {queue_.get(), hep_queue_.get()}) {
      if (q == nullptr) continue;
      for (const std::string& e : q->TakeErrors()) log_->Line("spill: %s", e.c_str());
    }
  }

  // Stops the HEP listener and ends its queue; main thread, once.
  void StopHep() {
    if (!hep_listener_ || hep_stopped_) return;
    hep_stopped_ = true;
    hep_listener_->Stop();
    // The listener thread has ended: this thread is the queue's producer now.
    hep_queue_->CloseProducer();
  }

  // The sensor of a HEP capture agent: its node name, else hep-<id>.
  void SetHepSensor(const hep::HepPacket& p) {
    if (p.capture_id == sensor_capture_id_ && p.node_name == sensor_node_ && !hep_sensor_.empty()) {
      correlator_->set_sensor(hep_sensor_);
      return;
    }
    sensor_capture_id_ = p.capture_id;
    sensor_node_.assign(p.node_name);
    hep_sensor_ = p.node_name.empty() ? "hep-" + std::to_string(p.capture_id)
                                      : std::string(p.node_name);
    correlator_->set_sensor(hep_sensor_);
  }

  void OnHepQueued(PacketPipeline* pipeline, const capture::Packet& queued) {
    hep::HepPacket p;
    if (hep::DecodeHepPacket(queued.data, &p, nullptr) != hep::HepError::kOk) return;
    SetHepSensor(p);
    const net::Transport transport =
        p.ip_protocol == hep::kIpProtocolTcp ? net::Transport::kTcp : net::Transport::kUdp;
    pipeline->OnTransportPayload(
        queued.ts, transport, p.src_ip, p.src_port, p.dst_ip, p.dst_port,
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(p.payload.data()),
                                 p.payload.size()),
        queued.wire_len);
    correlator_->set_sensor({});
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
  // A full-speed replay (--pcap-speed 0) has no scale: while it runs,
  // packets come back to back and idle time is nil; once it has ended (with
  // HEP still coming in), capture time runs as wall time, or the calls it
  // left open would never reach their timers.
  TimestampNs VirtualNow(Clock::time_point now) const {
    if (last_ts_ == 0) return last_ts_;
    const double speed = options_.pcap_speed > 0 ? options_.pcap_speed : 1.0;
    auto idle = std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_packet_wall_).count();
    return last_ts_ + static_cast<TimestampNs>(static_cast<double>(idle) * speed);
  }

  void Publish() {
    gauges_.packets.store(totals_.packets, std::memory_order_relaxed);
    gauges_.messages.store(totals_.messages, std::memory_order_relaxed);
    gauges_.open_calls.store(correlator_->tracker_counters().open_calls, std::memory_order_relaxed);
  }

  void AfterPacket(TimestampNs ts) {
    if (ts > last_ts_) last_ts_ = ts;
    last_packet_wall_ = Clock::now();
    SampleDrops(last_packet_wall_, false);
    MaybeSnapshotActive(last_packet_wall_);
    MaybeSnapshotMetrics(last_packet_wall_, false);
    Publish();
  }

  // About once a second (and at the end, `force`), counts the calls up now
  // (for the live stream's "concurrent" events) and copies the counters
  // that /metrics shows. Worker thread only; nothing without the web GUI.
  void MaybeSnapshotMetrics(Clock::time_point now, bool force) {
    if (!web_) return;
    if (!force && now - last_metrics_ < std::chrono::seconds(1)) return;
    last_metrics_ = now;
    const uint64_t up = force ? 0 : correlator_->CountOpenCalls(VirtualNow(now));
    gauges_.concurrent_calls.store(up, std::memory_order_relaxed);
    Publish();
    metrics_.Set(correlator_->traffic_totals(), *correlator_, gauges_.Load(),
                 pipeline_ != nullptr ? pipeline_->decoder_counters() : totals_.decoder);
    // The dashboard sees each second about a second after it ends, not
    // kOpenSeconds later; the final counts follow when it closes.
    if (!force) correlator_->PublishOpenSeconds(VirtualNow(now));
  }

  void WorkerLoop() {
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
      const int wait = capture_open && hep_open ? (idle ? kPollMs / 10 : 0) : kPollMs;
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
          OnHepQueued(&pipeline, hep_packet);
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
    worker_done_.store(true, std::memory_order_release);
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

  // Waits for the worker to finish: the input ended (a replay, a failed
  // source) or a first SIGINT/SIGTERM stopped it; either way everything
  // queued and every call still open is stored. A second signal while that
  // drain runs exits at once and says what is lost.
  void MainLoop(const sigset_t& signals) {
    bool input_ended = false;
    Clock::time_point next_status = Clock::now() + StatsPeriod();
    Clock::time_point next_concurrent = Clock::now();
    while (!worker_done_.load(std::memory_order_acquire)) {
      const int sig = WaitSignal(signals);
      if (sig == SIGINT || sig == SIGTERM) {
        if (!stop_requested_) {
          stop_requested_ = true;
          PacketQueueCounters q = QueueTotals();
          log_->Line("%s: stopping capture; storing %llu open calls and draining %llu queued "
                     "and %llu spilled packets (a second signal exits at once and loses them)",
                     SignalName(sig), U(gauges_.open_calls.load(std::memory_order_relaxed)),
                     U(q.queued), U(q.spill_pending));
          if (source_) source_->Stop();
          StopHep();
        } else {
          PacketQueueCounters q = QueueTotals();
          log_->Line("second %s while draining: exiting now; %llu open calls, %llu rows waiting "
                     "for the database, %llu queued and %llu spilled packets are not stored",
                     SignalName(sig), U(gauges_.open_calls.load(std::memory_order_relaxed)),
                     U(store_->counters().rows_pending), U(q.queued), U(q.spill_pending));
          std::_Exit(1);
        }
      }
      // A replay that ends (or a source that fails) stops the worker once
      // it has drained, unless HEP keeps coming in.
      if (!input_ended && !hep_listener_ && capture_done_.load(std::memory_order_acquire)) {
        input_ended = true;
        log_->Line("capture ended: storing %llu open calls, draining %llu queued and %llu "
                   "spilled packets",
                   U(gauges_.open_calls.load(std::memory_order_relaxed)),
                   U(QueueTotals().queued), U(QueueTotals().spill_pending));
      }
      TakeQueueErrors();
      Clock::time_point now = Clock::now();
      if (web_ && now >= next_concurrent) {
        web_->live()->PublishConcurrent(gauges_.concurrent_calls.load(std::memory_order_relaxed));
        next_concurrent = now + std::chrono::seconds(1);
      }
      if (options_.stats_interval > 0 && now >= next_status) {
        LogStatus(now);
        next_status = now + StatsPeriod();
      }
    }
  }

  // After a replay, the web GUI keeps serving what was stored until the
  // operator stops it: a newcomer's `make run PCAP=file` would otherwise
  // show nothing. SIGHUP works as while capturing.
  void ServeUntilSignal(const sigset_t& signals) {
    log_->Line("replay finished and stored; the web GUI keeps serving it at %s until Ctrl-C "
               "(SIGINT or SIGTERM)", WebUrl(options_.listen, web_->port(), !options_.tls_cert_file.empty()).c_str());
    for (;;) {
      const int sig = WaitSignal(signals);
      if (sig == SIGINT || sig == SIGTERM) {
        log_->Line("%s: stopping the web GUI", SignalName(sig));
        return;
      }
    }
  }

  // Waits up to kPollMs for a signal; handles SIGHUP (log reopened, TLS
  // certificate reloaded) itself. Returns the signal, or 0.
  int WaitSignal(const sigset_t& signals) {
    struct timespec wait = {0, kPollMs * 1000000L};
    siginfo_t info;
    const int sig = sigtimedwait(&signals, &info, &wait);
    if (sig != SIGHUP) return sig < 0 ? 0 : sig;
    Status s = log_->Reopen();
    if (s.ok()) {
      log_->Line("SIGHUP: log reopened");
    } else {
      log_->Line("SIGHUP: %s", s.message().c_str());
    }
    if (web_ && !options_.tls_cert_file.empty()) {
      s = web_->ReloadTls();
      if (s.ok()) {
        log_->Line("SIGHUP: TLS certificate %s reloaded", options_.tls_cert_file.c_str());
      } else {
        log_->Line("SIGHUP: %s", s.message().c_str());
      }
    }
    return 0;
  }

  static const char* SignalName(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

  // Both queues' counters, summed.
  PacketQueueCounters QueueTotals() const {
    PacketQueueCounters t;
    for (const PacketQueue* q : {queue_.get(), hep_queue_.get()}) {
      if (q != nullptr) t.Add(q->counters());
    }
    return t;
  }

  capture::SourceStats SourceTotals() const {
    capture::SourceStats s = source_ ? source_->stats() : capture::SourceStats{};
    if (hep_listener_) {
      hep::HepListenerCounters h = hep_listener_->counters();
      s.packets += h.received;
      s.bytes += h.bytes;
    }
    return s;
  }

  std::string Describe() const {
    std::string d = source_ ? source_->Describe() : "";
    if (hep_listener_) {
      if (!d.empty()) d += " + ";
      d += "HEP " + options_.hep_listen_host + ":" + std::to_string(options_.hep_listen_port);
    }
    return d;
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
    capture::SourceStats s = SourceTotals();
    uint64_t messages = gauges_.messages.load(std::memory_order_relaxed);
    PacketQueueCounters q = QueueTotals();
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
    store::StoreCounters st = store_->counters();
    if (st.write_failing != 0) {
      log_->Line("status: database write failing for %.0f s: %s; %llu rows kept, retrying",
                 static_cast<double>(st.write_failing_ms) / 1000.0, st.last_write_error.c_str(),
                 U(st.rows_pending));
    }
    if (st.spill_segments > 0) {
      log_->Line("status: database unreachable or catching up: %llu store segments (%llu bytes) "
                 "spilled to disk wait to be written",
                 U(st.spill_segments), U(st.spill_bytes));
    }
    status_packets_ = s.packets;
    status_messages_ = messages;
    last_status_ = now;
  }

  void PrintSummary() {
    RunReport r;
    r.description = Describe();
    r.elapsed_s = std::chrono::duration<double>(Clock::now() - started_).count();
    r.source = SourceTotals();
    r.queue = QueueTotals();
    r.store = store_->counters();
    r.totals = &totals_;
    r.correlator = correlator_.get();
    if (hep_listener_) {
      r.hep_received = hep_listener_->counters();
      r.hep_not_sip = hep_intake_->not_sip();
    }
    if (hep_sender_) r.hep_sent = hep_sender_->counters();
    r.hep_send = options_.hep_send;
    r.db = options_.db;
    r.sensor = options_.sensor;
    PrintRunReport(r);
  }

  const RunOptions& options_;
  Logger* log_;
  std::unique_ptr<capture::PacketSource> source_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PacketQueue> queue_;
  std::unique_ptr<Correlator> correlator_;
  MessageHandler* handler_ = nullptr;  // the correlator, or the forwarder in front of it
  // HEP (each optional).
  std::unique_ptr<hep::HepSender> hep_sender_;
  std::unique_ptr<HepForwarder> forwarder_;
  std::unique_ptr<PacketQueue> hep_queue_;
  std::unique_ptr<HepIntake> hep_intake_;
  std::unique_ptr<hep::HepListener> hep_listener_;
  bool hep_stopped_ = false;
  // The web GUI (null with --no-web); started after the store opens and
  // stopped before it closes.
  std::unique_ptr<web::WebServer> web_;
  MetricsSnapshot metrics_;
  // Worker: the sensor of the last HEP agent seen.
  uint32_t sensor_capture_id_ = 0;
  std::string sensor_node_, hep_sensor_;
  std::atomic<bool> capture_done_{false};
  std::atomic<bool> failed_{false};
  bool stop_requested_ = false;  // main thread: a first SIGINT/SIGTERM came
  Clock::time_point started_;

  // Worker thread only (read by the main thread after join).
  PipelineTotals totals_;
  const PacketPipeline* pipeline_ = nullptr;  // while WorkerLoop runs
  TimestampNs last_ts_ = 0;
  Clock::time_point last_packet_wall_;
  Clock::time_point last_drop_sample_;
  Clock::time_point last_active_;  // last active_calls snapshot
  Clock::time_point last_metrics_;  // last MetricsSnapshot::Set
  uint64_t kernel_drops_seen_ = 0, interface_drops_seen_ = 0;
  // What the worker publishes for the other threads.
  SharedRunGauges gauges_;
  std::atomic<bool> worker_done_{false};

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
