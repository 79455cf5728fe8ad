#include <pcap/pcap.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "capture/capture.h"

namespace sipman::capture {

const char kDefaultLiveFilter[] = "udp or tcp or (ip[6:2] & 0x1fff != 0) or ip6";

namespace {

constexpr char kPermissionFix[] =
    "run as root or grant the capabilities: setcap cap_net_raw,cap_net_admin=eip build/sipman";

// Packets handed over per pcap_dispatch call: bounds the time one busy
// interface holds the thread before the others are served.
constexpr int kDispatchBatch = 4096;

// One opened interface.
struct Interface {
  std::string name;
  pcap_t* handle = nullptr;
  net::LinkType link = net::LinkType::kEthernet;
  int fd = -1;
  bool open = true;
  // tv_usec of a packet header holds nanoseconds when the kernel granted
  // nanosecond precision, else microseconds.
  int64_t subsecond_scale = 1;
  struct pcap_stat last = {};  // last pcap_stats() reading
};

std::string ActivateError(const std::string& iface, pcap_t* handle, int rc) {
  std::string detail = pcap_geterr(handle);
  std::string prefix = "cannot capture on " + iface + ": ";
  switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return prefix + "no such interface (" + detail +
             "); list the interfaces with 'ip link', or use 'any'";
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return prefix + "permission denied (" + detail + "); " + kPermissionFix;
    case PCAP_ERROR_IFACE_NOT_UP:
      return prefix + "the interface is down; bring it up with 'ip link set " + iface + " up'";
    default:
      break;
  }
  if (detail.find("ermission") != std::string::npos ||
      detail.find("not permitted") != std::string::npos) {
    return prefix + detail + "; " + kPermissionFix;
  }
  return prefix + (detail.empty() ? pcap_statustostr(rc) : detail);
}

class LiveSourceImpl : public LiveSource {
 public:
  LiveSourceImpl(std::vector<Interface> interfaces, int wake_fd, int timeout_ms)
      : interfaces_(std::move(interfaces)), wake_fd_(wake_fd), timeout_ms_(timeout_ms) {
    for (const Interface& i : interfaces_) {
      pollfd p = {};
      p.fd = i.fd;
      p.events = POLLIN;
      pollfds_.push_back(p);
    }
    pollfd w = {};
    w.fd = wake_fd_;
    w.events = POLLIN;
    pollfds_.push_back(w);
    last_stats_read_ = std::chrono::steady_clock::now();
  }

  ~LiveSourceImpl() override {
    for (Interface& i : interfaces_) {
      if (i.handle != nullptr) pcap_close(i.handle);
    }
    ::close(wake_fd_);
  }

  Result<PollResult> Poll(int timeout_ms, const PacketVisitor& visitor) override {
    auto now = std::chrono::steady_clock::now();
    if (stop_.load(std::memory_order_acquire) && !draining_) {
      // Packets already in the ring, and those in a TPACKET_V3 block the
      // kernel has not retired yet (it does so within timeout_ms), are
      // still read before the end.
      draining_ = true;
      drain_until_ = now + std::chrono::milliseconds(2 * timeout_ms_ + 50);
    }
    if (draining_ && now >= drain_until_) {
      ReadStats();
      return PollResult::kEnd;
    }
    int wait = draining_ ? 10 : timeout_ms;
    for (size_t k = 0; k < interfaces_.size(); ++k) pollfds_[k].fd = interfaces_[k].open ? interfaces_[k].fd : -1;
    int rc = ::poll(pollfds_.data(), pollfds_.size(), wait);
    if (rc < 0 && errno != EINTR) {
      return Status::Error(std::string("capture: poll failed: ") + std::strerror(errno));
    }
    size_t open = 0;
    for (Interface& i : interfaces_) {
      if (!i.open) continue;
      ++open;
      Dispatch(&i, visitor);
    }
    if (open == 0) return PollResult::kEnd;
    if (now - last_stats_read_ >= std::chrono::seconds(1)) ReadStats();
    return PollResult::kOk;
  }

