// Private to app: JSON string escaping onto an OutputBuffer.
#ifndef SIPMAN_APP_JSON_WRITER_H_
#define SIPMAN_APP_JSON_WRITER_H_

#include <string_view>

#include "app/output_buffer.h"

namespace sipman::app {

// Appends `s` as a quoted JSON string. Valid UTF-8 passes through; control
// characters are escaped; bytes that are not valid UTF-8 are written as the
// Latin-1 character of the same value (\u00XX), so nothing is dropped and
// the line stays valid JSON.
void AppendJsonString(OutputBuffer* out, std::string_view s);

// Appends `s` with tabs, CR and LF replaced by spaces (one TSV field).
void AppendTsvField(OutputBuffer* out, std::string_view s);

}  // namespace sipman::app

#endif  // SIPMAN_APP_JSON_WRITER_H_
