#include "store/postgres_store.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

#include "store/sightings.h"
#include "store/sqlite_rows.h"  // the calls and registrations column lists, shared
#include "store/traffic_tables.h"

namespace sipman::store::internal {
namespace {

constexpr const char kMessageColumns[] =
    "sensor, call_id, ts, src_ip, src_port, dst_ip, dst_port, transport, method, status, cseq, "
    "size, compression, raw";

constexpr int64_t kFirstBackoffMs = 100;


int64_t ParseInt(std::string_view text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Length of the valid UTF-8 sequence (without NUL) at the start of `s`, or 0.
size_t Utf8Length(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return c == 0 ? 0 : 1;
  auto cont = [&](size_t i, unsigned char lo, unsigned char hi) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

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
    size_t len = Utf8Length(s + i, n - i);
    if (len == 0) {
      out->append(kReplacement);
      ++i;
    } else {
      out->append(text.data() + i, len);
      i += len;
    }
  }
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

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea's hex output ("\x0a1b...") back to bytes.
bool DecodeByteaHex(std::string_view text, std::string* out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  out->resize((text.size() - 2) / 2);
  for (size_t i = 2, o = 0; i < text.size(); i += 2, ++o) {
    int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[o] = static_cast<char>(hi << 4 | lo);
  }
  return true;
}

// The URL with any password replaced, for error messages and logs.
std::string RedactUrl(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t at = url.find('@', scheme + 3);
  size_t slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// Collects WHERE conditions; every value travels as a parameter.
class Where {
 public:
  // Adds a parameter and returns its placeholder.
  std::string P(std::string value) {
    params_.push_back(std::move(value));
    std::string placeholder = "$";
    placeholder += std::to_string(params_.size());
    return placeholder;
  }
  std::string P(int64_t value) { return P(std::to_string(value)); }
  void Add(const std::string& condition) {
    sql_ += sql_.empty() ? " WHERE " : " AND ";
    sql_ += condition;
  }
  // `column` starts with `prefix`: a range in byte order ("C" collation),
  // so the column's index serves it. U+10FFFF is the largest character.
  void Prefix(const char* column, const std::string& prefix) {
    std::string p = SanitizeText(prefix);
    Add(std::string(column) + " >= " + P(p) + " AND " + column + " < " + P(p + "\xF4\x8F\xBF\xBF"));
  }
  const std::string& sql() const { return sql_; }
  std::vector<std::string>& params() { return params_; }

 private:
  std::string sql_;
  std::vector<std::string> params_;
};

std::string NormalizeIp(const std::string& text) {
  IpAddress ip;
  if (text.empty() || !ParseIp(text, &ip)) return text;
  char buffer[46];
  return std::string(buffer, FormatIp(ip, buffer));
}

void AddCallFilters(const CallQuery& q, Where* w) {
  if (q.from_ts != 0) w->Add("invite_ts >= " + w->P(q.from_ts));
  if (q.to_ts != 0) w->Add("invite_ts < " + w->P(q.to_ts));
  if (!q.caller.empty()) w->Prefix("caller_user", q.caller);
  if (!q.callee.empty()) w->Prefix("callee_user", q.callee);
  if (!q.call_id.empty()) w->Add("call_id = " + w->P(q.call_id));
  if (!q.ip.empty()) {
    std::string p = w->P(NormalizeIp(q.ip));
    w->Add("(src_ip = " + p + " OR dst_ip = " + p + ")");
  }
  if (!q.state.empty()) w->Add("state = " + w->P(q.state));
  if (!q.sensor.empty()) w->Add(CallOfSensorSql(w->P(q.sensor)));
}

int64_t LimitOf(size_t limit) {
  if (limit == 0 || limit > kMaxQueryLimit) limit = kMaxQueryLimit;
  return static_cast<int64_t>(limit);
}

MessageCompressor* ThreadCompressor(const StoreOptions& o) {
  thread_local std::unique_ptr<MessageCompressor> compressor;
  if (compressor == nullptr || compressor->level() != o.zstd_level ||
      compressor->min_gain() != o.min_compression_gain ||
      compressor->use_dictionary() != o.zstd_dictionary) {
    compressor = std::make_unique<MessageCompressor>(o.zstd_level, o.min_compression_gain,
                                                     o.zstd_dictionary);
  }
  return compressor.get();
}

// Appends a calls/active_calls row in kCallColumns order.
void AppendCallRow(const CallRow& row, std::string* out) {
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

// Appends a messages row in kMessageColumns order.
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

// ---- spill segment files ----

constexpr int64_t kReplayBudgetMs = 1000;  // per writer turn, so the queue keeps draining
constexpr char kSegmentSuffix[] = ".pgspill";
constexpr std::string_view kSegmentMagic = "sipman-pg-spill 1\n";

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string ErrnoText() { return std::strerror(errno); }

// Writes `data` to `path` so that `path` either does not exist or holds all
// of it, also after a crash: a ".tmp" name first, fsync, rename, fsync of
// the directory.
Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("cannot create " + tmp + ": " + ErrnoText());
  auto fail = [&](const char* what) {
    std::string message = std::string("cannot ") + what + " " + tmp + ": " + ErrnoText() +
                          " (is the disk full?)";
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::Error(message);
  };
  for (size_t at = 0; at < data.size();) {
    ssize_t n = ::write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    at += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::Error("cannot close " + tmp + ": " + ErrnoText());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string message = "cannot rename " + tmp + " to " + path + ": " + ErrnoText();
    ::unlink(tmp.c_str());
    return Status::Error(message);
  }
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // the rename itself; a failure here loses nothing yet
    ::close(dir_fd);
  }
  return Status::Ok();
}

Status ReadWholeFile(const std::string& path, std::string* out, bool* missing) {
  *missing = false;
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *missing = errno == ENOENT;
    return Status::Error("cannot open " + path + ": " + ErrnoText());
  }
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string message = "cannot read " + path + ": " + ErrnoText();
      ::close(fd);
      return Status::Error(message);
    }
    if (n == 0) break;
    out->append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::Ok();
}

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


// Adds a traffic row (columns: ts, then TrafficColumns()) to *c.
bool AddTrafficRow(const PgResult& res, int row, stats::TrafficCounters* c) {
  stats::TrafficCounters t;
  int i = 1;
  VisitCounters(t, [&](uint64_t& v) { v = static_cast<uint64_t>(res.Int(row, i++)); });
  if (!stats::ParseCodesJson(res.Text(row, i), &t.codes)) return false;
  c->AddAll(t);
  return true;
}

Status ClosedError() { return Status::Error("the store is closed; open it again to query it"); }

}  // namespace

// ---- CopyBatch and spill segments ----

void CopyBatch::clear() {
  calls.clear();
  registrations.clear();
  messages.clear();
  call_rows = registration_rows = message_rows = 0;
  for (std::set<int64_t>& d : days) d.clear();
  traffic_sensor.clear();
  traffic_seconds.clear();
  snapshots.clear();
  source_rows = 0;
}

void FormatBatch(const RowBatch& batch, std::string_view traffic_sensor, CopyBatch* out) {
  out->clear();
  for (const CallRow& row : batch.calls) {
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
    for (const CallRow& row : snapshot.rows) AppendCallRow(row, &target->copy);
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
                static_cast<unsigned long long>(Fnv1a64(*out)));
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
                static_cast<unsigned long long>(Fnv1a64(body)));
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
    if (table >= 0) {
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
                static_cast<unsigned long long>(Fnv1a64(exact) & 0xffffffffull));
  key += hash;
  return key;
}

