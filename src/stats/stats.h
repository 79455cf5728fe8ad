// The stats module's public face: traffic counters of SIP signalling, kept
// per capture second and per sensor, their running totals, and their
// rendering in Prometheus text format.
//
// What each counter means is defined in docs/METRICS.md ("Traffic
// counters"). In short: a frame that carries (or completes) at least one SIP
// message counts once in `packets` and `frame_bytes`, in the second of its
// capture time; every SIP message counts once in `messages`, `sip_bytes` and
// its method or response class and code. Where the sensor knows its own
// networks (LocalNets), a message also counts as incoming or outgoing.
//
// Counting is allocation-free: methods and response classes are fixed
// arrays, status codes a small flat map, local networks a fixed array.
#ifndef SIPMAN_STATS_STATS_H_
#define SIPMAN_STATS_STATS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/ip_address.h"
#include "base/status.h"
#include "base/time.h"
#include "sip/sip.h"

namespace sipman::stats {

// Request methods counted by name; any other method counts as "OTHER".
constexpr std::array<std::string_view, 15> kMethodNames = {
    "INVITE",  "ACK",     "BYE",  "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
    "NOTIFY",  "PUBLISH", "INFO", "REFER",  "MESSAGE",  "UPDATE",  "OTHER"};
constexpr size_t kMethodCount = kMethodNames.size();
constexpr size_t kOtherMethod = kMethodCount - 1;

// Index into kMethodNames of a request method (case-sensitive, as RFC 3261
// says methods are); kOtherMethod for any other.
size_t MethodIndex(std::string_view method);

// Response classes 1xx..6xx, index 0..5.
constexpr size_t kClassCount = 6;

// Response counts per status code: a flat map of at most kMaxCodes codes.
// Codes beyond that (or outside 100..699) are counted under code 0.
class CodeCounts {
 public:
  static constexpr size_t kMaxCodes = 48;
  struct Entry {
    uint16_t code = 0;
    uint64_t count = 0;
  };

  void Add(int code, uint64_t n = 1);
  void AddAll(const CodeCounts& other);
  // Raises each code's count to other's where other's is larger.
  void MaxWith(const CodeCounts& other);
  void Clear() { size_ = 0; }
  // Count of one code (0 when absent).
  uint64_t Get(int code) const;
  size_t size() const { return size_; }
  // Entries in the order codes were first seen.
  const Entry* begin() const { return entries_.data(); }
  const Entry* end() const { return entries_.data() + size_; }

  bool operator==(const CodeCounts& other) const;

 private:
  std::array<Entry, kMaxCodes> entries_{};
  size_t size_ = 0;
};

// An IPv4 or IPv6 network: the addresses whose first `length` bits equal
// those of `address` (whose remaining bits are zero).
struct IpPrefix {
  IpAddress address;
  uint8_t length = 0;  // 0..32 for IPv4, 0..128 for IPv6

  bool Contains(const IpAddress& ip) const;
};

// Parses "ADDR/LEN" or a bare address (a host prefix, /32 or /128). Host
// bits set beyond the length are cleared: 10.1.2.3/8 is 10.0.0.0/8.
Result<IpPrefix> ParseIpPrefix(std::string_view text);

// The sensor's own networks: a small fixed list of prefixes, checked per
// message without allocation.
class LocalNets {
 public:
  static constexpr size_t kMaxPrefixes = 32;

  // Parses a comma-separated list of prefixes ("10.0.0.0/8,2001:db8::/32";
  // spaces around items allowed) and adds them. The error names the item;
  // the caller adds the flag or key it came from.
  Status AddList(std::string_view list);
  Status Add(const IpPrefix& prefix);

  bool Contains(const IpAddress& ip) const;
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  const IpPrefix* begin() const { return prefixes_.data(); }
  const IpPrefix* end() const { return prefixes_.data() + size_; }

