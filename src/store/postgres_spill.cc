// Spilling: batches kept on local disk while PostgreSQL is unreachable,
// written back oldest first when it answers again (postgres_store.h).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "store/postgres_store.h"

namespace sipman::store::internal {
namespace {

constexpr char kSegmentSuffix[] = ".pgspill";

std::string ErrnoText() { return std::strerror(errno); }

// Writes `data` to `path` so that `path` either does not exist or holds all
// of it, also after a crash: a ".tmp" name first, fsync, rename, fsync of
// the directory.
Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("cannot create " + tmp + ": " + ErrnoText());
  auto fail = [&](const char* what) {
    std::string message = std::string("cannot ") + what + " " + tmp + ": " + ErrnoText() +
                          " (is the disk full?)";
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::Error(message);
  };
  for (size_t at = 0; at < data.size();) {
    ssize_t n = ::write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    at += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::Error("cannot close " + tmp + ": " + ErrnoText());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string message = "cannot rename " + tmp + " to " + path + ": " + ErrnoText();
    ::unlink(tmp.c_str());
    return Status::Error(message);
  }
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // the rename itself; a failure here loses nothing yet
    ::close(dir_fd);
  }
  return Status::Ok();
}

Status ReadWholeFile(const std::string& path, std::string* out, bool* missing) {
  *missing = false;
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *missing = errno == ENOENT;
    return Status::Error("cannot open " + path + ": " + ErrnoText());
  }
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string message = "cannot read " + path + ": " + ErrnoText();
      ::close(fd);
      return Status::Error(message);
    }
    if (n == 0) break;
    out->append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

Status PostgresStore::OpenSpillDirectory() {
  if (options_.spill_dir.empty() || options_.max_spill_bytes == 0) return Status::Ok();
  spill_path_ = options_.spill_dir + "/" + SpillSubdirectory(url_, options_.sensor);
  std::error_code ec;
  if (!std::filesystem::is_directory(spill_path_, ec)) return Status::Ok();
  if (!LockSpillDirectory()) return Status::Ok();  // another store's: spilling is off
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(spill_path_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.ends_with(".tmp")) {
      // Half written by a process that stopped: its batch was never
      // handed over as spilled, and must not be replayed.
      std::error_code ignored;
      std::filesystem::remove(entry.path(), ignored);
    } else if (name.starts_with("seg-") && name.ends_with(kSegmentSuffix)) {
      names.push_back(std::move(name));
    }
  }
  if (ec) {
    return Status::Error("cannot read the spill directory " + spill_path_ + ": " + ec.message() +
                         " (fix its permissions, or set another spill directory)");
  }
  std::sort(names.begin(), names.end());  // zero-padded numbers: oldest first
  std::lock_guard<std::mutex> lock(spill_mu_);
  for (const std::string& name : names) {
    SpillSegment segment;
    segment.path = spill_path_ + "/" + name;
    segment.bytes = std::filesystem::file_size(segment.path, ec);
    if (ec) segment.bytes = 0;
    next_segment_ = std::max<uint64_t>(next_segment_, ParseDecimal(name.substr(4)) + 1);
    ++spill_counters_.spill_segments;
    spill_counters_.spill_bytes += segment.bytes;
    backlog_.push_back(std::move(segment));
  }
  return Status::Ok();
}

bool PostgresStore::Spill(const CopyBatch& batch) {
  if (spill_path_.empty()) {
    last_spill_error_ = "spilling is off";
    return false;
  }
  EncodeSpillSegment(batch, &segment_buffer_);
  {
    std::lock_guard<std::mutex> lock(spill_mu_);
    if (spill_counters_.spill_bytes + segment_buffer_.size() > options_.max_spill_bytes) {
      last_spill_error_ = "the spill directory " + spill_path_ + " holds max_spill_bytes (" +
                          std::to_string(options_.max_spill_bytes) + " bytes) already";
      return false;
    }
  }
  if (spill_lock_fd_ < 0) {
    std::error_code ec;
    std::filesystem::create_directories(spill_path_, ec);
    if (ec) {
      last_spill_error_ = "cannot create the spill directory " + spill_path_ + ": " +
                          ec.message() + " (fix its permissions or set another spill directory)";
      return false;
    }
    if (!LockSpillDirectory()) return false;
  }
  char name[40];
  std::snprintf(name, sizeof(name), "/seg-%020llu", static_cast<unsigned long long>(next_segment_));
  SpillSegment segment;
  segment.path = spill_path_ + name + kSegmentSuffix;
  segment.bytes = segment_buffer_.size();
  Status s = WriteFileAtomically(segment.path, segment_buffer_);
  if (!s.ok()) {
    last_spill_error_ = s.message();
    return false;
  }
  ++next_segment_;
  backlog_.push_back(std::move(segment));
  std::lock_guard<std::mutex> lock(spill_mu_);
  spill_counters_.spilled_rows += batch.source_rows;
  ++spill_counters_.spill_segments;
  spill_counters_.spill_bytes += segment_buffer_.size();
  return true;
}

