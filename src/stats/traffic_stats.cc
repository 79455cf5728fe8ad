#include <algorithm>
#include <cstdio>

#include "stats/stats.h"

namespace sipman::stats {
namespace {

int64_t SecondOfTs(TimestampNs ts) {
  int64_t s = ts / kNsPerSecond;
  if (ts % kNsPerSecond < 0) --s;  // floor, for times before 1970
  return s;
}

size_t Slot(int64_t second) {
  int64_t m = second % TrafficStats::kOpenSeconds;
  if (m < 0) m += TrafficStats::kOpenSeconds;
  return static_cast<size_t>(m);
}

}  // namespace

size_t MethodIndex(std::string_view method) {
  // The first letter narrows the search to one or two names.
  if (method.empty()) return kOtherMethod;
  for (size_t i = 0; i < kOtherMethod; ++i) {
    if (kMethodNames[i][0] == method[0] && kMethodNames[i] == method) return i;
  }
  return kOtherMethod;
}

void CodeCounts::Add(int code, uint64_t n) {
  if (code < 100 || code > 699) code = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (entries_[i].code == code) {
      entries_[i].count += n;
      return;
    }
  }
  if (size_ == kMaxCodes) {
    if (code == 0) return;  // unreachable: code 0 is then present (see below)
    Add(0, n);
    return;
  }
  if (size_ == kMaxCodes - 1 && code != 0) {
    // Keep the last slot for code 0, so that overflow always has a place.
    entries_[size_++] = Entry{0, 0};
    Add(0, n);
    return;
  }
  entries_[size_++] = Entry{static_cast<uint16_t>(code), n};
}

void CodeCounts::AddAll(const CodeCounts& other) {
  for (const Entry& e : other) Add(e.code, e.count);
}

void CodeCounts::MaxWith(const CodeCounts& other) {
  // Idempotent even when full: a code with no slot of its own here is left
  // to code 0, which takes the larger overflow like any code; adding it to
  // code 0 instead would count it again at every merge of the same period.
  for (const Entry& e : other) {
    const uint64_t mine = Get(e.code);
    if (e.count <= mine) continue;
    const bool present = e.code == 0 || mine > 0 ||
                         std::any_of(begin(), end(), [&](const Entry& m) { return m.code == e.code; });
    if (present || size_ + 1 < kMaxCodes) Add(e.code, e.count - mine);
  }
}

uint64_t CodeCounts::Get(int code) const {
  for (const Entry& e : *this) {
    if (e.code == code) return e.count;
  }
  return 0;
}

bool CodeCounts::operator==(const CodeCounts& other) const {
  if (size_ != other.size_) return false;
  for (const Entry& e : *this) {
    if (other.Get(e.code) != e.count) return false;
  }
  return true;
}

// Calls f(mine, theirs) on each integer counter of `a` and `o` (not ts,
// not codes): the one list AddAll and MaxWith walk.
template <typename F>
void ForEachCounterPair(TrafficCounters& a, const TrafficCounters& o, F f) {
  f(a.packets, o.packets);
  f(a.frame_bytes, o.frame_bytes);
  f(a.sip_bytes, o.sip_bytes);
  f(a.messages, o.messages);
  f(a.requests, o.requests);
  f(a.responses, o.responses);
  for (size_t i = 0; i < kMethodCount; ++i) f(a.methods[i], o.methods[i]);
  for (size_t i = 0; i < kClassCount; ++i) f(a.classes[i], o.classes[i]);
  f(a.kernel_drops, o.kernel_drops);
  f(a.interface_drops, o.interface_drops);
  f(a.in_messages, o.in_messages);
  f(a.out_messages, o.out_messages);
  f(a.in_sip_bytes, o.in_sip_bytes);
  f(a.out_sip_bytes, o.out_sip_bytes);
  f(a.tls_connections, o.tls_connections);
  f(a.tls_bytes, o.tls_bytes);
}

void TrafficCounters::AddAll(const TrafficCounters& o) {
  ForEachCounterPair(*this, o, [](uint64_t& mine, uint64_t theirs) { mine += theirs; });
  codes.AddAll(o.codes);
}

void TrafficCounters::MaxWith(const TrafficCounters& o) {
  ForEachCounterPair(*this, o,
                     [](uint64_t& mine, uint64_t theirs) { mine = std::max(mine, theirs); });
  codes.MaxWith(o.codes);
}

