// The sip module's public face: a zero-copy, one-pass SIP message parser and
// an SDP parser (picohttpparser's shape: views into the caller's buffer, no
// allocation, no copy).
//
// LIFETIME: every std::string_view in SipMessage, SipUri, NameAddr and
// SdpSession points into the buffer passed to the parser. They are valid as
// long as that buffer is; copy what must outlive it.
#ifndef SIPMAN_SIP_SIP_H_
#define SIPMAN_SIP_SIP_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sipman::sip {

// Headers the parser pre-extracts. Others are kept as kOther.
enum class HeaderId : uint8_t {
  kOther,
  kCallId,         // i
  kFrom,           // f
  kTo,             // t
  kVia,            // v
  kCSeq,
  kContact,        // m
  kContentLength,  // l
  kContentType,    // c
  kContentEncoding,  // e
  kSupported,      // k
  kSubject,        // s
  kReferTo,        // r
  kEvent,          // o
  kAllowEvents,    // u
  kMaxForwards,
  kUserAgent,
  kServer,
  kExpires,
  kPAssertedIdentity,
  kDiversion,
  kReason,
  kRecordRoute,
  kRoute,
  kAuthorization,
  kProxyAuthorization,
  kWwwAuthenticate,
  kProxyAuthenticate,
  kAcceptContact,       // a
  kReferredBy,          // b
  kRequestDisposition,  // d
  kRejectContact,       // j
  kSessionExpires,      // x
  kIdentity,            // y
  kIdentityInfo,        // n
};

struct Header {
  HeaderId id = HeaderId::kOther;
  std::string_view name;   // as written (may be compact, any case)
  // Trimmed value. A folded value (continuation lines) keeps its CRLF and
  // leading white space inside the view; see UnfoldHeaderValue.
  std::string_view value;
};

struct SipUri {
  std::string_view scheme;    // "sip", "sips", "tel", ...
  std::string_view user;      // before '@' (without password); tel: number
  std::string_view password;
  std::string_view host;      // IPv6 references keep their brackets
  uint16_t port = 0;          // 0 when absent
  std::string_view params;    // ";transport=tcp;lr" (without leading ';')
  std::string_view headers;   // after '?'
};

// name-addr / addr-spec with header parameters (From, To, Contact, ...).
struct NameAddr {
  std::string_view display_name;  // without quotes
  SipUri uri;
  std::string_view tag;           // the tag= header parameter
  std::string_view params;        // all header parameters (after the URI)
};

enum class ParseStatus : uint8_t {
  kComplete,    // a whole message was parsed; `SipMessage::size` bytes used
  kIncomplete,  // the header block or body is not all there yet
  kError,       // not a SIP message (start line unreadable)
};

// Things wrong with a message that the parser read past (lenient parsing).
enum MalformedFlag : uint32_t {
  kMalformedNone = 0,
  kMalformedHeaderLine = 1u << 0,      // a header line without ':'
  kMalformedCSeq = 1u << 1,
  kMalformedContentLength = 1u << 2,   // unreadable, or larger than the data
  kMalformedFrom = 1u << 3,
  kMalformedTo = 1u << 4,
  kMalformedRequestUri = 1u << 5,
  kMalformedMissingCallId = 1u << 6,
  kMalformedTooManyHeaders = 1u << 7,  // headers past kMaxHeaders not indexed
  kMalformedVia = 1u << 8,
  // A single-valued header (Call-ID, CSeq, From, To) given twice with
  // different values, or two Content-Length headers that disagree.
  kMalformedDuplicateHeader = 1u << 9,
};

struct SipMessage {
  static constexpr size_t kMaxHeaders = 96;

  bool is_request = false;
  // Requests.
  std::string_view method;
  std::string_view request_uri_text;
  SipUri request_uri;
  // Responses.
  int status_code = 0;
  std::string_view reason_phrase;
  std::string_view version;   // "SIP/2.0"

  // Pre-extracted from the headers (first occurrence).
  std::string_view call_id;
  uint32_t cseq_number = 0;
  std::string_view cseq_method;
  NameAddr from;
  NameAddr to;
  std::string_view via_branch;     // branch of the topmost Via
  std::string_view via_transport;  // "UDP", "TCP", "WS", ... of the topmost Via
  std::string_view user_agent;
  std::string_view content_type;
  int64_t content_length = -1;     // -1 when absent
  int max_forwards = -1;
  int64_t expires = -1;

  std::string_view body;           // Content-Length bytes (or the rest)
  size_t size = 0;                 // bytes of the whole message (start line to body end)

  Header headers[kMaxHeaders];
  size_t header_count = 0;
  uint32_t malformed = kMalformedNone;  // MalformedFlag bits

  // First header with this id, or nullptr.
  const Header* Find(HeaderId id) const;
  // First header with this name (case-insensitive, compact forms match their
  // long names), or nullptr.
  const Header* Find(std::string_view name) const;
};

struct ParseOptions {
  // Stream transports (TCP, TLS, WS over TCP framing) need a Content-Length
  // to find the end; a datagram's message ends where the datagram ends.
  bool datagram = true;
};

