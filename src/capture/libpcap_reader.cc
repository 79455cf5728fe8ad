#include <pcap/pcap.h>

#include <string>
#include <vector>

#include "capture/frame_reader.h"

namespace sipman::capture {
namespace {

class LibpcapReader : public FrameReader {
 public:
  LibpcapReader(std::string path, pcap_t* handle) : path_(std::move(path)), handle_(handle) {
    int dlt = pcap_datalink(handle_);
    link_supported_ = net::LinkTypeFromDlt(dlt, &link_);
    if (!link_supported_) {
      const char* name = pcap_datalink_val_to_name(dlt);
      warnings_.push_back(path_ + ": link type " + std::to_string(dlt) + " (" +
                     (name ? name : "unknown") +
                     ") is not decoded by SIPMan; its frames are skipped");
    }
  }
  ~LibpcapReader() override { pcap_close(handle_); }

  bool Next(Packet* packet) override {
    for (;;) {
      struct pcap_pkthdr* header;
      const u_char* data;
      int rc = pcap_next_ex(handle_, &header, &data);
      if (rc == 1) {
        if (!link_supported_) {
          ++unsupported_;
          continue;
        }
        // Opened with nanosecond precision: tv_usec holds nanoseconds.
        packet->ts = static_cast<TimestampNs>(header->ts.tv_sec) * kNsPerSecond + header->ts.tv_usec;
        packet->link = link_;
        packet->data = std::span<const uint8_t>(data, header->caplen);
        packet->wire_len = header->len;
        return true;
      }
      if (rc == PCAP_ERROR) {
        warnings_.push_back(path_ + ": " + pcap_geterr(handle_) +
                            " (the file is cut short or damaged; everything before that point was read)");
      }
      return false;  // PCAP_ERROR_BREAK: end of file
    }
  }
  const std::vector<std::string>& warnings() const override { return warnings_; }
  uint64_t unsupported_link_frames() const override { return unsupported_; }

 private:
  std::string path_;
  pcap_t* handle_;
  net::LinkType link_ = net::LinkType::kEthernet;
  bool link_supported_ = false;
  uint64_t unsupported_ = 0;
  std::vector<std::string> warnings_;
};

}  // namespace

Result<std::unique_ptr<FrameReader>> OpenWithLibpcap(const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (handle == nullptr) {
    return Status::Error("cannot read capture file " + path + ": " + errbuf +
                         " (give a pcap or pcapng file, e.g. one written by tcpdump -w)");
  }
  return std::unique_ptr<FrameReader>(new LibpcapReader(path, handle));
}

}  // namespace sipman::capture
