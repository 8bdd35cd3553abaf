// See ip_socket.h. Socket options follow OpenBSD carp(4) and UCarp on the wire: TTL and
// multicast TTL 255 (Linux needs both: IP_TTL alone sends multicast with TTL 1), TOS 0x10,
// no loopback of our own multicast, kernel-built IP header. Receive uses recvmsg with
// IP_PKTINFO / IPV6_RECVPKTINFO + IPV6_RECVHOPLIMIT, since an IPv6 raw socket delivers no
// IP header and the hop limit would otherwise be invisible.
#include "ip_socket.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "clock.h"
#include "errors.h"
#include "link.h"
#include "netns.h"
#include "scheduling.h"

namespace tandem {

namespace {

constexpr size_t kQueueLimit = 1024;      // datagrams waiting for the JS thread; beyond: dropped
constexpr int kBurst = 64;                // datagrams read per wake-up before polling again
constexpr size_t kBufferSize = 65536;
// drain() delivers at most this many, so a flood cannot keep it from returning.
constexpr size_t kDrainLimit = 2 * kQueueLimit;
// How long before a takeover deadline the receive thread wakes and starts watching the clock:
// a thread woken from an idle wait by its timer ran 0.1-0.8 ms late here, more under load.
// Orders come due once per failover, so the spin costs nothing in steady state.
constexpr double kTakeoverLeadMs = 2;
constexpr uint8_t kCarpAdvertVersionType = 0x21;  // version 2, type 1 (advertisement)
constexpr double kNever = std::numeric_limits<double>::infinity();

bool ParseDestination(int family, unsigned ifindex, const std::string& text, sockaddr_storage& address,
                      socklen_t& size) {
  address = sockaddr_storage{};
  if (family == 4) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    size = sizeof v4;
    return inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1;
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
  v6.sin6_family = AF_INET6;
  // The kernel uses the scope only for link-local and multicast destinations.
  v6.sin6_scope_id = ifindex;
  size = sizeof v6;
  return inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1;
}

std::string FormatAddress(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text,
              sizeof text);
  }
  return text;
}

int GetInt(const Napi::Object& options, const char* key, int fallback) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined() || value.IsNull()) return fallback;
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(options.Env(), std::string("option ") + key + " must be a number");
  }
  return value.As<Napi::Number>().Int32Value();
}

std::string GetString(const Napi::Object& options, const char* key, const std::string& fallback) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined() || value.IsNull()) return fallback;
  if (!value.IsString()) {
    throw Napi::TypeError::New(options.Env(), std::string("option ") + key + " must be a string");
  }
  return value.As<Napi::String>().Utf8Value();
}

void Deliver(Napi::Env env, const Napi::Function& callback, const Datagram& datagram) {
  if (datagram.error != 0) {
    callback.Call({ErrnoError(env, datagram.error, "receive", "recvmsg").Value()});
    return;
  }
  Napi::Object packet = Napi::Object::New(env);
  packet.Set("data", Napi::Buffer<uint8_t>::Copy(env, datagram.data.data(), datagram.data.size()));
  packet.Set("source", FormatAddress(datagram.source));
  if (datagram.has_destination) packet.Set("destination", FormatAddress(datagram.destination));
  if (datagram.hop_limit >= 0) packet.Set("hopLimit", datagram.hop_limit);
  packet.Set("ifindex", datagram.ifindex);
  packet.Set("truncated", datagram.truncated);
  packet.Set("receivedAt", datagram.received_at);
  callback.Call({env.Null(), packet});
}

}  // namespace

Napi::Function IpSocket::Define(Napi::Env env) {
  return DefineClass(env, "IpSocket",
                     {
                         InstanceMethod<&IpSocket::Send>("send"),
                         InstanceMethod<&IpSocket::Close>("close"),
                         InstanceMethod<&IpSocket::Ref>("ref"),
                         InstanceMethod<&IpSocket::Unref>("unref"),
                         InstanceMethod<&IpSocket::Stats>("stats"),
                         InstanceMethod<&IpSocket::Drain>("drain"),
                         InstanceMethod<&IpSocket::SetTakeoverPlan>("setTakeoverPlan"),
                         InstanceMethod<&IpSocket::ArmTakeover>("armTakeover"),
                         InstanceMethod<&IpSocket::DisarmTakeover>("disarmTakeover"),
                         InstanceMethod<&IpSocket::Advertise>("advertise"),
                         InstanceMethod<&IpSocket::StopAdvertising>("stopAdvertising"),
                         InstanceAccessor<&IpSocket::Ifindex>("ifindex"),
                         InstanceAccessor<&IpSocket::Closed>("closed"),
                     });
}

