// SIP over SCTP (RFC 4168), private to net.
//
// An SCTP packet (RFC 9260 §3) is a 12-byte common header and a list of
// chunks, each padded to 4 bytes. SIP rides in DATA chunks (type 0), one
// user message per chunk or, when large, fragmented over several chunks with
// consecutive TSNs: B marks the first, E the last. Each complete user
// message that looks like SIP is one payload with transport kSctp; the
// payload protocol identifier is not required (RFC 4168 §5 leaves it 0 in
// practice). Other chunk types (INIT, SACK, HEARTBEAT, ...) are skipped.
//
// Fragments are kept per (association direction, stream, ordered or not),
// bounded in number of partial messages and in bytes per message; what
// breaks the bounds or the TSN sequence is dropped and counted.
#ifndef SIPMAN_NET_SCTP_H_
#define SIPMAN_NET_SCTP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "base/base.h"
#include "net/net.h"

namespace sipman::net {

class SctpReassembler {
 public:
  SctpReassembler(const DecoderOptions& options, PayloadSink* sink, DecoderCounters* counters);
  SctpReassembler(const SctpReassembler&) = delete;
  SctpReassembler& operator=(const SctpReassembler&) = delete;

  // One SCTP packet `p[0..n)` from `src` to `dst`, seen at `ts`.
  void OnPacket(TimestampNs ts, uint32_t wire_len, const IpAddress& src, const IpAddress& dst,
                const uint8_t* p, size_t n);
  // Forgets the partial messages (counted in sctp_errors).
  void Finish();

  size_t partial_messages() const { return partial_.size(); }

 private:
  struct Key {
    IpAddress src, dst;
    uint16_t src_port = 0, dst_port = 0;
    uint16_t stream = 0;
    bool unordered = false;
    friend bool operator==(const Key& a, const Key& b) {
      return a.src_port == b.src_port && a.dst_port == b.dst_port && a.stream == b.stream &&
             a.unordered == b.unordered && a.src == b.src && a.dst == b.dst;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Partial {
    uint32_t next_tsn = 0;
    uint64_t started = 0;  // order of creation, to drop the oldest when full
    std::string data;
    size_t counted = 0;  // data's capacity as partial_bytes_ holds it
  };
  using PartialMap = std::unordered_map<Key, Partial, KeyHash>;

  // Brings partial_bytes_ up to date with p's capacity after p.data changed.
  void Recount(Partial& p);
  // Erases a partial message and its bytes from the total.
  void ErasePartial(PartialMap::iterator it);

  void OnData(TimestampNs ts, uint32_t wire_len, Key key, const uint8_t* chunk, size_t n);
  void Emit(TimestampNs ts, uint32_t wire_len, const Key& key, std::string_view message);
  // Drops the oldest partial message other than `keep`; false when there
  // is none.
  bool DropOldestPartial(const Key* keep = nullptr);
  // Makes room for `grow` more bytes under max_sctp_total_bytes by dropping
  // the oldest partial messages other than `keep`; false when it cannot.
  bool MakeRoom(size_t grow, const Key& keep);

  DecoderOptions options_;
  PayloadSink* sink_;
  DecoderCounters* counters_;
  PartialMap partial_;
  uint64_t partials_started_ = 0;
  size_t partial_bytes_ = 0;  // memory held by partial_'s buffers (capacities)
};

}  // namespace sipman::net

#endif  // SIPMAN_NET_SCTP_H_
