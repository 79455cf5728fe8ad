#include "net/tcp_reassembly.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "hep/hep.h"
#include "base/address_hash.h"
#include "net/sip_framing.h"
#include "net/websocket.h"

namespace sipman::net {
namespace {

// Out-of-order segments held per stream, whatever their size.
constexpr size_t kMaxHeldSegments = 1024;
// A sequence number further than this from the expected one (either way) is
// a jump, not a retransmission or reordering: the stream restarts there.
constexpr int64_t kMinSeqWindow = 1 << 16;
// Segments of a flow after a FIN that arrived beyond a hole before the hole
// is skipped.
constexpr uint8_t kFinWaitSegments = 4;
// Room a stream keeps in its buffer once a message is done with it.
constexpr size_t kKeptBufferCapacity = 4 * 1024;

bool StartsWithHep3(std::string_view d) { return d.size() >= 4 && d.substr(0, 4) == "HEP3"; }

// A TLS record header (RFC 8446 §5.1): content type change_cipher_spec,
// alert, handshake or application_data, then legacy version 3.0 to 3.4.
bool LooksLikeTlsRecord(std::string_view d) {
  if (d.size() < 3) return false;
  const auto type = static_cast<uint8_t>(d[0]);
  return type >= 20 && type <= 23 && d[1] == 3 && static_cast<uint8_t>(d[2]) <= 4;
}

inline int64_t SeqDiff(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b);
}

bool EndpointLess(const IpAddress& a, uint16_t a_port, const IpAddress& b, uint16_t b_port) {
  if (a.family != b.family) return a.family < b.family;
  const int c = std::memcmp(a.bytes, b.bytes, 16);
  if (c != 0) return c < 0;
  return a_port < b_port;
}

}  // namespace

size_t TcpReassembler::FlowKeyHash::operator()(const FlowKey& k) const {
  return HashAddressPair((static_cast<uint64_t>(k.a_port) << 16 | k.b_port) ^
                             (static_cast<uint64_t>(k.a.family) << 40),
                         k.a, k.b);
}

TcpReassembler::TcpReassembler(const DecoderOptions& options, PayloadSink* sink,
                               HepStreamSink* hep_sink, DecoderCounters* counters)
    : options_(options), sink_(sink), hep_sink_(hep_sink), counters_(counters) {}

TcpReassembler::~TcpReassembler() = default;

TcpReassembler::Flow* TcpReassembler::FindOrCreate(const TcpSegment& seg, int* dir) {
  FlowKey key;
  if (!EndpointLess(seg.dst, seg.dst_port, seg.src, seg.src_port)) {
    key.a = seg.src;
    key.a_port = seg.src_port;
    key.b = seg.dst;
    key.b_port = seg.dst_port;
    *dir = 0;
  } else {
    key.a = seg.dst;
    key.a_port = seg.dst_port;
    key.b = seg.src;
    key.b_port = seg.src_port;
    *dir = 1;
  }
  auto it = flows_.find(key);
  if (it != flows_.end()) return &it->second;
  if (options_.max_tcp_streams == 0) return nullptr;
  while (flows_.size() >= options_.max_tcp_streams && oldest_ != nullptr) {
    ++counters_->tcp_streams_evicted;
    Evict(oldest_);
  }
  Flow* f = &flows_.try_emplace(key).first->second;
  f->key = key;
  for (uint16_t port : options_.hep_ports) {
    if (port != 0 && (port == key.a_port || port == key.b_port)) f->hep_port = true;
  }

  f->older = newest_;
  f->newer = nullptr;
  if (newest_) newest_->newer = f; else oldest_ = f;
  newest_ = f;
  return f;
}

void TcpReassembler::Unlink(Flow* f) {
  if (f->older) f->older->newer = f->newer; else oldest_ = f->newer;
  if (f->newer) f->newer->older = f->older; else newest_ = f->older;
  f->older = f->newer = nullptr;
}

void TcpReassembler::Touch(Flow* f, TimestampNs ts) {
  f->last_ts = ts;
  if (newest_ == f) return;
  Unlink(f);
  f->older = newest_;
  if (newest_) newest_->newer = f; else oldest_ = f;
  newest_ = f;
}