bool TrafficCounters::operator==(const TrafficCounters& o) const {
  return ts == o.ts && packets == o.packets && frame_bytes == o.frame_bytes &&
         sip_bytes == o.sip_bytes && messages == o.messages && requests == o.requests &&
         responses == o.responses && methods == o.methods && classes == o.classes &&
         codes == o.codes && kernel_drops == o.kernel_drops &&
         interface_drops == o.interface_drops && in_messages == o.in_messages &&
         out_messages == o.out_messages && in_sip_bytes == o.in_sip_bytes &&
         out_sip_bytes == o.out_sip_bytes && tls_connections == o.tls_connections &&
         tls_bytes == o.tls_bytes;
}

void AppendCodesJson(const CodeCounts& codes, std::string* out) {
  std::array<CodeCounts::Entry, CodeCounts::kMaxCodes> sorted;
  size_t n = 0;
  for (const CodeCounts::Entry& e : codes) {
    if (e.count != 0) sorted[n++] = e;
  }
  std::sort(sorted.begin(), sorted.begin() + n,
            [](const CodeCounts::Entry& a, const CodeCounts::Entry& b) { return a.code < b.code; });
  out->push_back('{');
  char buf[48];
  for (size_t i = 0; i < n; ++i) {
    int len = std::snprintf(buf, sizeof buf, "%s\"%u\":%llu", i == 0 ? "" : ",",
                            static_cast<unsigned>(sorted[i].code),
                            static_cast<unsigned long long>(sorted[i].count));
    out->append(buf, static_cast<size_t>(len));
  }
  out->push_back('}');
}

bool ParseCodesJson(std::string_view json, CodeCounts* codes) {
  size_t i = 0;
  auto at = [&](char c) { return i < json.size() && json[i] == c; };
  auto number = [&](uint64_t* v) {
    size_t start = i;
    *v = 0;
    while (i < json.size() && json[i] >= '0' && json[i] <= '9' && i - start < 19) {
      *v = *v * 10 + static_cast<uint64_t>(json[i] - '0');
      ++i;
    }
    return i > start;
  };
  if (!at('{')) return false;
  ++i;
  if (at('}')) return i + 1 == json.size();
  for (;;) {
    uint64_t code = 0, count = 0;
    if (!at('"')) return false;
    ++i;
    if (!number(&code) || !at('"')) return false;
    ++i;
    if (!at(':')) return false;
    ++i;
    if (!number(&count)) return false;
    codes->Add(code > 999 ? 0 : static_cast<int>(code), count);
    if (at('}')) return i + 1 == json.size();
    if (!at(',')) return false;
    ++i;
  }
}

TrafficCounters* TrafficStats::SecondOf(int64_t second) {
  if (second > newest_) {
    if (newest_ != INT64_MIN) CloseBefore(second - kOpenSeconds + 1);
    newest_ = second;
  }
  if (second < closed_below_) return nullptr;  // already handed to the sink
  size_t slot = Slot(second);
  if (!open_[slot]) {
    open_[slot] = true;
    seconds_[slot] = TrafficCounters();
    seconds_[slot].ts = second;
  }
  return &seconds_[slot];
}

void TrafficStats::CloseBefore(int64_t second) {
  // Oldest first, so the sink sees seconds in time order.
  closed_below_ = std::max(closed_below_, second);
  int64_t from = std::max(newest_ - kOpenSeconds + 1, INT64_MIN + kOpenSeconds);
  for (int64_t s = from; s <= newest_ && s < second; ++s) {
    size_t slot = Slot(s);
    if (!open_[slot] || seconds_[slot].ts != s) continue;
    open_[slot] = false;
    if (sink_ != nullptr) sink_->OnSecond(seconds_[slot]);
  }
}

