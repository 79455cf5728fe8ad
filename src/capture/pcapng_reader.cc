// A small pcapng reader (section header, interface description, enhanced,
// simple and obsolete packet blocks) for the one case libpcap refuses:
// interfaces with different link types in one file.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "capture/frame_reader.h"

namespace sipman::capture {
namespace {

constexpr uint32_t kSectionHeaderBlock = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescriptionBlock = 1;
constexpr uint32_t kObsoletePacketBlock = 2;
constexpr uint32_t kSimplePacketBlock = 3;
constexpr uint32_t kEnhancedPacketBlock = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint32_t kMaxBlockBytes = 64u << 20;  // far above any real frame

uint32_t Swap32(uint32_t v) { return __builtin_bswap32(v); }
uint16_t Swap16(uint16_t v) { return __builtin_bswap16(v); }

struct Interface {
  bool supported = false;
  net::LinkType link = net::LinkType::kEthernet;
  // Timestamp units per second and whether they are a power of 2 or of 10.
  bool power_of_two = false;
  uint8_t exponent = 6;
  int64_t offset_seconds = 0;
};

// Converts a timestamp in the interface's units to nanoseconds.
TimestampNs ToNanoseconds(const Interface& itf, uint64_t units) {
  __int128 ns;
  if (itf.power_of_two) {
    ns = (static_cast<__int128>(units) * kNsPerSecond) >> itf.exponent;
  } else if (itf.exponent <= 9) {
    ns = static_cast<__int128>(units);
    for (int i = itf.exponent; i < 9; ++i) ns *= 10;
  } else {
    ns = static_cast<__int128>(units);
    for (int i = 9; i < itf.exponent && i < 40; ++i) ns /= 10;
  }
  // if_tsoffset and 64-bit units can reach past 2262: clamp there rather
  // than overflow.
  ns += static_cast<__int128>(itf.offset_seconds) * kNsPerSecond;
  if (ns < 0) return 0;
  if (ns > kMaxTimestampNs) return kMaxTimestampNs;
  return static_cast<TimestampNs>(ns);
}

class PcapngReader : public FrameReader {
 public:
  PcapngReader(std::string path, FILE* file) : path_(std::move(path)), file_(file) {}
  ~PcapngReader() override { std::fclose(file_); }

  bool Next(Packet* packet) override {
    for (;;) {
      if (!ReadBlock()) return false;
      if (ReadPacket(packet)) return true;
    }
  }
  const std::vector<std::string>& warnings() const override { return warnings_; }
  uint64_t unsupported_link_frames() const override { return unsupported_; }

 private:
  uint32_t Fix32(uint32_t v) const { return swapped_ ? Swap32(v) : v; }
  uint16_t Fix16(uint16_t v) const { return swapped_ ? Swap16(v) : v; }
  uint32_t Load32(size_t at) const {
    uint32_t v;
    std::memcpy(&v, block_.data() + at, 4);
    return Fix32(v);
  }
  uint16_t Load16(size_t at) const {
    uint16_t v;
    std::memcpy(&v, block_.data() + at, 2);
    return Fix16(v);
  }

  void Truncated(const std::string& what) {
    warnings_.push_back(path_ + ": " + what +
                        " (the file is cut short or damaged; everything before that point was read)");
  }

  // Reads one whole block into block_; false at end of file or on damage.
  bool ReadBlock() {
    uint32_t head[2];
    size_t n = std::fread(head, 1, sizeof head, file_);
    if (n == 0) return false;
    if (n < sizeof head) {
      Truncated("truncated block header");
      return false;
    }
    block_type_ = head[0];  // the section header's type reads the same in both orders
    if (block_type_ == kSectionHeaderBlock) {
      uint32_t magic;
      if (std::fread(&magic, 1, 4, file_) != 4) {
        Truncated("truncated section header");
        return false;
      }
      swapped_ = magic != kByteOrderMagic;
      if (swapped_ && Swap32(magic) != kByteOrderMagic) {
        warnings_.push_back(path_ + ": bad pcapng byte-order magic; reading stopped");
        return false;
      }
      interfaces_.clear();
      uint32_t length = Fix32(head[1]);
      if (length < 28 || length > kMaxBlockBytes || length % 4 != 0) {
        Truncated("bad section header length");
        return false;
      }
      block_.resize(length - 12);
      if (std::fread(block_.data(), 1, block_.size(), file_) != block_.size()) {
        Truncated("truncated section header");
        return false;
      }
      return true;
    }
    block_type_ = Fix32(head[0]);
    uint32_t length = Fix32(head[1]);
    if (length < 12 || length > kMaxBlockBytes || length % 4 != 0) {
      Truncated("bad block length " + std::to_string(length));
      return false;
    }
    block_.resize(length - 8);  // body plus trailing length
    if (std::fread(block_.data(), 1, block_.size(), file_) != block_.size()) {
      Truncated("truncated block");
      return false;
    }
    if (block_type_ == kInterfaceDescriptionBlock) AddInterface();
    return true;
  }