 private:
  std::array<IpPrefix, kMaxPrefixes> prefixes_{};
  size_t size_ = 0;
};

// Which way a message crossed the sensor's border (docs/METRICS.md).
enum class Direction : uint8_t {
  kNone = 0,  // both ends local, neither, or no local networks known
  kIn,        // destination local, source not
  kOut,       // source local, destination not
};

Direction DirectionOf(const LocalNets& local, const IpAddress& src, const IpAddress& dst);

// The counters of one period (a second, a minute, an hour, or a whole run).
struct TrafficCounters {
  int64_t ts = 0;           // start of the period, Unix seconds
  uint64_t packets = 0;     // frames carrying SIP
  uint64_t frame_bytes = 0; // wire length of those frames
  uint64_t sip_bytes = 0;   // bytes of the SIP messages (start line to body end)
  uint64_t messages = 0;
  uint64_t requests = 0;
  uint64_t responses = 0;
  std::array<uint64_t, kMethodCount> methods{};
  std::array<uint64_t, kClassCount> classes{};  // 1xx..6xx
  CodeCounts codes;
  // Packets the capture lost in this period: by the kernel (pcap_stats
  // ps_drop) and by the interface (ps_ifdrop). `sipman run` only.
  uint64_t kernel_drops = 0;
  uint64_t interface_drops = 0;
  // Messages and their SIP bytes by Direction (kNone counts in neither).
  uint64_t in_messages = 0;
  uint64_t out_messages = 0;
  uint64_t in_sip_bytes = 0;
  uint64_t out_sip_bytes = 0;
  // SIP over TLS the sensor cannot read: TCP connections whose TLS was first
  // seen in this period, and their payload bytes in it (net::Decoder's
  // tls_connections and tls_bytes).
  uint64_t tls_connections = 0;
  uint64_t tls_bytes = 0;

  // Adds every counter of `other` (not ts).
  void AddAll(const TrafficCounters& other);
  // Keeps, per counter, the larger of this and `other` (not ts): two
  // sightings of one period of one sensor merged without counting twice.
  void MaxWith(const TrafficCounters& other);
  bool Empty() const { return packets == 0 && messages == 0 && kernel_drops == 0 &&
                              interface_drops == 0 && tls_bytes == 0 && tls_connections == 0; }
  bool operator==(const TrafficCounters& other) const;
};

// Codes as compact JSON, codes ascending: {"180":3,"200":5}. Empty: "{}".
void AppendCodesJson(const CodeCounts& codes, std::string* out);
// Parses AppendCodesJson's output (adding to *codes). False on other text.
bool ParseCodesJson(std::string_view json, CodeCounts* codes);

// Receives each second's counters once the second is closed.
class SecondSink {
 public:
  virtual ~SecondSink() = default;
  virtual void OnSecond(const TrafficCounters& second) = 0;
};

// Counts SIP traffic per capture second. Seconds stay open for
// kOpenSeconds seconds after the newest one seen, so messages a little out
// of time order (merged interfaces) land in their own second; a message
// older than that is counted in the totals and in late_messages() only.
// Single-threaded.
class TrafficStats {
 public:
  static constexpr int64_t kOpenSeconds = 8;

  // `sink` (may be null: totals only) must outlive the stats.
  explicit TrafficStats(SecondSink* sink) : sink_(sink) {}

