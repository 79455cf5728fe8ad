// `sipman serve`: the web GUI and JSON API over a stored database, without
// capturing (src/web does the serving).
#ifndef SIPMAN_APP_SERVE_COMMAND_H_
#define SIPMAN_APP_SERVE_COMMAND_H_

namespace sipman::app {

// The usage lines of `serve` for sipman's help text.
extern const char kServeUsage[];

// Parses `serve`'s arguments (those after the command word) and runs the
// server until SIGINT or SIGTERM. Returns the process exit status: 0, 1 when
// the database or the listening address fails, 2 for a usage error.
int RunServeCommand(int argc, char** argv);

}  // namespace sipman::app

#endif  // SIPMAN_APP_SERVE_COMMAND_H_