Status ReadPgCall(const PgResult& res, int row, int first, const std::string& name,
                  calls::CallRecord* out) {
  calls::CallRecord& r = *out;
  int i = first;
  r.sensor = res.Text(row, i++);
  std::string_view src_ip = res.Text(row, i++);
  std::string_view dst_ip = res.Text(row, i++);
  if (!ParseIp(src_ip, &r.src_ip) || !ParseIp(dst_ip, &r.dst_ip)) {
    return Status::Error(name + " has an unreadable IP address '" + std::string(src_ip) +
                         "' / '" + std::string(dst_ip) + "'");
  }
  std::string_view state = res.Text(row, i++);
  if (!ParseCallState(state, &r.state)) {
    return Status::Error(name + " has an unknown state '" + std::string(state) +
                         "' (written by a newer sipman?)");
  }
  if (!ParseMediaJson(res.Text(row, i++), &r.caller_media) ||
      !ParseMediaJson(res.Text(row, i++), &r.callee_media)) {
    return Status::Error(name + " has unreadable media JSON");
  }
#define SIPMAN_READ_TEXT(field) r.field = res.Text(row, i++);
  SIPMAN_CALL_TEXT_FIELDS(SIPMAN_READ_TEXT)
#undef SIPMAN_READ_TEXT
#define SIPMAN_READ_INT(field) r.field = static_cast<decltype(r.field)>(res.Int(row, i++));
  SIPMAN_CALL_INT_FIELDS(SIPMAN_READ_INT)
#undef SIPMAN_READ_INT
  r.also_seen_by = res.Text(row, i++);
  return Status::Ok();
}

Status ReadPgRegistration(const PgResult& res, int row, int first, const std::string& name,
                          calls::RegistrationRecord* out) {
  calls::RegistrationRecord& r = *out;
  int i = first;
  r.sensor = res.Text(row, i++);
  std::string_view src_ip = res.Text(row, i++);
  if (!ParseIp(src_ip, &r.src_ip)) {
    return Status::Error(name + " has an unreadable IP address '" + std::string(src_ip) + "'");
  }
  for (std::string* text : {&r.call_id, &r.aor, &r.contact, &r.user_agent, &r.result}) {
    *text = res.Text(row, i++);
  }
  r.src_port = static_cast<uint16_t>(res.Int(row, i++));
  r.expires = res.Int(row, i++);
  r.status_code = static_cast<int>(res.Int(row, i++));
  r.challenges = static_cast<uint32_t>(res.Int(row, i++));
  r.request_delay_ms = res.Int(row, i++);
  r.first_seen = res.Int(row, i++);
  r.last_seen = res.Int(row, i++);
  return Status::Ok();
}

// ---- PgResult, PgConnection, sanitising ----

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

int PgResult::rows() const { return result_ == nullptr ? 0 : PQntuples(result_); }

std::string_view PgResult::Text(int row, int column) const {
  return std::string_view(PQgetvalue(result_, row, column),
                          static_cast<size_t>(PQgetlength(result_, row, column)));
}

int64_t PgResult::Int(int row, int column) const { return ParseInt(Text(row, column)); }

int64_t PgResult::affected_rows() const {
  return result_ == nullptr ? 0 : ParseInt(PQcmdTuples(result_));
}

void AppendSanitized(std::string_view text, std::string* out) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    size_t len = Utf8Length(s + i, text.size() - i);
    if (len == 0) {
      out->append(kReplacement);
      ++i;
    } else {
      out->append(text.data() + i, len);
      i += len;
    }
  }
}

std::string SanitizeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendSanitized(text, &out);
  return out;
}

PgConnection::~PgConnection() { Disconnect(); }

void PgConnection::Disconnect() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool PgConnection::connected() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

Status PgConnection::Connect(const std::string& url) {
  Disconnect();
  // The URL's own settings win over the first two; the client encoding is ours.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", "client_encoding",
                        nullptr};
  const char* values[] = {"5", "sipman", url.c_str(), "UTF8", nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr) return Status::Error("out of memory connecting to PostgreSQL");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    Disconnect();
    last_error_retryable_ = true;
    return Status::Error(message);
  }
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "already exists" notes
  last_error_retryable_ = false;
  return Status::Ok();
}

Status PgConnection::Error(std::string_view what, pg_result* result) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  last_sqlstate_ = state == nullptr ? "" : state;
  std::string message =
      result != nullptr ? PQresultErrorMessage(result) : (conn_ ? PQerrorMessage(conn_) : "");
  if (message.empty() && conn_ != nullptr) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  // Class 08: connection exceptions; 57P01-57P03: the server is shutting
  // down or starting; also any error that left the connection broken.
  last_error_retryable_ = conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK ||
                          last_sqlstate_.starts_with("08") || last_sqlstate_ == "57P01" ||
                          last_sqlstate_ == "57P02" || last_sqlstate_ == "57P03";
  if (result != nullptr) PQclear(result);
  return Status::Error(std::string(what) + ": " + message);
}

Status PgConnection::Exec(std::string_view sql) {
  if (conn_ == nullptr) {
    last_error_retryable_ = true;
    return Status::Error("not connected");
  }
  std::string text(sql);
  pg_result* r = PQexec(conn_, text.c_str());
  ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error("query failed", r);
  PQclear(r);
  return Status::Ok();
}

Result<PgResult> PgConnection::Query(const std::string& sql,
                                     const std::vector<std::string>& params) {
  if (conn_ == nullptr) {
    last_error_retryable_ = true;
    return Status::Error("not connected");
  }
  std::vector<std::string> clean;
  clean.reserve(params.size());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) {
    clean.push_back(SanitizeText(p));
    values.push_back(clean.back().c_str());
  }
  pg_result* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0);
  ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error("query failed", r);
  return PgResult(r);
}

Status PgConnection::Copy(const std::string& copy_sql, std::string_view data) {
  if (conn_ == nullptr) {
    last_error_retryable_ = true;
    return Status::Error("not connected");
  }
  pg_result* r = PQexec(conn_, copy_sql.c_str());
  if (r == nullptr || PQresultStatus(r) != PGRES_COPY_IN) return Error("cannot start COPY", r);
  PQclear(r);
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    size_t n = std::min(kChunk, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) != 1) {
      return Error("COPY failed", nullptr);
    }
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) return Error("COPY failed", nullptr);
  Status status = Status::Ok();
  while ((r = PQgetResult(conn_)) != nullptr) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && status.ok()) {
      status = Error("COPY failed", r);
    } else {
      PQclear(r);
    }
  }
  return status;
}

// ---- PostgresStore ----

PostgresStore::PostgresStore(const StoreOptions& options, std::string url)
    : options_(options),
      url_(std::move(url)),
      where_("PostgreSQL database " + RedactUrl(url_)),
      queue_(WriteQueue::OptionsFor(options, where_), this) {}

PostgresStore::~PostgresStore() { Close(); }

Result<std::unique_ptr<Store>> PostgresStore::Open(const StoreOptions& options, std::string url) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(options, std::move(url)));
  Status s = store->Init();
  if (!s.ok()) return s;
  store->queue_.Start();
  return std::unique_ptr<Store>(std::move(store));
}

