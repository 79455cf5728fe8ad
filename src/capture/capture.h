// The capture module's public face: sources of timestamped link-layer frames.
// Capture files (pcap and pcapng, several merged in time order), live
// interfaces through libpcap, and a file replayed as if it were live; plus a
// pcap writer (the daemon's spill files).
#ifndef SIPMAN_CAPTURE_CAPTURE_H_
#define SIPMAN_CAPTURE_CAPTURE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/base.h"
#include "net/net.h"

namespace sipman::capture {

struct Packet {
  TimestampNs ts = 0;
  net::LinkType link = net::LinkType::kEthernet;
  // Captured bytes (caplen). Valid until the next call to Next().
  std::span<const uint8_t> data;
  uint32_t wire_len = 0;  // original length on the wire
  // Which of the opened files (FileSource) or interfaces (LiveSource) it came from.
  uint32_t file_index = 0;
};

// Reads one or more capture files and yields their packets merged in time
// order (a stable merge: equal timestamps keep file order). pcap files of
// either byte order and micro- or nanosecond resolution and pcapng files are
// read with libpcap; a pcapng file whose interfaces have different link types
// (which libpcap refuses) is read by SIPMan's own pcapng reader.
class FileSource {
 public:
  // Opens every file. Fails, naming the file and the reason, if any file
  // cannot be opened or is not a capture.
  static Result<std::unique_ptr<FileSource>> Open(const std::vector<std::string>& paths);
  virtual ~FileSource() = default;

  // Fills `packet` with the next packet; false at the end of all files. A
  // file that ends in the middle of a record (truncated) ends there with a
  // warning; the other files go on.
  virtual bool Next(Packet* packet) = 0;

  // Problems met so far that did not stop reading (truncation, frames of a
  // link type SIPMan does not decode), one line each, ready to print.
  virtual const std::vector<std::string>& warnings() const = 0;

  // Frames skipped because SIPMan cannot decode their link type.
  virtual uint64_t unsupported_link_frames() const = 0;
};


// Receives the packets of a PacketSource.
// LIFETIME: `packet.data` is valid only during the call; copy to keep.
using PacketVisitor = std::function<void(const Packet& packet)>;

// What a source has seen. Kernel figures come from pcap_stats() and are
// refreshed by the polling thread about once a second and at the end.
struct SourceStats {
  uint64_t packets = 0;          // delivered to the visitor
  uint64_t bytes = 0;            // wire bytes of those packets
  uint64_t kernel_received = 0;  // ps_recv summed over interfaces
  // ps_drop: packets the kernel had to drop because the capture buffer (the
  // TPACKET_V3 ring) was full: capture loss, fix with --buffer-mb or speed.
  uint64_t kernel_drops = 0;
  // ps_ifdrop: packets the interface or its driver dropped before capture.
  uint64_t interface_drops = 0;
};

enum class PollResult {
  kOk,   // zero or more packets were delivered; poll again
  kEnd,  // the source is exhausted (end of file) or stopped and drained
};

// A source of packets driven by one thread (the "capture thread"): it calls
// Poll() in a loop; Poll delivers what is ready and waits at most
// `timeout_ms` when nothing is. Stop() may be called from any thread: after
// it, Poll delivers what the kernel already holds and then returns kEnd.
class PacketSource {
 public:
  virtual ~PacketSource() = default;
  virtual Result<PollResult> Poll(int timeout_ms, const PacketVisitor& visitor) = 0;
  // Thread-safe; returns at once.
  virtual void Stop() = 0;
  // Thread-safe snapshot.
  virtual SourceStats stats() const = 0;
  // Non-fatal problems met so far (an interface went down, a truncated
  // file), one line each. Call from the polling thread.
  virtual std::vector<std::string> TakeWarnings() = 0;
  // "eth0,eth1" or "file.pcap (replay)": for logs.
  virtual std::string Describe() const = 0;
};

// The BPF filter a live source uses unless told otherwise: every UDP and TCP
// packet (SIP runs on any port), every IPv4 fragment after the first (they
// carry no UDP header, so "udp" alone would miss the rest of a large SIP
// datagram), and all IPv6 (extension headers and fragments hide the
// transport from simple BPF). It leaves out ARP, ICMP, other IP protocols
// and non-IP frames. On an Ethernet interface the same test is added for
// 802.1Q-tagged frames ("or (vlan and (...))"), which Linux leaves tagged on
// mirror ports; the cooked link layer of "any" has no VLAN support in BPF.
extern const char kDefaultLiveFilter[];

struct LiveOptions {
  // Interface names as `ip link` shows them; "any" captures all of them
  // (Linux cooked link layer). At least one.
  std::vector<std::string> interfaces;
  // BPF expression (pcap-filter(7)); empty: capture everything.
  std::string filter = kDefaultLiveFilter;
  int snaplen = 65535;
  // Kernel capture buffer per interface (pcap_set_buffer_size): the
  // TPACKET_V3 ring that absorbs bursts while the capture thread is busy.
  int buffer_mb = 32;
  bool promiscuous = false;
  // Immediate mode delivers each packet at once (libpcap then uses
  // TPACKET_V2); off, packets arrive in ring blocks of the TPACKET_V3 ring,
  // at the latest `timeout_ms` after capture: fewer wakeups at high rates.
  bool immediate = false;
  int timeout_ms = 100;
};

// Captures live from one or several interfaces with libpcap (pcap_create +
// pcap_activate, non-blocking handles polled together with a wakeup fd).
// Packets of all interfaces go to the visitor in the order they are read:
// per interface in capture order, interleaved across interfaces.
class LiveSource : public PacketSource {
 public:
  // Opens every interface. Fails naming the interface and the fix: no such
  // device, capture not permitted (run as root or grant capabilities with
  // setcap), interface down, bad filter, unsupported link type.
  static Result<std::unique_ptr<LiveSource>> Open(const LiveOptions& options);
};

// Replays capture files as if they were live: packets are delivered when
// their time comes, scaled by `speed` (1: real time, 2: twice as fast), or
// as fast as possible with speed 0.
class ReplaySource : public PacketSource {
 public:
  static Result<std::unique_ptr<ReplaySource>> Open(const std::vector<std::string>& paths,
                                                    double speed);
};

// Writes a pcap file with nanosecond timestamps, one link type per file.
class PcapWriter {
 public:
  // Creates (truncating) `path`.
  static Result<std::unique_ptr<PcapWriter>> Open(const std::string& path, net::LinkType link,
                                                  int snaplen);
  virtual ~PcapWriter() = default;
  virtual net::LinkType link() const = 0;
  // Appends one packet (its link type must be link()).
  virtual Status Write(const Packet& packet) = 0;
  // Bytes written so far (headers included).
  virtual uint64_t bytes() const = 0;
  // Flushes and closes; idempotent.
  virtual Status Close() = 0;
};

}  // namespace sipman::capture

#endif  // SIPMAN_CAPTURE_CAPTURE_H_