void TcpReassembler::Evict(Flow* f) {
  const TimestampNs saved_ts = now_;
  const uint32_t saved_len = now_wire_len_;
  now_ = f->last_ts;
  for (int dir = 0; dir < 2; ++dir) {
    now_wire_len_ = f->dir[dir].last_wire_len;
    Close(f, dir);
  }
  now_ = saved_ts;
  now_wire_len_ = saved_len;
  Unlink(f);
  for (Stream& s : f->dir) total_bytes_ -= s.accounted;
  const FlowKey key = f->key;
  flows_.erase(key);
}

size_t TcpReassembler::HeldBytes(const Stream& s) {
  // std::string's inline room is part of the Stream, not held memory.
  auto heap = [](const std::string& b) { return b.capacity() > 15 ? b.capacity() : 0; };
  return heap(s.buf) + s.held_bytes + heap(s.ws_message);
}

void TcpReassembler::Account(Flow* f) {
  for (Stream& s : f->dir) {
    // A buffer that grew for one large message gives its room back once
    // empty, so idle streams hold little.
    if (s.buf.empty() && s.buf.capacity() > kKeptBufferCapacity) std::string().swap(s.buf);
    if (s.ws_message.empty() && s.ws_message.capacity() > kKeptBufferCapacity) {
      std::string().swap(s.ws_message);
    }
    const size_t now = HeldBytes(s);
    total_bytes_ = total_bytes_ - s.accounted + now;
    s.accounted = now;
  }
  if (total_bytes_ > options_.max_tcp_total_bytes) EnforceBudget(f);
}

void TcpReassembler::EnforceBudget(Flow* current) {
  // Oldest first; the flow of the segment at hand only when nothing else
  // is left to drop.
  for (Flow* f = oldest_; f != nullptr && total_bytes_ > options_.max_tcp_total_bytes;) {
    Flow* next = f->newer;
    if (f == current && next != nullptr) {
      f = next;
      continue;
    }
    for (Stream& s : f->dir) {
      if (s.accounted == 0) continue;
      if (!s.buf.empty() || !s.held.empty() || !s.ws_message.empty()) {
        ++counters_->tcp_budget_drops;
      }
      if (!s.held.empty()) {
        // Skip past what was held: the stream resumes after it.
        RestartAfterGap(&s, s.held.back().seq + static_cast<uint32_t>(s.held.back().data.size()));
      }
      s.held.clear();
      s.held_bytes = 0;
      ClearPartialMessages(&s);
      std::string().swap(s.buf);
      std::string().swap(s.ws_message);
      total_bytes_ -= s.accounted;
      s.accounted = 0;
    }
    if (f == current) break;
    f = next;
  }
}

void TcpReassembler::ExpireIdle(TimestampNs now) {
  if (now < std::numeric_limits<TimestampNs>::min() + options_.tcp_idle_timeout_ns) return;
  const TimestampNs cutoff = now - options_.tcp_idle_timeout_ns;
  while (oldest_ != nullptr && oldest_->last_ts < cutoff) {
    ++counters_->tcp_streams_evicted;
    Evict(oldest_);
  }
}

void TcpReassembler::ResetStream(Stream* s) {
  s->seq_known = false;
  s->syn_seen = false;
  s->closed = false;
  s->fin_wait = 0;
  s->resync = true;
  s->mid_line = true;
  s->mode = Mode::kSip;
  s->next_seq = 0;
  ClearPartialMessages(s);
  s->held.clear();
  s->held_bytes = 0;
  s->ws_compressed = false;
}

void TcpReassembler::OnSegment(const TcpSegment& seg) {
  Flow* f = ProcessSegment(seg);
  if (f != nullptr) Account(f);
}

