#include "app/packet_queue.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

namespace sipman::app {
namespace {

// A record in the ring: this header, then the captured bytes, padded to 8.
struct RecordHeader {
  int64_t ts;
  uint32_t caplen;  // kWrapMarker: the rest of the ring up to its end is unused
  uint32_t wire_len;
  int32_t link;
  uint32_t index;
};
static_assert(sizeof(RecordHeader) == 24);

constexpr uint32_t kWrapMarker = 0xffffffffu;
constexpr size_t kHeaderBytes = sizeof(RecordHeader);

size_t RecordBytes(size_t caplen) { return kHeaderBytes + ((caplen + 7) & ~size_t{7}); }

}  // namespace

PacketQueue::PacketQueue(const PacketQueueOptions& options) : options_(options) {
  capacity_ = (options_.capacity_bytes + 7) & ~size_t{7};
  if (capacity_ < 4096) capacity_ = 4096;
  ring_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);  // pages come on first use
}

PacketQueue::~PacketQueue() {
  // Everything is read in a normal run; what is left belongs to a consumer
  // that stopped early, and is of no use to a later run.
  if (writer_) {
    writer_->Close();
    ::unlink(open_segment_.path.c_str());
  }
  if (reader_) ::unlink(reading_.path.c_str());
  for (const Segment& s : ready_) ::unlink(s.path.c_str());
  if (dir_ready_) ::rmdir(options_.spill_dir.c_str());  // only when empty
}

void PacketQueue::Push(const capture::Packet& packet) {
  pushed_.fetch_add(1, std::memory_order_relaxed);
  if (spilling_ && !writer_ && outstanding_.load(std::memory_order_acquire) == 0) {
    spilling_ = false;  // every spilled packet is read back: the ring is in order again
  }
  if (!spilling_) {
    if (TryPushRing(packet)) {
      WakeConsumer();
      return;
    }
    spilling_ = true;
  }
  Spill(packet);
}

bool PacketQueue::TryPushRing(const capture::Packet& packet) {
  size_t caplen = packet.data.size();
  size_t need = RecordBytes(caplen);
  if (need > capacity_ / 2) return false;  // a giant: spilled, so the ring never wedges
  uint64_t in_ring = ring_pushed_.load(std::memory_order_relaxed) -
                     ring_popped_.load(std::memory_order_acquire);
  if (options_.max_packets != 0 && in_ring >= options_.max_packets) return false;
  uint64_t head = head_.load(std::memory_order_relaxed);
  uint64_t tail = tail_.load(std::memory_order_acquire);
  size_t offset = head % capacity_;
  size_t contiguous = capacity_ - offset;
  size_t skip = need > contiguous ? contiguous : 0;
  if (head + skip + need - tail > capacity_) return false;
  if (skip != 0) {
    if (contiguous >= kHeaderBytes) {
      RecordHeader wrap = {};
      wrap.caplen = kWrapMarker;
      std::memcpy(ring_.get() + offset, &wrap, sizeof wrap);
    }
    offset = 0;
  }
  RecordHeader header;
  header.ts = packet.ts;
  header.caplen = static_cast<uint32_t>(caplen);
  header.wire_len = packet.wire_len;
  header.link = static_cast<int32_t>(packet.link);
  header.index = packet.file_index;
  std::memcpy(ring_.get() + offset, &header, sizeof header);
  if (caplen != 0) std::memcpy(ring_.get() + offset + kHeaderBytes, packet.data.data(), caplen);
  uint64_t pushed = ring_pushed_.load(std::memory_order_relaxed) + 1;
  ring_pushed_.store(pushed, std::memory_order_release);
  // seq_cst pairs with the consumer's store of consumer_waiting_ and its
  // re-check of head_: one of the two sees the other, so no wakeup is lost.
  head_.store(head + skip + need, std::memory_order_seq_cst);
  uint64_t depth = in_ring + 1;
  if (depth > max_queued_.load(std::memory_order_relaxed)) {
    max_queued_.store(depth, std::memory_order_relaxed);
  }
  return true;
}

void PacketQueue::WakeConsumer() {
  if (consumer_waiting_.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_one();
  }
}

