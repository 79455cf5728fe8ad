// Private to calls/: small readers of SIP header values and SDP that the
// tracker needs beyond what sip::SipMessage pre-extracts. All return views
// into their input (or write into a caller's buffer); none allocates.
#ifndef SIPMAN_CALLS_SIP_FIELDS_H_
#define SIPMAN_CALLS_SIP_FIELDS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/sip.h"

namespace sipman::calls {

// The user part of the URI in a name-addr header value (P-Asserted-Identity,
// Diversion); for a list, of its first entry. Empty when there is none.
std::string_view NameAddrUser(std::string_view header_value);

// The URI text of the first Contact value: between '<' and '>' for a
// name-addr, else up to the first ';' or ','. "*" stays "*".
std::string_view ContactUriText(std::string_view contact_value);

// The expires parameter of the first Contact value; -1 when absent or not a
// number.
int64_t ContactExpires(std::string_view contact_value);

// One value of a Reason header (RFC 3326): `Q.850;cause=16;text="..."`.
struct ReasonValue {
  std::string_view protocol;
  int cause = 0;
  std::string_view text;
};

// Reads a Reason header value (a comma-separated list); prefers a Q.850
// value over others. False when no value has a protocol token.
bool ParseReason(std::string_view header_value, ReasonValue* out);

// Writes "PCMU/8000,telephone-event/8000" for `media`: its formats in order,
// named by their rtpmap, else by the static RTP payload table (RFC 3551),
// else as written. Returns the view of `buffer` written; codecs that do not fit are left
// out whole.
std::string_view FormatCodecs(const sip::SdpMedia& media, char* buffer, size_t buffer_size);

// The nonce of a Digest challenge (WWW-Authenticate, Proxy-Authenticate) or
// of credentials (Authorization, Proxy-Authorization), RFC 3261 section 25.1:
// `Digest realm="a", nonce="xyz", ...` gives `xyz` (without quotes). Empty
// when the value has no nonce parameter (cnonce is not a nonce).
std::string_view DigestNonce(std::string_view header_value);

// "user@host" of a URI into `buffer` ("host" when there is no user).
std::string_view FormatAor(const sip::SipUri& uri, char* buffer, size_t buffer_size);

// Parses a decimal integer that fills `text` (after trimming blanks); false
// when it does not, or when it overflows int64_t.
bool ParseInt(std::string_view text, int64_t* out);

}  // namespace sipman::calls

#endif  // SIPMAN_CALLS_SIP_FIELDS_H_
