#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "capture/capture.h"

namespace sipman::capture {
namespace {

// The classic pcap format with the nanosecond magic (0xa1b23c4d), written
// directly: a 24-byte file header, then a 16-byte header per record.
class PcapWriterImpl : public PcapWriter {
 public:
  PcapWriterImpl(std::string path, std::FILE* file, net::LinkType link)
      : path_(std::move(path)), file_(file), link_(link) {
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~PcapWriterImpl() override { Close(); }

  net::LinkType link() const override { return link_; }

  Status WriteHeader(int snaplen) {
    uint32_t header[6] = {0xa1b23c4d, 2 | (4u << 16), 0, 0, static_cast<uint32_t>(snaplen),
                          static_cast<uint32_t>(link_)};
    return Put(header, sizeof header);
  }

  Status Write(const Packet& packet) override {
    if (file_ == nullptr) return Status::Error(path_ + ": written after close");
    TimestampNs ts = packet.ts < 0 ? 0 : packet.ts;
    uint32_t record[4] = {static_cast<uint32_t>(ts / kNsPerSecond),
                          static_cast<uint32_t>(ts % kNsPerSecond),
                          static_cast<uint32_t>(packet.data.size()), packet.wire_len};
    Status s = Put(record, sizeof record);
    if (!s.ok()) return s;
    return Put(packet.data.data(), packet.data.size());
  }

  uint64_t bytes() const override { return bytes_; }

  Status Close() override {
    if (file_ == nullptr) return Status::Ok();
    bool ok = std::fflush(file_) == 0;
    int err = errno;
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    if (!ok) return Status::Error("cannot write " + path_ + ": " + std::strerror(err));
    return Status::Ok();
  }

 private:
  Status Put(const void* data, size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, file_) != n) {
      return Status::Error("cannot write " + path_ + ": " + std::strerror(errno) +
                           " (is the disk full?)");
    }
    bytes_ += n;
    return Status::Ok();
  }

  std::string path_;
  std::FILE* file_;
  net::LinkType link_;
  uint64_t bytes_ = 0;
};

}  // namespace

Result<std::unique_ptr<PcapWriter>> PcapWriter::Open(const std::string& path, net::LinkType link,
                                                     int snaplen) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return Status::Error("cannot create " + path + ": " + std::strerror(errno));
  auto writer = std::make_unique<PcapWriterImpl>(path, file, link);
  Status s = writer->WriteHeader(snaplen);
  if (!s.ok()) return s;
  return std::unique_ptr<PcapWriter>(std::move(writer));
}

}  // namespace sipman::capture
