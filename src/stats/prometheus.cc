#include <algorithm>
#include <cstdio>

#include "stats/stats.h"

namespace sipman::stats {
namespace {

void Header(std::string* out, const char* name, const char* help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" counter\n");
}

void Sample(std::string* out, const char* name, std::string_view labels, uint64_t value) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, " %llu\n", static_cast<unsigned long long>(value));
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(buf, static_cast<size_t>(n));
}

}  // namespace

void RenderPrometheus(const TrafficCounters& t, std::string* out) {
  Header(out, "sipman_packets_total", "Captured frames that carried SIP.");
  Sample(out, "sipman_packets_total", "", t.packets);
  Header(out, "sipman_frame_bytes_total", "Wire bytes of the frames that carried SIP.");
  Sample(out, "sipman_frame_bytes_total", "", t.frame_bytes);
  Header(out, "sipman_sip_bytes_total", "Bytes of SIP messages, start line to body end.");
  Sample(out, "sipman_sip_bytes_total", "", t.sip_bytes);

  Header(out, "sipman_sip_messages_total", "SIP messages, by request method or response.");
  std::string labels;
  for (size_t i = 0; i < kMethodCount; ++i) {
    labels.assign("method=\"").append(kMethodNames[i]).append("\"");
    Sample(out, "sipman_sip_messages_total", labels, t.methods[i]);
  }
  Sample(out, "sipman_sip_messages_total", "method=\"response\"", t.responses);

  Header(out, "sipman_sip_messages_in_total",
         "SIP messages to a local address from a non-local one (--local-net).");
  Sample(out, "sipman_sip_messages_in_total", "", t.in_messages);
  Header(out, "sipman_sip_messages_out_total",
         "SIP messages from a local address to a non-local one (--local-net).");
  Sample(out, "sipman_sip_messages_out_total", "", t.out_messages);
  Header(out, "sipman_sip_bytes_in_total", "Bytes of the SIP messages counted as in.");
  Sample(out, "sipman_sip_bytes_in_total", "", t.in_sip_bytes);
  Header(out, "sipman_sip_bytes_out_total", "Bytes of the SIP messages counted as out.");
  Sample(out, "sipman_sip_bytes_out_total", "", t.out_sip_bytes);

  Header(out, "sipman_sip_responses_total", "SIP responses, by status class.");
  for (size_t i = 0; i < kClassCount; ++i) {
    labels.assign("class=\"").append(1, static_cast<char>('1' + i)).append("xx\"");
    Sample(out, "sipman_sip_responses_total", labels, t.classes[i]);
  }

  Header(out, "sipman_sip_response_codes_total",
         "SIP responses, by status code (code 0: codes not counted separately).");
  std::array<CodeCounts::Entry, CodeCounts::kMaxCodes> sorted;
  size_t n = 0;
  for (const CodeCounts::Entry& e : t.codes) sorted[n++] = e;
  std::sort(sorted.begin(), sorted.begin() + n,
            [](const CodeCounts::Entry& a, const CodeCounts::Entry& b) { return a.code < b.code; });
  for (size_t i = 0; i < n; ++i) {
    labels.assign("code=\"").append(std::to_string(sorted[i].code)).append("\"");
    Sample(out, "sipman_sip_response_codes_total", labels, sorted[i].count);
  }

  Header(out, "sipman_capture_drops_total", "Packets the capture lost, by where.");
  Sample(out, "sipman_capture_drops_total", "where=\"kernel\"", t.kernel_drops);
  Sample(out, "sipman_capture_drops_total", "where=\"interface\"", t.interface_drops);

  Header(out, "sipman_encrypted_sip_connections_total",
         "TCP connections carrying TLS (SIPS): the sensor cannot read their SIP.");
  Sample(out, "sipman_encrypted_sip_connections_total", "", t.tls_connections);
  Header(out, "sipman_encrypted_sip_bytes_total", "Payload bytes of those TLS connections.");
  Sample(out, "sipman_encrypted_sip_bytes_total", "", t.tls_bytes);
}

}  // namespace sipman::stats