  void Stop() override {
    stop_.store(true, std::memory_order_release);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  SourceStats stats() const override {
    SourceStats s;
    s.packets = packets_.load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.kernel_received = kernel_received_.load(std::memory_order_relaxed);
    s.kernel_drops = kernel_drops_.load(std::memory_order_relaxed);
    s.interface_drops = interface_drops_.load(std::memory_order_relaxed);
    return s;
  }

  std::vector<std::string> TakeWarnings() override { return std::move(warnings_); }

  std::string Describe() const override {
    std::string out;
    for (const Interface& i : interfaces_) {
      if (!out.empty()) out += ',';
      out += i.name;
    }
    return out;
  }

 private:
  struct DispatchContext {
    LiveSourceImpl* self;
    const Interface* iface;
    uint32_t index;
    const PacketVisitor* visitor;
  };

  static void OnPcapPacket(u_char* user, const struct pcap_pkthdr* header, const u_char* data) {
    auto* ctx = reinterpret_cast<DispatchContext*>(user);
    Packet packet;
    packet.ts = static_cast<TimestampNs>(header->ts.tv_sec) * kNsPerSecond +
                static_cast<TimestampNs>(header->ts.tv_usec) * ctx->iface->subsecond_scale;
    packet.link = ctx->iface->link;
    packet.data = std::span<const uint8_t>(data, header->caplen);
    packet.wire_len = header->len;
    packet.file_index = ctx->index;
    ctx->self->packets_.fetch_add(1, std::memory_order_relaxed);
    ctx->self->bytes_.fetch_add(header->len, std::memory_order_relaxed);
    (*ctx->visitor)(packet);
  }

  void Dispatch(Interface* iface, const PacketVisitor& visitor) {
    DispatchContext ctx{this, iface, static_cast<uint32_t>(iface - interfaces_.data()), &visitor};
    // A few batches at most, so that one flooded interface cannot starve the
    // others or the caller's housekeeping.
    for (int round = 0; round < 8; ++round) {
      int n = pcap_dispatch(iface->handle, kDispatchBatch, &LiveSourceImpl::OnPcapPacket,
                            reinterpret_cast<u_char*>(&ctx));
      if (n == PCAP_ERROR) {
        warnings_.push_back("capture on " + iface->name + " stopped: " + pcap_geterr(iface->handle));
        ReadStatsOf(iface);
        iface->open = false;
        return;
      }
      if (n < kDispatchBatch) return;
    }
  }

  void ReadStatsOf(Interface* iface) {
    struct pcap_stat st = {};
    if (pcap_stats(iface->handle, &st) == 0) iface->last = st;
  }

  // pcap_stats() counts since the handle was opened (libpcap accumulates
  // the kernel's read-and-reset PACKET_STATISTICS), per interface.
  void ReadStats() {
    last_stats_read_ = std::chrono::steady_clock::now();
    uint64_t recv = 0, drop = 0, ifdrop = 0;
    for (Interface& i : interfaces_) {
      if (i.open) ReadStatsOf(&i);
      recv += i.last.ps_recv;
      drop += i.last.ps_drop;
      ifdrop += i.last.ps_ifdrop;
    }
    kernel_received_.store(recv, std::memory_order_relaxed);
    kernel_drops_.store(drop, std::memory_order_relaxed);
    interface_drops_.store(ifdrop, std::memory_order_relaxed);
  }

 private:
  std::vector<Interface> interfaces_;
  std::vector<pollfd> pollfds_;
  int wake_fd_;
  int timeout_ms_;
  std::atomic<bool> stop_{false};
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_until_;
  std::chrono::steady_clock::time_point last_stats_read_;
  std::vector<std::string> warnings_;
  std::atomic<uint64_t> packets_{0}, bytes_{0};
  std::atomic<uint64_t> kernel_received_{0}, kernel_drops_{0}, interface_drops_{0};
};

// Opens and activates one interface; on failure closes what it opened.
Result<Interface> OpenInterface(const std::string& name, const LiveOptions& options) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle = pcap_create(name.c_str(), errbuf);
  if (handle == nullptr) return Status::Error("cannot capture on " + name + ": " + errbuf);
  auto fail = [&](const std::string& message) -> Result<Interface> {
    pcap_close(handle);
    return Status::Error(message);
  };
  pcap_set_snaplen(handle, options.snaplen);
  pcap_set_promisc(handle, options.promiscuous ? 1 : 0);
  pcap_set_buffer_size(handle, options.buffer_mb * (1 << 20));
  if (options.immediate) {
    pcap_set_immediate_mode(handle, 1);
  } else {
    pcap_set_timeout(handle, options.timeout_ms);
  }
  pcap_set_tstamp_precision(handle, PCAP_TSTAMP_PRECISION_NANO);
  int rc = pcap_activate(handle);
  if (rc < 0) return fail(ActivateError(name, handle, rc));

