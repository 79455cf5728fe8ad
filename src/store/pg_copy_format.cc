// The COPY text of a batch, and spill segments (format: postgres_store.h).
#include "store/pg_copy_format.h"

#include <charconv>
#include <cstdio>
#include <string>

#include "base/fnv.h"
#include "store/postgres_store.h"
#include "store/sqlite_rows.h"  // the calls and registrations column lists, shared
#include "store/traffic_tables.h"

namespace sipman::store::internal {
namespace {

// Appends `text` as one field of COPY's text format: sanitized, with
// backslash, tab, newline and carriage return escaped.
void AppendCopyText(std::string_view text, std::string* out) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '\\') {
      size_t j = i + 1;
      while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '\\') ++j;
      out->append(text.data() + i, j - i);
      i = j;
      continue;
    }
    switch (c) {
      case '\\': out->append("\\\\"); ++i; continue;
      case '\t': out->append("\\t"); ++i; continue;
      case '\n': out->append("\\n"); ++i; continue;
      case '\r': out->append("\\r"); ++i; continue;
      default: break;
    }
    i += AppendSanitizedCharacter(text, i, out);
  }
}

// Enough digits to read the same double back (17 significant).
void AppendCopyDouble(double v, std::string* out) {
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%.17g", v);
  out->append(text, n > 0 ? static_cast<size_t>(n) : 0);
}

void AppendCopyInt(int64_t v, std::string* out) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  out->append(buffer, end);
}

// bytea in COPY's text format: "\\x" and two hex digits per byte.
void AppendCopyBytea(std::string_view bytes, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->append("\\\\x");
  size_t at = out->size();
  out->resize(at + 2 * bytes.size());
  char* p = out->data() + at;
  for (unsigned char c : bytes) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 15];
  }
}

// Appends a calls/active_calls row in kCallColumns order.
void AppendCallRow(const EncodedCall& row, std::string* out) {
  const calls::CallRecord& r = row.record;
  AppendCopyText(r.sensor, out);
  out->push_back('\t');
  AppendCopyText(row.src_ip(), out);
  out->push_back('\t');
  AppendCopyText(row.dst_ip(), out);
  out->push_back('\t');
  AppendCopyText(calls::CallStateName(r.state), out);
  out->push_back('\t');
  AppendCopyText(row.caller_media(), out);
  out->push_back('\t');
  AppendCopyText(row.callee_media(), out);
#define SIPMAN_APPEND_TEXT(field) out->push_back('\t'); AppendCopyText(r.field, out);
  SIPMAN_CALL_TEXT_FIELDS(SIPMAN_APPEND_TEXT)
#undef SIPMAN_APPEND_TEXT
#define SIPMAN_APPEND_INT(field) out->push_back('\t'); AppendCopyInt(static_cast<int64_t>(r.field), out);
  SIPMAN_CALL_INT_FIELDS(SIPMAN_APPEND_INT)
#undef SIPMAN_APPEND_INT
#define SIPMAN_APPEND_REAL(field) out->push_back('\t'); AppendCopyDouble(r.field, out);
  SIPMAN_CALL_REAL_FIELDS(SIPMAN_APPEND_REAL)
#undef SIPMAN_APPEND_REAL
  out->push_back('\n');
}

// Appends a registrations row in kRegistrationColumns order.
void AppendRegistrationRow(const calls::RegistrationRecord& r, std::string* out) {
  char src_ip[46];
  AppendCopyText(r.sensor, out);
  out->push_back('\t');
  AppendCopyText(std::string_view(src_ip, FormatIp(r.src_ip, src_ip)), out);
  for (const std::string* text : {&r.call_id, &r.aor, &r.contact, &r.user_agent, &r.result}) {
    out->push_back('\t');
    AppendCopyText(*text, out);
  }
  for (int64_t v : {int64_t{r.src_port}, int64_t{r.expires}, int64_t{r.status_code},
                    int64_t{r.challenges}, int64_t{r.request_delay_ms}, int64_t{r.first_seen},
                    int64_t{r.last_seen}}) {
    out->push_back('\t');
    AppendCopyInt(v, out);
  }
  out->push_back('\n');
}