  // Counts one SIP message. `frame_bytes` is the wire length of the frame
  // that carried or completed it; the frame counts once however many
  // messages it completes (until the next OnFrameDone). `direction` is the
  // message's DirectionOf its addresses.
  void OnMessage(TimestampNs ts, uint32_t frame_bytes, const sip::SipMessage& message,
                 Direction direction = Direction::kNone);
  // Marks the end of one captured frame.
  void OnFrameDone() { frame_counted_ = false; }
  // Adds packets lost by the capture to the newest open second (or, before
  // any traffic, to the second of `ts`).
  void AddDrops(TimestampNs ts, uint64_t kernel_drops, uint64_t interface_drops);
  // Counts encrypted SIP (TLS) seen at `ts`: new connections and bytes.
  void AddEncrypted(TimestampNs ts, uint64_t connections, uint64_t bytes);
  // Closes every second older than kOpenSeconds before `now`.
  void AdvanceTime(TimestampNs now);
  // Closes every open second.
  void Flush();
  // Calls fn(counters) for each still-open second before `before` (a
  // second number), oldest first: the counts so far, for live views that
  // cannot wait kOpenSeconds for a second's final counts.
  template <typename Fn>
  void ForEachOpenSecond(int64_t before, Fn&& fn) const {
    if (newest_ == INT64_MIN) return;
    int64_t from = newest_ < INT64_MIN + kOpenSeconds ? INT64_MIN + 1 : newest_ - kOpenSeconds + 1;
    for (int64_t s = from; s <= newest_ && s < before; ++s) {
      size_t slot = static_cast<size_t>(((s % kOpenSeconds) + kOpenSeconds) % kOpenSeconds);
      if (open_[slot] && seconds_[slot].ts == s) fn(seconds_[slot]);
    }
  }

  // Everything counted so far (ts: the first second seen).
  const TrafficCounters& totals() const { return totals_; }
  uint64_t late_messages() const { return late_messages_; }

 private:
  TrafficCounters* SecondOf(int64_t second);
  void CloseBefore(int64_t second);

  SecondSink* sink_;
  // Ring of open seconds, slot = second % kOpenSeconds; open_[i] says
  // whether slot i holds a second.
  std::array<TrafficCounters, kOpenSeconds> seconds_{};
  std::array<bool, kOpenSeconds> open_{};
  int64_t newest_ = INT64_MIN;  // newest second seen
  int64_t closed_below_ = INT64_MIN;  // seconds before this were handed to the sink
  bool frame_counted_ = false;
  TrafficCounters totals_;
  bool any_ = false;
  uint64_t late_messages_ = 0;
};

// Renders `totals` in the Prometheus text exposition format (version
// 0.0.4), with HELP and TYPE lines, into *out (appended). Every method and
// class appears, zeros included; codes appear as seen, ascending.
void RenderPrometheus(const TrafficCounters& totals, std::string* out);

// A per-second rate over a span of seconds (docs/METRICS.md).
struct RatePeak {
  double average = 0;       // total / span seconds
  uint64_t peak = 0;        // highest value in one second
  int64_t peak_second = 0;  // Unix second of the first peak (0: no data)
};

// Concurrent calls over a span (docs/METRICS.md).
struct Concurrency {
  double average = 0;       // time-weighted mean over the span
  uint64_t peak = 0;        // most calls established at one instant
  TimestampNs peak_ts = 0;  // when the peak was first reached (0: no calls)
};

// Derived figures over a time range. All zero when the range holds no data.
struct TrafficSummary {
  // The span: from the first to the last second (inclusive) that holds
  // traffic or a call start; span_seconds is 0 when there is none.
  int64_t first_second = 0;
  int64_t last_second = 0;
  int64_t span_seconds = 0;
  TrafficCounters totals;  // ts: first_second
  RatePeak frame_bytes;    // frame bytes per second
  RatePeak messages;       // SIP messages per second
  uint64_t calls = 0;      // calls whose INVITE lies in the range
  RatePeak calls_per_second;
  Concurrency concurrent_calls;
};

// Builds a TrafficSummary from per-second rows and per-second call counts,
// fed in any order. Seconds without a row count as zero.
class TrafficSummarizer {
 public:
  void AddSecond(const TrafficCounters& second);
  void AddCalls(int64_t second, uint64_t calls);
  // The summary so far; concurrent_calls is left for the caller.
  TrafficSummary Summary() const;

 private:
  void Extend(int64_t second);
  static void Peak(RatePeak* r, uint64_t value, int64_t second);

  bool any_ = false;
  TrafficSummary s_;
};

}  // namespace sipman::stats

#endif  // SIPMAN_STATS_STATS_H_