IpSocket::IpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IpSocket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "IpSocket(options, onReceive) expected");
  }
  Napi::Object options = info[0].As<Napi::Object>();
  family_ = GetInt(options, "family", 4);
  if (family_ != 4 && family_ != 6) throw Napi::TypeError::New(env, "option family must be 4 or 6");
  iface_ = GetString(options, "iface", "");
  if (iface_.empty() || iface_.size() >= IFNAMSIZ) {
    throw Napi::TypeError::New(env, "option iface must be an interface name (1-15 characters)");
  }
  if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsFunction()) {
    throw Napi::TypeError::New(env, "IpSocket: onTakeover must be a function");
  }
  netns_ = GetString(options, "netns", "");
  {
    NetnsScope scope(env, netns_, "open raw socket on " + iface_);
    Configure(env, options);
  }
  takeover_timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  const int timer_error = takeover_timer_ < 0 ? errno : 0;
  if (const int err = timer_error ? timer_error : stop_.Open()) {
    close(fd_);
    fd_ = -1;
    if (takeover_timer_ >= 0) close(takeover_timer_);
    takeover_timer_ = -1;
    throw ErrnoError(env, err, "open raw socket on " + iface_ + (timer_error ? ": timerfd" : ": eventfd"),
                     timer_error ? "timerfd_create" : "eventfd");
  }
  try {
    // Unbounded, but it holds at most one wake-up at a time (see SignalLocked).
    tsfn_ = Tsfn::New(env, "tandem_raw receive", 0, 1, this);
  } catch (...) {
    close(fd_);
    fd_ = -1;
    close(takeover_timer_);
    takeover_timer_ = -1;
    stop_.Close();
    throw;
  }
  tsfn_live_ = true;
  on_receive_ = Napi::Persistent(info[1].As<Napi::Function>());
  if (info.Length() > 2 && info[2].IsFunction()) on_takeover_ = Napi::Persistent(info[2].As<Napi::Function>());
  open_ = true;
  env_ = env;
  thread_ = std::thread(&IpSocket::ReceiveLoop, this);
  napi_add_env_cleanup_hook(env, &IpSocket::OnEnvCleanup, this);
  cleanup_hook_ = true;
}