// Appends a messages row in kPgMessageColumns order.
void AppendMessageRow(const RowBatch& batch, const MessageRow& m, std::string* out) {
  RowBatch::MessageTexts t = batch.TextsOf(m);
  AppendCopyText(t.sensor, out);
  out->push_back('\t');
  AppendCopyText(t.call_id, out);
  out->push_back('\t');
  AppendCopyInt(m.ts, out);
  out->push_back('\t');
  AppendCopyText(t.src_ip, out);
  out->push_back('\t');
  AppendCopyInt(m.src_port, out);
  out->push_back('\t');
  AppendCopyText(t.dst_ip, out);
  out->push_back('\t');
  AppendCopyInt(m.dst_port, out);
  out->push_back('\t');
  AppendCopyText(t.transport, out);
  out->push_back('\t');
  AppendCopyText(t.method, out);
  out->push_back('\t');
  AppendCopyInt(m.status, out);
  out->push_back('\t');
  AppendCopyInt(m.cseq, out);
  out->push_back('\t');
  AppendCopyInt(m.raw_size, out);
  out->push_back('\t');
  AppendCopyInt(m.compression, out);
  out->push_back('\t');
  AppendCopyBytea(t.stored, out);
  out->push_back('\n');
}

constexpr std::string_view kSegmentMagic = "sipman-pg-spill 1\n";

void AppendSection(std::string_view name, uint64_t rows, std::string_view payload,
                   const std::vector<int64_t>& extra, std::string* out) {
  out->append(name);
  out->push_back(' ');
  AppendCopyInt(static_cast<int64_t>(rows), out);
  out->push_back(' ');
  AppendCopyInt(static_cast<int64_t>(payload.size()), out);
  for (int64_t v : extra) {
    out->push_back(' ');
    AppendCopyInt(v, out);
  }
  out->push_back('\n');
  out->append(payload);
}

// Reads the section header at *at: "NAME N N ...\n". Numbers into *numbers.
bool ReadSectionHeader(std::string_view bytes, size_t* at, std::string_view* name,
                       std::vector<int64_t>* numbers) {
  size_t end = bytes.find('\n', *at);
  if (end == std::string_view::npos) return false;
  std::string_view line = bytes.substr(*at, end - *at);
  *at = end + 1;
  size_t space = line.find(' ');
  *name = line.substr(0, space);
  numbers->clear();
  while (space != std::string_view::npos) {
    line.remove_prefix(space + 1);
    space = line.find(' ');
    std::string_view field = line.substr(0, space);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (ec != std::errc() || ptr != field.data() + field.size()) return false;
    numbers->push_back(v);
  }
  return true;
}

// Parses one traffic line: ts, the counters, the codes JSON.
bool ParseTrafficLine(std::string_view line, stats::TrafficCounters* c) {
  *c = stats::TrafficCounters{};
  bool ok = true;
  auto next = [&]() -> std::string_view {
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
      ok = false;
      return {};
    }
    std::string_view field = line.substr(0, tab);
    line.remove_prefix(tab + 1);
    return field;
  };
  std::string_view ts = next();
  auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), c->ts);
  ok = ok && ec == std::errc() && p == ts.data() + ts.size();
  VisitCounters(*c, [&](uint64_t& v) {
    std::string_view field = next();
    auto [ptr, e] = std::from_chars(field.data(), field.data() + field.size(), v);
    ok = ok && e == std::errc() && ptr == field.data() + field.size();
  });
  return ok && stats::ParseCodesJson(line, &c->codes);
}

}  // namespace

void CopyBatch::clear() {
  calls.clear();
  registrations.clear();
  messages.clear();
  call_rows = registration_rows = message_rows = 0;
  streams.clear();
  stream_rows = 0;
  alerts.clear();
  alert_rows = 0;
  for (std::set<int64_t>& d : days) d.clear();
  traffic_sensor.clear();
  traffic_seconds.clear();
  snapshots.clear();
  source_rows = 0;
}

