// FNV-1a hashing (Fowler, Noll, Vo), 32 and 64 bit: cheap, stable across
// hosts and releases, for hash tables (calls/) and for keys and checksums
// written to disk (store/). Not for anything an attacker may aim at.
#ifndef SIPMAN_BASE_FNV_H_
#define SIPMAN_BASE_FNV_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sipman {

template <typename Word, Word kOffsetBasis, Word kPrime>
class BasicFnv1a {
 public:
  void Byte(uint8_t b) { h_ = (h_ ^ b) * kPrime; }
  void Bytes(std::string_view bytes) {
    for (char c : bytes) Byte(static_cast<uint8_t>(c));
  }
  // The low `size` bytes of `value`, least significant first, so the hash
  // is the same on every host.
  void LittleEndian(uint64_t value, int size) {
    for (int i = 0; i < size; ++i) Byte(static_cast<uint8_t>(value >> (8 * i)));
  }
  Word value() const { return h_; }

  static Word Of(std::string_view bytes) {
    BasicFnv1a h;
    h.Bytes(bytes);
    return h.value();
  }

 private:
  Word h_ = kOffsetBasis;
};

using Fnv1a32 = BasicFnv1a<uint32_t, 2166136261u, 16777619u>;
using Fnv1a64 = BasicFnv1a<uint64_t, 14695981039346656037ull, 1099511628211ull>;

}  // namespace sipman

#endif  // SIPMAN_BASE_FNV_H_