// Parses one SIP message at the start of `data`. For datagrams a missing or
// too-large Content-Length takes the rest of `data` as the body (too large is
// flagged), a smaller one cuts the body there; for streams it returns
// kIncomplete until the header block and Content-Length body bytes are there
// (no Content-Length means no body), so `size` frames the next message.
// Leading CRLFs (keep-alives) are skipped and counted into `size`; input that
// is only CRLFs is kIncomplete with `size` set to their count. Bare LF line
// endings are accepted. Fields after a kError are not meaningful.
// Never reads outside `data`; never allocates.
ParseStatus ParseSipMessage(std::string_view data, const ParseOptions& options,
                            SipMessage* out);

// Parses a SIP/SIPS/TEL URI (addr-spec). False if it is not one; for a URI of
// another scheme ("http:", "urn:") `out->scheme` is still set. %-escapes are
// left as written.
bool ParseUri(std::string_view text, SipUri* out);
// Parses one From/To/Contact-style value: name-addr ("Bob" <sip:b@h>;tag=1)
// or addr-spec without <> (sip:b@h;tag=1, whose ;params belong to the
// header, RFC 3261 section 20.10). LWS and folding may appear between the
// parts; only the first value of a comma-separated list is read. A URI of an
// unknown scheme is accepted (only `uri.scheme` is set). Fields that could be
// read are filled even when it returns false.
bool ParseNameAddr(std::string_view text, NameAddr* out);
// Value of parameter `name` (case-insensitive) in ";a=b;c" style text
// (leading ';' optional, LWS around ';' and '=' allowed, quoted values are
// returned without their quotes). Stops at a ',' outside quotes, which
// starts the next value of a list header. Empty when absent; `found` tells
// absent from empty.
std::string_view FindParam(std::string_view params, std::string_view name, bool* found = nullptr);

// Copies `value` into `buffer` with folding (CRLF + white space) replaced by
// one space. Returns the view of the result in `buffer` (truncated to its size).
std::string_view UnfoldHeaderValue(std::string_view value, char* buffer, size_t buffer_size);

// Long name of a compact header form ('i' -> "Call-ID"); empty if none.
std::string_view ExpandCompactName(char c);

// ---------------------------------------------------------------- SDP

enum class MediaDirection : uint8_t { kSendRecv, kSendOnly, kRecvOnly, kInactive };
std::string_view MediaDirectionName(MediaDirection d);

struct SdpRtpMap {
  uint16_t payload_type = 0;
  std::string_view encoding;   // "PCMU"
  uint32_t clock_rate = 0;
  std::string_view encoding_params;  // channels, when given
};

struct SdpMedia {
  static constexpr size_t kMaxRtpMaps = 16;
  std::string_view type;        // "audio", "video", "image", "application", ...
  uint16_t port = 0;
  uint16_t port_count = 1;
  std::string_view protocol;    // "RTP/AVP", "RTP/SAVP", "udptl", ...
  std::string_view formats;     // "0 8 101"
  std::string_view connection_address;  // c= of the media, else of the session
  MediaDirection direction = MediaDirection::kSendRecv;
  // RTCP (RFC 3605 a=rtcp, RFC 5761 a=rtcp-mux): 0 when not given, and then
  // RTCP goes to port + 1 unless rtcp_mux; rtcp_address empty when a=rtcp
  // names no address (the connection address is meant).
  uint16_t rtcp_port = 0;
  std::string_view rtcp_address;
  bool rtcp_mux = false;
  SdpRtpMap rtpmaps[kMaxRtpMaps];
  size_t rtpmap_count = 0;
};

// Media past kMaxMedia and rtpmaps past kMaxRtpMaps are dropped and counted
// in `malformed_lines`. Connection addresses are given without the /ttl or
// /count suffix.
struct SdpSession {
  static constexpr size_t kMaxMedia = 16;
  std::string_view origin_username;
  std::string_view origin_session_id;
  std::string_view origin_session_version;
  std::string_view origin_address;
  std::string_view session_name;
  std::string_view connection_address;  // session-level c=
  MediaDirection direction = MediaDirection::kSendRecv;  // session-level
  SdpMedia media[kMaxMedia];
  size_t media_count = 0;
  uint32_t malformed_lines = 0;
};

// Parses an SDP body (RFC 4566). Lenient: unreadable lines are counted in
// `malformed_lines`. False when it is not SDP at all (no v= line first).
bool ParseSdp(std::string_view body, SdpSession* out);

// Finds the SDP in a message body: the body itself for application/sdp, or
// the first application/sdp part of a multipart body (multipart/mixed,
// alternative, related, ...; nested multiparts are searched too), found with
// the boundary parameter of `content_type`, quoted or not. Empty when there
// is none. The view points into `body`.
std::string_view FindSdpBody(std::string_view content_type, std::string_view body);

// The SDP of a whole SIP message's text (one datagram, as stored), found
// with FindSdpBody and parsed; false when the message does not parse or
// carries no SDP. `out` views into `message_text`.
bool ParseMessageSdp(std::string_view message_text, SdpSession* out);

}  // namespace sipman::sip

#endif  // SIPMAN_SIP_SIP_H_