void IpSocket::Configure(Napi::Env env, const Napi::Object& options) {
  const std::string context = "open raw socket on " + iface_;
  const int protocol = GetInt(options, "protocol", 112);
  const int ttl = GetInt(options, "ttl", 255);
  const int tos = GetInt(options, "tos", -1);
  const int loop = options.Get("multicastLoop").ToBoolean().Value() ? 1 : 0;
  const std::string group = GetString(options, "group", family_ == 4 ? "224.0.0.18" : "ff02::12");
  if (protocol < 1 || protocol > 255) throw Napi::RangeError::New(env, "option protocol must be 1..255");
  if (ttl < 1 || ttl > 255) throw Napi::RangeError::New(env, "option ttl must be 1..255");
  if (tos > 255) throw Napi::RangeError::New(env, "option tos must be 0..255");

  ifindex_ = if_nametoindex(iface_.c_str());
  if (ifindex_ == 0) {
    throw ErrnoError(env, errno == 0 ? ENODEV : errno, context, "if_nametoindex", "no such interface");
  }
  const int domain = family_ == 4 ? AF_INET : AF_INET6;
  fd_ = socket(domain, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd_ < 0) {
    const int err = errno;
    throw ErrnoError(env, err, context, "socket",
                     err == EPERM || err == EACCES ? "needs CAP_NET_RAW" : nullptr);
  }
  // Closes the half-configured socket before reporting which option failed.
  auto set = [&](int level, int name, const void* value, socklen_t size, const char* label,
                 bool optional = false) {
    if (setsockopt(fd_, level, name, value, size) == 0) return;
    const int err = errno;
    if (optional && (err == ENOPROTOOPT || err == EINVAL)) return;
    close(fd_);
    fd_ = -1;
    throw ErrnoError(env, err, context + ": setsockopt(" + label + ")", "setsockopt",
                     err == EPERM ? "needs CAP_NET_RAW" : nullptr);
  };
  const int on = 1;
  const int off = 0;
  set(SOL_SOCKET, SO_BINDTODEVICE, iface_.c_str(), static_cast<socklen_t>(iface_.size()),
      "SO_BINDTODEVICE");
  // The kernel's arrival time: the receive thread, woken from idle, reads 0.3-0.8 ms later
  // (scripts/bench/failover), and CARP's master-down must count from the arrival.
  set(SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on, "SO_TIMESTAMPNS", true);
  // Room for a few seconds of 4 ms adverts while the process is stopped or starved, so the
  // newest, not the oldest, are what it finds; root may exceed rmem_max, others get the default.
  const int receive_buffer = 1 << 20;
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) != 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  if (family_ == 4) {
    set(IPPROTO_IP, IP_TTL, &ttl, sizeof ttl, "IP_TTL");
    set(IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl, "IP_MULTICAST_TTL");
    set(IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop, "IP_MULTICAST_LOOP");
    if (tos >= 0) set(IPPROTO_IP, IP_TOS, &tos, sizeof tos, "IP_TOS");
    ip_mreqn mreq{};
    mreq.imr_ifindex = static_cast<int>(ifindex_);
    set(IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq, "IP_MULTICAST_IF");
    set(IPPROTO_IP, IP_PKTINFO, &on, sizeof on, "IP_PKTINFO");
    // Only the groups this socket joined, not every group some other socket joined.
    set(IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off, "IP_MULTICAST_ALL", true);
    if (!group.empty()) {
      if (inet_pton(AF_INET, group.c_str(), &mreq.imr_multiaddr) != 1) {
        close(fd_);
        fd_ = -1;
        throw Napi::TypeError::New(env, "option group is not an IPv4 address: " + group);
      }
      set(IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq, ("IP_ADD_MEMBERSHIP " + group).c_str());
    }
  } else {
    const int index = static_cast<int>(ifindex_);
    set(IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl, "IPV6_UNICAST_HOPS");
    set(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl, "IPV6_MULTICAST_HOPS");
    set(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop, "IPV6_MULTICAST_LOOP");
    if (tos >= 0) set(IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos, "IPV6_TCLASS");
    set(IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index, "IPV6_MULTICAST_IF");
    set(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on, "IPV6_RECVHOPLIMIT");
    set(IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on, "IPV6_RECVPKTINFO");
#ifdef IPV6_MULTICAST_ALL
    set(IPPROTO_IPV6, IPV6_MULTICAST_ALL, &off, sizeof off, "IPV6_MULTICAST_ALL", true);
#endif
    if (!group.empty()) {
      ipv6_mreq mreq{};
      mreq.ipv6mr_interface = ifindex_;
      if (inet_pton(AF_INET6, group.c_str(), &mreq.ipv6mr_multiaddr) != 1) {
        close(fd_);
        fd_ = -1;
        throw Napi::TypeError::New(env, "option group is not an IPv6 address: " + group);
      }
      set(IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq, ("IPV6_JOIN_GROUP " + group).c_str());
    }
  }
}

IpSocket::~IpSocket() {
  if (cleanup_hook_) napi_remove_env_cleanup_hook(env_, &IpSocket::OnEnvCleanup, this);
  Stop();
  // Abort, not release: no wake-up still queued may reach OnQueued after this object is gone.
  if (tsfn_live_) tsfn_.Abort();
}

void IpSocket::OnEnvCleanup(void* self) {
  // The environment is going away (process exit or worker termination): stop the thread so
  // it cannot outlive the isolate. Node finalizes the thread-safe function itself.
  auto* socket = static_cast<IpSocket*>(self);
  socket->cleanup_hook_ = false;
  socket->Stop();
  socket->tsfn_live_ = false;
}

void IpSocket::Stop() {
  if (!open_) return;
  open_ = false;
  stop_.StopAndJoin(thread_);
  close(fd_);
  fd_ = -1;
  close(takeover_timer_);
  takeover_timer_ = -1;
  if (route_fd_ >= 0) close(route_fd_);
  route_fd_ = -1;
  {
    std::lock_guard<std::mutex> guard(takeover_lock_);
    takeovers_.clear();
    fills_.clear();
  }
  std::lock_guard<std::mutex> guard(queue_lock_);
  queue_.clear();
}

void IpSocket::SignalLocked() {
  if (signal_pending_ || !tsfn_live_) return;
  signal_pending_ = true;
  tsfn_.NonBlockingCall();
}

void IpSocket::Enqueue(Datagram&& datagram) {
  std::lock_guard<std::mutex> guard(queue_lock_);
  // A takeover report is never dropped: without it JavaScript would not know the addresses
  // it now holds.
  if (queue_.size() >= kQueueLimit && !datagram.takeover) {
    queue_drops_.fetch_add(1, std::memory_order_relaxed);
  } else {
    queue_.push_back(std::move(datagram));
  }
  SignalLocked();
}

