// Decoder::Impl, private to net: one method per layer, each counting what it
// skips. The layers live in three files:
//   decoder.cc  link layers, IPv4/IPv6, UDP, TCP, and the emit step
//   tunnels.cc  GRE (PPP, ERSPAN), VXLAN, Geneve, GTP-U, PPPoE, MPLS
//   hep_in_capture.cc  HEP packets found in UDP datagrams and TCP streams
// SCTP has its own reassembler (sctp.h), like TCP.
//
// Tunnels call back into the link and IP layers, so decoding recurses; every
// entry into a tunnel goes through EnterTunnel(), which bounds the depth.
#ifndef SIPMAN_NET_DECODER_IMPL_H_
#define SIPMAN_NET_DECODER_IMPL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/ip_reassembly.h"
#include "net/net.h"
#include "net/sctp.h"
#include "net/tcp_reassembly.h"

namespace sipman::net {

// UDP ports that announce a tunnel by number (IANA).
constexpr uint16_t kPortVxlan = 4789;
constexpr uint16_t kPortGeneve = 6081;
constexpr uint16_t kPortGtpu = 2152;

class Decoder::Impl : private HepStreamSink {
 public:
  Impl(const DecoderOptions& options, PayloadSink* sink);

  void DecodeFrame(TimestampNs ts, LinkType link, std::span<const uint8_t> frame,
                   uint32_t wire_len);
  void DecodeTransportPayload(TimestampNs ts, Transport transport, const IpAddress& src,
                              uint16_t src_port, const IpAddress& dst, uint16_t dst_port,
                              std::span<const uint8_t> data, uint32_t wire_len);
  void Finish();
  const DecoderCounters& counters() const { return counters_; }

 private:
  // decoder.cc: link and network layers.
  void DecodeEthernet(const uint8_t* p, size_t n);
  void DecodeEthertype(uint16_t type, const uint8_t* p, size_t n);
  void DecodeByVersion(const uint8_t* p, size_t n);
  void DecodeIpv4(const uint8_t* p, size_t n);
  void DecodeIpv6(const uint8_t* p, size_t n);
  void DecodeIpv6Payload(const IpAddress& src, const IpAddress& dst, uint8_t next,
                         const uint8_t* p, size_t n, bool reassembled);
  // decoder.cc: transport layer.
  void DecodeTransport(uint8_t protocol, const IpAddress& src, const IpAddress& dst,
                       const uint8_t* p, size_t n);
  void DecodeUdp(const IpAddress& src, const IpAddress& dst, const uint8_t* p, size_t n);
  void DecodeTcp(const IpAddress& src, const IpAddress& dst, const uint8_t* p, size_t n);
  void EmitDatagram(const IpAddress& src, uint16_t src_port, const IpAddress& dst,
                    uint16_t dst_port, Transport transport, std::string_view data);

  // tunnels.cc. Each returns after handing the inner packet on, or counts
  // why it could not. The UDP ones return false when the payload is not
  // that tunnel after all, so that it is treated as a plain datagram.
  bool EnterTunnel();
  void DecodeIpInIp(uint8_t protocol, const uint8_t* p, size_t n);
  void DecodeGre(const uint8_t* p, size_t n);
  void DecodeErspan(uint16_t protocol, bool has_sequence, const uint8_t* p, size_t n);
  void DecodePpp(const uint8_t* p, size_t n);
  void DecodePppoe(const uint8_t* p, size_t n);
  void DecodeMpls(const uint8_t* p, size_t n);
  bool DecodeVxlan(const uint8_t* p, size_t n);
  bool DecodeGeneve(const uint8_t* p, size_t n);
  bool DecodeGtpu(const uint8_t* p, size_t n);

  // hep_in_capture.cc.
  bool IsHepPort(uint16_t port) const;
  // A UDP datagram on a HEP port, or starting "HEP3": false when it is not
  // HEP after all.
  bool DecodeHepDatagram(uint16_t src_port, uint16_t dst_port, std::string_view data);
  // Unwraps one HEP packet and decodes the payload it carries.
  bool DecodeHepPacket(std::string_view packet);
  // HepStreamSink: TCP streams hand whole HEPv3 frames here. They are queued
  // and decoded once the reassembler has returned (a frame may carry TCP
  // that goes back into the same reassembler).
  void OnHepFrame(std::string_view frame) override;
  void DecodeQueuedHepFrames();

  PayloadSink* sink_;
  DecoderOptions options_;
  DecoderCounters counters_;
  IpReassembler fragments_;
  TcpReassembler tcp_;
  SctpReassembler sctp_;
  TimestampNs ts_ = 0;      // of the frame being decoded
  uint32_t wire_len_ = 0;
  int depth_ = 0;           // tunnels entered in the frame being decoded
  // options_.hep_ports without the unused (0) slots.
  uint16_t hep_ports_[DecoderOptions::kMaxHepPorts] = {};
  size_t hep_port_count_ = 0;
  std::string hep_inflate_;      // reused for compressed HEP payloads
  std::string hep_queue_;        // frames from TCP streams: u32 length + bytes
  std::string hep_queue_spare_;  // swapped with hep_queue_ while decoding it
};

}  // namespace sipman::net

#endif  // SIPMAN_NET_DECODER_IMPL_H_
