// The rule engine. Rules fed by the same events and grouped by the same key
// share one key table, so an event costs one key lookup per group, however
// many rules the group holds; each rule keeps its own window per key,
// indexed by the key's slot in the table.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "alerts/alerts.h"
#include "alerts/key_table.h"
#include "alerts/window.h"
#include "base/ascii.h"

namespace sipman::alerts {
namespace {

using internal::Histogram;
using internal::KeyTable;
using internal::Slot;
using internal::Sample;
using internal::NarrowWindow;
using internal::SlotArray;
using internal::WideWindow;
using internal::WindowHead;

constexpr size_t kEvidence = 5;  // items an alert carries at most

// What a message is, as far as the message rules tell messages apart. A
// group keeps, for each class, the rules that may take a sample from it, so
// a message visits only those: most rules want one method, or responses.
enum MessageClass : uint8_t {
  kInvite, kAck, kBye, kCancel, kRegister, kOptions,  // as kClassMethods
  kOtherRequest, kProvisional, kFinalToRegister, kFinal, kMalformed,
  kMessageClasses
};
constexpr std::string_view kClassMethods[] = {"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS"};

MessageClass ClassOf(const MessageEvent& m) {
  if (m.malformed) return kMalformed;
  if (!m.is_request) {
    if (m.status < 200) return kProvisional;
    return m.cseq_method == "REGISTER" ? kFinalToRegister : kFinal;
  }
  for (uint8_t i = 0; i < std::size(kClassMethods); ++i) {
    if (m.method == kClassMethods[i]) return static_cast<MessageClass>(i);
  }
  return kOtherRequest;
}

// False when `rule` never takes a sample from a message of class `c` (see
// Sample(); true when it may).
bool MayTake(const Rule& rule, MessageClass c) {
  if (c == kMalformed) return true;  // any field may be missing: ask Sample()
  const bool request = c <= kOtherRequest;
  switch (rule.metric) {
    case Metric::kRequestRate:
      if (!request) return false;
      for (const std::string& method : rule.methods) {
        const auto* known = std::find(std::begin(kClassMethods), std::end(kClassMethods), method);
        if (c == kOtherRequest ? known == std::end(kClassMethods) : method == kClassMethods[c]) return true;
      }
      return false;
    case Metric::kScanner: return request;
    case Metric::kNotFoundShare: return c == kFinal || c == kFinalToRegister;
    case Metric::kRegisterFailures: return c == kFinalToRegister;
    case Metric::kMalformed: return false;  // kMalformed only, above
    default: return true;
  }
}

// Everything an event offers the key extractors and the rules' samplers.
struct Context {
  Source source = Source::kMessage;
  TimestampNs ts = 0;
  IpAddress src_ip, dst_ip;  // requester, responder
  std::string_view sensor, caller, callee, callee_domain, call_id;
  const MessageEvent* message = nullptr;
  const calls::CallRecord* record = nullptr;
  const HealthEvent* health = nullptr;
  MessageClass message_class = kMalformed;
  const char* agent_matches = nullptr;  // messages: by agent list, the User-Agent matched
  bool call_end = false;  // gauge rules: a call ended (else started)
};

size_t AppendIp(const IpAddress& ip, std::string* out) {
  out->push_back(static_cast<char>(ip.family));
  out->append(reinterpret_cast<const char*>(ip.bytes), ip.is_v4() ? 4 : 16);
  return out->size();
}

bool HasOneWayAudio(std::string_view flags) {
  return flags.find("one_way") != std::string_view::npos ||
         flags.find("no_media") != std::string_view::npos;
}

bool NerCounts(const calls::CallRecord& r) {
  using calls::CallState;
  switch (r.state) {
    case CallState::kAnswered:
    case CallState::kBusy:
    case CallState::kNoAnswer:
    case CallState::kCancelled:
      return true;
    default:
      return r.final_status == 480 || r.final_status == 603 || r.final_status == 600;
  }
}

}  // namespace

struct RuleState;

// Rules fed by one source and grouped by one key.
struct Group {
  Source source;
  KeyKind by;
  int prefix_len;
  size_t max_keys = 0;
  std::vector<RuleState*> rules;
  std::unique_ptr<KeyTable> keys;
  // The rules in runs that share a sampler (`ordered`), and the runs an
  // event visits: all of them, the gauges (a call start group on a call's
  // end), or those a message class may feed. A sampler's rules agree on
  // both (the metric and its methods are part of the sampler).
  struct Run {
    uint32_t sampler;
    uint16_t first, count;  // in `ordered`
  };
  std::vector<RuleState*> ordered;
  std::vector<Run> all, gauges, by_class[kMessageClasses];

  std::vector<Slot>& slots() { return keys->slots(); }
};

// A rule's windows (and histograms) are indexed by its group's key slots,
// one array per rule: most events give a sample to few of a group's rules,
// and a rule's array takes memory only where its keys got one.
struct RuleState {
  Rule rule;
  const MetricInfo* info;
  Group* group = nullptr;
  size_t index = 0;  // among all rules: evidence is keyed by it
  TimestampNs bucket_ns = 0;
  size_t agent_list = 0;  // scanner rules: in the engine's agent_lists
  size_t sampler = 0;     // rules sampling alike share one (see Samplers())
  // Narrow windows (one cache line) where the rule's counts fit; else wide.
  bool wide = false;
  std::unique_ptr<SlotArray<NarrowWindow>> narrow_windows;
  std::unique_ptr<SlotArray<WideWindow>> wide_windows;
  std::unique_ptr<SlotArray<Histogram>> histograms;  // percentile rules