void IpSocket::OnQueued(Napi::Env env, Napi::Function, IpSocket* socket, void*) {
  if (env == nullptr) return;  // the function is being torn down; the socket may be gone
  size_t waiting = 0;
  {
    std::lock_guard<std::mutex> guard(socket->queue_lock_);
    socket->signal_pending_ = false;
    waiting = socket->queue_.size();
  }
  // Only what was there on waking: datagrams queued meanwhile brought their own wake-up, and
  // other events get their turn in between under a flood.
  socket->DeliverQueued(env, waiting);
}

size_t IpSocket::DeliverQueued(Napi::Env env, size_t limit) {
  size_t delivered = 0;
  // One at a time, so a callback that calls drain() or close() sees the rest in order or
  // not at all.
  while (delivered < limit && open_) {
    Datagram datagram;
    {
      std::lock_guard<std::mutex> guard(queue_lock_);
      if (queue_.empty()) break;
      datagram = std::move(queue_.front());
      queue_.pop_front();
    }
    delivered++;
    try {
      if (datagram.takeover) {
        DeliverTakeover(env, *datagram.takeover);
      } else {
        Deliver(env, on_receive_.Value(), datagram);
      }
    } catch (...) {
      // The exception goes to the caller (or becomes uncaught); the rest still get delivered.
      std::lock_guard<std::mutex> guard(queue_lock_);
      if (!queue_.empty()) SignalLocked();
      throw;
    }
  }
  return delivered;
}

namespace {

// The kernel stamps arrivals on CLOCK_REALTIME; moved onto CLOCK_MONOTONIC by how long ago it
// was. A wall-clock step between arrival and read would make that age absurd: then the read
// time stands.
double ArrivalOnMonotonic(const timespec& arrival, double read_at) {
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  const double age_ms = static_cast<double>(wall.tv_sec - arrival.tv_sec) * 1e3 +
                        static_cast<double>(wall.tv_nsec - arrival.tv_nsec) / 1e6;
  if (age_ms < 0 || age_ms > 60000) return read_at;
  return MonotonicMs() - age_ms;
}

}  // namespace

IpSocket::ReadOutcome IpSocket::ReadOne(std::vector<uint8_t>& buffer, Datagram& datagram) {
  alignas(cmsghdr) char control[512];
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_name = &datagram.source;
  msg.msg_namelen = sizeof datagram.source;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t length;
  do {
    length = recvmsg(fd_, &msg, MSG_DONTWAIT);
  } while (length < 0 && errno == EINTR);
  const double read_at = MonotonicMs();
  datagram.received_at = read_at;
  if (length < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadOutcome::kEmpty;
    datagram.error = errno;
    return ReadOutcome::kError;
  }
  const size_t kept = static_cast<size_t>(length) < buffer.size() ? static_cast<size_t>(length)
                                                                 : buffer.size();
  datagram.data.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(kept));
  datagram.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      datagram.ifindex = info.ipi_ifindex;
      auto& destination = reinterpret_cast<sockaddr_in&>(datagram.destination);
      destination.sin_family = AF_INET;
      destination.sin_addr = info.ipi_addr;
      datagram.has_destination = true;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      datagram.ifindex = static_cast<int>(info.ipi6_ifindex);
      auto& destination = reinterpret_cast<sockaddr_in6&>(datagram.destination);
      destination.sin6_family = AF_INET6;
      destination.sin6_addr = info.ipi6_addr;
      datagram.has_destination = true;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      int hops;
      std::memcpy(&hops, CMSG_DATA(c), sizeof hops);
      datagram.hop_limit = hops;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec arrival;
      std::memcpy(&arrival, CMSG_DATA(c), sizeof arrival);
      datagram.received_at = ArrivalOnMonotonic(arrival, read_at);
    }
  }
  received_.fetch_add(1, std::memory_order_relaxed);
  NoteAdvert(datagram);
  return ReadOutcome::kDatagram;
}

void IpSocket::NoteAdvert(const Datagram& datagram) {
  // Only what could be a CARP advert (version 2, type 1, TTL 255): checking the HMAC is the
  // CARP service's job. A forged one calls a takeover off; the service, finding it invalid,
  // then takes over itself.
  const std::vector<uint8_t>& data = datagram.data;
  size_t offset = 0;
  if (family_ == 4) {
    if (data.size() < 20 || (data[0] >> 4) != 4 || data[8] != 255) return;
    offset = static_cast<size_t>(data[0] & 0x0f) * 4;
  } else if (datagram.hop_limit != 255) {
    return;
  }
  if (data.size() < offset + 2 || data[offset] != kCarpAdvertVersionType) return;
  last_advert_at_[data[offset + 1]] = datagram.received_at;
}