bool PostgresStore::LockSpillDirectory() {
  int fd = ::open(spill_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    last_spill_error_ = "cannot open the spill directory " + spill_path_ + ": " + ErrnoText();
    return false;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    // Two live stores must not number segments in one directory.
    spill_path_.clear();
    last_spill_error_ = "spilling is off: another sipman process (same database, sensor and "
                        "spill directory) holds the spill directory";
    return false;
  }
  spill_lock_fd_ = fd;
  return true;
}

void PostgresStore::ReplayBacklog(int64_t deadline_ns) {
  while (!backlog_.empty()) {
    Status why;
    if (!EnsureConnected(&why)) return;
    const SpillSegment& segment = backlog_.front();
    bool missing = false;
    Status s = ReadWholeFile(segment.path, &segment_buffer_, &missing);
    if (missing) {
      // Gone: written by another store on the same directory. Nothing to do.
      std::lock_guard<std::mutex> lock(spill_mu_);
      --spill_counters_.spill_segments;
      spill_counters_.spill_bytes -= std::min(segment.bytes, spill_counters_.spill_bytes);
      backlog_.pop_front();
      spill_cv_.notify_all();
      continue;
    }
    if (s.ok()) s = DecodeSpillSegment(segment_buffer_, &replay_copy_);
    if (!s.ok()) {
      SetAsideSegment("is unreadable (" + s.message() + ")", 0);
      continue;
    }
    BatchResult result;
    bool outage = false;
    s = LoadBatch(replay_copy_, &result, &outage);
    if (!s.ok()) {
      if (outage) return;  // kept; tried again when the server answers
      SetAsideSegment("was refused by the database (" + s.message() + ")",
                      replay_copy_.source_rows);
      continue;
    }
    // Deleted only now: a crash before this line replays the segment again,
    // and the natural keys make that a no-op.
    ::unlink(segment.path.c_str());
    {
      std::lock_guard<std::mutex> lock(spill_mu_);
      StoreCounters& c = spill_counters_;
      ++replayed_batches_;
      CountWritten(result, &c);
      --c.spill_segments;
      c.spill_bytes -= std::min(segment.bytes, c.spill_bytes);
      backlog_.pop_front();
      spill_cv_.notify_all();
    }
    if (SteadyNowNs() >= deadline_ns) return;
  }
}

void PostgresStore::SetAsideSegment(const std::string& why, uint64_t rows) {
  const SpillSegment segment = backlog_.front();
  const std::string bad = segment.path + ".bad";
  std::string message = "spill segment " + segment.path + " " + why;
  if (::rename(segment.path.c_str(), bad.c_str()) == 0) {
    message += "; moved aside to " + bad +
               " and its rows are not stored (inspect it, then delete it)";
  } else {
    message += "; it could not be moved aside (" + std::string(std::strerror(errno)) +
               ") and was dropped from the backlog; its rows are not stored";
  }
  std::lock_guard<std::mutex> lock(spill_mu_);
  ++spill_errors_;
  spill_error_ = std::move(message);
  ++spill_counters_.spill_bad_segments;
  spill_counters_.rows_failed += rows;
  --spill_counters_.spill_segments;
  spill_counters_.spill_bytes -= std::min(segment.bytes, spill_counters_.spill_bytes);
  backlog_.pop_front();
  spill_cv_.notify_all();
}

Status PostgresStore::TakeSpillError() {
  std::lock_guard<std::mutex> lock(spill_mu_);
  if (spill_errors_ == spill_errors_reported_) return Status::Ok();
  const uint64_t n = spill_errors_ - spill_errors_reported_;
  spill_errors_reported_ = spill_errors_;
  return Status::Error(std::to_string(n) + " spill segment(s) could not be written to " + where_ +
                       "; last: " + spill_error_);
}

}  // namespace sipman::store::internal