  WindowHead& head(uint32_t slot) const {
    if (wide) return (*wide_windows)[slot];
    return (*narrow_windows)[slot];
  }
  // nullptr when the slot's chunk was never touched (its window is empty).
  WindowHead* FindHead(uint32_t slot) const {
    if (wide) return wide_windows->Find(slot);
    return narrow_windows->Find(slot);
  }
  // Calls f with the window, narrow or wide.
  template <typename F>
  void With(uint32_t slot, F&& f) const {
    if (wide) {
      f((*wide_windows)[slot]);
    } else {
      f((*narrow_windows)[slot]);
    }
  }
  size_t window_bytes() const { return wide ? sizeof(WideWindow) : sizeof(NarrowWindow); }
  Histogram& histogram(uint32_t slot) const { return (*histograms)[slot]; }
  bool percentile() const { return info->value == ValueKind::kPercentile; }
};

// Narrow windows hold 65,535 per bucket. Means sum values, percentiles
// and differences count without bound; a count or rate takes a narrow
// window only when a single bucket could hold its threshold four times.
bool NeedsWideWindow(const RuleState& r) {
  // Health counts arrive many at once, and their keys are few.
  if (r.info->source == Source::kHealth) return true;
  switch (r.info->value) {
    case ValueKind::kRatio: {
      // A full bucket keeps its first 65,535 samples: fine for one user's
      // or address's calls over minutes, not for a long window, a rule
      // needing many samples, or a key that gathers a whole network.
      const KeyKind by = r.rule.by;
      const bool aggregate = by == KeyKind::kAll || by == KeyKind::kSensor || by == KeyKind::kCalleeDomain;
      return aggregate || r.rule.min_samples > 16383 || r.rule.window_s > 600;
    }
    case ValueKind::kGauge:
    case ValueKind::kSilence:
      return false;
    case ValueKind::kCount:
      return r.rule.fire > 16383;
    case ValueKind::kRate:
      return r.rule.fire * static_cast<double>(r.rule.window_s) > 16383;
    default:
      return true;
  }
}

// Gives each rule its sampler: rules whose Sample() would give every event
// the same answer share one. Returns how many there are.
size_t AssignSamplers(const std::vector<std::unique_ptr<RuleState>>& rules) {
  std::vector<std::string> signatures;
  for (const auto& r : rules) {
    const Rule& rule = r->rule;
    std::string sig = std::to_string(static_cast<int>(rule.metric));
    auto add = [&sig](std::string_view part) {
      sig += '\x1f';
      sig += part;
    };
    // Each metric's parameters that Sample() reads.
    switch (rule.metric) {
      case Metric::kPddP95:
      case Metric::kMos:
      case Metric::kLoss:
        add(std::to_string(std::bit_cast<uint64_t>(rule.fire)));  // `bad` compares with it
        break;
      case Metric::kStatusShare: add(std::to_string(rule.status)); break;
      case Metric::kShortCalls: add(std::to_string(rule.max_duration_s)); break;
      case Metric::kRequestRate:
        for (const std::string& m : rule.methods) add(m);
        break;
      case Metric::kScanner: add(std::to_string(r->agent_list)); break;
      case Metric::kPrefixCalls:
        for (const std::string& p : rule.prefixes) add(p);
        break;
      case Metric::kOffHoursCalls:
        add(std::to_string(rule.hours_from_min));
        add(std::to_string(rule.hours_to_min));
        add(std::to_string(rule.utc_offset_min));
        break;
      default: break;
    }
    // A call's end reaches start rules only when they are gauges: a gauge
    // and another rule never share.
    const auto same = std::find(signatures.begin(), signatures.end(), sig);
    r->sampler = static_cast<size_t>(same - signatures.begin());
    if (same == signatures.end()) signatures.push_back(std::move(sig));
  }
  return signatures.size();
}

struct Firing {
  RuleState* rule;
  uint32_t slot;
  Alert alert;
};

class Engine::Impl {
 public:
  Impl(std::vector<Rule> rules, AlertSink* sink, EngineCounters* counters);

  void Feed(Context& ctx);
  void MatchAgents(const MessageEvent& e);
  void Tick(TimestampNs now);
  std::vector<RuleStatus> Statuses(TimestampNs now);

  std::vector<Rule> rules_copy;
  std::vector<std::unique_ptr<RuleState>> rules;
  std::vector<std::unique_ptr<Group>> groups;
  // The groups an event of each source visits: a call's end also visits
  // the call start groups that hold gauges.
  std::vector<Group*> groups_of[static_cast<int>(Source::kHealth) + 1];
  std::vector<Firing> firing;
  TimestampNs last_tick_s = 0;
  // The scanner rules' distinct User-Agent lists (most rules share the
  // built-in one): a message's User-Agent is searched once per list.
  std::vector<const std::vector<std::string>*> agent_lists;
  std::string user_agent_lower;  // the message's
  const char* agent_matches = nullptr;  // by agent list: the message's User-Agent matched
  struct AgentCacheEntry {
    std::string user_agent;
    std::vector<char> matches;  // by agent list; empty: unused entry
  };
  std::array<AgentCacheEntry, 16> agent_cache_;
  std::vector<char> no_agent_matches_;  // all 0
  // Evidence of the keys near firing, by rule index << 32 | slot: few.
  std::unordered_map<uint64_t, std::vector<std::string>> evidence;