IpSocket::ReadOutcome IpSocket::ReadAndQueue(std::vector<uint8_t>& buffer) {
  std::lock_guard<std::mutex> reading(read_lock_);
  return ReadAndQueueLocked(buffer);
}

IpSocket::ReadOutcome IpSocket::ReadAndQueueLocked(std::vector<uint8_t>& buffer) {
  Datagram datagram;
  const ReadOutcome outcome = ReadOne(buffer, datagram);
  if (outcome != ReadOutcome::kEmpty) Enqueue(std::move(datagram));
  return outcome;
}

void IpSocket::ReceiveLoop() {
  pthread_setname_np(pthread_self(), "tandem-recv");
  ApplyProcessPriority();
  std::vector<uint8_t> buffer(kBufferSize);
  pollfd fds[3] = {{fd_, POLLIN, 0}, {stop_.fd(), POLLIN, 0}, {takeover_timer_, POLLIN, 0}};
  for (;;) {
    const int ready = poll(fds, 3, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      Datagram failure;
      failure.error = errno;
      Enqueue(std::move(failure));
      return;
    }
    if (fds[1].revents != 0) return;  // close(): woken through the eventfd
    if (fds[0].revents & POLLNVAL) return;
    if (fds[0].revents & (POLLIN | POLLERR)) {
      // drain() on the JS thread may have taken what woke us: then the first read is empty.
      for (int i = 0; i < kBurst; i++) {
        if (ReadAndQueue(buffer) != ReadOutcome::kDatagram) break;
      }
    }
    if (fds[2].revents & POLLIN) {
      uint64_t expirations = 0;
      // EAGAIN if an arm re-set the timer meanwhile; the orders are looked at either way.
      ssize_t ignored = read(takeover_timer_, &expirations, sizeof expirations);
      (void)ignored;
      if (!RunDueOrders(buffer)) return;
    }
  }
}

double IpSocket::EarliestDeadlineLocked() const {
  double earliest = kNever;
  for (const auto& entry : takeovers_) {
    if (entry.second.armed && entry.second.deadline < earliest) earliest = entry.second.deadline;
  }
  return earliest;
}

double IpSocket::EarliestFillLocked() const {
  double earliest = kNever;
  for (const auto& entry : fills_) earliest = std::min(earliest, entry.second.next);
  return earliest;
}

