// Private to the capture module: one capture file, read record by record.
#ifndef SIPMAN_CAPTURE_FRAME_READER_H_
#define SIPMAN_CAPTURE_FRAME_READER_H_

#include <memory>
#include <string>
#include <vector>

#include "capture/capture.h"

namespace sipman::capture {

class FrameReader {
 public:
  virtual ~FrameReader() = default;
  // The next record. `packet->data` stays valid until the next call. False
  // at the end of the file, or where it is cut short (with a warning).
  virtual bool Next(Packet* packet) = 0;
  // What went wrong without stopping the run: truncation, link types that
  // SIPMan cannot decode. Each names the file.
  virtual const std::vector<std::string>& warnings() const = 0;
  // Records of a link type SIPMan cannot decode, skipped by Next().
  virtual uint64_t unsupported_link_frames() const = 0;
};

// libpcap's reader: pcap (any byte order, micro/nanosecond) and pcapng whose
// interfaces share one link type.
Result<std::unique_ptr<FrameReader>> OpenWithLibpcap(const std::string& path);

// SIPMan's own pcapng reader, for files libpcap refuses: interfaces with
// different link types in one file.
Result<std::unique_ptr<FrameReader>> OpenPcapng(const std::string& path);

// True when the file is pcapng and its interfaces do not all share one link
// type. Reads only block headers.
bool PcapngHasMixedLinkTypes(const std::string& path);

}  // namespace sipman::capture

#endif  // SIPMAN_CAPTURE_FRAME_READER_H_
