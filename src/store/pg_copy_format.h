// Private to store/: the form in which the PostgreSQL writer sends a batch
// (COPY text per table) and keeps it on disk during an outage (spill
// segments; the format is described in postgres_store.h).
#ifndef SIPMAN_STORE_PG_COPY_FORMAT_H_
#define SIPMAN_STORE_PG_COPY_FORMAT_H_

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "stats/stats.h"
#include "store/write_queue.h"

namespace sipman::store::internal {

// The messages columns the writer copies and the reads select, in order.
inline constexpr const char kPgMessageColumns[] =
    "sensor, call_id, ts, src_ip, src_port, dst_ip, dst_port, transport, method, status, cseq, "
    "size, compression, raw";

// A batch in the form the server takes it: the COPY text of each table, the
// traffic seconds and the active-call snapshots. The writer formats each
// queue batch into one (FormatBatch) and loads it (PostgresStore::LoadBatch);
// a spill segment holds one encoded (EncodeSpillSegment) and is loaded by the
// same LoadBatch when replayed (DecodeSpillSegment).
struct CopyBatch {
  // COPY text, in kCallColumns, kRegistrationColumns, kMessageColumns order.
  std::string calls, registrations, messages;
  uint64_t call_rows = 0, registration_rows = 0, message_rows = 0;
  std::string streams;  // COPY text in kStreamColumns order
  uint64_t stream_rows = 0;
  std::string alerts;  // COPY text in kAlertColumns order (without id)
  uint64_t alert_rows = 0;
  // The day partitions each partitioned table (kPartitionedTables order) needs.
  std::set<int64_t> days[3];
  std::string traffic_sensor;  // the stats_* rows' sensor
  std::vector<stats::TrafficCounters> traffic_seconds;
  // The newest snapshot of each sensor in the batch: replacing a sensor's
  // rows with each snapshot in turn leaves the newest one.
  struct Snapshot {
    std::string sensor;
    std::string copy;  // COPY text for active_calls
    uint64_t rows = 0;
  };
  std::vector<Snapshot> snapshots;
  uint64_t source_rows = 0;  // RowBatch::size() of the batch it came from

  void clear();
};

// Formats `batch` (traffic under `traffic_sensor`) into *out.
void FormatBatch(const RowBatch& batch, std::string_view traffic_sensor, CopyBatch* out);
// The spill segment of `batch` (format above) into *out.
void EncodeSpillSegment(const CopyBatch& batch, std::string* out);
// Reads a spill segment back; an error says what is wrong with it (truncated,
// checksum mismatch, unknown section).
Status DecodeSpillSegment(std::string_view bytes, CopyBatch* out);
// The subdirectory of StoreOptions::spill_dir for one database and sensor:
// segments must only be replayed into the database and under the sensor they
// were meant for. Readable (host, port, database, sensor) plus a hash.
std::string SpillSubdirectory(const std::string& url, std::string_view sensor);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_PG_COPY_FORMAT_H_
