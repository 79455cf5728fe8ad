// Private to store/: the conversions between records and column values that
// every backend shares (IP text, state names, media JSON, zstd for raw
// messages).
#ifndef SIPMAN_STORE_RECORD_CODEC_H_
#define SIPMAN_STORE_RECORD_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"
#include "calls/calls.h"

struct ZSTD_CCtx_s;
struct ZSTD_CDict_s;

namespace sipman::store::internal {

// The textual form of `ip` ("" for an absent address) written into `out`,
// which must hold 46 bytes. Returns the length.
size_t FormatIp(const IpAddress& ip, char* out);
// Parses a dotted quad or an IPv6 address; "" gives the absent address.
bool ParseIp(std::string_view text, IpAddress* ip);

// The textual form the store writes for an IP address given as a filter
// (FormatIp of ParseIp): false, *out untouched, for "" or text that is no
// address.
bool CanonicalIpText(std::string_view text, std::string* out);

// Media streams as a JSON array of objects
// [{"type":"audio","address":"10.0.0.1","port":4000,"codecs":"PCMU/8000"}];
// "[]" for none.
void AppendMediaJson(const std::vector<calls::MediaStream>& media, std::string* out);
// Parses what AppendMediaJson writes (any JSON whitespace, escapes and key
// order; unknown keys with string or number values are skipped). An empty
// text gives no streams.
bool ParseMediaJson(std::string_view json, std::vector<calls::MediaStream>* media);

// Values of the messages.compression column.
constexpr int kCompressionNone = 0;
constexpr int kCompressionZstd = 1;      // one zstd frame, no dictionary
constexpr int kCompressionZstdSip1 = 2;  // one zstd frame made with SipDictionaryV1()

// The built-in SIP dictionary of compression 2 (sip_dictionary.cc). FROZEN.
std::string_view SipDictionaryV1();

// Compresses raw messages with one reused zstd context. Not thread-safe: use
// one per thread (the digested dictionary behind it is shared, read-only).
//
// With the dictionary (the default) a ~400-byte SIP message shrinks to about
// half and costs about 27,000 instructions instead of 46,000 for a plain
// zstd frame: at level 1 the literals are left raw (no Huffman table is
// built per message, the main cost on tiny inputs; the dictionary already
// removes most literals).
class MessageCompressor {
 public:
  // `level` 0 disables compression. A result is kept only when it is at most
  // (1 - min_gain) of the input size.
  MessageCompressor(int level, double min_gain, bool use_dictionary = false);
  ~MessageCompressor();
  MessageCompressor(const MessageCompressor&) = delete;
  MessageCompressor& operator=(const MessageCompressor&) = delete;

  // Returns the compression used (kCompressionZstdSip1, or kCompressionZstd
  // without the dictionary) and sets *stored to the compressed bytes (a view
  // into this object's buffer, valid until the next call) when that pays;
  // else kCompressionNone and *stored = raw.
  int Compress(std::string_view raw, std::string_view* stored);

  int level() const { return level_; }
  double min_gain() const { return min_gain_; }
  bool use_dictionary() const { return use_dictionary_; }

 private:
  ZSTD_CCtx_s* cctx_ = nullptr;
  const ZSTD_CDict_s* cdict_ = nullptr;  // process-wide, never freed
  int level_;
  double min_gain_;
  double max_ratio_;
  bool use_dictionary_;
  std::string buffer_;
};

// Restores a message stored with `compression`; `size` is its raw size.
// Thread-safe.
Status DecompressMessage(int compression, std::string_view stored, size_t size,
                         std::string* raw);

// The messages.key_hash of a message: a 64-bit FNV-1a hash over its natural
// key, i.e. the column values sensor, call_id, src_ip and dst_ip (as stored
// text), src_port, dst_port and size. FROZEN: stored rows depend on it.
int64_t MessageKeyHash(std::string_view sensor, std::string_view call_id,
                       std::string_view src_ip, int64_t src_port, std::string_view dst_ip,
                       int64_t dst_port, int64_t size);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_RECORD_CODEC_H_