TcpReassembler::Flow* TcpReassembler::ProcessSegment(const TcpSegment& seg) {
  ++counters_->tcp_segments;
  now_ = seg.ts;
  now_wire_len_ = seg.wire_len;
  // A HEP agent's clock may differ from the capture's: flows age by the
  // capture's, or one would evict the others.
  const TimestampNs clock = seg.clock_ts != 0 ? seg.clock_ts : seg.ts;
  ExpireIdle(clock);
  int dir = 0;
  Flow* f = FindOrCreate(seg, &dir);
  if (f == nullptr) return nullptr;
  Touch(f, clock);
  Stream& s = f->dir[dir];
  s.last_wire_len = seg.wire_len;

  if (!seg.has_seq) {
    if (s.closed) ResetStream(&s);
    if (!seg.data.empty()) Deliver(f, dir, seg.data);
    return f;
  }
  if (seg.rst) {
    Close(f, 0);
    Close(f, 1);
    return f;
  }
  uint32_t seq = seg.seq;
  if (seg.syn) {
    if (s.syn_seen && seg.seq == s.isn && !s.closed) {
      // A retransmitted SYN: the stream goes on.
      seq += 1;
    } else {
      ResetStream(&s);
      f->websocket_requested = false;  // the handshake follows both SYNs
      s.seq_known = true;
      s.syn_seen = true;
      s.isn = seg.seq;
      s.resync = false;
      seq += 1;
      s.next_seq = seq;
    }
  }
  if (!s.seq_known) {
    s.seq_known = true;
    s.next_seq = seq;
    s.resync = true;
    s.mid_line = true;
  }
  if (s.closed) {
    if (SeqDiff(seq + static_cast<uint32_t>(seg.data.size()), s.next_seq) <= 0) {
      counters_->tcp_retransmitted_bytes += seg.data.size();
    }
    return f;
  }
  OnData(f, dir, seq, seg.data, seg.fin);
  // A FIN beyond a hole ends the stream once the hole has had its chance.
  for (Stream& d : f->dir) {
    if (d.fin_wait != 0 && !d.closed && ++d.fin_wait > kFinWaitSegments + 1) {
      Close(f, static_cast<int>(&d - f->dir));
    }
  }
  return f;
}

void TcpReassembler::OnData(Flow* f, int dir, uint32_t seq, std::string_view data, bool fin) {
  Stream& s = f->dir[dir];
  const int64_t window =
      std::max<int64_t>(kMinSeqWindow, static_cast<int64_t>(options_.max_tcp_stream_bytes));
  int64_t rel = SeqDiff(seq, s.next_seq);
  if (rel < -window || rel > window) {
    // The stream lost its place: deliver what was held, then restart here.
    while (!s.closed && SkipGap(f, dir)) {
    }
    if (s.closed) return;
    RestartAfterGap(&s, seq);
    rel = 0;
  }
  if (rel < 0) {
    const size_t old = std::min<size_t>(static_cast<size_t>(-rel), data.size());
    counters_->tcp_retransmitted_bytes += old;
    if (old == data.size()) return;
    data.remove_prefix(old);
    seq += static_cast<uint32_t>(old);
    rel = 0;
  }
  if (rel > 0) {
    Hold(f, dir, seq, data, fin);
    if (fin && !s.closed && s.fin_wait == 0) s.fin_wait = 1;
    return;
  }
  s.next_seq += static_cast<uint32_t>(data.size());
  if (!data.empty()) Deliver(f, dir, data);
  bool fin_reached = fin;
  if (!s.held.empty()) fin_reached |= DrainHeld(f, dir);
  if (fin_reached) Close(f, dir);
}

void TcpReassembler::Hold(Flow* f, int dir, uint32_t seq, std::string_view data, bool fin) {
  Stream& s = f->dir[dir];
  if (data.empty() && !fin) return;
  const size_t max = options_.max_tcp_stream_bytes;
  while (s.buf.size() + s.held_bytes + data.size() > max || s.held.size() >= kMaxHeldSegments) {
    if (s.held.empty()) break;
    if (SkipGap(f, dir)) {
      if (s.closed) return;
      if (SeqDiff(seq, s.next_seq) <= 0) {
        OnData(f, dir, seq, data, fin);
        return;
      }
    }
  }
  if (s.buf.size() + s.held_bytes + data.size() > max) {
    // Too big to hold even alone: skip the gap before it and take it in order.
    RestartAfterGap(&s, seq);
    OnData(f, dir, seq, data, fin);
    return;
  }
  size_t i = s.held.size();
  while (i > 0 && SeqDiff(s.held[i - 1].seq, seq) > 0) --i;
  HeldSegment h;
  h.seq = seq;
  h.fin = fin;
  h.data.assign(data);
  s.held_bytes += data.size();
  s.held.insert(s.held.begin() + static_cast<std::ptrdiff_t>(i), std::move(h));
}

