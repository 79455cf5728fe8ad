#include "net/sctp.h"

#include <algorithm>

#include "base/address_hash.h"

namespace sipman::net {
namespace {

constexpr size_t kCommonHeaderBytes = 12;  // ports, verification tag, CRC32c
constexpr size_t kChunkHeaderBytes = 4;    // type, flags, length
constexpr size_t kDataHeaderBytes = 16;    // chunk header, TSN, stream, SSN, PPID
constexpr uint8_t kChunkData = 0;
constexpr uint8_t kFlagEnd = 0x01;
constexpr uint8_t kFlagBegin = 0x02;
constexpr uint8_t kFlagUnordered = 0x04;

}  // namespace

size_t SctpReassembler::KeyHash::operator()(const Key& k) const {
  return HashAddressPair(static_cast<uint64_t>(k.src_port) << 32 |
                             static_cast<uint64_t>(k.dst_port) << 16 | k.stream |
                             static_cast<uint64_t>(k.unordered) << 48,
                         k.src, k.dst);
}

SctpReassembler::SctpReassembler(const DecoderOptions& options, PayloadSink* sink,
                                 DecoderCounters* counters)
    : options_(options), sink_(sink), counters_(counters) {}

void SctpReassembler::OnPacket(TimestampNs ts, uint32_t wire_len, const IpAddress& src,
                               const IpAddress& dst, const uint8_t* p, size_t n) {
  if (n < kCommonHeaderBytes) {
    ++counters_->truncated;
    return;
  }
  ++counters_->sctp_packets;
  Key key;
  key.src = src;
  key.dst = dst;
  key.src_port = LoadBe16(p);
  key.dst_port = LoadBe16(p + 2);
  size_t pos = kCommonHeaderBytes;
  while (pos + kChunkHeaderBytes <= n) {
    const uint8_t type = p[pos];
    const size_t length = LoadBe16(p + pos + 2);
    if (length < kChunkHeaderBytes || length > n - pos) {
      // A chunk that overruns the packet or cannot hold its own header: the
      // rest of the packet cannot be walked.
      ++counters_->sctp_errors;
      return;
    }
    if (type == kChunkData) OnData(ts, wire_len, key, p + pos, length);
    // Chunks are padded to a multiple of 4; the last one's padding may be
    // missing in a short capture.
    pos += (length + 3) & ~static_cast<size_t>(3);
  }
}

void SctpReassembler::OnData(TimestampNs ts, uint32_t wire_len, Key key, const uint8_t* chunk,
                             size_t n) {
  if (n < kDataHeaderBytes) {
    ++counters_->sctp_errors;
    return;
  }
  ++counters_->sctp_data_chunks;
  const uint8_t flags = chunk[1];
  const uint32_t tsn = LoadBe32(chunk + 4);
  key.stream = LoadBe16(chunk + 8);
  key.unordered = (flags & kFlagUnordered) != 0;
  const std::string_view data(reinterpret_cast<const char*>(chunk + kDataHeaderBytes),
                              n - kDataHeaderBytes);
  const bool begin = (flags & kFlagBegin) != 0;
  const bool end = (flags & kFlagEnd) != 0;
  if (begin && end) {
    Emit(ts, wire_len, key, data);
    return;
  }
  auto it = partial_.find(key);
  if (begin) {
    if (it != partial_.end()) {
      ++counters_->sctp_errors;  // the previous message never ended
      std::string().swap(it->second.data);  // its memory too, not only its bytes
      Recount(it->second);
    } else {
      if (partial_.size() >= options_.max_sctp_partial_messages) DropOldestPartial();
      if (options_.max_sctp_partial_messages == 0) {
        ++counters_->sctp_errors;
        return;
      }
      it = partial_.try_emplace(key).first;
    }
    if (!MakeRoom(data.size(), key)) {
      ++counters_->sctp_errors;
      ErasePartial(it);
      return;
    }
    it->second.started = ++partials_started_;
    it->second.data.assign(data);
    Recount(it->second);
    it->second.next_tsn = tsn + 1;
    return;
  }
  // A middle or last fragment continues a message only at the next TSN.
  if (it == partial_.end() || it->second.next_tsn != tsn) {
    if (it == partial_.end() || it->second.next_tsn - tsn > 0x80000000u) {
      ++counters_->sctp_errors;  // no start seen, or a gap
      if (it != partial_.end()) ErasePartial(it);
    }
    // else: a retransmission of a fragment already taken.
    return;
  }
  Partial& partial = it->second;
  if (partial.data.size() + data.size() > options_.max_sctp_message_bytes ||
      !MakeRoom(data.size(), key)) {
    ++counters_->sctp_errors;
    ErasePartial(it);
    return;
  }
  partial.data.append(data);
  Recount(partial);
  partial.next_tsn = tsn + 1;
  if (!end) return;
  ++counters_->sctp_reassembled;
  // Emit from a moved-out buffer: the sink may not re-enter, but the map
  // entry is gone before anyone could look.
  std::string message = std::move(partial.data);
  ErasePartial(it);
  Emit(ts, wire_len, key, message);
}

bool SctpReassembler::DropOldestPartial(const Key* keep) {
  auto oldest = partial_.end();
  for (auto it = partial_.begin(); it != partial_.end(); ++it) {
    if (keep != nullptr && it->first == *keep) continue;
    if (oldest == partial_.end() || it->second.started < oldest->second.started) oldest = it;
  }
  if (oldest == partial_.end()) return false;
  ++counters_->sctp_errors;
  ErasePartial(oldest);
  return true;
}

void SctpReassembler::Recount(Partial& p) {
  partial_bytes_ = partial_bytes_ - p.counted + p.data.capacity();
  p.counted = p.data.capacity();
}

void SctpReassembler::ErasePartial(PartialMap::iterator it) {
  partial_bytes_ -= it->second.counted;
  partial_.erase(it);
}

bool SctpReassembler::MakeRoom(size_t grow, const Key& keep) {
  if (grow > options_.max_sctp_total_bytes) return false;  // dropping others cannot help
  while (partial_bytes_ + grow > options_.max_sctp_total_bytes) {
    if (!DropOldestPartial(&keep)) return false;
  }
  return true;
}

void SctpReassembler::Emit(TimestampNs ts, uint32_t wire_len, const Key& key,
                           std::string_view message) {
  if (!LooksLikeSip(message)) {
    ++counters_->non_sip;
    return;
  }
  Payload payload;
  payload.ts = ts;
  payload.src_ip = key.src;
  payload.dst_ip = key.dst;
  payload.src_port = key.src_port;
  payload.dst_port = key.dst_port;
  payload.transport = Transport::kSctp;
  payload.frame_bytes = wire_len;
  payload.data = message;
  ++counters_->sip_payloads;
  sink_->OnPayload(payload);
}

void SctpReassembler::Finish() {
  counters_->sctp_errors += partial_.size();
  partial_.clear();
  partial_bytes_ = 0;
}

}  // namespace sipman::net
