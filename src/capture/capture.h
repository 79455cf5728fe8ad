// The capture module's public face: sources of timestamped link-layer frames.
// Today: capture files (pcap and pcapng, several merged in time order).
#ifndef SIPMAN_CAPTURE_CAPTURE_H_
#define SIPMAN_CAPTURE_CAPTURE_H_

#include <cstdint>
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
  uint32_t file_index = 0;  // which of the opened files it came from
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

}  // namespace sipman::capture

#endif  // SIPMAN_CAPTURE_CAPTURE_H_