void FormatBatch(const RowBatch& batch, std::string_view traffic_sensor, CopyBatch* out) {
  out->clear();
  for (const EncodedCall& row : batch.calls) {
    AppendCallRow(row, &out->calls);
    out->days[0].insert(DayOf(row.record.invite_ts));
  }
  out->call_rows = batch.calls.size();
  for (const calls::RegistrationRecord& r : batch.registrations) {
    AppendRegistrationRow(r, &out->registrations);
    out->days[1].insert(DayOf(r.first_seen));
  }
  out->registration_rows = batch.registrations.size();
  for (const MessageRow& m : batch.messages) {
    AppendMessageRow(batch, m, &out->messages);
    out->days[2].insert(DayOf(m.ts));
  }
  out->message_rows = batch.messages.size();
  for (const StreamRow& r : batch.streams) {
    bool first = true;
    auto separate = [&] {
      if (!first) out->streams.push_back('\t');
      first = false;
    };
    VisitStreamColumns(
        r, [&](const std::string& v) { separate(); AppendCopyText(v, &out->streams); },
        [&](int64_t v) { separate(); AppendCopyInt(v, &out->streams); },
        [&](double v) { separate(); AppendCopyDouble(v, &out->streams); });
    out->streams.push_back('\n');
  }
  out->stream_rows = batch.streams.size();
  for (const AlertRow& r : batch.alerts) {
    bool first = true;
    auto separate = [&] {
      if (!first) out->alerts.push_back('\t');
      first = false;
    };
    VisitAlertColumns(
        r, [&](const std::string& v) { separate(); AppendCopyText(v, &out->alerts); },
        [&](int64_t v) { separate(); AppendCopyInt(v, &out->alerts); },
        [&](double v) { separate(); AppendCopyDouble(v, &out->alerts); });
    out->alerts.push_back('\n');
  }
  out->alert_rows = batch.alerts.size();
  out->traffic_sensor.assign(traffic_sensor);
  out->traffic_seconds = batch.traffic_seconds;
  for (const ActiveSnapshot& snapshot : batch.active_snapshots) {
    CopyBatch::Snapshot* target = nullptr;
    for (CopyBatch::Snapshot& s : out->snapshots) {
      if (s.sensor == snapshot.sensor) target = &s;
    }
    if (target == nullptr) {
      out->snapshots.emplace_back();
      target = &out->snapshots.back();
      target->sensor = snapshot.sensor;
    }
    target->copy.clear();
    for (const EncodedCall& row : snapshot.rows) AppendCallRow(row, &target->copy);
    target->rows = snapshot.rows.size();
  }
  out->source_rows = batch.size();
}

void EncodeSpillSegment(const CopyBatch& batch, std::string* out) {
  out->clear();
  out->append(kSegmentMagic);
  auto days = [](const std::set<int64_t>& d) { return std::vector<int64_t>(d.begin(), d.end()); };
  AppendSection("calls", batch.call_rows, batch.calls, days(batch.days[0]), out);
  AppendSection("registrations", batch.registration_rows, batch.registrations,
                days(batch.days[1]), out);
  AppendSection("messages", batch.message_rows, batch.messages, days(batch.days[2]), out);
  if (batch.stream_rows > 0) AppendSection("rtp_streams", batch.stream_rows, batch.streams, {}, out);
  if (batch.alert_rows > 0) AppendSection("alerts", batch.alert_rows, batch.alerts, {}, out);
  std::string traffic = batch.traffic_sensor;
  for (const stats::TrafficCounters& c : batch.traffic_seconds) {
    AppendCopyInt(c.ts, &traffic);
    VisitCounters(c, [&](uint64_t v) {
      traffic.push_back('\t');
      traffic.append(std::to_string(v));
    });
    traffic.push_back('\t');
    stats::AppendCodesJson(c.codes, &traffic);
    traffic.push_back('\n');
  }
  AppendSection("traffic", batch.traffic_seconds.size(), traffic,
                {static_cast<int64_t>(batch.traffic_sensor.size())}, out);
  for (const CopyBatch::Snapshot& s : batch.snapshots) {
    std::string payload = s.sensor;
    payload += s.copy;
    AppendSection("active", s.rows, payload, {static_cast<int64_t>(s.sensor.size())}, out);
  }
  out->append("rows ");
  AppendCopyInt(static_cast<int64_t>(batch.source_rows), out);
  out->push_back('\n');
  char end[32];
  std::snprintf(end, sizeof(end), "end %016llx\n",
                static_cast<unsigned long long>(Fnv1a64::Of(*out)));
  out->append(end);
}

