// Private to web/: the TLS side of the HTTP server, on OpenSSL. TlsContext
// holds the certificate and key; the Tls* functions drive one connection's
// SSL object over a non-blocking socket and say what the socket must become
// (readable or writable) before the same call is tried again.
#ifndef SIPMAN_WEB_TLS_H_
#define SIPMAN_WEB_TLS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace sipman::web {

struct SslFree {
  void operator()(SSL* ssl) const;
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

class TlsContext {
 public:
  // Loads a PEM certificate chain and its PEM private key (unencrypted).
  // The error names the file that failed and what to do about it. The
  // context accepts TLS 1.2 and 1.3 only.
  static Result<std::unique_ptr<TlsContext>> Load(const std::string& cert_file,
                                                  const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server-side SSL object over `fd` (non-blocking, still owned by the
  // caller), its handshake not started; null when OpenSSL is out of memory.
  SslPtr NewConnection(int fd) const;

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

enum class TlsStatus {
  kOk,
  kWantRead,   // try the same call again once the socket is readable
  kWantWrite,  // ... once it is writable
  kClosed,     // the peer closed, or the connection failed: close it
};

// Advances the server handshake. `*plain_http` is set when the peer spoke
// plain HTTP instead (kClosed is returned then).
TlsStatus TlsHandshake(SSL* ssl, bool* plain_http);
// Reads up to `size` decrypted bytes into `buffer`; `*got` on kOk.
TlsStatus TlsRead(SSL* ssl, char* buffer, size_t size, size_t* got);
// Writes a prefix of `data`; `*written` (at least 1) on kOk. After kWant*,
// the retry must pass the same bytes again (their address may change).
TlsStatus TlsWrite(SSL* ssl, std::string_view data, size_t* written);
// Sends close_notify once, without waiting for the socket or the reply.
void TlsShutdown(SSL* ssl);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_TLS_H_