bool TcpReassembler::DrainHeld(Flow* f, int dir) {
  Stream& s = f->dir[dir];
  bool fin_reached = false;
  while (!s.held.empty()) {
    const int64_t rel = SeqDiff(s.held.front().seq, s.next_seq);
    if (rel > 0) break;
    std::string chunk = std::move(s.held.front().data);
    const bool fin = s.held.front().fin;
    s.held.erase(s.held.begin());
    s.held_bytes -= chunk.size();
    const size_t old = std::min<size_t>(static_cast<size_t>(-rel), chunk.size());
    counters_->tcp_retransmitted_bytes += old;
    if (old < chunk.size()) {
      s.next_seq += static_cast<uint32_t>(chunk.size() - old);
      Deliver(f, dir, std::string_view(chunk).substr(old));
    }
    if (fin) fin_reached = true;
  }
  return fin_reached;
}

bool TcpReassembler::SkipGap(Flow* f, int dir) {
  Stream& s = f->dir[dir];
  if (s.held.empty()) return false;
  RestartAfterGap(&s, s.held.front().seq);
  if (DrainHeld(f, dir)) Close(f, dir);
  return true;
}

void TcpReassembler::Close(Flow* f, int dir) {
  Stream& s = f->dir[dir];
  if (s.closed) return;
  s.closed = true;
  s.fin_wait = 0;
  while (!s.held.empty()) {
    RestartAfterGap(&s, s.held.front().seq);
    DrainHeld(f, dir);
  }
  ClearPartialMessages(&s);
}

void TcpReassembler::ClearPartialMessages(Stream* s) {
  s->buf.clear();
  s->pending_len = 0;
  s->ws_message.clear();
  s->ws_in_message = false;
}

void TcpReassembler::RestartAfterGap(Stream* s, uint32_t seq) {
  ++counters_->tcp_gaps;
  ClearPartialMessages(s);
  // What follows the hole may start mid-message: look for a SIP start line.
  s->resync = true;
  s->mid_line = true;
  s->next_seq = seq;
}

void TcpReassembler::Deliver(Flow* f, int dir, std::string_view data) {
  Stream& s = f->dir[dir];
  if (s.buf.empty()) {
    const size_t used = Consume(f, dir, data);
    if (used < data.size()) s.buf.assign(data.substr(used));
  } else {
    s.buf.append(data);
    const size_t used = Consume(f, dir, s.buf);
    s.buf.erase(0, used);
  }
  // Consume never keeps more than one bounded message; this is a safety net.
  if (s.buf.size() > options_.max_tcp_stream_bytes + 16) {
    ++counters_->tcp_gaps;
    s.buf.clear();
    s.pending_len = 0;
    s.resync = true;
    s.mid_line = true;
  }
}

size_t TcpReassembler::Resync(std::string_view d, bool mid_line, bool* found) {
  size_t p = 0;
  while (p < d.size()) {
    const std::string_view line = d.substr(p);
    const char* nl = static_cast<const char*>(std::memchr(line.data(), '\n', line.size()));
    if (nl == nullptr) {
      *found = false;
      return CouldStartMessage(line) ? p : d.size();
    }
    // Known methods only: a body without a final CRLF glues its last bytes to
    // the next start line, which would otherwise pass as an extension method.
    const bool start =
        LooksLikeSipStrict(line) || (!(p == 0 && mid_line) && LooksLikeHttp(line));
    if (start) {
      *found = true;
      return p;
    }
    p = static_cast<size_t>(nl - d.data()) + 1;
  }
  *found = false;
  return d.size();
}