Status DecodeSpillSegment(std::string_view bytes, CopyBatch* out) {
  out->clear();
  if (!bytes.starts_with(kSegmentMagic)) {
    return Status::Error("not a spill segment of this sipman version (bad first line)");
  }
  // The checksum line ends the file; anything short of it is truncated.
  if (bytes.size() < kSegmentMagic.size() + 22 || bytes.back() != '\n') {
    return Status::Error("truncated: no checksum line at the end");
  }
  size_t end_line = bytes.rfind("\nend ", bytes.size() - 2);
  if (end_line == std::string_view::npos || bytes.size() - end_line != 22) {
    return Status::Error("truncated: no checksum line at the end");
  }
  std::string_view body = bytes.substr(0, end_line + 1);
  char expected[17];
  std::snprintf(expected, sizeof(expected), "%016llx",
                static_cast<unsigned long long>(Fnv1a64::Of(body)));
  if (bytes.substr(end_line + 5, 16) != expected) {
    return Status::Error("checksum mismatch: the file was changed or damaged");
  }
  size_t at = kSegmentMagic.size();
  std::string_view name;
  std::vector<int64_t> n;
  auto payload = [&](size_t size, std::string_view* p) {
    if (size > body.size() - at) return false;
    *p = body.substr(at, size);
    at += size;
    return true;
  };
  const Status bad = Status::Error("malformed section");
  while (at < body.size()) {
    if (!ReadSectionHeader(body, &at, &name, &n)) return bad;
    if (name == "rows" && n.size() == 1) {
      out->source_rows = static_cast<uint64_t>(n[0]);
      continue;
    }
    if (n.size() < 2 || n[0] < 0 || n[1] < 0) return bad;
    std::string_view p;
    if (!payload(static_cast<size_t>(n[1]), &p)) return bad;
    const uint64_t rows = static_cast<uint64_t>(n[0]);
    int table = name == "calls" ? 0 : name == "registrations" ? 1 : name == "messages" ? 2 : -1;
    if (name == "rtp_streams") {
      out->streams.assign(p);
      out->stream_rows = rows;
    } else if (name == "alerts") {
      out->alerts.assign(p);
      out->alert_rows = rows;
    } else if (table >= 0) {
      out->days[table].insert(n.begin() + 2, n.end());
      std::string& copy = table == 0 ? out->calls : table == 1 ? out->registrations : out->messages;
      uint64_t& count = table == 0   ? out->call_rows
                        : table == 1 ? out->registration_rows
                                     : out->message_rows;
      copy.assign(p);
      count = rows;
    } else if ((name == "traffic" || name == "active") && n.size() == 3 &&
               static_cast<size_t>(n[2]) <= p.size()) {
      std::string_view sensor = p.substr(0, static_cast<size_t>(n[2]));
      p.remove_prefix(sensor.size());
      if (name == "active") {
        out->snapshots.push_back({std::string(sensor), std::string(p), rows});
        continue;
      }
      out->traffic_sensor.assign(sensor);
      while (!p.empty()) {
        size_t nl = p.find('\n');
        if (nl == std::string_view::npos) return bad;
        stats::TrafficCounters c;
        if (!ParseTrafficLine(p.substr(0, nl), &c)) {
          return Status::Error("unreadable traffic second");
        }
        out->traffic_seconds.push_back(c);
        p.remove_prefix(nl + 1);
      }
      if (out->traffic_seconds.size() != rows) return bad;
    } else {
      return Status::Error("unknown section '" + std::string(name) + "'");
    }
  }
  return Status::Ok();
}

std::string SpillSubdirectory(const std::string& url, std::string_view sensor) {
  std::string id = url;
  size_t scheme = id.find("://");
  if (scheme != std::string::npos) id.erase(0, scheme + 3);
  id = id.substr(0, id.find('?'));  // connection options do not change the database
  // Neither does the password; and it must not appear in a file name.
  size_t at = id.find('@');
  if (at != std::string::npos && at < id.find('/')) {
    size_t colon = id.find(':');
    if (colon < at) id.erase(colon, at - colon);
  }
  auto readable = [](std::string_view text, size_t max) {
    std::string out;
    for (char c : text.substr(0, max)) {
      bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '-';
      out.push_back(plain ? c : '_');
    }
    return out;
  };
  std::string key = readable(id, 80);
  key += "-";
  key += sensor.empty() ? std::string("default") : readable(sensor, 40);
  // The readable part may fold different names together; the hash does not.
  std::string exact = id;
  exact.push_back('\0');
  exact.append(sensor);
  char hash[20];
  std::snprintf(hash, sizeof(hash), "-%08llx",
                static_cast<unsigned long long>(Fnv1a64::Of(exact) & 0xffffffffull));
  key += hash;
  return key;
}

}  // namespace sipman::store::internal