void PacketQueue::Spill(const capture::Packet& packet) {
  // A pcap file has one link type: a packet of another starts a new segment.
  if (writer_ && writer_->link() != packet.link) HandOverSegment();
  if (!writer_) {
    if (!dir_ready_) {
      std::error_code ec;
      std::filesystem::create_directories(options_.spill_dir, ec);
      if (ec) {
        spill_lost_.fetch_add(1, std::memory_order_relaxed);
        AddError("cannot create the spill directory " + options_.spill_dir + ": " + ec.message() +
                 " (set --spill-dir to a writable directory); packets are being lost");
        return;
      }
      dir_ready_ = true;
    }
    open_segment_ = Segment{};
    open_segment_.path = options_.spill_dir + "/spill-" + std::to_string(::getpid()) + "-" +
                         std::to_string(++segment_seq_) + ".pcap";
    auto writer = capture::PcapWriter::Open(open_segment_.path, packet.link, options_.snaplen);
    if (!writer.ok()) {
      spill_lost_.fetch_add(1, std::memory_order_relaxed);
      AddError(writer.status().message() + "; packets are being lost");
      return;
    }
    writer_ = std::move(writer.value());
    spill_segments_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t before = writer_->bytes();
  Status s = writer_->Write(packet);
  spilled_bytes_.fetch_add(writer_->bytes() - before, std::memory_order_relaxed);
  if (!s.ok()) {
    spill_lost_.fetch_add(1, std::memory_order_relaxed);
    AddError(s.message() + "; packets are being lost");
    return;
  }
  ++open_segment_.packets;
  open_segment_packets_.store(open_segment_.packets, std::memory_order_relaxed);
  spilled_.fetch_add(1, std::memory_order_relaxed);
  if (writer_->bytes() >= options_.spill_segment_bytes ||
      handover_wanted_.exchange(false, std::memory_order_acq_rel)) {
    HandOverSegment();
  }
}

void PacketQueue::HandOverSegment() {
  Status s = writer_->Close();
  if (!s.ok()) AddError(s.message());
  writer_.reset();
  open_segment_packets_.store(0, std::memory_order_relaxed);
  outstanding_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard<std::mutex> lock(mu_);
  ready_.push_back(std::move(open_segment_));
  open_segment_ = Segment{};
  cv_.notify_one();
}

void PacketQueue::ProducerTick() {
  if (writer_ && handover_wanted_.exchange(false, std::memory_order_acq_rel)) HandOverSegment();
}

void PacketQueue::CloseProducer() {
  if (writer_) HandOverSegment();
  std::lock_guard<std::mutex> lock(mu_);
  producer_closed_ = true;
  cv_.notify_one();
}

bool PacketQueue::ReadRing(capture::Packet* packet) {
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t head = head_.load(std::memory_order_seq_cst);
    if (tail == head) return false;
    size_t offset = tail % capacity_;
    size_t contiguous = capacity_ - offset;
    RecordHeader header;
    if (contiguous >= kHeaderBytes) std::memcpy(&header, ring_.get() + offset, sizeof header);
    if (contiguous < kHeaderBytes || header.caplen == kWrapMarker) {
      tail += contiguous;  // the producer wrapped here
      tail_.store(tail, std::memory_order_release);
      continue;
    }
    packet->ts = header.ts;
    packet->link = static_cast<net::LinkType>(header.link);
    packet->data = std::span<const uint8_t>(ring_.get() + offset + kHeaderBytes, header.caplen);
    packet->wire_len = header.wire_len;
    packet->file_index = header.index;
    pending_release_ = tail + RecordBytes(header.caplen);
    release_ring_ = true;
    return true;
  }
}

PacketQueue::PopResult PacketQueue::Pop(capture::Packet* packet, int timeout_ms) {
  if (release_ring_) {
    release_ring_ = false;
    tail_.store(pending_release_, std::memory_order_release);
    ring_popped_.fetch_add(1, std::memory_order_release);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    // The ring holds only packets older than any spilled one.
    if (ReadRing(packet)) {
      popped_.fetch_add(1, std::memory_order_relaxed);
      return PopResult::kPacket;
    }
    if (reader_) {
      if (reader_->Next(packet)) {
        spill_read_.fetch_add(1, std::memory_order_relaxed);
        popped_.fetch_add(1, std::memory_order_relaxed);
        return PopResult::kPacket;
      }
      for (const std::string& w : reader_->warnings()) AddError("reading back spill: " + w);
      reader_.reset();
      ::unlink(reading_.path.c_str());
      outstanding_.fetch_sub(1, std::memory_order_acq_rel);
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!ready_.empty()) {
      reading_ = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      auto reader = capture::FileSource::Open({reading_.path});
      if (!reader.ok()) {
        spill_lost_.fetch_add(reading_.packets, std::memory_order_relaxed);
        AddError("cannot read back spill segment: " + reader.status().message());
        ::unlink(reading_.path.c_str());
        outstanding_.fetch_sub(1, std::memory_order_acq_rel);
        continue;
      }
      reader_ = std::move(reader.value());
      continue;
    }
    if (producer_closed_ && head_.load(std::memory_order_seq_cst) == tail_.load(std::memory_order_relaxed)) {
      return PopResult::kEnd;
    }
    // Nothing to read here: the packets still to come may sit in the
    // producer's open segment.
    if (open_segment_packets_.load(std::memory_order_relaxed) != 0) {
      handover_wanted_.store(true, std::memory_order_release);
    }
    if (std::chrono::steady_clock::now() >= deadline) return PopResult::kTimeout;
    consumer_waiting_.store(true, std::memory_order_seq_cst);
    if (head_.load(std::memory_order_seq_cst) == tail_.load(std::memory_order_relaxed)) {
      cv_.wait_until(lock, deadline);
    }
    consumer_waiting_.store(false, std::memory_order_relaxed);
  }
}

void PacketQueue::AddError(std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  // One line per distinct error: a full disk fails every write alike.
  for (const std::string& e : errors_) {
    if (e == message) return;
  }
  if (errors_.size() < 64) errors_.push_back(std::move(message));
}

std::vector<std::string> PacketQueue::TakeErrors() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(errors_);
}

PacketQueueCounters PacketQueue::counters() const {
  PacketQueueCounters c;
  c.pushed = pushed_.load(std::memory_order_relaxed);
  c.popped = popped_.load(std::memory_order_relaxed);
  uint64_t ring_pushed = ring_pushed_.load(std::memory_order_acquire);
  uint64_t ring_popped = ring_popped_.load(std::memory_order_acquire);
  c.queued = ring_pushed > ring_popped ? ring_pushed - ring_popped : 0;
  uint64_t head = head_.load(std::memory_order_acquire);
  uint64_t tail = tail_.load(std::memory_order_acquire);
  c.queued_bytes = head > tail ? head - tail : 0;
  c.max_queued = max_queued_.load(std::memory_order_relaxed);
  c.spilled = spilled_.load(std::memory_order_relaxed);
  c.spilled_bytes = spilled_bytes_.load(std::memory_order_relaxed);
  uint64_t read = spill_read_.load(std::memory_order_relaxed);
  c.spill_pending = c.spilled > read ? c.spilled - read : 0;
  c.spill_segments = spill_segments_.load(std::memory_order_relaxed);
  c.spill_lost = spill_lost_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace sipman::app