  void AddInterface() {
    Interface itf;
    if (block_.size() >= 12) {
      int dlt = Load16(0);
      itf.supported = net::LinkTypeFromDlt(dlt, &itf.link);
      if (!itf.supported) {
        warnings_.push_back(path_ + ": interface " + std::to_string(interfaces_.size()) +
                            " has link type " + std::to_string(dlt) +
                            ", which SIPMan does not decode; its frames are skipped");
      }
      // Options: code(2) length(2) value padded to 4.
      size_t at = 8, end = block_.size() - 4;
      while (at + 4 <= end) {
        uint16_t code = Load16(at), len = Load16(at + 2);
        at += 4;
        if (code == 0 || at + len > end) break;
        if (code == 9 && len >= 1) {  // if_tsresol
          uint8_t v = block_[at];
          itf.power_of_two = v & 0x80;
          itf.exponent = v & 0x7f;
          if (itf.power_of_two ? itf.exponent > 63 : itf.exponent > 40) itf.exponent = 6;
        } else if (code == 14 && len >= 8) {  // if_tsoffset
          uint64_t v;
          std::memcpy(&v, block_.data() + at, 8);
          if (swapped_) v = __builtin_bswap64(v);
          itf.offset_seconds = static_cast<int64_t>(v);
        }
        at += (len + 3u) & ~3u;
      }
    }
    interfaces_.push_back(itf);
  }

  // Fills `packet` from a packet block in block_; false for other blocks.
  bool ReadPacket(Packet* packet) {
    uint32_t interface_id = 0, caplen = 0, wire_len = 0;
    uint64_t units = 0;
    size_t data_at = 0;
    bool has_time = true;
    if (block_type_ == kEnhancedPacketBlock && block_.size() >= 24) {
      interface_id = Load32(0);
      units = static_cast<uint64_t>(Load32(4)) << 32 | Load32(8);
      caplen = Load32(12);
      wire_len = Load32(16);
      data_at = 20;
    } else if (block_type_ == kObsoletePacketBlock && block_.size() >= 24) {
      interface_id = Load16(0);
      units = static_cast<uint64_t>(Load32(4)) << 32 | Load32(8);
      caplen = Load32(12);
      wire_len = Load32(16);
      data_at = 20;
    } else if (block_type_ == kSimplePacketBlock && block_.size() >= 8) {
      wire_len = Load32(0);
      data_at = 4;
      caplen = static_cast<uint32_t>(block_.size() - 8);
      has_time = false;
    } else {
      return false;
    }
    if (interface_id >= interfaces_.size()) {
      warnings_.push_back(path_ + ": packet names interface " + std::to_string(interface_id) +
                          " that was never described; skipped");
      return false;
    }
    if (caplen > block_.size() - 4 - data_at) caplen = static_cast<uint32_t>(block_.size() - 4 - data_at);
    const Interface& itf = interfaces_[interface_id];
    if (!itf.supported) {
      ++unsupported_;
      return false;
    }
    packet->ts = has_time ? ToNanoseconds(itf, units) : last_ts_;
    last_ts_ = packet->ts;
    packet->link = itf.link;
    packet->data = std::span<const uint8_t>(block_.data() + data_at, caplen);
    packet->wire_len = wire_len < caplen ? caplen : wire_len;
    return true;
  }

  std::string path_;
  FILE* file_;
  bool swapped_ = false;
  uint32_t block_type_ = 0;
  std::vector<uint8_t> block_;
  std::vector<Interface> interfaces_;
  std::vector<std::string> warnings_;
  uint64_t unsupported_ = 0;
  TimestampNs last_ts_ = 0;
};

}  // namespace

Result<std::unique_ptr<FrameReader>> OpenPcapng(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::Error("cannot open capture file " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<FrameReader>(new PcapngReader(path, file));
}

bool PcapngHasMixedLinkTypes(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  bool swapped = false, mixed = false;
  int first_dlt = -1;
  // Bounded: stops at the end of file or at the first damaged header.
  for (;;) {
    uint32_t head[3];
    if (std::fread(head, 1, 8, file) != 8) break;
    uint32_t type = head[0], length;
    if (type == kSectionHeaderBlock) {
      if (std::fread(&head[2], 1, 4, file) != 4) break;
      swapped = head[2] != kByteOrderMagic;
      length = swapped ? Swap32(head[1]) : head[1];
      if (length < 28 || length % 4 != 0) break;
      if (std::fseek(file, length - 12, SEEK_CUR) != 0) break;
      continue;
    }
    if (first_dlt == -1 && ftell(file) == 8) break;  // no section header: not pcapng
    if (swapped) type = Swap32(type);
    length = swapped ? Swap32(head[1]) : head[1];
    if (length < 12 || length % 4 != 0) break;
    if (type == kInterfaceDescriptionBlock) {
      uint16_t dlt;
      if (std::fread(&dlt, 1, 2, file) != 2) break;
      if (swapped) dlt = Swap16(dlt);
      if (first_dlt == -1) {
        first_dlt = dlt;
      } else if (dlt != first_dlt) {
        mixed = true;
        break;
      }
      if (std::fseek(file, length - 10, SEEK_CUR) != 0) break;
    } else if (std::fseek(file, length - 8, SEEK_CUR) != 0) {
      break;
    }
  }
  std::fclose(file);
  return mixed;
}

}  // namespace sipman::capture
