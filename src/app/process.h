// Private to app: what the two long-running commands, `sipman run` and
// `sipman serve`, share.
#ifndef SIPMAN_APP_PROCESS_H_
#define SIPMAN_APP_PROCESS_H_

#include <signal.h>

#include <string>

#include "base/status.h"

namespace sipman::app {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread, and so in every
// thread it starts from then on, and returns them: the caller waits for
// them (sigtimedwait, sigwait).
sigset_t BlockStopSignals();

// The password of web user `admin` for a first start: the first line of
// `file` when one is named, else $SIPMAN_ADMIN_PASSWORD, else "" (the web
// server then makes one up). A file that cannot be read or holds no
// password is an error.
Status ReadAdminPassword(const std::string& file, std::string* password);

}  // namespace sipman::app

#endif  // SIPMAN_APP_PROCESS_H_
