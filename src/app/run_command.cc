#include "app/run_command.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
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
#include "app/run_worker.h"
#include "capture/capture.h"
#include "hep/hep.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {
namespace {

using Clock = std::chrono::steady_clock;

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
    if (!Keep(store::Store::Open(store_options), &store_)) return 1;
    alerting_ = std::make_unique<Alerting>(options_.alerts, store_.get(), options_.sensor,
                                           [log = log_](const std::string& line) {
                                             log->Line("%s", line.c_str());
                                           });
    if (Status s = alerting_->Start(); !s.ok()) {
      log_->Line("%s", s.message().c_str());
      (void)store_->Close();
      return 1;
    }
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
    correlator_->set_media(options_.media);
    if (web_) correlator_->set_live(web_->live());
    if (!options_.alerts.rules.empty()) {
      correlator_->set_alerting(alerting_.get());
      if (web_) {
        alerting_->set_live(web_->live());
        alerting_->set_publish_rules(true);
      }
    }
    RunWorkerParts parts;
    parts.options = &options_;
    parts.store = store_.get();
    parts.correlator = correlator_.get();
    parts.handler = correlator_.get();
    if (hep_sender_) {
      forwarder_ = std::make_unique<HepForwarder>(hep_sender_.get(), correlator_.get());
      parts.handler = forwarder_.get();
    }
    parts.source = source_.get();
    parts.queue = queue_.get();
    parts.hep_queue = hep_queue_.get();
    parts.web = web_.get();
    parts.metrics = &metrics_;
    worker_ = std::make_unique<RunWorker>(parts);

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
    status_line_.Start(started_);
    std::thread capture;
    if (source_) capture = std::thread([this] { CaptureLoop(); });
    std::thread worker([this] { worker_->Run(); });
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
    // The server reads the store: it stops first. The notifier's action
    // results go to the store too.
    if (web_) web_->Stop();
    alerting_->Stop();

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
  // Keeps what an Open made in *out, or logs why it failed.
  template <typename T, typename U>
  bool Keep(Result<std::unique_ptr<T>> opened, std::unique_ptr<U>* out) {
    if (!opened.ok()) {
      log_->Line("%s", opened.status().message().c_str());
      return false;
    }
    *out = std::move(opened.value());
    return true;
  }

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
      alerting_->AppendMetrics(out);
    };
    if (!options_.alerts.rules.empty()) {
      web_options.alert_rules = [this] { return alerting_->RulesJson(); };
    }
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
    return Keep(hep::HepSender::Open(send), &hep_sender_);
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

  bool OpenSource() {
    if (!options_.pcap_files.empty()) {
      return Keep(capture::ReplaySource::Open(options_.pcap_files, options_.pcap_speed), &source_);
    }
    capture::LiveOptions live;
    live.interfaces = options_.interfaces;
    live.filter = options_.filter;
    live.snaplen = options_.snaplen;
    live.buffer_mb = options_.buffer_mb;
    live.promiscuous = options_.promisc;
    live.immediate = options_.immediate;
    live.timeout_ms = options_.timeout_ms;
    return Keep(capture::LiveSource::Open(live), &source_);
  }

  void CaptureLoop() {
    capture::PacketVisitor push = [this](const capture::Packet& packet) { queue_->Push(packet); };
    for (;;) {
      auto polled = source_->Poll(kRunPollMs, push);
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








  // Waits for the worker to finish: the input ended (a replay, a failed
  // source) or a first SIGINT/SIGTERM stopped it; either way everything
  // queued and every call still open is stored. A second signal while that
  // drain runs exits at once and says what is lost.
  void MainLoop(const sigset_t& signals) {
    bool input_ended = false;
    Clock::time_point next_status = Clock::now() + StatsPeriod();
    Clock::time_point next_concurrent = Clock::now();
    while (!worker_->done()) {
      const int sig = WaitSignal(signals);
      if (sig == SIGINT || sig == SIGTERM) {
        if (!stop_requested_) {
          stop_requested_ = true;
          PacketQueueCounters q = QueueTotals();
          log_->Line("%s: stopping capture; storing %llu open calls and draining %llu queued "
                     "and %llu spilled packets (a second signal exits at once and loses them)",
                     SignalName(sig), U(worker_->gauges().Load().open_calls),
                     U(q.queued), U(q.spill_pending));
          if (source_) source_->Stop();
          StopHep();
        } else {
          PacketQueueCounters q = QueueTotals();
          log_->Line("second %s while draining: exiting now; %llu open calls, %llu rows waiting "
                     "for the database, %llu queued and %llu spilled packets are not stored",
                     SignalName(sig), U(worker_->gauges().Load().open_calls),
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
                   U(worker_->gauges().Load().open_calls),
                   U(QueueTotals().queued), U(QueueTotals().spill_pending));
      }
      TakeQueueErrors();
      Clock::time_point now = Clock::now();
      if (web_ && now >= next_concurrent) {
        web_->live()->PublishConcurrent(worker_->gauges().Load().concurrent_calls);
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

  // Waits up to kRunPollMs for a signal; handles SIGHUP (log reopened, TLS
  // certificate reloaded) itself. Returns the signal, or 0.
  int WaitSignal(const sigset_t& signals) {
    struct timespec wait = {0, kRunPollMs * 1000000L};
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
    status_line_.Log(log_, now, SourceTotals(), worker_->gauges().Load(), QueueTotals(),
                     store_->counters());
  }

  void PrintSummary() {
    RunReport r;
    r.description = Describe();
    r.elapsed_s = std::chrono::duration<double>(Clock::now() - started_).count();
    r.source = SourceTotals();
    r.queue = QueueTotals();
    r.store = store_->counters();
    r.totals = &worker_->totals();
    r.correlator = correlator_.get();
    if (hep_listener_) {
      r.hep_received = hep_listener_->counters();
      r.hep_not_sip = hep_intake_->not_sip();
    }
    if (hep_sender_) r.hep_sent = hep_sender_->counters();
    r.hep_send = options_.hep_send;
    r.db = options_.db;
    r.sensor = options_.sensor;
    r.alerting = alerting_.get();
    r.alert_rules = options_.alerts.rules.size();
    PrintRunReport(r);
  }

  const RunOptions& options_;
  Logger* log_;
  std::unique_ptr<capture::PacketSource> source_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PacketQueue> queue_;
  std::unique_ptr<Alerting> alerting_;
  std::unique_ptr<Correlator> correlator_;
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
  std::atomic<bool> capture_done_{false};
  std::atomic<bool> failed_{false};
  bool stop_requested_ = false;  // main thread: a first SIGINT/SIGTERM came
  Clock::time_point started_;

  std::unique_ptr<RunWorker> worker_;

  // Main thread only.
  StatusLine status_line_;
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