void IpSocket::SetOrderTimerLocked() {
  itimerspec spec{};
  // Takeovers wake early and spin to the deadline; a fill only has to beat a master-down.
  const double wake = std::min(EarliestDeadlineLocked() - kTakeoverLeadMs, EarliestFillLocked());
  // An it_value of zero would disarm; a deadline already past fires at once.
  if (wake != kNever) spec.it_value = MonotonicAt(std::max(wake, 1e-6));
  timerfd_settime(takeover_timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void IpSocket::SendDueFillsLocked(double now) {
  for (auto& entry : fills_) {
    AdvertFill& fill = entry.second;
    if (fill.next > now) continue;
    if (now >= fill.lease_until) {
      fill.next = kNever;
      continue;
    }
    if (sendto(fd_, fill.advert.data(), fill.advert.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&fill.destination), fill.destination_size) >= 0) {
      fill.sent++;
    }
    // Keeps the cadence; after a stall of the thread itself, one advert now and on from here.
    fill.next += fill.interval;
    if (fill.next <= now) fill.next = now + fill.interval;
  }
}

bool IpSocket::RunDueOrders(std::vector<uint8_t>& buffer) {
  pollfd stop{stop_.fd(), POLLIN, 0};
  for (;;) {
    {
      std::lock_guard<std::mutex> reading(read_lock_);
      // Everything that arrived before the deadline is read first, as drain() does for the
      // JS timer, so an advert waiting in the kernel still counts.
      for (size_t i = 0; i < kDrainLimit; i++) {
        if (ReadAndQueueLocked(buffer) != ReadOutcome::kDatagram) break;
      }
      std::lock_guard<std::mutex> guard(takeover_lock_);
      const double now = MonotonicMs();
      for (auto& [vhid, order] : takeovers_) {
        if (!order.armed || order.deadline > now) continue;
        order.armed = false;
        Datagram item;
        item.takeover = std::make_unique<TakeoverReport>();
        TakeoverReport& report = *item.takeover;
        report.vhid = vhid;
        report.generation = order.generation;
        report.at = now;
        report.taken = !(last_advert_at_[static_cast<size_t>(vhid)] > order.heard_after);
        if (report.taken) CarryOut(*order.plan, report);
        Enqueue(std::move(item));
      }
      SendDueFillsLocked(now);
      const double earliest = EarliestDeadlineLocked();
      if (earliest == kNever || earliest - MonotonicMs() > kTakeoverLeadMs) {
        SetOrderTimerLocked();
        return true;
      }
    }
    if (poll(&stop, 1, 0) > 0) return false;
  }
}

void IpSocket::CarryOut(TakeoverPlan& plan, TakeoverReport& report) {
  auto failed = [&](const char* step, const std::string& message) { report.failures.emplace_back(step, message); };
  // The advert first, as the JS takeover does; then the addresses, so a client that follows
  // the announcement finds them.
  if (sendto(fd_, plan.advert.data(), plan.advert.size(), MSG_DONTWAIT,
             reinterpret_cast<const sockaddr*>(&plan.destination), plan.destination_size) < 0) {
    failed("advert", "sendto: " + ErrnoName(errno));
  }
  for (AddressRequest& request : plan.addresses) {
    const int err = ExchangeAddressRequest(route_fd_, request, ++route_sequence_);
    if (err != 0 && err != EEXIST) failed("addresses", "add " + request.label + ": " + ErrnoName(err));
  }
  for (const std::vector<uint8_t>& frame : plan.frames) {
    if (const int err = SendFrameOn(frame_fd_, ifindex_, frame.data(), frame.size())) {
      failed("announce", "sendto: " + ErrnoName(err));
    }
  }
}

void IpSocket::DeliverTakeover(Napi::Env env, const TakeoverReport& report) {
  if (on_takeover_.IsEmpty()) return;
  Napi::Object value = Napi::Object::New(env);
  value.Set("vhid", report.vhid);
  value.Set("generation", static_cast<double>(report.generation));
  value.Set("taken", report.taken);
  value.Set("at", report.at);
  Napi::Array failures = Napi::Array::New(env, report.failures.size());
  for (size_t i = 0; i < report.failures.size(); i++) {
    Napi::Object failure = Napi::Object::New(env);
    failure.Set("step", report.failures[i].first);
    failure.Set("message", report.failures[i].second);
    failures.Set(static_cast<uint32_t>(i), failure);
  }
  value.Set("failures", failures);
  on_takeover_.Value().Call({value});
}

namespace {

int GetVhid(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), usage);
  const int vhid = info[0].As<Napi::Number>().Int32Value();
  if (vhid < 1 || vhid > 255) throw Napi::RangeError::New(info.Env(), "vhid must be 1..255");
  return vhid;
}

std::vector<uint8_t> Bytes(Napi::Env env, const Napi::Value& value, const std::string& what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, what + " must be a Uint8Array");
  }
  Napi::Uint8Array bytes = value.As<Napi::Uint8Array>();
  return std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.ByteLength());
}

}  // namespace

Napi::Value IpSocket::SetTakeoverPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "setTakeoverPlan(vhid, { destination, advert, addresses: [{ address, prefixLength }], frames } | null) expected";
  const int vhid = GetVhid(info, usage);
  const std::string context = "takeover plan for vhid " + std::to_string(vhid) + " on " + iface_;
  if (!open_) throw ErrnoError(env, EBADF, context, "setTakeoverPlan", "socket is closed");
  if (info.Length() < 2 || info[1].IsNull() || info[1].IsUndefined()) {
    std::lock_guard<std::mutex> guard(takeover_lock_);
    takeovers_.erase(vhid);
    SetOrderTimerLocked();
    return env.Undefined();
  }
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, usage);
  Napi::Object options = info[1].As<Napi::Object>();
  auto plan = std::make_shared<TakeoverPlan>();
  const std::string destination = GetString(options, "destination", "");
  if (!ParseDestination(family_, ifindex_, destination, plan->destination, plan->destination_size)) {
    throw Napi::TypeError::New(env, context + ": destination is not an IPv" + std::to_string(family_) +
                                        " address: " + destination);
  }
  plan->advert = Bytes(env, options.Get("advert"), context + ": advert");
  const Napi::Value addresses = options.Get("addresses");
  const Napi::Value frames = options.Get("frames");
  if (!addresses.IsArray() || !frames.IsArray()) throw Napi::TypeError::New(env, usage);
  const Napi::Array address_list = addresses.As<Napi::Array>();
  for (uint32_t i = 0; i < address_list.Length(); i++) {
    const Napi::Value entry = address_list.Get(i);
    if (!entry.IsObject()) throw Napi::TypeError::New(env, usage);
    const Napi::Object address = entry.As<Napi::Object>();
    const std::string text = GetString(address, "address", "");
    const int prefix = GetInt(address, "prefixLength", -1);
    AddressRequest request;
    const std::string problem = BuildAddressRequest(true, text, prefix, ifindex_, request);
    if (!problem.empty()) {
      throw Napi::TypeError::New(env, context + ": " + problem + ": " + text + "/" + std::to_string(prefix));
    }
    plan->addresses.push_back(std::move(request));
  }
  const Napi::Array frame_list = frames.As<Napi::Array>();
  for (uint32_t i = 0; i < frame_list.Length(); i++) {
    std::vector<uint8_t> frame = Bytes(env, frame_list.Get(i), context + ": frame");
    if (frame.size() < 14) throw Napi::RangeError::New(env, context + ": frame shorter than an Ethernet header");
    plan->frames.push_back(std::move(frame));
  }
  if (route_fd_ < 0 || frame_fd_ < 0) {
    NetnsScope scope(env, netns_, context);
    if (frame_fd_ < 0) frame_fd_ = FrameSocket(env, netns_, context);
    if (route_fd_ < 0) {
      const int fd = OpenRouteSocket();
      if (fd < 0) throw ErrnoError(env, -fd, context, "socket(AF_NETLINK)");
      route_fd_ = fd;
    }
  }
  std::lock_guard<std::mutex> guard(takeover_lock_);
  // An armed order keeps its deadline and takes the new plan (the settings changed meanwhile).
  takeovers_[vhid].plan = std::move(plan);
  return env.Undefined();
}

