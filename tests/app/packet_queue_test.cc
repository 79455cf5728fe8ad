#include "app/packet_queue.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace sipman::app {
namespace {

// Packet i carries its number in its bytes and timestamp, and a size that
// varies so records wrap around the ring at different offsets.
struct NumberedPackets {
  std::vector<uint8_t> bytes;
  capture::Packet Make(uint32_t i) {
    bytes.assign(40 + (i * 37) % 700, static_cast<uint8_t>(i));
    std::memcpy(bytes.data(), &i, sizeof i);
    capture::Packet p;
    p.ts = 1'700'000'000'000'000'000 + static_cast<int64_t>(i) * 1000;
    p.link = net::LinkType::kEthernet;
    p.data = bytes;
    p.wire_len = static_cast<uint32_t>(bytes.size()) + 4;
    return p;
  }
};

// Checks that `p` is packet `i` as made above.
void ExpectPacket(const capture::Packet& p, uint32_t i) {
  ASSERT_EQ(p.data.size(), 40 + (i * 37) % 700) << "packet " << i;
  uint32_t got;
  std::memcpy(&got, p.data.data(), sizeof got);
  ASSERT_EQ(got, i);
  ASSERT_EQ(p.ts, 1'700'000'000'000'000'000 + static_cast<int64_t>(i) * 1000);
  ASSERT_EQ(p.wire_len, p.data.size() + 4);
  ASSERT_EQ(p.data.back(), static_cast<uint8_t>(i));
}

class PacketQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sipman-queue-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    base_ = dir;
    options_.spill_dir = base_ + "/spill";
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  size_t SpillFiles() {
    std::error_code ec;
    size_t n = 0;
    for (auto it = std::filesystem::directory_iterator(options_.spill_dir, ec);
         !ec && it != std::filesystem::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  }

  std::string base_;
  PacketQueueOptions options_;
};

TEST_F(PacketQueueTest, PacketsComeOutInOrderThroughTheRing) {
  options_.capacity_bytes = 1 << 20;
  PacketQueue q(options_);
  NumberedPackets make;
  for (uint32_t i = 0; i < 100; ++i) q.Push(make.Make(i));
  q.CloseProducer();
  capture::Packet p;
  for (uint32_t i = 0; i < 100; ++i) {
    ASSERT_EQ(q.Pop(&p, 0), PacketQueue::PopResult::kPacket);
    ExpectPacket(p, i);
  }
  EXPECT_EQ(q.Pop(&p, 0), PacketQueue::PopResult::kEnd);
  EXPECT_EQ(q.counters().spilled, 0u);
  EXPECT_EQ(SpillFiles(), 0u);
}

TEST_F(PacketQueueTest, EmptyQueueTimesOut) {
  PacketQueue q(options_);
  capture::Packet p;
  EXPECT_EQ(q.Pop(&p, 10), PacketQueue::PopResult::kTimeout);
  q.CloseProducer();
  EXPECT_EQ(q.Pop(&p, 10), PacketQueue::PopResult::kEnd);
}

TEST_F(PacketQueueTest, BeyondTheBoundPacketsSpillAndAllComeBackInOrder) {
  options_.capacity_bytes = 1 << 20;
  options_.max_packets = 10;
  options_.spill_segment_bytes = 20000;  // several segments
  PacketQueue q(options_);
  NumberedPackets make;
  constexpr uint32_t kCount = 1000;
  for (uint32_t i = 0; i < kCount; ++i) q.Push(make.Make(i));
  PacketQueueCounters before = q.counters();
  EXPECT_EQ(before.pushed, kCount);
  EXPECT_EQ(before.queued, 10u);
  EXPECT_EQ(before.spilled, kCount - 10);
  EXPECT_GT(before.spill_segments, 3u);
  EXPECT_GT(SpillFiles(), 0u);
  q.CloseProducer();
  capture::Packet p;
  for (uint32_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(q.Pop(&p, 1000), PacketQueue::PopResult::kPacket) << i;
    ExpectPacket(p, i);
  }
  EXPECT_EQ(q.Pop(&p, 0), PacketQueue::PopResult::kEnd);
  PacketQueueCounters after = q.counters();
  EXPECT_EQ(after.popped, kCount);
  EXPECT_EQ(after.spill_pending, 0u);
  EXPECT_EQ(after.spill_lost, 0u);
  EXPECT_EQ(after.queued, 0u);
  EXPECT_EQ(SpillFiles(), 0u);  // read segments are deleted
}

TEST_F(PacketQueueTest, ByteBoundWrapsTheRingAndSpills) {
  options_.capacity_bytes = 4096;  // a few packets; records wrap often
  PacketQueue q(options_);
  NumberedPackets make;
  capture::Packet p;
  uint32_t next_out = 0;
  // Interleave pushes and pops so the ring wraps many times, then overfill.
  for (uint32_t i = 0; i < 2000; ++i) {
    q.Push(make.Make(i));
    if (i % 3 != 0 && i < 1500) {
      // Single-threaded: when only the producer's open segment is left,
      // Pop asks for it and the producer's tick hands it over.
      PacketQueue::PopResult r = q.Pop(&p, 0);
      if (r == PacketQueue::PopResult::kTimeout) {
        q.ProducerTick();
        r = q.Pop(&p, 0);
      }
      ASSERT_EQ(r, PacketQueue::PopResult::kPacket) << i;
      ExpectPacket(p, next_out++);
    }
  }
  EXPECT_GT(q.counters().spilled, 0u);
  q.CloseProducer();
  PacketQueue::PopResult r;
  while ((r = q.Pop(&p, 1000)) == PacketQueue::PopResult::kPacket) ExpectPacket(p, next_out++);
  EXPECT_EQ(r, PacketQueue::PopResult::kEnd);
  EXPECT_EQ(next_out, 2000u);
}

TEST_F(PacketQueueTest, ProducerReturnsToTheRingOnceTheSpillIsRead) {
  options_.max_packets = 4;
  PacketQueue q(options_);
  NumberedPackets make;
  capture::Packet p;
  for (uint32_t i = 0; i < 20; ++i) q.Push(make.Make(i));
  EXPECT_EQ(q.counters().spilled, 16u);
  // The consumer drains the ring, then asks for the open segment; the
  // producer hands it over on its next tick.
  uint32_t next_out = 0;
  for (int round = 0; round < 50 && next_out < 20; ++round) {
    while (q.Pop(&p, 5) == PacketQueue::PopResult::kPacket) ExpectPacket(p, next_out++);
    q.ProducerTick();
  }
  ASSERT_EQ(next_out, 20u);
  q.Push(make.Make(20));
  EXPECT_EQ(q.counters().spilled, 16u);  // back in the ring
  ASSERT_EQ(q.Pop(&p, 0), PacketQueue::PopResult::kPacket);
  ExpectPacket(p, 20);
}

TEST_F(PacketQueueTest, ThreadsKeepOrderUnderPressure) {
  options_.capacity_bytes = 64 << 10;
  options_.spill_segment_bytes = 256 << 10;
  PacketQueue q(options_);
  constexpr uint32_t kCount = 200000;
  std::thread producer([&] {
    NumberedPackets make;
    for (uint32_t i = 0; i < kCount; ++i) {
      q.Push(make.Make(i));
      if (i % 1000 == 0) q.ProducerTick();
    }
    q.CloseProducer();
  });
  capture::Packet p;
  uint32_t next_out = 0;
  PacketQueue::PopResult r;
  while ((r = q.Pop(&p, 1000)) != PacketQueue::PopResult::kEnd) {
    if (r != PacketQueue::PopResult::kPacket) continue;
    ExpectPacket(p, next_out++);
    if (next_out % 50000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  producer.join();
  EXPECT_EQ(next_out, kCount);
  EXPECT_EQ(q.counters().spill_lost, 0u);
}

TEST_F(PacketQueueTest, UnwritableSpillDirectoryCountsLostPacketsAndSaysWhy) {
  options_.max_packets = 1;
  options_.spill_dir = "/proc/sipman-cannot-create-this";
  PacketQueue q(options_);
  NumberedPackets make;
  q.Push(make.Make(0));
  q.Push(make.Make(1));
  EXPECT_EQ(q.counters().spill_lost, 1u);
  std::vector<std::string> errors = q.TakeErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cannot create the spill directory /proc/sipman-cannot-create-this"),
            std::string::npos)
      << errors[0];
}

TEST(PacketQueueCounters, TwoQueuesAddUpAndKeepTheHigherPeak) {
  PacketQueueCounters a, b;
  a.queued = 3;
  a.spilled = 10;
  a.max_queued = 7;
  b.queued = 4;
  b.spill_lost = 1;
  b.max_queued = 5;
  a.Add(b);
  EXPECT_EQ(a.queued, 7u);
  EXPECT_EQ(a.spilled, 10u);
  EXPECT_EQ(a.spill_lost, 1u);
  EXPECT_EQ(a.max_queued, 7u);
}

}  // namespace
}  // namespace sipman::app