  Interface iface;
  iface.name = name;
  iface.subsecond_scale =
      pcap_get_tstamp_precision(handle) == PCAP_TSTAMP_PRECISION_NANO ? 1 : kNsPerUs;
  int dlt = pcap_datalink(handle);
  if (!net::LinkTypeFromDlt(dlt, &iface.link)) {
    const char* dlt_name = pcap_datalink_val_to_name(dlt);
    return fail("cannot capture on " + name + ": its link type " + std::to_string(dlt) + " (" +
                (dlt_name ? dlt_name : "unknown") + ") is not decoded by SIPMan");
  }
  std::string filter = options.filter;
  if (filter == kDefaultLiveFilter && iface.link == net::LinkType::kEthernet) {
    filter += std::string(" or (vlan and (") + kDefaultLiveFilter + "))";
  }
  if (!filter.empty()) {
    struct bpf_program program;
    if (pcap_compile(handle, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return fail("bad capture filter '" + filter + "' on " + name + ": " + pcap_geterr(handle) +
                  " (see pcap-filter(7))");
    }
    int set = pcap_setfilter(handle, &program);
    pcap_freecode(&program);
    if (set != 0) {
      return fail("cannot set the capture filter on " + name + ": " + pcap_geterr(handle));
    }
  }
  if (pcap_setnonblock(handle, 1, errbuf) != 0) {
    return fail("cannot capture on " + name + ": " + errbuf);
  }
  iface.fd = pcap_get_selectable_fd(handle);
  if (iface.fd < 0) return fail("cannot capture on " + name + ": no selectable descriptor");
  iface.handle = handle;
  return iface;
}

}  // namespace

Result<std::unique_ptr<LiveSource>> LiveSource::Open(const LiveOptions& options) {
  if (options.interfaces.empty()) {
    return Status::Error("no interface to capture on (name one with -i, e.g. -i eth0 or -i any)");
  }
  if (options.snaplen < 64 || options.snaplen > 262144) {
    return Status::Error("snaplen " + std::to_string(options.snaplen) + " is out of range (64..262144)");
  }
  if (options.buffer_mb < 1 || options.buffer_mb > 4096) {
    return Status::Error("buffer size " + std::to_string(options.buffer_mb) +
                         " MiB is out of range (1..4096)");
  }
  std::vector<Interface> opened;
  auto close_all = [&] {
    for (Interface& i : opened) pcap_close(i.handle);
  };
  for (const std::string& name : options.interfaces) {
    auto iface = OpenInterface(name, options);
    if (!iface.ok()) {
      close_all();
      return iface.status();
    }
    opened.push_back(std::move(iface.value()));
  }
  int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    close_all();
    return Status::Error(std::string("capture: eventfd failed: ") + std::strerror(errno));
  }
  return std::unique_ptr<LiveSource>(new LiveSourceImpl(
      std::move(opened), wake_fd, options.immediate ? 10 : options.timeout_ms));
}

}  // namespace sipman::capture
