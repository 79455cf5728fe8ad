#include "app/run_metrics.h"

#include <cstdio>
#include <utility>

namespace sipman::app {

RunGauges SharedRunGauges::Load() const {
  RunGauges g;
#define SIPMAN_LOAD_GAUGE(field, metric, help) g.field = field.load(std::memory_order_relaxed);
  SIPMAN_RUN_GAUGES(SIPMAN_LOAD_GAUGE)
#undef SIPMAN_LOAD_GAUGE
  return g;
}

void MetricsSnapshot::Set(const stats::TrafficCounters& traffic, const Correlator& correlator,
                          const RunGauges& gauges, const net::DecoderCounters& decoder) {
  std::lock_guard<std::mutex> lock(mu_);
  traffic_ = traffic;
  decoder_ = decoder;
  for (size_t i = 0; i < kCallStates.size(); ++i) calls_[i] = correlator.calls(kCallStates[i]);
  gauges_ = gauges;
  quality_ = correlator.quality();
  media_ = correlator.media_counters();
}

namespace {

// One Prometheus counter with its HELP and TYPE lines.
void RenderCounter(const char* name, const char* help, uint64_t value, std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out->append(name).append(" counter\n").append(name).append(" ");
  out->append(std::to_string(value)).append("\n");
}

// A Prometheus histogram: cumulative buckets by `le`, +Inf, sum and count.
template <size_t N>
void RenderHistogram(const char* name, const char* help, const double (&bounds)[N],
                     const QualityHistograms::Histogram& h, std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out->append(name).append(" histogram\n");
  uint64_t cumulative = 0;
  char le[32];
  for (size_t i = 0; i < N; ++i) {
    cumulative += h.buckets[i];
    std::snprintf(le, sizeof le, "%g", bounds[i]);
    out->append(name).append("_bucket{le=\"").append(le).append("\"} ");
    out->append(std::to_string(cumulative)).append("\n");
  }
  out->append(name).append("_bucket{le=\"+Inf\"} ").append(std::to_string(h.count)).append("\n");
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6g", h.sum);
  out->append(name).append("_sum ").append(sum).append("\n");
  out->append(name).append("_count ").append(std::to_string(h.count)).append("\n");
}

}  // namespace

void MetricsSnapshot::Render(std::string* out) {
  stats::TrafficCounters traffic;
  std::array<uint64_t, kCallStates.size()> by_state;
  RunGauges gauges;
  net::DecoderCounters decoder;
  QualityHistograms quality;
  media::MediaCounters media;
  {
    std::lock_guard<std::mutex> lock(mu_);
    traffic = traffic_;
    decoder = decoder_;
    by_state = calls_;
    gauges = gauges_;
    quality = quality_;
    media = media_;
  }
  stats::RenderPrometheus(traffic, out);
  out->append("# HELP sipman_calls_total Calls ended and stored, by final state.\n"
              "# TYPE sipman_calls_total counter\n");
  for (size_t i = 0; i < kCallStates.size(); ++i) {
    out->append("sipman_calls_total{state=\"")
        .append(calls::CallStateName(kCallStates[i]))
        .append("\"} ")
        .append(std::to_string(by_state[i]))
        .append("\n");
  }
#define SIPMAN_GAUGE_METRIC(field, metric, help)                                          \
  if (*metric != '\0') {                                                                  \
    out->append("# HELP " metric " " help "\n# TYPE " metric " gauge\n" metric " ")        \
        .append(std::to_string(gauges.field))                                             \
        .append("\n");                                                                    \
  }
  SIPMAN_RUN_GAUGES(SIPMAN_GAUGE_METRIC)
#undef SIPMAN_GAUGE_METRIC
  // The decoder's counters (tunnels, SCTP, HEP in the capture, TLS that
  // cannot be read), each as sipman_decoder_NAME_total.
#define SIPMAN_COUNTER_METRIC(field, name, help) \
  RenderCounter("sipman_decoder_" name "_total", help ".", decoder.field, out);
  SIPMAN_DECODER_COUNTERS(SIPMAN_COUNTER_METRIC)
#undef SIPMAN_COUNTER_METRIC
  // The media tracker's counters, each as sipman_media_NAME_total.
#define SIPMAN_MEDIA_METRIC(field, name, help) \
  RenderCounter("sipman_media_" name "_total", help ".", media.field, out);
  SIPMAN_MEDIA_COUNTERS(SIPMAN_MEDIA_METRIC)
#undef SIPMAN_MEDIA_METRIC
  RenderHistogram("sipman_call_mos",
                  "Lowest E-model MOS of each stored call whose RTP was scored (G.107, 50 ms "
                  "jitter buffer).",
                  QualityHistograms::kMosBounds, quality.mos, out);
  RenderHistogram("sipman_rtp_loss_percent",
                  "RTP loss (RFC 3550) of each direction of each stored call that had RTP, in %.",
                  QualityHistograms::kLossBounds, quality.loss, out);
}

void RenderStoreMetrics(const store::StoreCounters& c, std::string* out) {
  auto metric = [out](const char* name, const char* type, const char* help, uint64_t value) {
    out->append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
    out->append(name).append(" ").append(type).append("\n").append(name).append(" ");
    out->append(std::to_string(value)).append("\n");
  };
  metric("sipman_store_write_failing", "gauge",
         "1 while writing to the database fails and the writer keeps retrying the batch "
         "(rows kept in memory).",
         c.write_failing);
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(c.write_failing_ms) / 1000);
  out->append("# HELP sipman_store_write_failing_seconds How long writing to the database has "
              "been failing; 0 while it works.\n# TYPE sipman_store_write_failing_seconds "
              "gauge\nsipman_store_write_failing_seconds ")
      .append(seconds)
      .append("\n");
  metric("sipman_store_rows_pending", "gauge",
         "Rows accepted for the database and not written yet: queued, or in the batch being "
         "written or retried.",
         c.rows_pending);
  metric("sipman_store_write_retries_total", "counter",
         "Failed write attempts whose rows were kept and tried again (disk full, I/O error, "
         "lock).",
         c.write_retries);
  metric("sipman_store_rows_failed_total", "counter",
         "Rows given up and not stored: a write error that retrying cannot fix, or still "
         "failing at shutdown.",
         c.rows_failed);
  out->append("# HELP sipman_store_rows_written_total Rows written to the database, by "
              "table.\n# TYPE sipman_store_rows_written_total counter\n");
  const std::pair<const char*, uint64_t> tables[] = {{"calls", c.calls_written},
                                                     {"registrations", c.registrations_written},
                                                     {"messages", c.messages_written},
                                                     {"rtp_streams", c.streams_written},
                                                     {"alerts", c.alerts_written}};
  for (const auto& [table, value] : tables) {
    out->append("sipman_store_rows_written_total{table=\"")
        .append(table)
        .append("\"} ")
        .append(std::to_string(value))
        .append("\n");
  }
}

}  // namespace sipman::app
