// IPv4 and IPv6 fragment reassembly, private to net.
//
// Datagrams are keyed by (family, src, dst, id, protocol). Overlapping bytes
// keep the first copy seen. Memory is bounded by DecoderOptions (datagrams in
// flight, bytes buffered): the oldest datagram is dropped to make room. An
// incomplete datagram is dropped once capture time passes its first
// fragment's time plus the timeout.
#ifndef SIPMAN_NET_IP_REASSEMBLY_H_
#define SIPMAN_NET_IP_REASSEMBLY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/base.h"
#include "net/net.h"

namespace sipman::net {

struct FragmentKey {
  IpAddress src, dst;
  uint32_t id = 0;
  uint8_t protocol = 0;  // IPv4 protocol, or the IPv6 fragment header's next header

  friend bool operator==(const FragmentKey& a, const FragmentKey& b) {
    return a.id == b.id && a.protocol == b.protocol && a.src == b.src && a.dst == b.dst;
  }
};

class IpReassembler {
 public:
  IpReassembler(const DecoderOptions& options, DecoderCounters* counters);
  ~IpReassembler();
  IpReassembler(const IpReassembler&) = delete;
  IpReassembler& operator=(const IpReassembler&) = delete;

  // Adds the fragment holding bytes [offset, offset + data.size()) of the
  // datagram's payload; `more` is the more-fragments flag. Returns true when
  // this completes the datagram, with *datagram set to its whole payload.
  // The view stays valid until the next call on this object.
  bool AddFragment(TimestampNs ts, const FragmentKey& key, uint32_t offset, bool more,
                   std::span<const uint8_t> data, std::span<const uint8_t>* datagram);

  // Drops every incomplete datagram (counted in ip_fragments_dropped).
  void Finish();

  size_t datagrams_in_flight() const { return map_.size(); }
  size_t bytes_in_flight() const { return bytes_; }

 private:
  struct Datagram;
  struct KeyHash {
    size_t operator()(const FragmentKey& k) const;
  };

  void ExpireOlderThan(TimestampNs ts);
  void Drop(Datagram* d);
  void Unlink(Datagram* d);

  DecoderOptions options_;
  DecoderCounters* counters_;
  using Map = std::unordered_map<FragmentKey, Datagram*, KeyHash>;
  Map map_;
  std::vector<Map::node_type> free_nodes_;  // recycled map nodes: no allocation per datagram
  std::vector<std::unique_ptr<Datagram>> all_;  // owns every Datagram, in use or free
  std::vector<Datagram*> free_;
  Datagram* oldest_ = nullptr;  // creation order, oldest first
  Datagram* newest_ = nullptr;
  size_t bytes_ = 0;
  std::string completed_;  // payload of the last completed datagram
};

}  // namespace sipman::net

#endif  // SIPMAN_NET_IP_REASSEMBLY_H_