Status PostgresStore::Init() {
  Status s = write_conn_.Connect(url_);
  if (!s.ok()) {
    return Status::Error("cannot connect to " + where_ + ": " + s.message() +
                         " (is the server running and the URL right? "
                         "postgresql://USER@HOST:PORT/DATABASE)");
  }
  Result<int> migrated = MigratePostgres(&write_conn_, where_);
  if (!migrated.ok()) return migrated.status();
  s = ConnectWriter();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(read_mu_);
  s = read_conn_.Connect(url_);
  if (!s.ok()) return Status::Error("cannot open a read connection to " + where_ + ": " +
                                    s.message());
  // Segments a previous run spilled: the writer replays them first.
  return OpenSpillDirectory();
}

Status PostgresStore::ConnectWriter() {
  if (!write_conn_.connected()) {
    Status s = write_conn_.Connect(url_);
    if (!s.ok()) return Status::Error("cannot connect to " + where_ + ": " + s.message());
  }
  // Staging tables of this session: COPY fills them, INSERT ... SELECT ...
  // ON CONFLICT DO NOTHING moves the new rows on; the commit empties them.
  std::string sql;
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_calls ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kCallColumns + ", also_seen_by FROM calls WITH NO DATA;"
         "ALTER TABLE stage_calls ALTER COLUMN also_seen_by SET DEFAULT '';";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_registrations ON COMMIT DELETE ROWS "
                     "AS SELECT ") + kRegistrationColumns + " FROM registrations WITH NO DATA;";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_messages ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kMessageColumns + " FROM messages WITH NO DATA;";
  Status s = write_conn_.Exec(sql);
  if (!s.ok()) {
    write_conn_.Disconnect();  // e.g. a server still starting up: connect again later
    return Status::Error("cannot prepare writing to " + where_ + ": " + s.message());
  }
  for (std::set<int64_t>& known : known_partitions_) known.clear();
  return Status::Ok();
}

Status PostgresStore::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  close_deadline_ns_ = SteadyNowNs() + int64_t{options_.close_timeout_ms} * 1000000;
  closing_ = true;
  {
    std::lock_guard<std::mutex> lock(spill_mu_);
    stop_flush_waits_ = true;
  }
  spill_cv_.notify_all();
  Status status = queue_.Close();
  // The writer has stopped: write what it spilled if the server answers now
  // (within close_timeout_ms). Otherwise the segments stay on disk for the
  // next Open: no reason to wait for the server.
  next_connect_ns_ = 0;
  while (!backlog_.empty() && !GiveUp()) {
    ReplayBacklog(close_deadline_ns_.load());
    if (!write_conn_.connected()) break;
  }
  if (status.ok()) status = TakeSpillError();
  if (!backlog_.empty() && status.ok()) {
    std::lock_guard<std::mutex> lock(spill_mu_);
    status = Status::Error(
        std::to_string(spill_counters_.spill_segments) + " spill segment(s) (" +
        std::to_string(spill_counters_.spill_bytes) + " bytes) of rows not yet in " + where_ +
        " are kept in " + spill_path_ +
        "; they are written when sipman opens this database again with the same sensor and "
        "spill directory");
  }
  if (spill_lock_fd_ >= 0) {
    if (backlog_.empty()) {  // each only when empty (no *.bad, no other database's)
      ::rmdir(spill_path_.c_str());
      ::rmdir(options_.spill_dir.c_str());
    }
    ::close(spill_lock_fd_);
    spill_lock_fd_ = -1;
  }
  write_conn_.Disconnect();
  std::lock_guard<std::mutex> lock(read_mu_);
  read_conn_.Disconnect();
  read_closed_ = true;
  return status;
}

bool PostgresStore::GiveUp() const {
  return closing_ && SteadyNowNs() >= close_deadline_ns_.load();
}

