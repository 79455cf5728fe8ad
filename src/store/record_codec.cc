#include "store/record_codec.h"

#include <arpa/inet.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>

namespace sipman::store::internal {

size_t FormatIp(const IpAddress& ip, char* out) {
  if (ip.family == IpAddress::Family::kNone) return 0;
  if (!ip.is_v4()) return ip.Format(out);
  // Dotted quad by hand: glibc's inet_ntop formats IPv4 through sprintf,
  // which showed in the writer's profile.
  char* p = out;
  for (int i = 0; i < 4; ++i) {
    unsigned v = ip.bytes[i];
    if (i > 0) *p++ = '.';
    if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
    *p++ = static_cast<char>('0' + v % 10);
  }
  *p = '\0';
  return static_cast<size_t>(p - out);
}

bool ParseIp(std::string_view text, IpAddress* ip) {
  *ip = IpAddress();
  if (text.empty()) return true;
  char buffer[64];
  if (text.size() >= sizeof(buffer)) return false;
  text.copy(buffer, text.size());
  buffer[text.size()] = '\0';
  uint8_t bytes[16];
  if (inet_pton(AF_INET, buffer, bytes) == 1) {
    *ip = IpAddress::V4(bytes);
    return true;
  }
  if (inet_pton(AF_INET6, buffer, bytes) == 1) {
    *ip = IpAddress::V6(bytes);
    return true;
  }
  return false;
}

bool ParseCallState(std::string_view name, calls::CallState* state) {
  for (calls::CallState s :
       {calls::CallState::kAnswered, calls::CallState::kBusy, calls::CallState::kCancelled,
        calls::CallState::kNoAnswer, calls::CallState::kFailed, calls::CallState::kInProgress,
        calls::CallState::kTimedOut}) {
    if (calls::CallStateName(s) == name) {
      *state = s;
      return true;
    }
  }
  return false;
}

namespace {

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
          out->append(escape);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// A bounds-checked reader of the small JSON subset the media columns hold.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }

  bool String(std::string* out) {
    out->clear();
    if (!Consume('"')) return false;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return false;
      char e = text_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {
            uint32_t low;
            if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
              return false;
            }
            pos_ += 2;
            if (!Hex4(&low) || low < 0xDC00 || low >= 0xE000) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  bool Integer(int64_t* value) {
    SkipSpace();
    bool negative = pos_ < text_.size() && text_[pos_] == '-';
    if (negative) ++pos_;
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (v > (INT64_MAX - 9) / 10) return false;
      v = v * 10 + (text_[pos_++] - '0');
    }
    if (pos_ == start) return false;
    *value = negative ? -v : v;
    return true;
  }

 private:
  bool Hex4(uint32_t* cp) {
    if (text_.size() - pos_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return false;
    }
    *cp = v;
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

void AppendMediaJson(const std::vector<calls::MediaStream>& media, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < media.size(); ++i) {
    const calls::MediaStream& m = media[i];
    if (i > 0) out->push_back(',');
    out->append("{\"type\":");
    AppendJsonString(m.type, out);
    out->append(",\"address\":");
    AppendJsonString(m.address, out);
    out->append(",\"port\":");
    out->append(std::to_string(m.port));
    out->append(",\"codecs\":");
    AppendJsonString(m.codecs, out);
    out->push_back('}');
  }
  out->push_back(']');
}

bool ParseMediaJson(std::string_view json, std::vector<calls::MediaStream>* media) {
  media->clear();
  JsonReader r(json);
  if (r.AtEnd()) return true;
  if (!r.Consume('[')) return false;
  if (r.Consume(']')) return r.AtEnd();
  std::string key, text;
  do {
    if (!r.Consume('{')) return false;
    calls::MediaStream m;
    if (!r.Peek('}')) {
      do {
        if (!r.String(&key) || !r.Consume(':')) return false;
        if (r.Peek('"')) {
          if (!r.String(&text)) return false;
          if (key == "type") m.type = text;
          else if (key == "address") m.address = text;
          else if (key == "codecs") m.codecs = text;
        } else {
          int64_t number;
          if (!r.Integer(&number)) return false;
          if (key == "port") {
            if (number < 0 || number > 65535) return false;
            m.port = static_cast<uint16_t>(number);
          }
        }
      } while (r.Consume(','));
    }
    if (!r.Consume('}')) return false;
    media->push_back(std::move(m));
  } while (r.Consume(','));
  return r.Consume(']') && r.AtEnd();
}

MessageCompressor::MessageCompressor(int level, double min_gain)
    : level_(level), max_ratio_(1.0 - min_gain) {
  if (level_ != 0) cctx_ = ZSTD_createCCtx();
}

MessageCompressor::~MessageCompressor() { ZSTD_freeCCtx(cctx_); }

int MessageCompressor::Compress(std::string_view raw, std::string_view* stored) {
  *stored = raw;
  if (cctx_ == nullptr || raw.empty()) return kCompressionNone;
  size_t bound = ZSTD_compressBound(raw.size());
  if (buffer_.size() < bound) buffer_.resize(bound);
  size_t n = ZSTD_compressCCtx(cctx_, buffer_.data(), buffer_.size(), raw.data(), raw.size(),
                               level_);
  if (ZSTD_isError(n) || static_cast<double>(n) > max_ratio_ * static_cast<double>(raw.size())) {
    return kCompressionNone;
  }
  *stored = std::string_view(buffer_.data(), n);
  return kCompressionZstd;
}

Status DecompressMessage(int compression, std::string_view stored, size_t size,
                         std::string* raw) {
  if (compression == kCompressionNone) {
    if (stored.size() != size) {
      return Status::Error("stored message has " + std::to_string(stored.size()) +
                           " bytes, its size column says " + std::to_string(size));
    }
    raw->assign(stored);
    return Status::Ok();
  }
  if (compression != kCompressionZstd) {
    return Status::Error("unknown compression " + std::to_string(compression) +
                         " (this sipman knows 0 none and 1 zstd; upgrade sipman)");
  }
  raw->resize(size);
  size_t n = ZSTD_decompress(raw->data(), size, stored.data(), stored.size());
  if (ZSTD_isError(n)) {
    return Status::Error(std::string("corrupt zstd message: ") + ZSTD_getErrorName(n));
  }
  if (n != size) {
    return Status::Error("zstd message decompressed to " + std::to_string(n) +
                         " bytes, its size column says " + std::to_string(size));
  }
  return Status::Ok();
}

}  // namespace sipman::store::internal
