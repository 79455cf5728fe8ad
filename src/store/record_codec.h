// Private to store/: the conversions between records and column values that
// every backend shares (IP text, state names, media JSON, zstd for raw
// messages).
#ifndef SIPMAN_STORE_RECORD_CODEC_H_
#define SIPMAN_STORE_RECORD_CODEC_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"
#include "calls/calls.h"

struct ZSTD_CCtx_s;

namespace sipman::store::internal {

// The textual form of `ip` ("" for an absent address) written into `out`,
// which must hold 46 bytes. Returns the length.
size_t FormatIp(const IpAddress& ip, char* out);
// Parses a dotted quad or an IPv6 address; "" gives the absent address.
bool ParseIp(std::string_view text, IpAddress* ip);

// The inverse of calls::CallStateName.
bool ParseCallState(std::string_view name, calls::CallState* state);

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
constexpr int kCompressionZstd = 1;

// Compresses raw messages with one reused zstd context (one per thread).
class MessageCompressor {
 public:
  // `level` 0 disables compression. A result is kept only when it is at most
  // (1 - min_gain) of the input size.
  MessageCompressor(int level, double min_gain);
  ~MessageCompressor();
  MessageCompressor(const MessageCompressor&) = delete;
  MessageCompressor& operator=(const MessageCompressor&) = delete;

  // Returns kCompressionZstd and sets *stored to the compressed bytes (a
  // view into this object's buffer, valid until the next call) when that
  // pays; else kCompressionNone and *stored = raw.
  int Compress(std::string_view raw, std::string_view* stored);

 private:
  ZSTD_CCtx_s* cctx_ = nullptr;
  int level_;
  double max_ratio_;
  std::string buffer_;
};

// Restores a message stored with `compression`; `size` is its raw size.
Status DecompressMessage(int compression, std::string_view stored, size_t size,
                         std::string* raw);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_RECORD_CODEC_H_