size_t TcpReassembler::Consume(Flow* f, int dir, std::string_view d) {
  Stream& s = f->dir[dir];
  if (s.pending_len != 0 && d.size() < s.pending_len) return 0;
  s.pending_len = 0;
  size_t pos = 0;
  while (pos < d.size()) {
    const std::string_view rest = d.substr(pos);
    if (s.mode == Mode::kSip && DetectStreamMode(f, dir, rest)) continue;
    if (s.mode == Mode::kTls) {
      counters_->tls_bytes += rest.size();
      pos = d.size();
      break;
    }
    if (s.mode == Mode::kHep) {
      bool stop = false;
      pos += ConsumeHep(f, dir, rest, &stop);
      if (stop) break;
      continue;
    }
    if (s.mode == Mode::kWebSocket) {
      bool stop = false;
      pos += ConsumeWebSocket(f, dir, rest, &stop);
      if (stop) break;
      continue;
    }
    if (s.resync) {
      bool found = false;
      const size_t skipped = Resync(rest, s.mid_line, &found);
      if (skipped != 0) ++counters_->non_sip;
      if (skipped != 0 || found) s.mid_line = false;
      pos += skipped;
      if (!found) break;
      s.resync = false;
      continue;
    }
    const size_t blank = SkipKeepAlive(rest);
    if (blank != 0) {
      pos += blank;
      continue;
    }
    const bool http = LooksLikeHttp(rest);
    if (!http && !LooksLikeSip(rest)) {
      const size_t scan = std::min(rest.size(), kMaxStartLine);
      if (std::memchr(rest.data(), '\n', scan) == nullptr && CouldStartMessage(rest)) break;
      s.resync = true;
      s.mid_line = false;
      continue;
    }
    size_t length = 0;
    const FrameResult r = FrameMessage(rest, options_.max_tcp_stream_bytes, &length);
    if (r == FrameResult::kNeedMore) {
      s.pending_len = length;
      break;
    }
    if (r == FrameResult::kInvalid) {
      ++counters_->non_sip;
      const size_t nl = rest.find('\n');
      pos += nl == std::string_view::npos ? rest.size() : nl + 1;
      s.resync = true;
      s.mid_line = false;
      continue;
    }
    const std::string_view message = rest.substr(0, length);
    pos += length;
    if (!http) {
      Emit(f, dir, Transport::kTcp, message);
    } else if (message.substr(0, 4) == "GET ") {
      if (HeaderHasToken(message, "upgrade", "websocket")) {
        f->websocket_requested = true;
        s.mode = Mode::kWebSocket;
      } else {
        ++counters_->non_sip;
      }
    } else if (f->websocket_requested && message.size() > 12 && message.substr(8, 4) == " 101") {
      s.mode = Mode::kWebSocket;
    } else {
      ++counters_->non_sip;
    }
  }
  return pos;
}

size_t TcpReassembler::ConsumeWebSocket(Flow* f, int dir, std::string_view d, bool* stop) {
  Stream& s = f->dir[dir];
  *stop = true;
  if (s.resync) {
    // Frame boundaries were lost in a gap: nothing after it can be trusted.
    ++counters_->non_sip;
    return d.size();
  }
  const uint8_t* p = reinterpret_cast<const uint8_t*>(d.data());
  const uint64_t max_payload = options_.max_tcp_stream_bytes;
  WsFrameHeader h;
  const WsParseResult r = ParseWsFrameHeader(p, d.size(), max_payload, &h);
  if (r == WsParseResult::kNeedMore) return 0;
  if (r == WsParseResult::kInvalid) {
    ++counters_->non_sip;
    s.resync = true;
    return d.size();
  }
  const uint64_t total = h.header_len + h.payload_len;
  if (d.size() < total) return 0;
  *stop = false;
  ++counters_->websocket_frames;
  const uint8_t* payload = p + h.header_len;
  const size_t n = static_cast<size_t>(h.payload_len);
  const uint8_t* mask = h.masked ? h.mask : nullptr;
  if (h.opcode >= kWsClose) return static_cast<size_t>(total);
  if (h.opcode == kWsContinuation) {
    if (!s.ws_in_message) {
      ++counters_->non_sip;
      return static_cast<size_t>(total);
    }
  } else {
    if (s.ws_in_message) {
      ++counters_->non_sip;  // the previous message never finished
      s.ws_message.clear();
      s.ws_in_message = false;
    }
    s.ws_compressed = h.compressed;
  }
  std::string_view message;
  if (h.fin && !s.ws_in_message && mask == nullptr) {
    message = std::string_view(reinterpret_cast<const char*>(payload), n);
  } else {
    if (s.ws_message.size() + n > max_payload) {
      ++counters_->non_sip;
      s.ws_message.clear();
      s.ws_in_message = false;
      return static_cast<size_t>(total);
    }
    AppendWsPayload(payload, n, mask, 0, &s.ws_message);
    s.ws_in_message = true;
    if (!h.fin) return static_cast<size_t>(total);
    message = s.ws_message;
  }
  if (!s.ws_compressed && LooksLikeSip(message)) {
    Emit(f, dir, Transport::kWebSocket, message);
  } else {
    ++counters_->non_sip;
  }
  s.ws_message.clear();
  s.ws_in_message = false;
  return static_cast<size_t>(total);
}

