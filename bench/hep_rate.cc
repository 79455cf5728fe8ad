// hep_rate: how many HEP packets per second a HepListener receives over UDP
// on loopback without loss (issue 7: at least 200,000 per second).
//
//   hep_rate listen [--rates 100000,200000,...] [--seconds S]
//       A HepListener (UDP only) on 127.0.0.1:0 in this process, its sink
//       only counting; the main thread offers each rate, paced, for S
//       seconds. Prints per rate: sent, received, loss, the kernel's UDP
//       RcvbufErrors during the step, CPU per packet of the sender and the
//       listener, and the highest rate achieved without loss.
//   hep_rate send HOST:PORT RATE SECONDS
//       Only the sender (rate 0: as fast as it goes), for `sipman run
//       --hep-listen` (bench/hep-rate). Prints "sent N packets in T s".
//
// The packets are HEPv3 (EncodeHep3) carrying whole SIP calls: INVITE with
// SDP, 200 OK with SDP, ACK, BYE, 200 OK, each call with its own Call-ID,
// branches and tags (a 16-digit hex counter patched in place), so that a
// pipeline behind the listener sees distinct complete calls and no
// retransmissions. Sends use sendmmsg, 32 datagrams per call of it.
#include <arpa/inet.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hep/hep.h"

namespace sipman::hep {
namespace {

constexpr char kToken[] = "@@@@@@@@@@@@@@@@";  // 16 characters, replaced per call
constexpr size_t kTokenLen = 16;
constexpr size_t kBatch = 32;

// One call's messages; "@@@@..." is the per-call token.
const char* const kCallMessages[] = {
    "INVITE sip:bob@10.0.0.2:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-i@@@@@@@@@@@@@@@@;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@10.0.0.1>;tag=a@@@@@@@@@@@@@@@@\r\n"
    "To: <sip:bob@10.0.0.2>\r\n"
    "Call-ID: @@@@@@@@@@@@@@@@@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5060>\r\n"
    "User-Agent: sipman-bench\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 144\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 10.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 10.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=sendrecv\r\n",
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-i@@@@@@@@@@@@@@@@;rport=5060\r\n"
    "From: \"Alice\" <sip:alice@10.0.0.1>;tag=a@@@@@@@@@@@@@@@@\r\n"
    "To: <sip:bob@10.0.0.2>;tag=b@@@@@@@@@@@@@@@@\r\n"
    "Call-ID: @@@@@@@@@@@@@@@@@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:bob@10.0.0.2:5060>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 139\r\n"
    "\r\n"
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP4 10.0.0.2\r\n"
    "s=-\r\n"
    "c=IN IP4 10.0.0.2\r\n"
    "t=0 0\r\n"
    "m=audio 3456 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=sendrecv\r\n",
    "ACK sip:bob@10.0.0.2:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a@@@@@@@@@@@@@@@@;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@10.0.0.1>;tag=a@@@@@@@@@@@@@@@@\r\n"
    "To: <sip:bob@10.0.0.2>;tag=b@@@@@@@@@@@@@@@@\r\n"
    "Call-ID: @@@@@@@@@@@@@@@@@10.0.0.1\r\n"
    "CSeq: 1 ACK\r\n"
    "Content-Length: 0\r\n"
    "\r\n",
    "BYE sip:bob@10.0.0.2:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-b@@@@@@@@@@@@@@@@;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@10.0.0.1>;tag=a@@@@@@@@@@@@@@@@\r\n"
    "To: <sip:bob@10.0.0.2>;tag=b@@@@@@@@@@@@@@@@\r\n"
    "Call-ID: @@@@@@@@@@@@@@@@@10.0.0.1\r\n"
    "CSeq: 2 BYE\r\n"
    "Content-Length: 0\r\n"
    "\r\n",
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-b@@@@@@@@@@@@@@@@;rport=5060\r\n"
    "From: \"Alice\" <sip:alice@10.0.0.1>;tag=a@@@@@@@@@@@@@@@@\r\n"
    "To: <sip:bob@10.0.0.2>;tag=b@@@@@@@@@@@@@@@@\r\n"
    "Call-ID: @@@@@@@@@@@@@@@@@10.0.0.1\r\n"
    "CSeq: 2 BYE\r\n"
    "Content-Length: 0\r\n"
    "\r\n",
};
constexpr size_t kMessagesPerCall = sizeof(kCallMessages) / sizeof(kCallMessages[0]);

// A HEPv3 packet of one message and where its token occurrences are.
struct Template {
  std::string bytes;
  std::vector<size_t> token_offsets;
};

// The messages of one call, encoded once; Fill() patches the token in place.
class CallPackets {
 public:
  CallPackets() {
    const uint8_t alice_octets[4] = {10, 0, 0, 1}, bob_octets[4] = {10, 0, 0, 2};
    const IpAddress alice = IpAddress::V4(alice_octets), bob = IpAddress::V4(bob_octets);
    const TimestampNs now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    for (size_t i = 0; i < kMessagesPerCall; ++i) {
      const bool from_alice = i != 1 && i != 4;
      HepPacket p;
      p.src_ip = from_alice ? alice : bob;
      p.dst_ip = from_alice ? bob : alice;
      p.src_port = p.dst_port = 5060;
      p.ts = now + static_cast<TimestampNs>(i) * 1000000;  // 1 ms apart
      p.capture_id = 2001;
      p.node_name = "bench";
      p.payload = kCallMessages[i];
      Template t;
      Status s = EncodeHep3(p, &t.bytes);
      if (!s.ok()) {
        std::fprintf(stderr, "hep_rate: %s\n", s.message().c_str());
        std::exit(1);
      }
      for (size_t at = t.bytes.find(kToken); at != std::string::npos;
           at = t.bytes.find(kToken, at + kTokenLen)) {
        t.token_offsets.push_back(at);
      }
      templates_.push_back(std::move(t));
    }
  }

