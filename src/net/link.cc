// Link-type mapping and small public helpers of net.h.
#include "net/net.h"

namespace sipman::net {

bool LinkTypeFromDlt(int dlt, LinkType* out) {
  switch (dlt) {
    case 0: *out = LinkType::kNull; return true;
    case 1: *out = LinkType::kEthernet; return true;
    case 12:   // DLT_RAW on most BSDs and Linux
    case 14:   // DLT_RAW on OpenBSD
    case 101:  // LINKTYPE_RAW
      *out = LinkType::kRaw;
      return true;
    case 108: *out = LinkType::kLoop; return true;
    case 113: *out = LinkType::kLinuxSll; return true;
    case 228: *out = LinkType::kIpv4; return true;
    case 229: *out = LinkType::kIpv6; return true;
    case 276: *out = LinkType::kLinuxSll2; return true;
    default: return false;
  }
}

std::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kUdp: return "udp";
    case Transport::kTcp: return "tcp";
    case Transport::kWebSocket: return "ws";
    case Transport::kSctp: return "sctp";
  }
  return "?";
}

}  // namespace sipman::net
