// Private to app: `sipman run`, the live capture daemon.
//
// Threads:
//   capture  PacketSource::Poll (libpcap on the interfaces, or a file
//            replayed) -> PacketQueue::Push (copy into the ring; spill to
//            disk when the ring is full)
//   worker   PacketQueue::Pop -> decode -> parse -> CallTracker -> Store
//            (Add* blocks when the store's own queue is full, so a slow
//            database backs up into the packet queue and then the spill)
//   store    the store's writer thread (batched transactions)
//   main     signals (SIGINT/SIGTERM stop; SIGHUP reopens the log and
//            reloads the TLS certificate) and a status line every
//            --stats-interval seconds
// A stop drains everything: capture ends, the worker reads the ring and the
// spill to the end, the tracker's Finish stores every open call (as
// in_progress or timed_out), and the store is closed before the summary.
//
// Files: run_command.cc wires the parts together and runs the capture and
// main threads; run_worker.{h,cc} is the worker; hep_input.{h,cc} the HEP
// listener's queue, its unwrapping and --hep-send; run_report.{h,cc} the
// status line and the summary; run_metrics.{h,cc} the figures the worker
// publishes and /metrics; run_settings.cc the settings (run_config.h).
#ifndef SIPMAN_APP_RUN_COMMAND_H_
#define SIPMAN_APP_RUN_COMMAND_H_

#include "app/run_config.h"

namespace sipman::app {

// Runs until SIGINT/SIGTERM (or the end of replayed files) and returns the
// exit code: 0 after a clean stop, 1 when a source, the log or the store
// could not be opened or failed.
int RunDaemon(const RunOptions& options);

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_COMMAND_H_
