#include "store/record_codec.h"

#include <arpa/inet.h>
// For ZSTD_createCDict_advanced / ZSTD_createDDict_advanced (raw content
// dictionaries by reference): stable in every zstd since 1.4.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "base/fnv.h"
#include "base/json_escape.h"
#include "base/utf8.h"

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

bool CanonicalIpText(std::string_view text, std::string* out) {
  IpAddress ip;
  if (text.empty() || !ParseIp(text, &ip)) return false;
  char buffer[46];
  out->assign(buffer, FormatIp(ip, buffer));
  return true;
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

namespace {

// The media columns hold SDP text as it came, bytes kept as they are.
void AppendJsonString(std::string_view text, std::string* out) {
  sipman::AppendJsonString(text, JsonEscapeStyle{},
                           [out](std::string_view part) { out->append(part); });
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

namespace {

// Digested dictionaries are built once per process and shared by every
// compressor: a CDict is read-only once made, so threads may use it at once.
const ZSTD_CDict* SipCDict(int level) {
  static std::mutex mu;
  static std::map<int, ZSTD_CDict*>* cdicts = new std::map<int, ZSTD_CDict*>();
  std::lock_guard<std::mutex> lock(mu);
  ZSTD_CDict*& cdict = (*cdicts)[level];
  if (cdict == nullptr) {
    std::string_view dict = SipDictionaryV1();
    // Parameters for ~500-byte inputs: small tables, cheap to reset.
    cdict = ZSTD_createCDict_advanced(dict.data(), dict.size(), ZSTD_dlm_byRef,
                                      ZSTD_dct_rawContent, ZSTD_getCParams(level, 512, dict.size()),
                                      ZSTD_defaultCMem);
  }
  return cdict;
}

const ZSTD_DDict* SipDDict() {
  static const ZSTD_DDict* ddict = [] {
    std::string_view dict = SipDictionaryV1();
    return ZSTD_createDDict_advanced(dict.data(), dict.size(), ZSTD_dlm_byRef,
                                     ZSTD_dct_rawContent, ZSTD_defaultCMem);
  }();
  return ddict;
}

struct DCtxDeleter {
  void operator()(ZSTD_DCtx* dctx) const { ZSTD_freeDCtx(dctx); }
};

// One decompression context per thread, reused.
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

}  // namespace

MessageCompressor::MessageCompressor(int level, double min_gain, bool use_dictionary)
    : level_(level),
      min_gain_(min_gain),
      max_ratio_(1.0 - min_gain),
      use_dictionary_(use_dictionary) {
  if (level_ == 0) return;
  cctx_ = ZSTD_createCCtx();
  if (cctx_ == nullptr) return;
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level_);
  if (!use_dictionary) return;
  cdict_ = SipCDict(level_);
  if (cdict_ == nullptr) return;
  // Raw literals at level 1: building a Huffman table per tiny message cost
  // 40% of the instructions, and the dictionary leaves few literals.
  if (level_ <= 1) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_literalCompressionMode, ZSTD_ps_disable);
  }
  ZSTD_CCtx_refCDict(cctx_, cdict_);
}

MessageCompressor::~MessageCompressor() { ZSTD_freeCCtx(cctx_); }

int MessageCompressor::Compress(std::string_view raw, std::string_view* stored) {
  *stored = raw;
  if (cctx_ == nullptr || raw.empty()) return kCompressionNone;
  size_t bound = ZSTD_compressBound(raw.size());
  if (buffer_.size() < bound) buffer_.resize(bound);
  size_t n = ZSTD_compress2(cctx_, buffer_.data(), buffer_.size(), raw.data(), raw.size());
  if (ZSTD_isError(n) || static_cast<double>(n) > max_ratio_ * static_cast<double>(raw.size())) {
    return kCompressionNone;
  }
  *stored = std::string_view(buffer_.data(), n);
  return cdict_ != nullptr ? kCompressionZstdSip1 : kCompressionZstd;
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
  if (compression != kCompressionZstd && compression != kCompressionZstdSip1) {
    return Status::Error("unknown compression " + std::to_string(compression) +
                         " (this sipman knows 0 none, 1 zstd and 2 zstd with the SIP "
                         "dictionary; upgrade sipman)");
  }
  ZSTD_DCtx* dctx = ThreadDCtx();
  const ZSTD_DDict* ddict = compression == kCompressionZstdSip1 ? SipDDict() : nullptr;
  if (dctx == nullptr || (compression == kCompressionZstdSip1 && ddict == nullptr)) {
    return Status::Error("out of memory for a zstd decompression context");
  }
  raw->resize(size);
  size_t n = ddict != nullptr ? ZSTD_decompress_usingDDict(dctx, raw->data(), size, stored.data(),
                                                           stored.size(), ddict)
                              : ZSTD_decompressDCtx(dctx, raw->data(), size, stored.data(),
                                                    stored.size());
  if (ZSTD_isError(n)) {
    return Status::Error(std::string("corrupt zstd message: ") + ZSTD_getErrorName(n));
  }
  if (n != size) {
    return Status::Error("zstd message decompressed to " + std::to_string(n) +
                         " bytes, its size column says " + std::to_string(size));
  }
  return Status::Ok();
}

namespace {

// Integers as 8 little-endian bytes, so the hash is the same on every host.
void HashInt(int64_t value, Fnv1a64* h) { h->LittleEndian(static_cast<uint64_t>(value), 8); }

// Texts with their length first: ("ab", "c") and ("a", "bc") differ.
void HashText(std::string_view text, Fnv1a64* h) {
  HashInt(static_cast<int64_t>(text.size()), h);
  h->Bytes(text);
}

}  // namespace

int64_t MessageKeyHash(std::string_view sensor, std::string_view call_id,
                       std::string_view src_ip, int64_t src_port, std::string_view dst_ip,
                       int64_t dst_port, int64_t size) {
  Fnv1a64 h;
  HashText(sensor, &h);
  HashText(call_id, &h);
  HashText(src_ip, &h);
  HashInt(src_port, &h);
  HashText(dst_ip, &h);
  HashInt(dst_port, &h);
  HashInt(size, &h);
  return static_cast<int64_t>(h.value());
}

}  // namespace sipman::store::internal