  // Packet `seq` of the stream: message seq % 5 of call seq / 5. The view
  // stays valid until the next Get of the same message index.
  std::string_view Get(uint64_t seq) {
    Template& t = templates_[seq % kMessagesPerCall];
    char hex[kTokenLen + 1];
    std::snprintf(hex, sizeof(hex), "%016" PRIx64, seq / kMessagesPerCall);
    for (size_t at : t.token_offsets) std::memcpy(t.bytes.data() + at, hex, kTokenLen);
    return t.bytes;
  }

 private:
  std::vector<Template> templates_;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Sends `rate` packets per second (0: unpaced) for `seconds` to `to`.
// Returns the packets the socket took; `*elapsed_s` is the time it took.
uint64_t Blast(const sockaddr_in& to, uint64_t rate, double seconds, double* elapsed_s) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    std::perror("hep_rate: socket");
    std::exit(1);
  }
  // Up to kBatch packets in flight at once, one per sequence number; the
  // templates are patched per packet, so each batch slot needs its own copy.
  CallPackets calls;
  std::vector<std::string> copies(kBatch);
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  std::memset(msgs, 0, sizeof(msgs));
  const uint64_t total = rate == 0 ? UINT64_MAX : static_cast<uint64_t>(rate * seconds);
  const int64_t start = NowNs();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  uint64_t seq = 0, sent = 0;
  while (seq < total) {
    const int64_t now = NowNs();
    if (now >= end && rate == 0) break;
    uint64_t due = total;
    if (rate != 0) {
      due = std::min<uint64_t>(total, static_cast<uint64_t>((now - start) * 1e-9 * rate) + 1);
      if (due <= seq) {
        // Ahead of schedule: wait for the next packet's time.
        const int64_t next = start + static_cast<int64_t>(static_cast<double>(seq) * 1e9 / rate);
        if (next - now > 50000) std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
        continue;
      }
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBatch, due - seq));
    for (size_t i = 0; i < n; ++i) {
      copies[i].assign(calls.Get(seq + i));
      iovs[i].iov_base = copies[i].data();
      iovs[i].iov_len = copies[i].size();
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = sendmmsg(fd, msgs, static_cast<unsigned>(n), 0);
    if (r < 0) {
      if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) continue;
      std::perror("hep_rate: sendmmsg");
      break;
    }
    seq += static_cast<uint64_t>(r);
    sent += static_cast<uint64_t>(r);
  }
  *elapsed_s = static_cast<double>(NowNs() - start) * 1e-9;
  close(fd);
  return sent;
}

// The "Udp:" RcvbufErrors counter of /proc/net/snmp (all UDP sockets).
uint64_t UdpRcvbufErrors() {
  std::ifstream in("/proc/net/snmp");
  std::string names, values, line;
  while (std::getline(in, line)) {
    if (line.rfind("Udp: ", 0) != 0) continue;
    if (names.empty()) {
      names = line;
    } else {
      values = line;
      break;
    }
  }
  std::istringstream n(names), v(values);
  std::string name, value;
  while (n >> name && v >> value) {
    if (name == "RcvbufErrors") return std::strtoull(value.c_str(), nullptr, 10);
  }
  return 0;
}

// CPU seconds (user + system) of the calling thread, or of the process.
double CpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

int RmemMax() {
  std::ifstream in("/proc/sys/net/core/rmem_max");
  int value = 0;
  in >> value;
  return value;
}

class CountingSink : public HepSink {
 public:
  void OnHepPacket(const HepPacket& packet, TimestampNs) override {
    bytes_.store(bytes_.load(std::memory_order_relaxed) + packet.payload.size(),
                 std::memory_order_relaxed);
  }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> bytes_{0};
};

// What the kernel makes of the listener's request, made the listener's
// way: SO_RCVBUFFORCE when permitted, else SO_RCVBUF (capped by rmem_max).
int EffectiveReceiveBuffer(int requested) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &requested, sizeof(requested)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &requested, sizeof(requested));
  }
  int got = 0;
  socklen_t len = sizeof(got);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
  close(fd);
  return got;
}

