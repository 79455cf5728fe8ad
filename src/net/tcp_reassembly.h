// TCP stream reassembly with SIP framing, private to net.
//
// Each direction of a flow (5-tuple) is a Stream: bytes are put in sequence
// order (wraparound-safe), retransmitted and overlapping bytes are trimmed,
// out-of-order segments are held (bounded) until the gap fills, and the
// in-order bytes are cut into SIP messages by Content-Length. A gap that
// never fills is skipped and the stream resynchronises on the next line that
// looks like a SIP start line. A flow whose client sends an HTTP GET with
// "Upgrade: websocket" carries WebSocket frames after the handshake (RFC
// 7118); each complete text or binary message is one payload. A stream
// that starts with "HEP3" (or resynchronises on it, on a HEP port) carries
// HEPv3 frames, handed whole to a HepStreamSink. A stream that starts with a
// TLS record (SIPS on 5061, or TLS on any port) is counted, not read.
//
// A message that lies entirely in the current segment with nothing buffered
// is emitted as a view into the segment; otherwise it is a view into the
// stream's buffer. Either is valid only during the OnPayload call.
#ifndef SIPMAN_NET_TCP_REASSEMBLY_H_
#define SIPMAN_NET_TCP_REASSEMBLY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/base.h"
#include "net/net.h"

namespace sipman::net {

struct TcpSegment {
  TimestampNs ts = 0;        // the time messages completed by it are reported with
  TimestampNs clock_ts = 0;  // capture time for idle expiry, when not `ts` (HEP)
  uint32_t wire_len = 0;
  IpAddress src, dst;
  uint16_t src_port = 0, dst_port = 0;
  bool has_seq = true;  // false: payload of unknown position, appended in order
  uint32_t seq = 0;
  bool syn = false, fin = false, rst = false;
  std::string_view data;
};

// Receives the HEPv3 frames found in TCP streams. `frame` is valid only
// during the call.
class HepStreamSink {
 public:
  virtual ~HepStreamSink() = default;
  virtual void OnHepFrame(std::string_view frame) = 0;
};

class TcpReassembler {
 public:
  TcpReassembler(const DecoderOptions& options, PayloadSink* sink, HepStreamSink* hep_sink,
                 DecoderCounters* counters);
  ~TcpReassembler();
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  void OnSegment(const TcpSegment& segment);

  // Delivers what every stream holds that forms complete messages (skipping
  // gaps) and forgets all flows.
  void Finish();

  size_t flows() const { return flows_.size(); }

 private:
  struct HeldSegment {
    uint32_t seq = 0;
    bool fin = false;
    std::string data;
  };
  enum class Mode : uint8_t { kSip, kWebSocket, kHep, kTls };
  struct Stream {
    bool seq_known = false;
    bool syn_seen = false;
    bool closed = false;
    // Segments of the flow seen since a FIN arrived beyond a hole; the hole is
    // given up after a few, so that a FIN merely reordered before the last
    // data segment loses nothing.
    uint8_t fin_wait = 0;
    bool resync = true;  // looking for a SIP start line
    bool mid_line = true;  // the resync position may not be at a line start
    Mode mode = Mode::kSip;
    uint32_t next_seq = 0;
    uint32_t isn = 0;  // initial sequence number, when syn_seen
    size_t pending_len = 0;  // bytes the message at buf's start needs, when known
    std::string buf;         // in-order bytes not consumed yet
    std::vector<HeldSegment> held;  // out of order, sorted by seq
    size_t held_bytes = 0;
    std::string ws_message;  // unmasked payload of a fragmented WebSocket message
    bool ws_in_message = false;
    bool ws_compressed = false;
    uint32_t last_wire_len = 0;
    size_t accounted = 0;  // this stream's share of total_bytes_
  };
  struct FlowKey {
    IpAddress a, b;
    uint16_t a_port = 0, b_port = 0;
    friend bool operator==(const FlowKey& x, const FlowKey& y) {
      return x.a_port == y.a_port && x.b_port == y.b_port && x.a == y.a && x.b == y.b;
    }
  };
  struct FlowKeyHash {
    size_t operator()(const FlowKey& k) const;
  };
  struct Flow {
    FlowKey key;
    Stream dir[2];  // dir[0]: a -> b
    bool websocket_requested = false;
    bool hep_port = false;      // either port is one of DecoderOptions::hep_ports
    bool tls_counted = false;   // counted in tls_connections
    TimestampNs last_ts = 0;
    Flow* older = nullptr;
    Flow* newer = nullptr;
  };

  // OnSegment's work; returns the segment's flow (null when none is kept).
  Flow* ProcessSegment(const TcpSegment& seg);
  Flow* FindOrCreate(const TcpSegment& seg, int* dir);
  void Touch(Flow* f, TimestampNs ts);
  void Unlink(Flow* f);
  void Evict(Flow* f);
  void ExpireIdle(TimestampNs now);

  void OnData(Flow* f, int dir, uint32_t seq, std::string_view data, bool fin);
  void Hold(Flow* f, int dir, uint32_t seq, std::string_view data, bool fin);
  bool DrainHeld(Flow* f, int dir);  // true when a held FIN was reached
  bool SkipGap(Flow* f, int dir);
  // Drops the partial message (plain or WebSocket) held for a stream.
  static void ClearPartialMessages(Stream* s);
  // Counts a gap and continues the stream at `seq`, resynchronising on the
  // next SIP start line.
  void RestartAfterGap(Stream* s, uint32_t seq);
  void Close(Flow* f, int dir);
  void Deliver(Flow* f, int dir, std::string_view data);
  size_t Consume(Flow* f, int dir, std::string_view data);
  size_t ConsumeWebSocket(Flow* f, int dir, std::string_view data, bool* stop);
  size_t ConsumeHep(Flow* f, int dir, std::string_view data, bool* stop);
  // Switches a stream at a message boundary to kHep or kTls when its bytes
  // (or its ports) say so; true when the mode changed.
  bool DetectStreamMode(Flow* f, int dir, std::string_view data);
  size_t Resync(std::string_view data, bool mid_line, bool* found);
  void Emit(Flow* f, int dir, Transport transport, std::string_view message);
  void ResetStream(Stream* s);
  // Brings total_bytes_ up to date with the flow's buffers (their capacity:
  // that is the memory held), then keeps the total within
  // max_tcp_total_bytes by dropping the partial data of the least recently
  // active flows, `f` last.
  void Account(Flow* f);
  void EnforceBudget(Flow* current);
  static size_t HeldBytes(const Stream& s);

  DecoderOptions options_;
  PayloadSink* sink_;
  HepStreamSink* hep_sink_;
  DecoderCounters* counters_;
  std::unordered_map<FlowKey, Flow, FlowKeyHash> flows_;
  Flow* oldest_ = nullptr;  // least recently active
  Flow* newest_ = nullptr;
  size_t total_bytes_ = 0;  // every stream's buffers (Stream::accounted)
  TimestampNs now_ = 0;  // timestamp of the segment being processed
  uint32_t now_wire_len_ = 0;
};

}  // namespace sipman::net

#endif  // SIPMAN_NET_TCP_REASSEMBLY_H_