 private:
  bool AppendKey(const Group& g, const Context& ctx, std::string* keys) const;
  uint32_t Touch(Group& g, std::string_view key, uint64_t hash, const Context& ctx);
  void Update(Group& g, const std::vector<Group::Run>& visit, uint32_t slot, const Context& ctx);
  struct BucketCache {
    TimestampNs ns = 0;
    int64_t bucket = 0;
    int64_t Of(TimestampNs bucket_ns, TimestampNs ts);
  };
  void UpdateRule(RuleState& r, uint32_t slot, uint32_t generation, const internal::Sample& sample,
                  const Context& ctx, BucketCache* buckets);
  bool Sample(const RuleState& r, const Context& ctx, internal::Sample* s) const;
  double Value(const RuleState& r, uint32_t slot, TimestampNs now, bool* enough, bool* empty);
  void Evaluate(RuleState& r, uint32_t slot, TimestampNs now, std::string_view sensor);
  void Judge(RuleState& r, uint32_t slot, TimestampNs now, std::string_view sensor);
  void Fire(RuleState& r, uint32_t slot, TimestampNs now, double value, std::string_view sensor);
  void Resolve(size_t firing_index, TimestampNs now, double value);
  void AddEvidence(RuleState& r, uint32_t slot, const Context& ctx);
  bool NearFiring(RuleState& r, uint32_t slot, TimestampNs now);
  std::string KeyText(const Group& g, const Slot& slot) const;

  AlertSink* sink_;
  EngineCounters* counters_;
  // One event's groups that got a sample, with their keys (in keys_).
  struct Pending {
    Group* group;
    const std::vector<Group::Run>* visit;
    uint64_t hash;
    size_t key_begin, key_size;
    uint32_t slot;
  };
  std::vector<Pending> pending_;
  std::string keys_;
  std::string item_;
  // By sampler: this event's sample, whether it gave one, and the event
  // (epoch) they belong to: rules that sample alike (the ASR of five key
  // kinds) sample once per event.
  std::vector<internal::Sample> samples_;
  std::vector<char> sampled_;
  std::vector<uint64_t> sample_epoch_;
  uint64_t epoch_ = 0;