std::vector<uint64_t> ParseRates(const char* text) {
  std::vector<uint64_t> rates;
  std::string s(text);
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) rates.push_back(std::strtoull(item.c_str(), nullptr, 10));
  return rates;
}

int Listen(int argc, char** argv) {
  std::vector<uint64_t> rates = {100000, 200000, 300000, 400000};
  double seconds = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rates") == 0) rates = ParseRates(argv[i + 1]);
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  CountingSink sink;
  HepListenerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.tcp = false;
  HepListener listener(options, &sink);
  Status s = listener.Start();
  if (!s.ok()) {
    std::fprintf(stderr, "hep_rate: %s\n", s.message().c_str());
    return 1;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(listener.udp_port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::printf("HepListener udp 127.0.0.1:%u, receive buffer requested %d, effective %d "
              "(the kernel reports twice the granted size; net.core.rmem_max %d caps it "
              "unless SO_RCVBUFFORCE is permitted)\n",
              listener.udp_port(), options.udp_receive_buffer_bytes,
              EffectiveReceiveBuffer(options.udp_receive_buffer_bytes), RmemMax());
  std::printf("CPU per packet: the sender thread (with the kernel's loopback delivery, which "
              "runs in its context) and the listener thread (the rest of the process)\n");
  std::printf("%10s %10s %10s %10s %8s %14s %12s %14s %16s\n", "offered/s", "achieved/s",
              "sent", "received", "loss %", "RcvbufErrors", "received/s", "sender us/pkt",
              "listener us/pkt");
  uint64_t best = 0;
  bool all_clean = true;
  for (uint64_t rate : rates) {
    const HepListenerCounters before = listener.counters();
    const uint64_t drops_before = UdpRcvbufErrors();
    const double self_before = CpuSeconds(RUSAGE_THREAD);
    const double process_before = CpuSeconds(RUSAGE_SELF);
    double elapsed = 0;
    const uint64_t sent = Blast(to, rate, seconds, &elapsed);
    const double sender_cpu = CpuSeconds(RUSAGE_THREAD) - self_before;
    // Wait until the listener has read everything it will read.
    uint64_t last = listener.counters().decoded;
    for (int quiet = 0; quiet < 3;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const uint64_t now = listener.counters().decoded;
      quiet = now == last ? quiet + 1 : 0;
      last = now;
    }
    const HepListenerCounters after = listener.counters();
    const double listener_cpu = CpuSeconds(RUSAGE_SELF) - process_before - sender_cpu;
    const uint64_t received = after.decoded - before.decoded;
    const uint64_t drops = UdpRcvbufErrors() - drops_before;
    const double loss = sent ? 100.0 * static_cast<double>(sent - received) / sent : 0;
    std::printf("%10" PRIu64 " %10.0f %10" PRIu64 " %10" PRIu64 " %8.3f %14" PRIu64
                " %12.0f %14.2f %16.2f\n",
                rate, sent / elapsed, sent, received, loss, drops, received / elapsed,
                sent ? sender_cpu * 1e6 / sent : 0, received ? listener_cpu * 1e6 / received : 0);
    std::fflush(stdout);
    if (after.rejected != before.rejected) {
      std::printf("  rejected by the decoder: %" PRIu64 "\n", after.rejected - before.rejected);
    }
    // A rate counts only when the sender kept it up (within 2%) and nothing was lost.
    const bool kept_up = sent / elapsed >= 0.98 * static_cast<double>(rate);
    if (received == sent && rate != 0 && kept_up && all_clean) best = rate;
    if (received != sent || !kept_up) all_clean = false;
  }
  listener.Stop();
  std::printf("highest offered rate achieved and without loss (all lower rates too): %" PRIu64
              " packets/s\n",
              best);
  return 0;
}

int Send(int argc, char** argv) {
  if (argc != 5) return 2;
  std::string host;
  uint16_t port = 0;
  Status s = ParseHostPort(argv[2], kDefaultPort, &host, &port);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  if (!s.ok() || inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1) {
    std::fprintf(stderr, "hep_rate: need an IPv4 HOST:PORT, not %s\n", argv[2]);
    return 2;
  }
  double elapsed = 0;
  const uint64_t sent =
      Blast(to, std::strtoull(argv[3], nullptr, 10), std::atof(argv[4]), &elapsed);
  std::printf("sent %" PRIu64 " packets in %.3f s (%.0f/s), %" PRIu64 " calls of %zu messages\n",
              sent, elapsed, sent / elapsed, sent / kMessagesPerCall, kMessagesPerCall);
  return 0;
}

}  // namespace
}  // namespace sipman::hep

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "listen") == 0) return sipman::hep::Listen(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "send") == 0) {
    int r = sipman::hep::Send(argc, argv);
    if (r != 2) return r;
  }
  std::fprintf(stderr,
               "usage: hep_rate listen [--rates R1,R2,...] [--seconds S]\n"
               "       hep_rate send HOST:PORT RATE SECONDS   (RATE 0: unpaced)\n");
  return 2;
}