bool TcpReassembler::DetectStreamMode(Flow* f, int dir, std::string_view d) {
  Stream& s = f->dir[dir];
  if (options_.decode_hep && StartsWithHep3(d)) {
    s.mode = Mode::kHep;
    s.resync = false;
    return true;
  }
  if (options_.decode_hep && s.resync && f->hep_port) {
    // Mid-stream on a HEP port: the SIP text inside a HEP payload must not be
    // taken for a message of this connection; find the next frame instead.
    const size_t at = d.find("HEP3");
    s.mode = Mode::kHep;
    s.resync = at == std::string_view::npos;
    return true;
  }
  // SIP text never starts with the control characters 20-23, so a record
  // header at a message boundary is TLS whatever the port (5061 or other).
  if (!LooksLikeTlsRecord(d)) return false;
  s.mode = Mode::kTls;
  s.resync = false;
  if (!f->tls_counted) {
    f->tls_counted = true;
    ++counters_->tls_connections;
  }
  return true;
}

size_t TcpReassembler::ConsumeHep(Flow* f, int dir, std::string_view d, bool* stop) {
  Stream& s = f->dir[dir];
  *stop = true;
  if (s.resync) {
    // Lost the frame boundaries (a gap): skip to the next "HEP3".
    const size_t at = d.find("HEP3");
    if (at == std::string_view::npos) {
      // Keep a tail that may be the start of a split magic.
      return d.size() > 3 ? d.size() - 3 : 0;
    }
    s.resync = false;
    *stop = false;
    return at;
  }
  size_t total = 0;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(d.data()), d.size());
  switch (hep::NextHepFrame(bytes, &total)) {
    case hep::FrameStatus::kNeedMore:
      return 0;
    case hep::FrameStatus::kError:
      // Not at a frame (no magic, or a length below the header): look for
      // the next one.
      ++counters_->hep_errors;
      s.resync = true;
      *stop = false;
      return 1;
    case hep::FrameStatus::kFrame:
      break;
  }
  *stop = false;
  hep_sink_->OnHepFrame(d.substr(0, total));
  return total;
}

void TcpReassembler::Emit(Flow* f, int dir, Transport transport, std::string_view message) {
  Payload p;
  p.ts = now_;
  if (dir == 0) {
    p.src_ip = f->key.a;
    p.src_port = f->key.a_port;
    p.dst_ip = f->key.b;
    p.dst_port = f->key.b_port;
  } else {
    p.src_ip = f->key.b;
    p.src_port = f->key.b_port;
    p.dst_ip = f->key.a;
    p.dst_port = f->key.a_port;
  }
  p.transport = transport;
  p.frame_bytes = now_wire_len_;
  p.data = message;
  ++counters_->sip_payloads;
  sink_->OnPayload(p);
}

void TcpReassembler::Finish() {
  while (oldest_ != nullptr) Evict(oldest_);
}

}  // namespace sipman::net