  static uint64_t EvidenceKey(const RuleState& r, uint32_t slot) {
    return static_cast<uint64_t>(r.index) << 32 | slot;
  }
};

Engine::Impl::Impl(std::vector<Rule> in, AlertSink* sink, EngineCounters* counters)
    : rules_copy(in), sink_(sink), counters_(counters) {
  for (Rule& rule : in) {
    auto r = std::make_unique<RuleState>();
    r->info = &InfoOf(rule.metric);
    r->bucket_ns = std::max<TimestampNs>(1, rule.window_s * kNsPerSecond / internal::kBuckets);
    // Silence is kept per sensor from the messages; gauges from starts and ends.
    Source source = r->info->source;
    if (rule.metric == Metric::kSensorSilent) source = Source::kMessage;
    const int prefix_len = rule.by == KeyKind::kCalleePrefix ? rule.prefix_len : 0;
    Group* group = nullptr;
    for (auto& g : groups) {
      if (g->source == source && g->by == rule.by && g->prefix_len == prefix_len) group = g.get();
    }
    if (group == nullptr) {
      groups.push_back(std::make_unique<Group>());
      group = groups.back().get();
      group->source = source;
      group->by = rule.by;
      group->prefix_len = prefix_len;
    }
    group->max_keys = std::max(group->max_keys, rule.max_keys);
    r->group = group;
    r->index = rules.size();
    group->rules.push_back(r.get());
    r->rule = std::move(rule);
    rules.push_back(std::move(r));
  }
  for (auto& r : rules) {
    if (r->rule.metric != Metric::kScanner) continue;
    auto same = std::find_if(agent_lists.begin(), agent_lists.end(),
                             [&](const auto* list) { return *list == r->rule.user_agents; });
    r->agent_list = static_cast<size_t>(same - agent_lists.begin());
    if (same == agent_lists.end()) agent_lists.push_back(&r->rule.user_agents);
  }
  no_agent_matches_.assign(agent_lists.size() + 1, 0);
  const size_t samplers = AssignSamplers(rules);
  samples_.resize(samplers);
  sampled_.resize(samplers);
  sample_epoch_.assign(samplers, UINT64_MAX);
  for (auto& g : groups) {
    g->keys = std::make_unique<KeyTable>(g->max_keys);
    // Room for the keys up front, so that growing never copies them all,
    // up to 128 Ki keys.
    g->keys->slots().reserve(std::min<size_t>(g->max_keys, size_t{1} << 17));
  }
  for (auto& g : groups) {
    g->ordered = g->rules;
    std::stable_sort(g->ordered.begin(), g->ordered.end(),
                     [](const RuleState* a, const RuleState* b) { return a->sampler < b->sampler; });
    for (uint16_t i = 0; i < g->ordered.size();) {
      const RuleState& r = *g->ordered[i];
      uint16_t n = 1;
      while (i + n < g->ordered.size() && g->ordered[i + n]->sampler == r.sampler) ++n;
      const Group::Run run{static_cast<uint32_t>(r.sampler), i, n};
      g->all.push_back(run);
      if (r.info->value == ValueKind::kGauge) g->gauges.push_back(run);
      for (uint8_t c = 0; c < kMessageClasses; ++c) {
        if (MayTake(r.rule, static_cast<MessageClass>(c))) g->by_class[c].push_back(run);
      }
      i = static_cast<uint16_t>(i + n);
    }
    for (RuleState* r : g->rules) {
      r->wide = NeedsWideWindow(*r);
      if (r->wide) {
        r->wide_windows = std::make_unique<SlotArray<WideWindow>>(g->max_keys);
      } else {
        r->narrow_windows = std::make_unique<SlotArray<NarrowWindow>>(g->max_keys);
      }
      if (r->percentile()) r->histograms = std::make_unique<SlotArray<Histogram>>(g->max_keys);
    }
  }
  for (auto& g : groups) {
    groups_of[static_cast<int>(g->source)].push_back(g.get());
    if (g->source == Source::kCallStart && !g->gauges.empty()) {
      groups_of[static_cast<int>(Source::kCallEnd)].push_back(g.get());
    }
  }
}

// Appends the event's key in group `g` to *keys; false when the event has
// none (an empty user, say).
bool Engine::Impl::AppendKey(const Group& g, const Context& ctx, std::string* keys) const {
  const size_t begin = keys->size();
  switch (g.by) {
    case KeyKind::kAll: keys->push_back('*'); return true;
    case KeyKind::kSrcIp: return AppendIp(ctx.src_ip, keys) > begin + 1;
    case KeyKind::kDstIp: return AppendIp(ctx.dst_ip, keys) > begin + 1;
    case KeyKind::kIpPair: AppendIp(ctx.src_ip, keys); return AppendIp(ctx.dst_ip, keys) > begin + 2;
    case KeyKind::kSensor: keys->append(ctx.sensor); break;
    case KeyKind::kCaller: keys->append(ctx.caller); break;
    case KeyKind::kCallee: keys->append(ctx.callee); break;
    case KeyKind::kCalleeDomain: keys->append(ctx.callee_domain); break;
    case KeyKind::kCalleePrefix:
      keys->append(ctx.callee.substr(0, static_cast<size_t>(g.prefix_len)));
      break;
  }
  return keys->size() > begin;
}

std::string Engine::Impl::KeyText(const Group& g, const Slot& slot) const {
  switch (g.by) {
    case KeyKind::kAll: return "all";
    case KeyKind::kSrcIp:
    case KeyKind::kDstIp: return slot.address.ToString();
    case KeyKind::kIpPair: return slot.address.ToString() + " > " + slot.address2.ToString();
    default: return slot.key;
  }
}

// The slot of `key`; a new key takes a new slot, or, when the group holds
// max_keys, the least recently used of a few sampled ones (a firing one only
// when all sampled are firing: its alerts resolve, counted).
uint32_t Engine::Impl::Touch(Group& g, std::string_view key, uint64_t hash, const Context& ctx) {
  KeyTable& keys = *g.keys;
  uint32_t i = keys.Find(key, hash);
  const uint32_t now_s = static_cast<uint32_t>(ctx.ts / kNsPerSecond);
  if (i != KeyTable::kNotFound) {
    keys.slots()[i].last_used = now_s;
    return i;
  }
  if (!keys.full()) {
    i = keys.Add(key, hash);
  } else {
    i = keys.Victim();
    if (keys.slots()[i].firing > 0) {
      for (size_t f = firing.size(); f-- > 0;) {
        if (f < firing.size() && firing[f].rule->group == &g && firing[f].slot == i) {
          ++counters_->firing_evicted;
          Resolve(f, ctx.ts, firing[f].alert.value);
        }
      }
    }
    keys.Reuse(i, key, hash);
    ++counters_->keys_evicted;
  }
  Slot& s = keys.slots()[i];
  s.address = g.by == KeyKind::kDstIp ? ctx.dst_ip : ctx.src_ip;
  s.address2 = ctx.dst_ip;
  s.last_used = now_s;
  return i;
}

bool Engine::Impl::Sample(const RuleState& r, const Context& ctx, internal::Sample* s) const {
  const Rule& rule = r.rule;
  const calls::CallRecord* c = ctx.record;
  const MessageEvent* m = ctx.message;
  *s = internal::Sample{};
  switch (rule.metric) {
    case Metric::kAsr:
      if (c->state == calls::CallState::kInProgress) return false;
      s->samples = 1;
      s->hits = c->state == calls::CallState::kAnswered;
      s->bad = s->hits == 0;
      return true;
    case Metric::kNer:
      if (c->state == calls::CallState::kInProgress) return false;
      s->samples = 1;
      s->hits = NerCounts(*c);
      s->bad = s->hits == 0;
      return true;
    case Metric::kPddP95:
      if (c->post_dial_delay_ms < 0) return false;
      s->samples = 1;
      s->bin = internal::PercentileBin(c->post_dial_delay_ms);
      s->bad = static_cast<double>(c->post_dial_delay_ms) >= rule.fire;
      return true;
    case Metric::kStatusShare:
      if (c->state == calls::CallState::kInProgress) return false;
      s->samples = 1;
      s->hits = c->final_status == rule.status;
      s->bad = s->hits != 0;
      return true;
    case Metric::kMos:
      if (c->mos_min < 0) return false;
      s->samples = 1;
      s->hits = std::llround(c->mos_min * 1000);
      s->bad = c->mos_min <= rule.fire;
      return true;
    case Metric::kLoss: {
      if (c->caller_rtp_packets <= 0 && c->callee_rtp_packets <= 0) return false;
      const double loss = std::max(c->caller_rtp_loss_pct, c->callee_rtp_loss_pct);
      s->samples = 1;
      s->hits = std::llround(std::max(0.0, loss) * 1000);
      s->bad = loss >= rule.fire;
      return true;
    }
    case Metric::kOneWayShare:
      if (c->state != calls::CallState::kAnswered ||
          (c->rtp_streams == 0 && c->media_flags.find("no_media") == std::string::npos)) {
        return false;
      }
      s->samples = 1;
      s->hits = HasOneWayAudio(c->media_flags);
      s->bad = s->hits != 0;
      return true;
    case Metric::kShortCalls: {
      const bool answered_short = c->state == calls::CallState::kAnswered && c->bye_ts > 0 &&
                                  c->duration_ms < rule.max_duration_s * 1000;
      const bool cancelled_short = c->state == calls::CallState::kCancelled && c->end_ts > 0 &&
                                   c->end_ts - c->invite_ts < rule.max_duration_s * kNsPerSecond;
      if (!answered_short && !cancelled_short) return false;
      s->hits = 1;
      s->bad = true;
      return true;
    }
    case Metric::kRegisterFailures:
      // Credentials refused. A plain challenge is not a failure: every
      // phone gets one, and during a registration storm many answers to
      // challenges are on their way at once.
      if (m->is_request || m->cseq_method != "REGISTER") return false;
      if (m->to_credentials && (m->status == 401 || m->status == 403 || m->status == 407)) {
        s->hits = 1;
        s->bad = true;
        return true;
      }
      if (m->status >= 200 && m->status < 300) {
        s->samples = 1;
        return true;
      }
      return false;
    case Metric::kRequestRate:
      if (!m->is_request) return false;
      if (ctx.message_class < kOtherRequest) {  // a method MayTake() matched
        s->hits = 1;
        s->bad = true;
        return true;
      }
      for (const std::string& method : rule.methods) {
        if (m->method == method) {
          s->hits = 1;
          s->bad = true;
          return true;
        }
      }
      return false;
    case Metric::kNotFoundShare:
      if (m->is_request || m->status < 200) return false;
      s->samples = 1;
      s->hits = m->status == 404;
      s->bad = s->hits != 0;
      return true;
    case Metric::kScanner:
      if (!m->is_request || !ctx.agent_matches[r.agent_list]) return false;
      s->hits = 1;
      s->bad = true;
      return true;
    case Metric::kMalformed:
      if (!m->malformed) return false;
      s->hits = 1;
      s->bad = true;
      return true;
    case Metric::kConcurrentCalls:
      if (ctx.call_end && ctx.record->state == calls::CallState::kInProgress) return false;
      s->hits = ctx.call_end ? -1 : 1;
      s->bad = !ctx.call_end;
      return true;
    case Metric::kPrefixCalls: {
      std::string_view callee = ctx.callee;
      for (const std::string& p : rule.prefixes) {
        std::string_view bare = p;
        if (callee.starts_with(p) || (bare.starts_with('+') && callee.starts_with("00") &&
                                      callee.substr(2).starts_with(bare.substr(1)))) {
          s->hits = 1;
          s->bad = true;
          return true;
        }
      }
      return false;
    }
    case Metric::kOffHoursCalls: {
      const int64_t minute_of_day =
          ((ctx.ts / (60 * kNsPerSecond) + rule.utc_offset_min) % 1440 + 1440) % 1440;
      const int from = rule.hours_from_min, to = rule.hours_to_min;
      const bool allowed = from < to ? (minute_of_day >= from && minute_of_day < to)
                                     : (minute_of_day >= from || minute_of_day < to);
      if (allowed) return false;
      s->hits = 1;
      s->bad = true;
      return true;
    }
    case Metric::kKernelDrops:
      if (ctx.health->kernel_drops == 0) return false;
      s->hits = static_cast<int64_t>(ctx.health->kernel_drops);
      s->bad = true;
      return true;
    case Metric::kStoreSpill:
      if (ctx.health->spilled_rows == 0) return false;
      s->hits = static_cast<int64_t>(ctx.health->spilled_rows);
      s->bad = true;
      return true;
    case Metric::kSensorSilent:
      return true;  // every message: the sensor is heard
  }
  return false;
}

double Engine::Impl::Value(const RuleState& r, uint32_t slot, TimestampNs now, bool* enough,
                           bool* empty) {
  int64_t hits = 0, samples = 0;
  r.With(slot, [&](const auto& w) {
    hits = w.hits_sum;
    samples = w.samples_sum;
  });
  const WindowHead& w = r.head(slot);
  *empty = hits == 0 && samples == 0;
  *enough = samples >= r.rule.min_samples;
  switch (r.info->value) {
    case ValueKind::kRatio:
      return samples > 0 ? 100.0 * static_cast<double>(hits) / static_cast<double>(samples) : 0;
    case ValueKind::kMean:
      return samples > 0 ? static_cast<double>(hits) / static_cast<double>(samples) / 1000 : 0;
    case ValueKind::kPercentile:
      return samples > 0 ? r.histogram(slot).P95(samples) : 0;
    case ValueKind::kCount:
      *enough = true;
      return static_cast<double>(hits);
    case ValueKind::kRate:
      *enough = true;
      return static_cast<double>(hits) / static_cast<double>(r.rule.window_s);
    case ValueKind::kDifference:
      *enough = true;
      return static_cast<double>(std::max<int64_t>(0, hits - samples));
    case ValueKind::kGauge:
      *enough = true;
      *empty = hits <= 0;
      return static_cast<double>(std::max<int64_t>(0, hits));
    case ValueKind::kSilence:
      *enough = true;
      *empty = false;
      return static_cast<double>(std::max<TimestampNs>(0, now - w.last_ts()) / kNsPerSecond);
  }
  return 0;
}

// Whether a key's value is close enough to its threshold for the samples
// that push it there to be kept as evidence: firing, or half-way there with
// half the samples. Most keys never come close, and keep none.
bool Engine::Impl::NearFiring(RuleState& r, uint32_t slot, TimestampNs now) {
  if (r.head(slot).is_firing()) return true;
  const ValueKind kind = r.info->value;
  const bool sampled = kind == ValueKind::kRatio || kind == ValueKind::kMean || kind == ValueKind::kPercentile;
  int64_t samples = 0;
  r.With(slot, [&](const auto& w) { samples = w.samples_sum; });
  if (sampled && samples * 2 < r.rule.min_samples) return false;
  bool enough = false, empty = false;
  const double value = Value(r, slot, now, &enough, &empty);
  if (r.info->direction == Direction::kAbove) return value >= r.rule.fire * 0.5;
  const double hi = r.info->value == ValueKind::kRatio ? 100 : r.rule.metric == Metric::kMos ? 5 : r.rule.fire * 2;
  return value <= r.rule.fire + (hi - r.rule.fire) * 0.5;
}

void Engine::Impl::Evaluate(RuleState& r, uint32_t slot, TimestampNs now, std::string_view sensor) {
  if (r.info->value != ValueKind::kGauge && r.info->value != ValueKind::kSilence) {
    r.With(slot, [&](auto& w) { w.Slide(now / r.bucket_ns); });
    if (r.percentile()) r.histogram(slot).Slide(now / r.bucket_ns);
  }
  Judge(r, slot, now, sensor);
}

// Fires or resolves on the window as it stands (slid to `now`).
void Engine::Impl::Judge(RuleState& r, uint32_t slot, TimestampNs now, std::string_view sensor) {
  const WindowHead& w = r.head(slot);
  bool enough = false, empty = false;
  const double value = Value(r, slot, now, &enough, &empty);
  const bool above = r.info->direction == Direction::kAbove;
  if (!w.is_firing()) {
    if (enough && !empty && (above ? value >= r.rule.fire : value <= r.rule.fire)) {
      Fire(r, slot, now, value, sensor);
    }
  } else if (empty || (enough && (above ? value <= r.rule.resolve : value >= r.rule.resolve))) {
    Resolve(w.firing_index(), now, value);
  }
}

void Engine::Impl::Fire(RuleState& r, uint32_t slot, TimestampNs now, double value,
                        std::string_view sensor) {
  Group& g = *r.group;
  Firing f{&r, slot, {}};
  Alert& a = f.alert;
  a.rule = r.rule.name;
  a.metric = r.rule.metric;
  a.by = r.rule.by;
  a.key = KeyText(g, g.slots()[slot]);
  a.severity = r.rule.severity;
  a.firing = true;
  a.fired_at = now;
  a.value = value;
  a.threshold = r.rule.fire;
  a.resolve_threshold = r.rule.resolve;
  if (auto e = evidence.find(EvidenceKey(r, slot)); e != evidence.end()) a.evidence = e->second;
  a.sensor.assign(sensor);
  a.action = r.rule.action;
  if (g.by == KeyKind::kSrcIp || g.by == KeyKind::kDstIp) a.address = g.slots()[slot].address;
  r.head(slot).set_firing(firing.size());
  ++g.slots()[slot].firing;
  ++counters_->fired;
  firing.push_back(std::move(f));
  sink_->OnAlert(firing.back().alert);
}

void Engine::Impl::Resolve(size_t index, TimestampNs now, double value) {
  Firing& f = firing[index];
  f.alert.firing = false;
  f.alert.resolved_at = now;
  f.alert.resolved_value = value;
  ++counters_->resolved;
  sink_->OnAlert(f.alert);
  f.rule->head(f.slot).clear_firing();
  if (!evidence.empty()) evidence.erase(EvidenceKey(*f.rule, f.slot));
  --f.rule->group->slots()[f.slot].firing;
  if (index != firing.size() - 1) {
    firing[index] = std::move(firing.back());
    firing[index].rule->head(firing[index].slot).set_firing(index);
  }
  firing.pop_back();
}

void Engine::Impl::AddEvidence(RuleState& r, uint32_t slot, const Context& ctx) {
  const KeyKind by = r.group->by;
  const bool by_address = by == KeyKind::kSrcIp || by == KeyKind::kDstIp || by == KeyKind::kIpPair;
  if (ctx.source == Source::kHealth) return;
  if (ctx.source == Source::kMessage && !by_address) {
    char ip[46];
    item_.assign(ip, ctx.src_ip.Format(ip));
  } else if (!ctx.call_id.empty()) {
    item_.assign(ctx.call_id);
  } else {
    return;
  }
  std::vector<std::string>& list = evidence[EvidenceKey(r, slot)];
  if (std::find(list.begin(), list.end(), item_) != list.end()) return;
  if (list.size() < kEvidence) {
    list.push_back(item_);
  } else {
    // The oldest item's string is reused for the newest: no allocation
    // once the list is full.
    std::rotate(list.begin(), list.begin() + 1, list.end());
    list.back().assign(item_);
  }
}

// Whether a request's User-Agent holds one of each list's needles (lower
// case: the User-Agent is made so once).
void Engine::Impl::MatchAgents(const MessageEvent& e) {
  if (!e.is_request || e.user_agent.empty() || agent_lists.empty()) {
    agent_matches = no_agent_matches_.data();
    return;
  }
  // A network has few User-Agents, each in many requests: the answers of
  // the last few are kept.
  AgentCacheEntry& entry = agent_cache_[KeyTable::Hash(e.user_agent) % agent_cache_.size()];
  if (entry.matches.empty() || entry.user_agent != e.user_agent) {
    entry.user_agent.assign(e.user_agent);
    entry.matches.assign(agent_lists.size(), 0);
    user_agent_lower.assign(e.user_agent);
    for (char& c : user_agent_lower) c = AsciiLower(c);
    for (size_t i = 0; i < agent_lists.size(); ++i) {
      for (const std::string& needle : *agent_lists[i]) {
        if (user_agent_lower.find(needle) != std::string::npos) {
          entry.matches[i] = 1;
          break;
        }
      }
    }
  }
  agent_matches = entry.matches.data();
}

// In passes over the groups, so that the cache misses of their key lookups
// and windows overlap instead of coming one after another: sample and hash
// (fetching each key's index entry), fetch the slots the entries name, find
// the keys (fetching the windows to be updated), update.
void Engine::Impl::Feed(Context& ctx) {
  // A time before 1970 (a damaged capture) has no bucket: not measured.
  if (ctx.ts <= 0) return;
  pending_.clear();
  keys_.clear();
  ++epoch_;
  for (Group* gp : groups_of[static_cast<int>(ctx.source)]) {
    Group& g = *gp;
    const bool gauge_end = g.source != ctx.source;
    const std::vector<Group::Run>& visit = ctx.source == Source::kMessage ? g.by_class[ctx.message_class]
                                           : gauge_end                  ? g.gauges
                                                                        : g.all;
    // Sample first: most events concern none of a group's rules.
    bool any = false;
    for (const Group::Run& run : visit) {
      if (sample_epoch_[run.sampler] != epoch_) {
        sample_epoch_[run.sampler] = epoch_;
        sampled_[run.sampler] = Sample(*g.ordered[run.first], ctx, &samples_[run.sampler]);
      }
      any = any || sampled_[run.sampler];
    }
    const size_t begin = keys_.size();
    if (!any || !AppendKey(g, ctx, &keys_)) {
      keys_.resize(begin);
      continue;
    }
    const size_t size = keys_.size() - begin;
    const uint64_t hash = KeyTable::Hash(std::string_view(keys_).substr(begin, size));
    g.keys->Prefetch(hash);
    pending_.push_back({&g, &visit, hash, begin, size, 0});
  }
  for (const Pending& p : pending_) p.group->keys->PrefetchSlot(p.hash);
  for (Pending& p : pending_) {
    p.slot = Touch(*p.group, std::string_view(keys_).substr(p.key_begin, p.key_size), p.hash, ctx);
    for (const Group::Run& run : *p.visit) {
      if (!sampled_[run.sampler]) continue;
      for (uint16_t i = run.first; i < run.first + run.count; ++i) {
        const RuleState& r = *p.group->ordered[i];
        const char* w = reinterpret_cast<const char*>(&r.head(p.slot));
        __builtin_prefetch(w, 1);
        if (r.wide) __builtin_prefetch(w + r.window_bytes() - 1, 1);
      }
    }
  }
  for (const Pending& p : pending_) Update(*p.group, *p.visit, p.slot, ctx);
}

void Engine::Impl::Update(Group& g, const std::vector<Group::Run>& visit, uint32_t slot, const Context& ctx) {
  const uint32_t generation = g.slots()[slot].generation;
  BucketCache buckets;
  for (const Group::Run& run : visit) {
    if (!sampled_[run.sampler]) continue;
    const internal::Sample& sample = samples_[run.sampler];
    for (uint16_t i = run.first; i < run.first + run.count; ++i) {
      UpdateRule(*g.ordered[i], slot, generation, sample, ctx, &buckets);
    }
  }
}

// Rules of a group mostly share their window length: one division for them.
int64_t Engine::Impl::BucketCache::Of(TimestampNs bucket_ns, TimestampNs ts) {
  if (bucket_ns != ns) {
    ns = bucket_ns;
    bucket = ts / bucket_ns;
  }
  return bucket;
}

void Engine::Impl::UpdateRule(RuleState& r, uint32_t slot, uint32_t generation, const internal::Sample& sample,
                              const Context& ctx, BucketCache* buckets) {
  const int64_t bucket = buckets->Of(r.bucket_ns, ctx.ts);
  r.With(slot, [&](auto& w) {
    if (w.generation != generation) {  // the slot took another key
      w = std::remove_reference_t<decltype(w)>{};
      w.generation = generation;
      if (r.percentile()) r.histogram(slot) = Histogram{};
      if (!evidence.empty()) evidence.erase(EvidenceKey(r, slot));
    }
    switch (r.info->value) {
      case ValueKind::kGauge:
        w.hits_sum = static_cast<decltype(w.hits_sum)>(std::max<int64_t>(0, w.hits_sum + sample.hits));
        break;
      case ValueKind::kSilence:
        w.last_ts() = std::max(w.last_ts(), ctx.ts);
        break;
      default:
        w.Slide(bucket);
        w.Add(bucket, sample);
        if (sample.bin >= 0) {
          r.histogram(slot).Slide(bucket);
          r.histogram(slot).Add(bucket, sample.bin);
        }
    }
  });
  const WindowHead& w = r.head(slot);
  // A firing alert's evidence was taken when it fired; the next episode
  // gathers its own (Resolve() drops it).
  if (sample.bad && !w.is_firing() && NearFiring(r, slot, ctx.ts)) AddEvidence(r, slot, ctx);
  if (r.info->value != ValueKind::kSilence || w.is_firing()) Judge(r, slot, ctx.ts, ctx.sensor);
}

// Once per second of capture time. Between events a window changes only
// when one of its buckets expires, and a sensor's silence only grows: a
// firing alert is looked at on each bucket boundary passed since the last
// tick, a silent sensor at the moment its silence reaches the threshold,
// both rounded up to the whole second. So an alert fires and resolves at the
// same second whether the capture is read live (a tick every second) or
// from a file (ticks only as packets come, however far apart).
void Engine::Impl::Tick(TimestampNs now) {
  if (now <= 0) return;
  const TimestampNs second = now / kNsPerSecond;
  if (last_tick_s == 0) {
    last_tick_s = second;
    return;
  }
  if (second <= last_tick_s) return;
  const TimestampNs done_until = last_tick_s * kNsPerSecond;  // evaluated up to here
  last_tick_s = second;
  const TimestampNs until = second * kNsPerSecond;
  auto ceil_second = [](TimestampNs t) {
    return (t + kNsPerSecond - 1) / kNsPerSecond * kNsPerSecond;
  };
  for (size_t f = firing.size(); f-- > 0;) {
    RuleState& r = *firing[f].rule;
    if (r.info->value == ValueKind::kGauge || r.info->value == ValueKind::kSilence) continue;
    const uint32_t slot = firing[f].slot;
    for (int64_t b = r.head(slot).next, n = 0; n <= internal::kBuckets; ++b, ++n) {
      const TimestampNs t = ceil_second(b * r.bucket_ns);
      if (t > until) break;
      if (t <= done_until) continue;
      Evaluate(r, slot, t, firing[f].alert.sensor);
      if (f >= firing.size() || firing[f].rule != &r || firing[f].slot != slot) break;  // resolved
    }
  }
  for (auto& r : rules) {
    if (r->info->value != ValueKind::kSilence) continue;
    for (uint32_t slot = 0; slot < r->group->slots().size(); ++slot) {
      const WindowHead* w = r->FindHead(slot);
      if (w == nullptr || w->generation != r->group->slots()[slot].generation || w->last_ts() <= 0 ||
          w->is_firing()) {
        continue;
      }
      // fire is at most 1e12 s: in double, then capped, no overflow.
      const double due = static_cast<double>(w->last_ts()) + r->rule.fire * 1e9;
      const TimestampNs t =
          due > static_cast<double>(until) ? until + 1 : ceil_second(static_cast<TimestampNs>(due));
      if (t <= until) Evaluate(*r, slot, std::max(t, done_until), r->group->slots()[slot].key);
    }
  }
}

std::vector<RuleStatus> Engine::Impl::Statuses(TimestampNs now) {
  std::vector<RuleStatus> out;
  for (auto& rp : rules) {
    RuleState& r = *rp;
    RuleStatus st;
    st.rule = &r.rule;
    st.keys = r.group->keys->size();
    const bool above = r.info->direction == Direction::kAbove;
    for (uint32_t slot = 0; slot < r.group->slots().size(); ++slot) {
      const WindowHead* w = r.FindHead(slot);
      if (w == nullptr || w->generation != r.group->slots()[slot].generation) continue;
      if (r.info->value == ValueKind::kSilence && w->last_ts() <= 0) continue;  // never heard
      if (w->is_firing()) ++st.firing;
      if (r.info->value != ValueKind::kGauge && r.info->value != ValueKind::kSilence) {
        r.With(slot, [&](auto& window) { window.Slide(now / r.bucket_ns); });
        if (r.percentile()) r.histogram(slot).Slide(now / r.bucket_ns);
      }
      bool enough = false, empty = false;
      const double v = Value(r, slot, now, &enough, &empty);
      if (!enough || empty) continue;
      if (!st.has_value || (above ? v > st.worst_value : v < st.worst_value)) {
        st.has_value = true;
        st.worst_value = v;
        st.worst_key = KeyText(*r.group, r.group->slots()[slot]);
      }
    }
    out.push_back(std::move(st));
  }
  return out;
}

Engine::Engine(std::vector<Rule> rules, AlertSink* sink)
    : impl_(std::make_unique<Impl>(std::move(rules), sink, &counters_)) {}
Engine::~Engine() = default;

void Engine::OnMessage(const MessageEvent& e) {
  ++counters_.events;
  Context ctx;
  ctx.source = Source::kMessage;
  ctx.ts = e.ts;
  ctx.message = &e;
  // A response is keyed by its request's sender: the response's destination.
  ctx.src_ip = e.is_request ? e.src_ip : e.dst_ip;
  ctx.dst_ip = e.is_request ? e.dst_ip : e.src_ip;
  ctx.sensor = e.sensor;
  ctx.caller = e.from_user;
  ctx.callee = !e.ruri_user.empty() ? e.ruri_user : e.to_user;
  ctx.callee_domain = e.to_domain;
  ctx.call_id = e.call_id;
  ctx.message_class = ClassOf(e);
  impl_->MatchAgents(e);
  ctx.agent_matches = impl_->agent_matches;
  impl_->Feed(ctx);
}

void Engine::OnCallStart(const CallStartEvent& e) {
  ++counters_.events;
  Context ctx;
  ctx.source = Source::kCallStart;
  ctx.ts = e.ts;
  ctx.src_ip = e.src_ip;
  ctx.dst_ip = e.dst_ip;
  ctx.sensor = e.sensor;
  ctx.caller = e.caller;
  ctx.callee = e.callee;
  ctx.callee_domain = e.callee_domain;
  ctx.call_id = e.call_id;
  impl_->Feed(ctx);
}

void Engine::OnCallEnd(const calls::CallRecord& c, std::string_view sensor) {
  ++counters_.events;
  Context ctx;
  ctx.source = Source::kCallEnd;
  ctx.call_end = true;
  // A record is handed over when its call ends, or later (linger): its
  // samples belong to its end, whenever the tracker lets it go.
  ctx.ts = c.end_ts > 0 ? c.end_ts : c.invite_ts;
  ctx.record = &c;
  ctx.src_ip = c.src_ip;
  ctx.dst_ip = c.dst_ip;
  ctx.sensor = c.sensor.empty() ? sensor : std::string_view(c.sensor);
  ctx.caller = c.caller_user;
  ctx.callee = !c.ruri_user.empty() ? std::string_view(c.ruri_user) : std::string_view(c.callee_user);
  ctx.callee_domain = c.callee_domain;
  ctx.call_id = c.call_id;
  impl_->Feed(ctx);
}

void Engine::OnHealth(const HealthEvent& e) {
  ++counters_.events;
  Context ctx;
  ctx.source = Source::kHealth;
  ctx.ts = e.ts;
  ctx.health = &e;
  ctx.sensor = e.sensor;
  impl_->Feed(ctx);
}

void Engine::AdvanceTime(TimestampNs now) { impl_->Tick(now); }
const std::vector<Rule>& Engine::rules() const { return impl_->rules_copy; }
std::vector<RuleStatus> Engine::RuleStatuses(TimestampNs now) { return impl_->Statuses(now); }
size_t Engine::firing() const { return impl_->firing.size(); }

}  // namespace sipman::alerts
