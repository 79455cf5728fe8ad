// The app module's public face: the `sipman` command line.
#ifndef SIPMAN_APP_APP_H_
#define SIPMAN_APP_APP_H_

namespace sipman::app {

// Runs the sipman command line and returns the process exit code: 0 on
// success, 1 when the work failed (e.g. a file is not a capture), 2 on a
// usage error.
int Main(int argc, char** argv);

}  // namespace sipman::app

#endif  // SIPMAN_APP_APP_H_
