#include "web/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace sipman::web {
namespace {

// The errors OpenSSL queued on this thread, oldest (the root cause) first;
// the queue is empty afterwards.
std::vector<unsigned long> TakeErrors() {
  std::vector<unsigned long> codes;
  while (unsigned long code = ERR_get_error()) codes.push_back(code);
  return codes;
}

// The reason of the root cause ("no start line", "bad decrypt").
std::string Reason(const std::vector<unsigned long>& codes) {
  if (codes.empty()) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(codes.front());
  if (reason != nullptr) return reason;
  char text[256];
  ERR_error_string_n(codes.front(), text, sizeof(text));
  return text;
}

bool KeyMismatch(const std::vector<unsigned long>& codes) {
  for (unsigned long code : codes) {
    if (ERR_GET_LIB(code) == ERR_LIB_X509 && (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
                                              ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH)) {
      return true;
    }
  }
  return false;
}

// True when the PEM file holds a passphrase-protected key.
bool Encrypted(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find("ENCRYPTED") != std::string::npos;
}

// An encrypted key must fail to load, not prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

// Empty when `path` can be opened for reading, else why not.
std::string Unreadable(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::strerror(errno);
  std::fclose(f);
  return "";
}

// Maps the result of an SSL call; `ret` > 0 is success.
TlsStatus Classify(SSL* ssl, int ret) {
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_NONE:
      return TlsStatus::kOk;
    case SSL_ERROR_WANT_READ:
      return TlsStatus::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsStatus::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:  // close_notify: TlsShutdown answers it
      ERR_clear_error();
      return TlsStatus::kClosed;
    default:
      // SYSCALL (EOF, reset) or SSL (protocol error): OpenSSL forbids a
      // shutdown after these, so TlsShutdown must send nothing. The error
      // queue is per thread: leave it empty.
      SSL_set_quiet_shutdown(ssl, 1);
      ERR_clear_error();
      return TlsStatus::kClosed;
  }
}

}  // namespace

void SslFree::operator()(SSL* ssl) const { SSL_free(ssl); }

Result<std::unique_ptr<TlsContext>> TlsContext::Load(const std::string& cert_file,
                                                     const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return Status::Error(std::string(cert_file.empty() ? "--tls-key" : "--tls-cert") +
                         " is set but " + (cert_file.empty() ? "--tls-cert" : "--tls-key") +
                         " is not: HTTPS needs both the certificate and its key (PEM files); "
                         "give neither to serve plain HTTP");
  }
  if (std::string why = Unreadable(cert_file); !why.empty()) {
    return Status::Error("--tls-cert " + cert_file + ": cannot read the certificate: " + why +
                         " (give a readable PEM certificate file)");
  }
  if (std::string why = Unreadable(key_file); !why.empty()) {
    return Status::Error("--tls-key " + key_file + ": cannot read the private key: " + why +
                         " (give a PEM key file readable by this user)");
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Status::Error("cannot set up TLS: " + Reason(TakeErrors()));
  std::unique_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Renegotiation would let a client make a read want a write mid-stream;
  // nothing needs it.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Partial writes let a writer flush what the socket takes and keep the
  // rest; idle keep-alive connections hold no buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Status::Error("--tls-cert " + cert_file + ": not a usable PEM certificate (" +
                         Reason(TakeErrors()) +
                         "): give the server certificate in PEM (-----BEGIN CERTIFICATE-----), "
                         "followed by any intermediate certificates");
  }
  // The key is checked against the certificate as it loads.
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    std::vector<unsigned long> errors = TakeErrors();
    if (KeyMismatch(errors)) {
      return Status::Error("--tls-key " + key_file +
                           " does not match the certificate in --tls-cert " + cert_file +
                           ": give the key the certificate was made with");
    }
    if (Encrypted(key_file)) {
      return Status::Error("--tls-key " + key_file +
                           ": the key is protected by a passphrase, which SIPMan cannot ask "
                           "for: decrypt it once with 'openssl pkey -in " + key_file +
                           " -out PLAIN.pem' and give PLAIN.pem (readable by this user only)");
    }
    return Status::Error("--tls-key " + key_file + ": not a usable PEM private key (" +
                         Reason(errors) +
                         "): give the PEM private key of the certificate "
                         "(-----BEGIN PRIVATE KEY-----)");
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SslPtr TlsContext::NewConnection(int fd) const {
  SslPtr ssl(SSL_new(ctx_));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl.get());
  return ssl;
}

TlsStatus TlsHandshake(SSL* ssl, bool* plain_http) {
  *plain_http = false;
  ERR_clear_error();
  int ret = SSL_do_handshake(ssl);
  if (ret == 1) return TlsStatus::kOk;
  if (SSL_get_error(ssl, ret) == SSL_ERROR_SSL &&
      ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_HTTP_REQUEST) {
    *plain_http = true;
  }
  return Classify(ssl, ret);
}

TlsStatus TlsRead(SSL* ssl, char* buffer, size_t size, size_t* got) {
  ERR_clear_error();
  int ret = SSL_read_ex(ssl, buffer, size, got);
  return Classify(ssl, ret);
}

TlsStatus TlsWrite(SSL* ssl, std::string_view data, size_t* written) {
  ERR_clear_error();
  int ret = SSL_write_ex(ssl, data.data(), data.size(), written);
  return Classify(ssl, ret);
}

void TlsShutdown(SSL* ssl) {
  ERR_clear_error();
  if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
  ERR_clear_error();
}

}  // namespace sipman::web
