#include "media/rtcp_json.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace sipman::media {
namespace {

constexpr int kMaxDepth = 8;
constexpr size_t kMaxBlocks = 31;  // RTCP's 5-bit report count

// A strict little JSON reader that hands each scalar to the report by its
// place: "ssrc", "sender_information.packets", "report_blocks.lsr", ...
class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  template <typename OnScalar, typename OnObjectEnd>
  bool Document(OnScalar on_scalar, OnObjectEnd on_object_end) {
    SkipSpace();
    if (i_ >= s_.size() || s_[i_] != '{') return false;
    std::string path;
    if (!Value(0, &path, on_scalar, on_object_end)) return false;
    SkipSpace();
    return i_ == s_.size();
  }

 private:
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool Literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  // A string's contents; escapes are kept as written (keys and numbers
  // never need them).
  bool String(std::string_view* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    const size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') ++i_;
      ++i_;
    }
    if (i_ >= s_.size()) return false;
    *out = s_.substr(start, i_ - start);
    ++i_;
    return true;
  }

  template <typename OnScalar, typename OnObjectEnd>
  bool Value(int depth, std::string* path, OnScalar& on_scalar, OnObjectEnd& on_object_end) {
    if (depth > kMaxDepth) return false;
    SkipSpace();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      SkipSpace();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        on_object_end(*path);
        return true;
      }
      for (;;) {
        SkipSpace();
        std::string_view key;
        if (!String(&key)) return false;
        SkipSpace();
        if (i_ >= s_.size() || s_[i_++] != ':') return false;
        const size_t saved = path->size();
        if (!path->empty()) path->push_back('.');
        path->append(key);
        if (!Value(depth + 1, path, on_scalar, on_object_end)) return false;
        path->resize(saved);
        SkipSpace();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (s_[i_++] != '}') return false;
        on_object_end(*path);
        return true;
      }
    }
    if (c == '[') {
      ++i_;
      SkipSpace();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return true;
      }
      for (;;) {  // elements keep the array's path
        if (!Value(depth + 1, path, on_scalar, on_object_end)) return false;
        SkipSpace();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        return s_[i_++] == ']';
      }
    }
    if (c == '"') {
      std::string_view text;
      if (!String(&text)) return false;
      on_scalar(*path, text);
      return true;
    }
    if (Literal("true") || Literal("false") || Literal("null")) return true;
    const size_t start = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '+' || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
    }
    if (i_ == start) return false;
    on_scalar(*path, s_.substr(start, i_ - start));
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// A JSON number (or a string holding one); NaN when it is neither.
double Number(std::string_view text) {
  double v = NAN;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size() ? v : NAN;
}

uint32_t U32(double v) {
  return std::isfinite(v) && v > 0 ? static_cast<uint32_t>(std::min(v, 4294967295.0)) : 0;
}

}  // namespace

RtcpError WalkRtcpJson(std::string_view json, RtcpVisitor* visitor) {
  uint32_t ssrc = 0;
  bool has_sender_info = false;
  double ntp_sec = 0, ntp_frac = 0;
  RtcpSenderInfo info;
  RtcpReportBlock block;
  RtcpReportBlock blocks[kMaxBlocks];
  size_t block_count = 0;
  Reader reader(json);
  const bool ok = reader.Document(
      [&](const std::string& path, std::string_view text) {
        const double v = Number(text);
        if (path == "ssrc") {
          ssrc = U32(v);
        } else if (path.starts_with("sender_information.")) {
          const std::string_view field = std::string_view(path).substr(19);
          if (field == "ntp_timestamp_sec") ntp_sec = std::isfinite(v) ? v : 0;
          if (field == "ntp_timestamp_usec") ntp_frac = std::isfinite(v) ? v : 0;
          if (field == "rtp_timestamp") {  // may come signed (Asterisk): taken mod 2^32
            info.rtp_timestamp = std::isfinite(v) ? static_cast<uint32_t>(static_cast<int64_t>(
                                                        std::fmod(v, 4294967296.0))) : 0;
          }
          if (field == "packets") info.packet_count = U32(v);
          if (field == "octets") info.octet_count = U32(v);
        } else if (path.starts_with("report_blocks.")) {
          const std::string_view field = std::string_view(path).substr(14);
          if (field == "source_ssrc") block.source = U32(v);
          if (field == "fraction_lost") block.fraction_lost = static_cast<uint8_t>(std::min(U32(v), 255u));
          if (field == "packets_lost" && std::isfinite(v)) {
            block.cumulative_lost = static_cast<int32_t>(std::clamp(v, -8388608.0, 8388607.0));
          }
          if (field == "highest_seq_no") block.highest_sequence = U32(v);
          if (field == "ia_jitter") block.jitter = U32(v);
          if (field == "lsr") block.last_sr = U32(v);
          if (field == "dlsr") block.delay_since_last_sr = U32(v);
        }
      },
      [&](const std::string& path) {
        if (path == "sender_information") has_sender_info = true;
        if (path == "report_blocks") {
          if (block_count < kMaxBlocks) blocks[block_count++] = block;
          block = RtcpReportBlock();
        }
      });
  if (!ok) return RtcpError::kBadJson;
  if (has_sender_info) {
    // The fraction comes as NTP's raw 32-bit fraction (rtpengine, heplify)
    // or as microseconds (Asterisk): below 10^6 it is taken as microseconds.
    const uint64_t fraction = ntp_frac >= 1e6 ? static_cast<uint64_t>(U32(ntp_frac))
                                              : static_cast<uint64_t>(std::max(0.0, ntp_frac) * 4294.967296);
    info.ntp_timestamp = (static_cast<uint64_t>(U32(ntp_sec)) << 32) | (fraction & 0xFFFFFFFFu);
    visitor->OnSenderReport(ssrc, info);
  }
  for (size_t i = 0; i < block_count; ++i) visitor->OnReportBlock(ssrc, blocks[i]);
  return RtcpError::kNone;
}

}  // namespace sipman::media