Napi::Value IpSocket::ArmTakeover(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "armTakeover(vhid, delayMs, heardWithinMs) expected";
  const int vhid = GetVhid(info, usage);
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, usage);
  const double delay = info[1].As<Napi::Number>().DoubleValue();
  const double heard_within = info[2].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(delay) || !std::isfinite(heard_within)) {
    throw Napi::RangeError::New(env, "armTakeover: delayMs and heardWithinMs must be finite");
  }
  const std::string context = "arm takeover for vhid " + std::to_string(vhid) + " on " + iface_;
  if (!open_) throw ErrnoError(env, EBADF, context, "armTakeover", "socket is closed");
  std::lock_guard<std::mutex> guard(takeover_lock_);
  auto found = takeovers_.find(vhid);
  if (found == takeovers_.end()) throw Napi::Error::New(env, context + ": no plan (setTakeoverPlan first)");
  TakeoverOrder& order = found->second;
  const double now = MonotonicMs();
  order.armed = true;
  order.deadline = now + std::max(0.0, delay);
  order.heard_after = now - std::max(0.0, heard_within);
  order.generation = ++takeover_generation_;
  SetOrderTimerLocked();
  return Napi::Number::New(env, static_cast<double>(order.generation));
}

Napi::Value IpSocket::Advertise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "advertise(vhid, destination, advert: Uint8Array, intervalMs, leaseMs, send = true) expected";
  const int vhid = GetVhid(info, usage);
  if (info.Length() < 5 || !info[1].IsString() || !info[3].IsNumber() || !info[4].IsNumber()) {
    throw Napi::TypeError::New(env, usage);
  }
  const std::string destination = info[1].As<Napi::String>().Utf8Value();
  const std::string context = "advertise vhid " + std::to_string(vhid) + " to " + destination + " on " + iface_;
  AdvertFill fill;
  fill.advert = Bytes(env, info[2], context + ": advert");
  fill.interval = info[3].As<Napi::Number>().DoubleValue();
  const double lease = info[4].As<Napi::Number>().DoubleValue();
  // False: the advert has just left another way (the takeover); only the fills start.
  const bool send_now = info.Length() < 6 || info[5].ToBoolean().Value();
  if (!std::isfinite(fill.interval) || fill.interval <= 0 || !std::isfinite(lease) || lease < 0) {
    throw Napi::RangeError::New(env, context + ": intervalMs must be positive and leaseMs at least 0");
  }
  if (!ParseDestination(family_, ifindex_, destination, fill.destination, fill.destination_size)) {
    throw Napi::TypeError::New(env, context + ": not an IPv" + std::to_string(family_) + " address");
  }
  if (!open_) throw ErrnoError(env, EBADF, context, "sendto", "socket is closed");
  std::lock_guard<std::mutex> guard(takeover_lock_);
  uint64_t filled = 0;
  auto found = fills_.find(vhid);
  if (found != fills_.end()) filled = found->second.sent;
  if (send_now && sendto(fd_, fill.advert.data(), fill.advert.size(), MSG_DONTWAIT,
                         reinterpret_cast<const sockaddr*>(&fill.destination), fill.destination_size) < 0) {
    const int err = errno;
    // A failed advert does not start a fill: the next one tries again.
    fills_.erase(vhid);
    SetOrderTimerLocked();
    throw ErrnoError(env, err, context, "sendto");
  }
  const double now = MonotonicMs();
  // JavaScript's next advert is due one interval from now; the thread steps in one interval later.
  fill.next = now + 2 * fill.interval;
  fill.lease_until = now + lease;
  fills_[vhid] = std::move(fill);
  SetOrderTimerLocked();
  return Napi::Number::New(env, static_cast<double>(filled));
}

