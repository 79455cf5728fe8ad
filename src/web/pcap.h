// Private to web/: rebuilds a pcap file from a call's stored messages.
#ifndef SIPMAN_WEB_PCAP_H_
#define SIPMAN_WEB_PCAP_H_

#include <string>
#include <vector>

#include "store/store.h"

namespace sipman::web {

// A classic pcap file (nanosecond timestamps, LINKTYPE_ETHERNET) with one
// frame per message, in the given order: Ethernet, IPv4 or IPv6 (by the
// message's addresses), then UDP for "udp" (and any datagram transport) or
// TCP for every stream transport ("tcp", "tls", "ws", "wss"). TCP
// connections get a synthesized three-way handshake before their first
// segment and consistent sequence and acknowledgement numbers, so tshark
// reassembles and decodes the SIP. IP and UDP/TCP checksums are correct.
// Messages without addresses are written as 0.0.0.0.
std::string BuildCallPcap(const std::vector<store::StoredMessageRow>& messages);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_PCAP_H_
