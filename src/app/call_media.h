// Private to app: a call's measured media (media::CallMedia) written into
// its call detail record, with the flags that need the call's times.
#ifndef SIPMAN_APP_CALL_MEDIA_H_
#define SIPMAN_APP_CALL_MEDIA_H_

#include "calls/calls.h"
#include "media/media.h"

namespace sipman::app {

// Fills the record's caller_rtp_*, callee_rtp_*, *mos*, rtp_streams,
// first_rtp_ms and media_flags (calls.h says what each holds).
void ApplyCallMedia(const media::CallMedia& media, calls::CallRecord* record);

// The flags of an answered call whose SDP was seen but no RTP at all (no
// media::CallMedia for it): "no_media".
void ApplyNoMedia(calls::CallRecord* record);

}  // namespace sipman::app

#endif  // SIPMAN_APP_CALL_MEDIA_H_