void TrafficStats::OnMessage(TimestampNs ts, uint32_t frame_bytes,
                             const sip::SipMessage& message, Direction direction) {
  int64_t second = SecondOfTs(ts);
  if (!any_) {
    any_ = true;
    totals_.ts = second;
  }
  TrafficCounters* s = SecondOf(second);
  if (s == nullptr) {
    ++late_messages_;
    s = &totals_;
  }
  // Two passes at most: the open second, then the totals.
  for (TrafficCounters* c = s;; c = &totals_) {
    if (!frame_counted_) {
      ++c->packets;
      c->frame_bytes += frame_bytes;
    }
    c->sip_bytes += message.size;
    ++c->messages;
    if (direction == Direction::kIn) {
      ++c->in_messages;
      c->in_sip_bytes += message.size;
    } else if (direction == Direction::kOut) {
      ++c->out_messages;
      c->out_sip_bytes += message.size;
    }
    if (message.is_request) {
      ++c->requests;
      ++c->methods[MethodIndex(message.method)];
    } else {
      ++c->responses;
      int cls = message.status_code / 100;
      if (cls >= 1 && cls <= 6) ++c->classes[static_cast<size_t>(cls - 1)];
      c->codes.Add(message.status_code);
    }
    if (c == &totals_) break;
  }
  frame_counted_ = true;
}

void TrafficStats::AddDrops(TimestampNs ts, uint64_t kernel_drops, uint64_t interface_drops) {
  if (kernel_drops == 0 && interface_drops == 0) return;
  int64_t second = newest_ != INT64_MIN ? newest_ : SecondOfTs(ts);
  if (SecondOfTs(ts) > second) second = SecondOfTs(ts);
  if (!any_) {
    any_ = true;
    totals_.ts = second;
  }
  TrafficCounters* s = SecondOf(second);
  if (s != nullptr) {
    s->kernel_drops += kernel_drops;
    s->interface_drops += interface_drops;
  }
  totals_.kernel_drops += kernel_drops;
  totals_.interface_drops += interface_drops;
}

void TrafficStats::AddEncrypted(TimestampNs ts, uint64_t connections, uint64_t bytes) {
  if (connections == 0 && bytes == 0) return;
  // In the packet's own second, like a message; a second already closed
  // (a packet far out of order) counts in the totals only.
  const int64_t second = SecondOfTs(ts);
  if (!any_) {
    any_ = true;
    totals_.ts = second;
  }
  TrafficCounters* s = SecondOf(second);
  if (s != nullptr) {
    s->tls_connections += connections;
    s->tls_bytes += bytes;
  }
  totals_.tls_connections += connections;
  totals_.tls_bytes += bytes;
}

void TrafficStats::AdvanceTime(TimestampNs now) {
  if (newest_ == INT64_MIN) return;
  CloseBefore(SecondOfTs(now) - kOpenSeconds + 1);
}

void TrafficStats::Flush() {
  if (newest_ == INT64_MIN) return;
  CloseBefore(newest_ + 1);
}

}  // namespace sipman::stats

namespace sipman::stats {

void TrafficSummarizer::Extend(int64_t second) {
  if (!any_) {
    any_ = true;
    s_.first_second = s_.last_second = second;
    return;
  }
  s_.first_second = std::min(s_.first_second, second);
  s_.last_second = std::max(s_.last_second, second);
}

void TrafficSummarizer::Peak(RatePeak* r, uint64_t value, int64_t second) {
  if (value == 0) return;
  if (value > r->peak || (value == r->peak && second < r->peak_second)) {
    r->peak = value;
    r->peak_second = second;
  }
}

void TrafficSummarizer::AddSecond(const TrafficCounters& second) {
  if (second.Empty()) return;
  Extend(second.ts);
  s_.totals.AddAll(second);
  Peak(&s_.frame_bytes, second.frame_bytes, second.ts);
  Peak(&s_.messages, second.messages, second.ts);
}

void TrafficSummarizer::AddCalls(int64_t second, uint64_t calls) {
  if (calls == 0) return;
  Extend(second);
  s_.calls += calls;
  Peak(&s_.calls_per_second, calls, second);
}

TrafficSummary TrafficSummarizer::Summary() const {
  TrafficSummary s = s_;
  if (!any_) return TrafficSummary();
  s.span_seconds = s.last_second - s.first_second + 1;
  s.totals.ts = s.first_second;
  double span = static_cast<double>(s.span_seconds);
  s.frame_bytes.average = static_cast<double>(s.totals.frame_bytes) / span;
  s.messages.average = static_cast<double>(s.totals.messages) / span;
  s.calls_per_second.average = static_cast<double>(s.calls) / span;
  return s;
}

}  // namespace sipman::stats