void PostgresStore::Backoff(int64_t ms) {
  const int64_t until = SteadyNowNs() + ms * 1000000;
  while (SteadyNowNs() < until && !GiveUp()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

CallRow PostgresStore::EncodeCall(const calls::CallRecord& record) const {
  CallRow row;
  row.record = record;
  char src_ip[46], dst_ip[46];
  row.src_ip_size = static_cast<uint32_t>(FormatIp(record.src_ip, src_ip));
  row.dst_ip_size = static_cast<uint32_t>(FormatIp(record.dst_ip, dst_ip));
  row.texts.append(src_ip, row.src_ip_size).append(dst_ip, row.dst_ip_size);
  size_t before = row.texts.size();
  AppendMediaJson(record.caller_media, &row.texts);
  row.caller_media_size = static_cast<uint32_t>(row.texts.size() - before);
  before = row.texts.size();
  AppendMediaJson(record.callee_media, &row.texts);
  row.callee_media_size = static_cast<uint32_t>(row.texts.size() - before);
  if (row.record.sensor.empty()) row.record.sensor = options_.sensor;
  return row;
}

void PostgresStore::AddCall(const calls::CallRecord& record) { queue_.Push(EncodeCall(record)); }

void PostgresStore::AddRegistration(const calls::RegistrationRecord& record) {
  calls::RegistrationRecord copy(record);
  if (copy.sensor.empty()) copy.sensor = options_.sensor;
  queue_.Push(std::move(copy));
}

void PostgresStore::AddMessage(const StoredMessage& message) {
  EncodedMessage encoded;
  encoded.message = &message;
  encoded.sensor = message.sensor.empty() ? std::string_view(options_.sensor) : message.sensor;
  char src_ip[46], dst_ip[46];
  encoded.src_ip = std::string_view(src_ip, FormatIp(message.src_ip, src_ip));
  encoded.dst_ip = std::string_view(dst_ip, FormatIp(message.dst_ip, dst_ip));
  encoded.compression = ThreadCompressor(options_)->Compress(message.raw, &encoded.stored);
  queue_.Push(encoded);
}

void PostgresStore::AddTrafficSecond(const stats::TrafficCounters& second) {
  queue_.Push(second);
}

void PostgresStore::ReplaceActiveCalls(std::string_view sensor,
                                       std::vector<calls::CallRecord> records) {
  ActiveSnapshot snapshot;
  snapshot.sensor.assign(sensor.empty() ? std::string_view(options_.sensor) : sensor);
  snapshot.rows.reserve(records.size());
  for (calls::CallRecord& r : records) {
    r.sensor = snapshot.sensor;
    snapshot.rows.push_back(EncodeCall(r));
  }
  queue_.Push(std::move(snapshot));
}

Status PostgresStore::Flush() {
  Status status = queue_.Flush();
  {
    // Rows spilled to disk are not stored yet: wait for the writer to replay
    // them (as a batch waited for the server before spilling existed).
    std::unique_lock<std::mutex> lock(spill_mu_);
    spill_cv_.wait(lock, [this] { return spill_counters_.spill_segments == 0 || stop_flush_waits_; });
  }
  Status spill = TakeSpillError();
  return status.ok() ? spill : status;
}

StoreCounters PostgresStore::counters() const {
  StoreCounters c;
  queue_.GetCounters(&c);
  std::lock_guard<std::mutex> lock(spill_mu_);
  const StoreCounters& s = spill_counters_;
  c.batches += replayed_batches_;
  c.calls_written += s.calls_written;
  c.registrations_written += s.registrations_written;
  c.messages_written += s.messages_written;
  c.duplicates_ignored += s.duplicates_ignored;
  c.rows_failed += s.rows_failed;
  c.message_raw_bytes += s.message_raw_bytes;
  c.message_stored_bytes += s.message_stored_bytes;
  c.messages_compressed += s.messages_compressed;
  c.traffic_seconds_written += s.traffic_seconds_written;
  c.spilled_rows = s.spilled_rows;
  c.spill_segments = s.spill_segments;
  c.spill_bytes = s.spill_bytes;
  c.spill_bad_segments = s.spill_bad_segments;
  return c;
}

bool PostgresStore::EnsureConnected(Status* why) {
  if (write_conn_.connected()) return true;
  const int64_t now = SteadyNowNs();
  if (now < next_connect_ns_) {
    *why = Status::Error(where_ + " is unreachable; the writer tries again in " +
                         std::to_string((next_connect_ns_ - now) / 1000000) + " ms");
    return false;
  }
  Status s = ConnectWriter();
  if (s.ok()) {
    connect_backoff_ms_ = kFirstBackoffMs;
    return true;
  }
  *why = s;
  next_connect_ns_ = SteadyNowNs() + connect_backoff_ms_ * 1000000;
  connect_backoff_ms_ =
      std::min<int64_t>(connect_backoff_ms_ * 2, std::max(options_.reconnect_max_backoff_ms, 1));
  return false;
}

Status PostgresStore::WriteBatch(const RowBatch& batch, BatchResult* result) {
  FormatBatch(batch, options_.sensor, &batch_copy_);
  for (;;) {
    // Rows spilled earlier go first, so the database sees batches in order.
    if (!backlog_.empty()) ReplayBacklog(SteadyNowNs() + kReplayBudgetMs * 1000000);
    Status why;
    if (backlog_.empty() && EnsureConnected(&why)) {
      bool outage = false;
      why = LoadBatch(batch_copy_, result, &outage);
      if (why.ok() || !outage) return why;
    } else if (!backlog_.empty() && why.ok()) {
      why = Status::Error("older rows spilled to " + spill_path_ + " are not written yet");
    }
    // The server is unreachable, or spilled rows wait: spill behind them.
    if (Spill(batch_copy_)) {
      *result = BatchResult{};
      result->spilled = true;
      return Status::Ok();
    }
    if (GiveUp()) {
      std::string message = where_ + " stayed unreachable until the store closed: " +
                            why.message();
      if (!last_spill_error_.empty()) message += "; not spilled: " + last_spill_error_;
      return Status::Error(message);
    }
    // No room to spill: wait for the server, as the queue's producers will.
    const int64_t wait_ms = (next_connect_ns_ - SteadyNowNs()) / 1000000;
    Backoff(std::max<int64_t>(wait_ms, 20));
  }
}

void PostgresStore::Idle() {
  if (!backlog_.empty()) ReplayBacklog(SteadyNowNs() + kReplayBudgetMs * 1000000);
}

Status PostgresStore::LoadBatch(const CopyBatch& batch, BatchResult* result, bool* outage) {
  *outage = false;
  bool partitions_retried = false;
  for (;;) {
    BatchResult partial;
    Status s = TryLoadBatch(batch, &partial);
    if (s.ok()) {
      *result = partial;
      return s;
    }
    if (write_conn_.connected() && write_conn_.Exec("ROLLBACK").ok() &&
        !write_conn_.last_error_retryable()) {
      // A data error, not an outage. "No partition for this row" means
      // another process dropped one this writer believed in: once more.
      if (write_conn_.last_sqlstate() == "23514" && !partitions_retried) {
        partitions_retried = true;
        for (std::set<int64_t>& known : known_partitions_) known.clear();
        continue;
      }
      return s;
    }
    if (!write_conn_.last_error_retryable() && write_conn_.connected()) return s;
    write_conn_.Disconnect();
    *outage = true;
    return s;
  }
}

Status PostgresStore::TryLoadBatch(const CopyBatch& batch, BatchResult* result) {
  Status s = EnsurePartitions(batch.days);
  if (!s.ok()) return Status::Error("cannot write to " + where_ + ": " + s.message());
  s = write_conn_.Exec("BEGIN");
  uint64_t inserted = 0;
  if (s.ok() && batch.call_rows > 0) {
    s = LoadStaged("calls", kCallColumns, batch.calls, &inserted);
    result->calls_inserted += inserted;
    result->duplicates += batch.call_rows - std::min(inserted, batch.call_rows);
  }
  if (s.ok() && batch.registration_rows > 0) {
    s = LoadStaged("registrations", kRegistrationColumns, batch.registrations, &inserted);
    result->registrations_inserted += inserted;
    result->duplicates += batch.registration_rows - std::min(inserted, batch.registration_rows);
  }
  if (s.ok()) s = LoadMessages(batch, result);
  if (s.ok()) s = WriteTraffic(batch.traffic_sensor, batch.traffic_seconds, result);
  for (const CopyBatch::Snapshot& snapshot : batch.snapshots) {
    if (s.ok()) s = ReplaceSnapshot(snapshot, result);
  }
  if (s.ok()) s = write_conn_.Exec("COMMIT");
  if (!s.ok()) return Status::Error("cannot write to " + where_ + ": " + s.message());
  return s;
}

Status PostgresStore::EnsurePartitions(const std::set<int64_t> (&wanted)[3]) {
  int64_t newest = newest_day_;
  for (int t = 0; t < 3; ++t) {
    if (!wanted[t].empty()) newest = std::max(newest, *wanted[t].rbegin());
  }
  for (int t = 0; t < 3; ++t) {
    std::set<int64_t> missing;
    for (int64_t day : wanted[t]) {
      if (!known_partitions_[t].contains(day)) missing.insert(day);
    }
    if (missing.empty()) continue;
    // The next day too, so rows after midnight find theirs ready.
    if (!known_partitions_[t].contains(newest + 1)) missing.insert(newest + 1);
    Status s = CreatePartitions(&write_conn_, kPartitionedTables[t], missing);
    if (!s.ok()) return s;
    known_partitions_[t].insert(missing.begin(), missing.end());
  }
  if (newest > newest_day_) {
    newest_day_ = newest;
    if (options_.partition_retention_days > 0) {
      const int64_t oldest_kept = newest - options_.partition_retention_days;
      Result<int> dropped = DropPartitionsBefore(&write_conn_, oldest_kept);
      if (!dropped.ok()) {
        return Status::Error("cannot drop old partitions: " + dropped.status().message());
      }
      for (std::set<int64_t>& known : known_partitions_) {
        known.erase(known.begin(), known.lower_bound(oldest_kept));
      }
    }
  }
  return Status::Ok();
}

namespace {

// A call seen by several sensors (a proxy's HEP and a SPAN port, two
// capture points on its path) is one call: the first sensor's row keeps it
// and also_seen_by names the others. Two rows are the same call when their
// Call-IDs are equal and their INVITEs at most kSameCallWindowNs apart
// (Timer B: no new call reuses a Call-ID that soon).
constexpr int64_t kSameCallWindowNs = 32'000'000'000;

// Staged calls of another sensor than a stored call's (same Call-ID, INVITE
// within the window) are folded into that call and left out of the insert.
const std::string& MergeIntoStoredCallsSql() {
  static const std::string sql = [] {
    const std::string w = std::to_string(kSameCallWindowNs);
    return "WITH pair AS (SELECT DISTINCT ON (s.ctid) s.ctid AS sid, c.id AS cid,"
           " c.invite_ts AS cts, c.sensor AS csensor, string_to_array(s.sensor || CASE WHEN"
           " s.also_seen_by <> '' THEN ',' || s.also_seen_by ELSE '' END, ',') AS seen"
           " FROM stage_calls s JOIN calls c ON c.call_id = s.call_id AND c.sensor <> s.sensor"
           " AND c.invite_ts BETWEEN s.invite_ts - " + w + " AND s.invite_ts + " + w +
           " ORDER BY s.ctid, abs(c.invite_ts - s.invite_ts), c.id),"
           " agg AS (SELECT cid, cts, csensor, array_agg(x) AS seen FROM pair, unnest(seen) AS x"
           " GROUP BY cid, cts, csensor),"
           " upd AS (UPDATE calls c SET also_seen_by = array_to_string(ARRAY(SELECT DISTINCT x"
           " FROM unnest(string_to_array(NULLIF(c.also_seen_by, ''), ',') || a.seen) AS x"
           " WHERE x <> a.csensor ORDER BY x), ',') FROM agg a"
           " WHERE c.id = a.cid AND c.invite_ts = a.cts RETURNING c.id)"
           " DELETE FROM stage_calls s USING pair p WHERE s.ctid = p.sid";
  }();
  return sql;
}

// Then staged calls of one call from several sensors: the earliest INVITE
// (then the lowest sensor name) keeps it, the others fold into it.
const std::string& MergeStagedCallsSql() {
  static const std::string sql = [] {
    const std::string w = std::to_string(kSameCallWindowNs);
    return "WITH multi AS (SELECT call_id FROM stage_calls GROUP BY call_id"
           " HAVING COUNT(DISTINCT sensor) > 1),"
           " cand AS (SELECT s.ctid AS sid, s.call_id, s.sensor, s.invite_ts, s.also_seen_by"
           " FROM stage_calls s JOIN multi USING (call_id)),"
           " pair AS (SELECT DISTINCT ON (d.sid) d.sid, k.sid AS kid, k.sensor AS ksensor,"
           " string_to_array(d.sensor || CASE WHEN d.also_seen_by <> '' THEN ',' ||"
           " d.also_seen_by ELSE '' END, ',') AS seen FROM cand d JOIN cand k"
           " ON k.call_id = d.call_id AND k.sensor <> d.sensor"
           " AND abs(k.invite_ts - d.invite_ts) <= " + w +
           " AND (k.invite_ts, k.sensor) < (d.invite_ts, d.sensor)"
           " ORDER BY d.sid, k.invite_ts, k.sensor),"
           " agg AS (SELECT kid, ksensor, array_agg(x) AS seen FROM pair, unnest(seen) AS x"
           " GROUP BY kid, ksensor),"
           " upd AS (UPDATE stage_calls s SET also_seen_by = array_to_string(ARRAY(SELECT"
           " DISTINCT x FROM unnest(string_to_array(NULLIF(s.also_seen_by, ''), ',') || a.seen)"
           " AS x WHERE x <> a.ksensor ORDER BY x), ',') FROM agg a WHERE s.ctid = a.kid"
           " RETURNING s.ctid)"
           " DELETE FROM stage_calls s USING pair p WHERE s.ctid = p.sid";
  }();
  return sql;
}

// "a = EXCLUDED.a, b = EXCLUDED.b, ..." over a comma-separated column list.
std::string SetFromExcluded(std::string_view columns) {
  std::string sql;
  while (!columns.empty()) {
    size_t comma = columns.find(',');
    std::string_view name = columns.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (!sql.empty()) sql += ", ";
    sql += std::string(name) + " = EXCLUDED." + std::string(name);
    columns = comma == std::string_view::npos ? std::string_view() : columns.substr(comma + 1);
  }
  return sql;
}

}  // namespace

Status PostgresStore::LoadStaged(const char* table, const char* columns, const std::string& copy,
                                 uint64_t* inserted) {
  *inserted = 0;
  Status s = write_conn_.Copy(std::string("COPY stage_") + table + "(" + columns +
                                  ") FROM STDIN",
                              copy);
  if (!s.ok()) return s;
  const bool is_calls = std::string_view(table) == "calls";
  std::string insert_columns = columns;
  if (is_calls) {
    // One writer at a time merges, so two sensors' writers cannot both miss
    // each other's row of the same call.
    s = write_conn_.Exec("SELECT pg_advisory_xact_lock(5350691)");
    if (s.ok()) s = write_conn_.Exec(MergeIntoStoredCallsSql());
    if (s.ok()) s = write_conn_.Exec(MergeStagedCallsSql());
    if (!s.ok()) return s;
    insert_columns += ", also_seen_by";
  }
  // Rows are sightings (sightings.h): of one natural key only the most
  // complete staged row goes on, and it replaces a stored row only when it
  // ranks higher.
  const std::string key = is_calls ? kCallNaturalKey : kRegistrationNaturalKey;
  auto rank = [&](std::string_view row) {
    return is_calls ? CallCompletenessSql(row) : RegistrationCompletenessSql(row);
  };
  std::string same_key;
  for (std::string_view column : {"call_id", "sensor", is_calls ? "invite_ts" : "first_seen"}) {
    same_key += std::string(same_key.empty() ? "" : " AND ") + "b." + std::string(column) +
                " = s." + std::string(column);
  }
  s = write_conn_.Exec(std::string("DELETE FROM stage_") + table + " s USING stage_" + table +
                       " b WHERE " + same_key + " AND (" + rank("b") + " > " + rank("s") +
                       " OR (" + rank("b") + " = " + rank("s") + " AND b.ctid < s.ctid))");
  if (!s.ok()) return s;
  std::string update = SetFromExcluded(columns);
  if (is_calls) {
    // The sensors that saw the call: both rows' lists.
    update += ", also_seen_by = array_to_string(ARRAY(SELECT DISTINCT x FROM unnest("
              "string_to_array(NULLIF(calls.also_seen_by, ''), ',') || "
              "string_to_array(NULLIF(EXCLUDED.also_seen_by, ''), ',')) AS x ORDER BY x), ',')";
  }
  Result<PgResult> r = write_conn_.Query(
      std::string("INSERT INTO ") + table + "(" + insert_columns + ") SELECT " +
      insert_columns + " FROM stage_" + table + " ON CONFLICT (" + key + ") DO UPDATE SET " +
      update + " WHERE " + rank("EXCLUDED") + " > " + rank(table));
  if (!r.ok()) return r.status();
  *inserted = static_cast<uint64_t>(r->affected_rows());
  return Status::Ok();
}

Status PostgresStore::LoadMessages(const CopyBatch& batch, BatchResult* result) {
  if (batch.message_rows == 0) return Status::Ok();
  Status s = write_conn_.Copy(std::string("COPY stage_messages(") + kMessageColumns +
                                  ") FROM STDIN",
                              batch.messages);
  if (!s.ok()) return s;
  Result<PgResult> inserted = write_conn_.Query(
      std::string("WITH ins AS (INSERT INTO messages(") + kMessageColumns + ") SELECT " +
      kMessageColumns +
      " FROM stage_messages ON CONFLICT DO NOTHING RETURNING size, compression, "
      "octet_length(raw) AS stored) SELECT COUNT(*), COALESCE(SUM(size), 0), "
      "COALESCE(SUM(stored), 0), COUNT(*) FILTER (WHERE compression <> 0) FROM ins");
  if (!inserted.ok()) return inserted.status();
  const uint64_t n = static_cast<uint64_t>(inserted->Int(0, 0));
  result->messages_inserted += n;
  result->duplicates += batch.message_rows - std::min(n, batch.message_rows);
  result->message_raw_bytes += static_cast<uint64_t>(inserted->Int(0, 1));
  result->message_stored_bytes += static_cast<uint64_t>(inserted->Int(0, 2));
  result->messages_compressed += static_cast<uint64_t>(inserted->Int(0, 3));
  return Status::Ok();
}

Status PostgresStore::ReplaceSnapshot(const CopyBatch::Snapshot& snapshot, BatchResult* result) {
  Result<PgResult> deleted =
      write_conn_.Query("DELETE FROM active_calls WHERE sensor = $1", {snapshot.sensor});
  if (!deleted.ok()) return deleted.status();
  if (snapshot.rows == 0) return Status::Ok();
  Status s = write_conn_.Copy(std::string("COPY active_calls(") + kCallColumns + ") FROM STDIN",
                              snapshot.copy);
  if (!s.ok()) return s;
  result->active_calls_inserted += snapshot.rows;
  return Status::Ok();
}

Status PostgresStore::UpsertTraffic(const std::string& sensor, int t,
                                    const stats::TrafficCounters& c) {
  static const std::string columns = TrafficColumns();
  std::vector<std::string> params;
  params.push_back(sensor);
  params.push_back(std::to_string(c.ts));
  VisitCounters(c, [&](uint64_t v) { params.push_back(std::to_string(static_cast<int64_t>(v))); });
  std::string codes;
  stats::AppendCodesJson(c.codes, &codes);
  params.push_back(std::move(codes));
  std::string sql = std::string("INSERT INTO ") + kTrafficTables[t] + "(sensor, ts, " + columns +
                    ") VALUES(";
  for (size_t i = 1; i <= params.size(); ++i) {
    sql += i == 1 ? "$" : ", $";
    sql += std::to_string(i);
  }
  // Every counter column takes the new row's value (WriteTrafficRollups
  // merged it with the stored one).
  sql += ") ON CONFLICT (sensor, ts) DO UPDATE SET " + SetFromExcluded(columns);
  Result<PgResult> r = write_conn_.Query(sql, params);
  return r.ok() ? Status::Ok() : r.status();
}

Status PostgresStore::SumRows(const std::string& sensor, int t, int64_t from, int64_t to,
                              stats::TrafficCounters* sum) {
  static const std::string columns = TrafficColumns();
  Result<PgResult> rows = write_conn_.Query(
      std::string("SELECT ts, ") + columns + " FROM " + kTrafficTables[t] +
          " WHERE sensor = $1 AND ts >= $2 AND ts < $3",
      {sensor, std::to_string(from), std::to_string(to)});
  if (!rows.ok()) return rows.status();
  for (int r = 0; r < rows->rows(); ++r) {
    if (!AddTrafficRow(*rows, r, sum)) {
      return Status::Error(std::string(kTrafficTables[t]) + " of " + where_ +
                           " has an unreadable codes column");
    }
  }
  return Status::Ok();
}

Status PostgresStore::WriteTraffic(const std::string& sensor,
                                   const std::vector<stats::TrafficCounters>& seconds,
                                   BatchResult* result) {
  if (seconds.empty()) return Status::Ok();
  int64_t newest = INT64_MIN;
  Status s = WriteTrafficRollups(
      seconds,
      [&](int t, int64_t from, int64_t to, stats::TrafficCounters* sum) {
        return SumRows(sensor, t, from, to, sum);
      },
      [&](int t, const stats::TrafficCounters& c) {
        Status u = UpsertTraffic(sensor, t, c);
        if (u.ok() && t == 0) ++result->traffic_seconds_written;
        return u;
      },
      &newest);
  if (!s.ok()) return s;
  if (options_.stats_second_retention_s > 0) {
    int64_t keep = std::max(options_.stats_second_retention_s, kMinRetentionSeconds);
    Result<PgResult> r =
        write_conn_.Query("DELETE FROM stats_second WHERE sensor = $1 AND ts < $2",
                          {sensor, std::to_string(newest - keep)});
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

// ---- spilling ----

Status PostgresStore::OpenSpillDirectory() {
  if (options_.spill_dir.empty() || options_.max_spill_bytes == 0) return Status::Ok();
  spill_path_ = options_.spill_dir + "/" + SpillSubdirectory(url_, options_.sensor);
  std::error_code ec;
  if (!std::filesystem::is_directory(spill_path_, ec)) return Status::Ok();
  if (!LockSpillDirectory()) return Status::Ok();  // another store's: spilling is off
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(spill_path_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.ends_with(".tmp")) {
      // Half written by a process that stopped: its batch was never
      // handed over as spilled, and must not be replayed.
      std::error_code ignored;
      std::filesystem::remove(entry.path(), ignored);
    } else if (name.starts_with("seg-") && name.ends_with(kSegmentSuffix)) {
      names.push_back(std::move(name));
    }
  }
  if (ec) {
    return Status::Error("cannot read the spill directory " + spill_path_ + ": " + ec.message() +
                         " (fix its permissions, or set another spill directory)");
  }
  std::sort(names.begin(), names.end());  // zero-padded numbers: oldest first
  std::lock_guard<std::mutex> lock(spill_mu_);
  for (const std::string& name : names) {
    SpillSegment segment;
    segment.path = spill_path_ + "/" + name;
    segment.bytes = std::filesystem::file_size(segment.path, ec);
    if (ec) segment.bytes = 0;
    next_segment_ = std::max<uint64_t>(next_segment_, ParseInt(name.substr(4)) + 1);
    ++spill_counters_.spill_segments;
    spill_counters_.spill_bytes += segment.bytes;
    backlog_.push_back(std::move(segment));
  }
  return Status::Ok();
}

bool PostgresStore::Spill(const CopyBatch& batch) {
  if (spill_path_.empty()) {
    last_spill_error_ = "spilling is off";
    return false;
  }
  EncodeSpillSegment(batch, &segment_buffer_);
  {
    std::lock_guard<std::mutex> lock(spill_mu_);
    if (spill_counters_.spill_bytes + segment_buffer_.size() > options_.max_spill_bytes) {
      last_spill_error_ = "the spill directory " + spill_path_ + " holds max_spill_bytes (" +
                          std::to_string(options_.max_spill_bytes) + " bytes) already";
      return false;
    }
  }
  if (spill_lock_fd_ < 0) {
    std::error_code ec;
    std::filesystem::create_directories(spill_path_, ec);
    if (ec) {
      last_spill_error_ = "cannot create the spill directory " + spill_path_ + ": " +
                          ec.message() + " (fix its permissions or set another spill directory)";
      return false;
    }
    if (!LockSpillDirectory()) return false;
  }
  char name[40];
  std::snprintf(name, sizeof(name), "/seg-%020llu", static_cast<unsigned long long>(next_segment_));
  SpillSegment segment;
  segment.path = spill_path_ + name + kSegmentSuffix;
  segment.bytes = segment_buffer_.size();
  Status s = WriteFileAtomically(segment.path, segment_buffer_);
  if (!s.ok()) {
    last_spill_error_ = s.message();
    return false;
  }
  ++next_segment_;
  backlog_.push_back(std::move(segment));
  std::lock_guard<std::mutex> lock(spill_mu_);
  spill_counters_.spilled_rows += batch.source_rows;
  ++spill_counters_.spill_segments;
  spill_counters_.spill_bytes += segment_buffer_.size();
  return true;
}

bool PostgresStore::LockSpillDirectory() {
  int fd = ::open(spill_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    last_spill_error_ = "cannot open the spill directory " + spill_path_ + ": " + ErrnoText();
    return false;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    // Two live stores must not number segments in one directory.
    spill_path_.clear();
    last_spill_error_ = "spilling is off: another sipman process (same database, sensor and "
                        "spill directory) holds the spill directory";
    return false;
  }
  spill_lock_fd_ = fd;
  return true;
}

void PostgresStore::ReplayBacklog(int64_t deadline_ns) {
  while (!backlog_.empty()) {
    Status why;
    if (!EnsureConnected(&why)) return;
    const SpillSegment& segment = backlog_.front();
    bool missing = false;
    Status s = ReadWholeFile(segment.path, &segment_buffer_, &missing);
    if (missing) {
      // Gone: written by another store on the same directory. Nothing to do.
      std::lock_guard<std::mutex> lock(spill_mu_);
      --spill_counters_.spill_segments;
      spill_counters_.spill_bytes -= std::min(segment.bytes, spill_counters_.spill_bytes);
      backlog_.pop_front();
      spill_cv_.notify_all();
      continue;
    }
    if (s.ok()) s = DecodeSpillSegment(segment_buffer_, &replay_copy_);
    if (!s.ok()) {
      SetAsideSegment("is unreadable (" + s.message() + ")", 0);
      continue;
    }
    BatchResult result;
    bool outage = false;
    s = LoadBatch(replay_copy_, &result, &outage);
    if (!s.ok()) {
      if (outage) return;  // kept; tried again when the server answers
      SetAsideSegment("was refused by the database (" + s.message() + ")",
                      replay_copy_.source_rows);
      continue;
    }
    // Deleted only now: a crash before this line replays the segment again,
    // and the natural keys make that a no-op.
    ::unlink(segment.path.c_str());
    {
      std::lock_guard<std::mutex> lock(spill_mu_);
      StoreCounters& c = spill_counters_;
      ++replayed_batches_;
      c.calls_written += result.calls_inserted;
      c.registrations_written += result.registrations_inserted;
      c.messages_written += result.messages_inserted;
      c.duplicates_ignored += result.duplicates;
      c.message_raw_bytes += result.message_raw_bytes;
      c.message_stored_bytes += result.message_stored_bytes;
      c.messages_compressed += result.messages_compressed;
      c.traffic_seconds_written += result.traffic_seconds_written;
      --c.spill_segments;
      c.spill_bytes -= std::min(segment.bytes, c.spill_bytes);
      backlog_.pop_front();
      spill_cv_.notify_all();
    }
    if (SteadyNowNs() >= deadline_ns) return;
  }
}

void PostgresStore::SetAsideSegment(const std::string& why, uint64_t rows) {
  const SpillSegment segment = backlog_.front();
  const std::string bad = segment.path + ".bad";
  std::string message = "spill segment " + segment.path + " " + why;
  if (::rename(segment.path.c_str(), bad.c_str()) == 0) {
    message += "; moved aside to " + bad +
               " and its rows are not stored (inspect it, then delete it)";
  } else {
    message += "; it could not be moved aside (" + std::string(std::strerror(errno)) +
               ") and was dropped from the backlog; its rows are not stored";
  }
  std::lock_guard<std::mutex> lock(spill_mu_);
  ++spill_errors_;
  spill_error_ = std::move(message);
  ++spill_counters_.spill_bad_segments;
  spill_counters_.rows_failed += rows;
  --spill_counters_.spill_segments;
  spill_counters_.spill_bytes -= std::min(segment.bytes, spill_counters_.spill_bytes);
  backlog_.pop_front();
  spill_cv_.notify_all();
}

Status PostgresStore::TakeSpillError() {
  std::lock_guard<std::mutex> lock(spill_mu_);
  if (spill_errors_ == spill_errors_reported_) return Status::Ok();
  const uint64_t n = spill_errors_ - spill_errors_reported_;
  spill_errors_reported_ = spill_errors_;
  return Status::Error(std::to_string(n) + " spill segment(s) could not be written to " + where_ +
                       "; last: " + spill_error_);
}

// ---- reads ----

Result<PgResult> PostgresStore::Read(const std::string& sql,
                                     const std::vector<std::string>& params) {
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_closed_) return ClosedError();
  for (int attempt = 0;; ++attempt) {
    if (!read_conn_.connected()) {
      Status s = read_conn_.Connect(url_);
      if (!s.ok()) return Status::Error("cannot connect to " + where_ + ": " + s.message());
    }
    Result<PgResult> r = read_conn_.Query(sql, params);
    if (r.ok() || attempt > 0 || !read_conn_.last_error_retryable()) {
      if (!r.ok()) return Status::Error(where_ + ": " + r.status().message());
      return r;
    }
    read_conn_.Disconnect();  // lost: reconnect once and ask again
  }
}

Result<std::map<std::string, int64_t>> PostgresStore::CountCallsByState(const CallQuery& query) {
  Where where;
  AddCallFilters(query, &where);
  auto r = Read("SELECT state, COUNT(*) FROM calls" + where.sql() + " GROUP BY state",
                where.params());
  if (!r.ok()) return r.status();
  std::map<std::string, int64_t> counts;
  for (int i = 0; i < r->rows(); ++i) counts[std::string(r->Text(i, 0))] = r->Int(i, 1);
  return counts;
}

Result<std::vector<calls::CallRecord>> PostgresStore::FindCalls(const CallQuery& query) {
  Where where;
  AddCallFilters(query, &where);
  if (query.after) {
    where.Add("(invite_ts, call_id, sensor, end_ts) > (" + where.P(query.after->invite_ts) +
              ", " + where.P(query.after->call_id) + ", " + where.P(query.after->sensor) + ", " +
              where.P(query.after->end_ts) + ")");
  }
  std::string limit = where.P(LimitOf(query.limit));
  auto res = Read(std::string("SELECT ") + kCallColumns + ", also_seen_by FROM calls" +
                      where.sql() + " ORDER BY invite_ts, call_id, sensor, end_ts LIMIT " + limit,
                  where.params());
  if (!res.ok()) return res.status();
  std::vector<calls::CallRecord> records;
  records.reserve(static_cast<size_t>(res->rows()));
  for (int row = 0; row < res->rows(); ++row) {
    calls::CallRecord r;
    Status s = ReadPgCall(*res, row, 0, "calls row in " + where_, &r);
    if (!s.ok()) return s;
    records.push_back(std::move(r));
  }
  return records;
}

Result<std::vector<calls::RegistrationRecord>> PostgresStore::FindRegistrations(
    const RegistrationQuery& q) {
  Where where;
  if (q.from_ts != 0) where.Add("first_seen >= " + where.P(q.from_ts));
  if (q.to_ts != 0) where.Add("first_seen < " + where.P(q.to_ts));
  if (!q.aor.empty()) where.Prefix("aor", q.aor);
  if (!q.call_id.empty()) where.Add("call_id = " + where.P(q.call_id));
  if (!q.ip.empty()) where.Add("src_ip = " + where.P(NormalizeIp(q.ip)));
  if (!q.result.empty()) where.Add("result = " + where.P(q.result));
  if (!q.sensor.empty()) where.Add("sensor = " + where.P(q.sensor));
  if (q.after) {
    where.Add("(first_seen, call_id, sensor) > (" + where.P(q.after->first_seen) + ", " +
              where.P(q.after->call_id) + ", " + where.P(q.after->sensor) + ")");
  }
  std::string limit = where.P(LimitOf(q.limit));
  auto res = Read(std::string("SELECT ") + kRegistrationColumns + " FROM registrations" +
                      where.sql() + " ORDER BY first_seen, call_id, sensor LIMIT " + limit,
                  where.params());
  if (!res.ok()) return res.status();
  std::vector<calls::RegistrationRecord> records;
  for (int row = 0; row < res->rows(); ++row) {
    calls::RegistrationRecord r;
    Status s = ReadPgRegistration(*res, row, 0, "registrations row in " + where_, &r);
    if (!s.ok()) return s;
    records.push_back(std::move(r));
  }
  return records;
}

Result<std::vector<StoredMessageRow>> PostgresStore::MessagesOfCall(std::string_view call_id) {
  auto res = Read(std::string("SELECT id, ") + kMessageColumns +
                      " FROM messages WHERE call_id = $1 ORDER BY ts, id",
                  {std::string(call_id)});
  if (!res.ok()) return res.status();
  std::vector<StoredMessageRow> rows;
  std::string stored;
  for (int row = 0; row < res->rows(); ++row) {
    StoredMessageRow m;
    m.id = res->Int(row, 0);
    m.sensor = res->Text(row, 1);
    m.call_id = res->Text(row, 2);
    m.ts = res->Int(row, 3);
    bool ips_ok = ParseIp(res->Text(row, 4), &m.src_ip);
    m.src_port = static_cast<uint16_t>(res->Int(row, 5));
    ips_ok = ParseIp(res->Text(row, 6), &m.dst_ip) && ips_ok;
    m.dst_port = static_cast<uint16_t>(res->Int(row, 7));
    m.transport = res->Text(row, 8);
    m.method = res->Text(row, 9);
    m.status = static_cast<int>(res->Int(row, 10));
    m.cseq = static_cast<uint32_t>(res->Int(row, 11));
    int64_t size = res->Int(row, 12);
    m.compression = static_cast<int>(res->Int(row, 13));
    const std::string id = std::to_string(m.id);
    if (!DecodeByteaHex(res->Text(row, 14), &stored)) {
      return Status::Error("message " + id + " in " + where_ + " has unreadable raw bytes");
    }
    m.stored_bytes = stored.size();
    if (!ips_ok) {
      return Status::Error("message " + id + " in " + where_ + " has an unreadable IP address");
    }
    if (size < 0) return Status::Error("message " + id + " in " + where_ + " has a negative size");
    Status s = DecompressMessage(m.compression, stored, static_cast<size_t>(size), &m.raw);
    if (!s.ok()) return Status::Error("message " + id + " in " + where_ + ": " + s.message());
    rows.push_back(std::move(m));
  }
  return rows;
}

Result<int64_t> PostgresStore::CountRows(std::string_view table) {
  const char* sql = nullptr;
  if (table == "calls") sql = "SELECT COUNT(*) FROM calls";
  if (table == "registrations") sql = "SELECT COUNT(*) FROM registrations";
  if (table == "active_calls") sql = "SELECT COUNT(*) FROM active_calls";
  if (table == "messages") sql = "SELECT COUNT(*) FROM messages";
  if (sql == nullptr) {
    return Status::Error("no table '" + std::string(table) +
                         "' to count; use calls, active_calls, registrations or messages");
  }
  auto res = Read(sql, {});
  if (!res.ok()) return res.status();
  return res->Int(0, 0);
}

Result<std::vector<stats::TrafficCounters>> PostgresStore::TrafficRows(const TrafficQuery& q) {
  int t = q.resolution == TrafficResolution::kSecond   ? 0
          : q.resolution == TrafficResolution::kMinute ? 1
                                                       : 2;
  int64_t from = q.from_ts == 0 ? INT64_MIN : CeilDiv(q.from_ts, kNsPerSecond);
  int64_t to = q.to_ts == 0 ? INT64_MAX : CeilDiv(q.to_ts, kNsPerSecond);
  std::vector<std::string> params = {std::to_string(from), std::to_string(to)};
  if (!q.sensor.empty()) params.push_back(q.sensor);
  auto res = Read(std::string("SELECT ts, ") + TrafficColumns() + " FROM " + kTrafficTables[t] +
                      " WHERE ts >= $1 AND ts < $2" + (q.sensor.empty() ? "" : " AND sensor = $3") +
                      " ORDER BY ts",
                  params);
  if (!res.ok()) return res.status();
  std::vector<stats::TrafficCounters> rows;
  for (int row = 0; row < res->rows(); ++row) {
    int64_t ts = res->Int(row, 0);
    if (rows.empty() || rows.back().ts != ts) {
      rows.emplace_back();
      rows.back().ts = ts;
    }
    if (!AddTrafficRow(*res, row, &rows.back())) {
      return Status::Error(std::string(kTrafficTables[t]) + " of " + where_ +
                           " has an unreadable codes column at ts " + std::to_string(ts));
    }
  }
  return rows;
}

Result<stats::TrafficSummary> PostgresStore::SummarizeTraffic(const TrafficQuery& q) {
  TrafficQuery seconds = q;
  seconds.resolution = TrafficResolution::kSecond;
  auto rows = TrafficRows(seconds);
  if (!rows.ok()) return rows.status();
  stats::TrafficSummarizer summarizer;
  for (const stats::TrafficCounters& r : *rows) summarizer.AddSecond(r);

  const int64_t from = q.from_ts == 0 ? INT64_MIN : q.from_ts;
  const int64_t to = q.to_ts == 0 ? INT64_MAX : q.to_ts;
  std::string filter = q.sensor.empty() ? "" : " AND sensor = $3";
  std::vector<std::string> params = {std::to_string(from), std::to_string(to)};
  if (!q.sensor.empty()) params.push_back(q.sensor);
  auto per_second = Read("SELECT invite_ts / 1000000000, COUNT(*) FROM calls "
                         "WHERE invite_ts >= $1 AND invite_ts < $2 AND invite_ts > 0" +
                             filter + " GROUP BY 1",
                         params);
  if (!per_second.ok()) return per_second.status();
  for (int r = 0; r < per_second->rows(); ++r) {
    summarizer.AddCalls(per_second->Int(r, 0), static_cast<uint64_t>(per_second->Int(r, 1)));
  }
  stats::TrafficSummary summary = summarizer.Summary();
  if (summary.span_seconds == 0) return summary;

  int64_t span_from = std::max(from, summary.first_second * kNsPerSecond);
  int64_t span_to = std::min(to, (summary.last_second + 1) * kNsPerSecond);
  if (span_to <= span_from) return summary;
  params[0] = std::to_string(span_to);
  params[1] = std::to_string(span_from);
  auto intervals = Read("SELECT answer_ts, end_ts FROM calls WHERE invite_ts < $1 AND "
                        "end_ts > $2 AND answer_ts > 0 AND end_ts > answer_ts" + filter,
                        params);
  if (!intervals.ok()) return intervals.status();
  ConcurrentCalls concurrent(span_from, span_to);
  for (int r = 0; r < intervals->rows(); ++r) {
    concurrent.AddCall(intervals->Int(r, 0), intervals->Int(r, 1));
  }
  concurrent.Finish(&summary);
  return summary;
}

}  // namespace sipman::store::internal
