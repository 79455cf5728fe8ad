// Private to app: the bounded queue between the capture thread and the
// worker of `sipman run`, with spill to disk instead of loss.
//
// Packets are copied into one preallocated ring of bytes (a record header and
// the captured bytes, 8-byte aligned); nothing is allocated per packet. The
// ring is bounded in bytes and, optionally, in packets. When a packet does
// not fit, the queue starts spilling: that packet and every later one go to
// pcap files (segments) in the spill directory, until the worker has read
// back every spilled packet; then the ring takes packets again. The worker
// reads the ring first and the segments after, oldest first, so packets come
// out in the order they went in. Nothing is dropped: only a failed write to
// the spill directory (disk full) loses packets, and those are counted and
// reported.
//
// Thread safety: one producer thread calls Push, ProducerTick and
// CloseProducer; one consumer thread calls Pop; counters() and TakeErrors()
// may be called from any thread.
#ifndef SIPMAN_APP_PACKET_QUEUE_H_
#define SIPMAN_APP_PACKET_QUEUE_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "capture/capture.h"

namespace sipman::app {

struct PacketQueueOptions {
  // Ring size in bytes (each packet takes its captured bytes plus 24,
  // rounded up to 8).
  size_t capacity_bytes = 64 << 20;
  // Packets in the ring at most; 0: bounded by bytes only.
  size_t max_packets = 0;
  // Where spill segments are written; created when first needed.
  std::string spill_dir = "sipman.db.spill";
  // A segment is closed and handed to the worker when it reaches this size
  // (or when the worker asks for it, having nothing else to read).
  uint64_t spill_segment_bytes = 64 << 20;
  int snaplen = 262144;
};

// The queue's counters, declared once: X(field, how the counters of two
// queues combine (Sum or Max), what it counts). They make
// PacketQueueCounters and its Add.
#define SIPMAN_PACKET_QUEUE_COUNTERS(X)                                       \
  X(pushed, Sum, "packets handed to Push")                                    \
  X(popped, Sum, "packets handed out by Pop (ring and spill)")                \
  X(queued, Sum, "gauge: packets in the ring now")                            \
  X(queued_bytes, Sum, "gauge: ring bytes in use now")                        \
  X(max_queued, Max, "highest `queued` seen")                                 \
  X(spilled, Sum, "packets written to spill segments")                        \
  X(spilled_bytes, Sum, "bytes of spill files written")                       \
  X(spill_pending, Sum, "gauge: spilled, not yet read back")                  \
  X(spill_segments, Sum, "segment files written")                             \
  X(spill_lost, Sum, "packets that could not be written (see TakeErrors)")

struct PacketQueueCounters {
#define SIPMAN_DECLARE_COUNTER(field, merge, help) uint64_t field = 0;
  SIPMAN_PACKET_QUEUE_COUNTERS(SIPMAN_DECLARE_COUNTER)
#undef SIPMAN_DECLARE_COUNTER

  // Adds another queue's counters (the highest of a Max counter).
  void Add(const PacketQueueCounters& other) {
#define SIPMAN_ADD_COUNTER(field, merge, help) field = merge(field, other.field);
    SIPMAN_PACKET_QUEUE_COUNTERS(SIPMAN_ADD_COUNTER)
#undef SIPMAN_ADD_COUNTER
  }

 private:
  static uint64_t Sum(uint64_t a, uint64_t b) { return a + b; }
  static uint64_t Max(uint64_t a, uint64_t b) { return a > b ? a : b; }
};

class PacketQueue {
 public:
  explicit PacketQueue(const PacketQueueOptions& options);
  // Removes spill segments that were not read (only when the consumer
  // stopped early).
  ~PacketQueue();
  PacketQueue(const PacketQueue&) = delete;
  PacketQueue& operator=(const PacketQueue&) = delete;

  // Producer side. Copies the packet (its bytes need only live for the call).
  void Push(const capture::Packet& packet);
  // Call when idle (at least every few hundred ms): hands the open spill
  // segment to the worker when it asked for it.
  void ProducerTick();
  // No more packets: hands over the open segment; Pop returns kEnd once
  // everything is read.
  void CloseProducer();

  // Consumer side.
  enum class PopResult { kPacket, kTimeout, kEnd };
  // Hands out the oldest packet, waiting at most `timeout_ms` for one.
  // LIFETIME: `packet->data` stays valid until the next Pop.
  PopResult Pop(capture::Packet* packet, int timeout_ms);

  PacketQueueCounters counters() const;
  // Errors met while spilling (creating the directory, writing), each once,
  // ready to log.
  std::vector<std::string> TakeErrors();

 private:
  struct Segment {
    std::string path;
    uint64_t packets = 0;
  };

  bool TryPushRing(const capture::Packet& packet);
  void Spill(const capture::Packet& packet);
  void HandOverSegment();
  void AddError(std::string message);
  void WakeConsumer();
  bool ReadRing(capture::Packet* packet);

  PacketQueueOptions options_;
  std::unique_ptr<uint8_t[]> ring_;
  size_t capacity_;

  // Ring positions grow without wrapping; the offset is position % capacity_.
  std::atomic<uint64_t> head_{0};  // written by the producer
  std::atomic<uint64_t> tail_{0};  // written by the consumer
  std::atomic<uint64_t> ring_pushed_{0}, ring_popped_{0};
  uint64_t pending_release_ = 0;  // consumer: bytes of the record handed out last
  bool release_ring_ = false;

  // Producer state.
  bool spilling_ = false;
  std::unique_ptr<capture::PcapWriter> writer_;
  Segment open_segment_;
  uint64_t segment_seq_ = 0;
  bool dir_ready_ = false;

  // Shared, under mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Segment> ready_;     // closed segments, oldest first
  bool producer_closed_ = false;
  std::vector<std::string> errors_;
  std::atomic<bool> consumer_waiting_{false};
  std::atomic<bool> handover_wanted_{false};
  std::atomic<uint64_t> outstanding_{0};  // segments handed over, not yet fully read
  std::atomic<uint64_t> open_segment_packets_{0};

  // Consumer state.
  std::unique_ptr<capture::FileSource> reader_;
  Segment reading_;

  std::atomic<uint64_t> pushed_{0}, popped_{0}, max_queued_{0};
  std::atomic<uint64_t> spilled_{0}, spilled_bytes_{0}, spill_read_{0}, spill_segments_{0};
  std::atomic<uint64_t> spill_lost_{0};
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_PACKET_QUEUE_H_