Napi::Value IpSocket::StopAdvertising(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int vhid = GetVhid(info, "stopAdvertising(vhid) expected");
  std::lock_guard<std::mutex> guard(takeover_lock_);
  auto found = fills_.find(vhid);
  if (found == fills_.end()) return Napi::Number::New(env, 0);
  const uint64_t filled = found->second.sent;
  fills_.erase(found);
  SetOrderTimerLocked();
  return Napi::Number::New(env, static_cast<double>(filled));
}

Napi::Value IpSocket::DisarmTakeover(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int vhid = GetVhid(info, "disarmTakeover(vhid) expected");
  std::lock_guard<std::mutex> guard(takeover_lock_);
  auto found = takeovers_.find(vhid);
  if (found == takeovers_.end() || !found->second.armed) return Napi::Boolean::New(env, false);
  found->second.armed = false;
  SetOrderTimerLocked();
  return Napi::Boolean::New(env, true);
}

Napi::Value IpSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "send(destination: string, payload: Uint8Array) expected");
  }
  const std::string destination = info[0].As<Napi::String>().Utf8Value();
  Napi::Uint8Array payload = info[1].As<Napi::Uint8Array>();
  const std::string context = "send to " + destination + " on " + iface_;
  if (!open_) throw ErrnoError(env, EBADF, context, "sendto", "socket is closed");
  sockaddr_storage address{};
  socklen_t size = 0;
  if (!ParseDestination(family_, ifindex_, destination, address, size)) {
    throw Napi::TypeError::New(env, context + ": not an IPv" + std::to_string(family_) + " address");
  }
  const ssize_t sent = sendto(fd_, payload.Data(), payload.ByteLength(), MSG_DONTWAIT,
                              reinterpret_cast<sockaddr*>(&address), size);
  if (sent < 0) throw ErrnoError(env, errno, context, "sendto");
  return Napi::Number::New(env, static_cast<double>(sent));
}

Napi::Value IpSocket::Close(const Napi::CallbackInfo& info) {
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, &IpSocket::OnEnvCleanup, this);
    cleanup_hook_ = false;
  }
  Stop();  // also discards what was queued: nothing is delivered after close()
  if (tsfn_live_) {
    tsfn_.Abort();
    tsfn_live_ = false;
  }
  // Lets a callback that refers to this socket be collected with it.
  on_receive_.Reset();
  return info.Env().Undefined();
}

Napi::Value IpSocket::Drain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The receive thread's buffer is its own; this one serves every socket drained on this
  // JS thread.
  static thread_local std::vector<uint8_t> buffer(kBufferSize);
  // First what the receive thread already read, then whatever still waits in the kernel;
  // each read goes through the queue, so the order holds whichever thread read it.
  size_t delivered = DeliverQueued(env, kDrainLimit);
  ReadOutcome outcome = ReadOutcome::kDatagram;
  while (open_ && delivered < kDrainLimit && outcome == ReadOutcome::kDatagram) {
    outcome = ReadAndQueue(buffer);
    delivered += DeliverQueued(env, kDrainLimit - delivered);
  }
  return Napi::Number::New(env, static_cast<double>(delivered));
}

Napi::Value IpSocket::Ref(const Napi::CallbackInfo& info) {
  if (tsfn_live_) tsfn_.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value IpSocket::Unref(const Napi::CallbackInfo& info) {
  if (tsfn_live_) tsfn_.Unref(info.Env());
  return info.Env().Undefined();
}

Napi::Value IpSocket::Stats(const Napi::CallbackInfo& info) {
  Napi::Object stats = Napi::Object::New(info.Env());
  stats.Set("received", static_cast<double>(received_.load()));
  stats.Set("queueDrops", static_cast<double>(queue_drops_.load()));
  return stats;
}

Napi::Value IpSocket::Ifindex(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ifindex_);
}

Napi::Value IpSocket::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !open_);
}

}  // namespace tandem
