// A raw IP socket for one protocol (CARP: 112) bound to one interface and joined to one
// multicast group. A receive thread reads datagrams into the socket's own queue and wakes the
// JS thread, so the event loop never blocks on the socket; drain() empties the same queue
// (and the kernel's buffer) synchronously, for a timer that must not fire while an advert
// that arrived in time still waits behind a stalled event loop.
//
// The receive thread also keeps CARP's standing takeover orders: for a BACKUP vhid, the plan
// its takeover would carry out (first advert, addresses, announcements), armed with the
// master-down deadline. If no advert for the vhid has arrived by then, the thread carries the
// plan out itself and reports it; JavaScript then makes the same transition in its machine.
// The decision stays with the pure machine, which worked the plan out ahead of time; what
// moves here is only the timing, which the event loop kept 0.5-1 ms late (scripts/bench/failover).
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "address.h"
#include "stop_event.h"

namespace tandem {

// What one vhid does the moment its master-down time runs out, ready to send.
struct TakeoverPlan {
  sockaddr_storage destination{};
  socklen_t destination_size = 0;
  std::vector<uint8_t> advert;
  std::vector<AddressRequest> addresses;
  std::vector<std::vector<uint8_t>> frames;
};

struct TakeoverOrder {
  std::shared_ptr<TakeoverPlan> plan;
  bool armed = false;
  // CLOCK_MONOTONIC milliseconds.
  double deadline = 0;
  // An advert for the vhid that arrived later than this calls the takeover off.
  double heard_after = 0;
  uint64_t generation = 0;
};

// A MASTER's adverts, kept going by the receive thread while JavaScript is late (a GC pause,
// a busy event loop): each advert JavaScript sends moves the next fill one interval past its
// due time; only if that passes does the thread send the same bytes, every interval, until
// the lease from JavaScript's last advert runs out. A stalled event loop is bridged; a dead one
// stops advertising, so backups still take over from a daemon that no longer runs.
struct AdvertFill {
  sockaddr_storage destination{};
  socklen_t destination_size = 0;
  std::vector<uint8_t> advert;
  double interval = 0;
  // CLOCK_MONOTONIC milliseconds.
  double next = 0;
  double lease_until = 0;
  // Fills sent since JavaScript last asked.
  uint64_t sent = 0;
};

// What became of an armed order at its deadline, for JavaScript.
struct TakeoverReport {
  int vhid = 0;
  uint64_t generation = 0;
  // False: an advert arrived in time, so nothing was done.
  bool taken = false;
  // CLOCK_MONOTONIC milliseconds of the decision.
  double at = 0;
  // (step, message) for each step of a taken plan that failed: advert, addresses, announce.
  std::vector<std::pair<std::string, std::string>> failures;
};

// One datagram (or one receive error) travelling from a reader to JavaScript.
struct Datagram {
  int error = 0;
  std::vector<uint8_t> data;
  sockaddr_storage source{};
  bool has_destination = false;
  sockaddr_storage destination{};
  int hop_limit = -1;
  int ifindex = 0;
  bool truncated = false;
  // CLOCK_MONOTONIC milliseconds, read right after recvmsg returned.
  double received_at = 0;
  // Set instead of the above when the item is a takeover report, not a datagram.
  std::unique_ptr<TakeoverReport> takeover;
};

class IpSocket : public Napi::ObjectWrap<IpSocket> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new IpSocket(options, (error, datagram) => void, onTakeover?: (report) => void)
  explicit IpSocket(const Napi::CallbackInfo& info);
  ~IpSocket() override;

 private:
  static void OnQueued(Napi::Env env, Napi::Function unused, IpSocket* socket, void* data);
  using Tsfn = Napi::TypedThreadSafeFunction<IpSocket, void, &IpSocket::OnQueued>;
  enum class ReadOutcome { kDatagram, kEmpty, kError };

  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Ifindex(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  Napi::Value SetTakeoverPlan(const Napi::CallbackInfo& info);
  Napi::Value ArmTakeover(const Napi::CallbackInfo& info);
  Napi::Value DisarmTakeover(const Napi::CallbackInfo& info);
  Napi::Value Advertise(const Napi::CallbackInfo& info);
  Napi::Value StopAdvertising(const Napi::CallbackInfo& info);

  void Configure(Napi::Env env, const Napi::Object& options);
  void ReceiveLoop();
  // One non-blocking recvmsg into `datagram`, from either thread.
  ReadOutcome ReadOne(std::vector<uint8_t>& buffer, Datagram& datagram);
  // Reads one datagram (or error) and queues it, as one step against the other reader.
  ReadOutcome ReadAndQueue(std::vector<uint8_t>& buffer);
  ReadOutcome ReadAndQueueLocked(std::vector<uint8_t>& buffer);
  // Notes when an advert for a vhid arrived; called with read_lock_ held.
  void NoteAdvert(const Datagram& datagram);
  // From the timer's early wake-up to the deadline of every order due by then: keeps reading,
  // so a late advert still calls a takeover off, and acts on the deadline; sends the fills
  // that are due. False if stopped.
  bool RunDueOrders(std::vector<uint8_t>& buffer);
  void SendDueFillsLocked(double now);
  void CarryOut(TakeoverPlan& plan, TakeoverReport& report);
  // Sets the timer for the earliest armed order or fill, or disarms it; takeover_lock_ held.
  void SetOrderTimerLocked();
  double EarliestDeadlineLocked() const;
  double EarliestFillLocked() const;
  void DeliverTakeover(Napi::Env env, const TakeoverReport& report);
  void Enqueue(Datagram&& datagram);
  // Wakes the JS thread unless a wake-up is already on its way.
  void SignalLocked();
  // Hands up to `limit` queued datagrams to the callback; returns how many.
  size_t DeliverQueued(Napi::Env env, size_t limit);
  // Wakes and joins the receive thread and closes both descriptors; idempotent.
  void Stop();
  static void OnEnvCleanup(void* self);

  int family_ = 0;
  std::string iface_;
  unsigned ifindex_ = 0;
  int fd_ = -1;
  StopEvent stop_;
  bool open_ = false;
  bool tsfn_live_ = false;
  bool cleanup_hook_ = false;
  napi_env env_ = nullptr;
  std::thread thread_;
  Tsfn tsfn_;
  Napi::FunctionReference on_receive_;
  // Held from recvmsg until its datagram is queued, by whichever thread reads, so the queue
  // keeps the order in which the kernel handed datagrams out.
  std::mutex read_lock_;
  std::mutex queue_lock_;
  std::deque<Datagram> queue_;   // guarded by queue_lock_
  bool signal_pending_ = false;  // guarded by queue_lock_
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> queue_drops_{0};

  std::string netns_;
  // timerfd, set a little before the earliest armed takeover deadline, or at the next fill.
  int takeover_timer_ = -1;
  // Opened with the first plan, in the socket's namespace; the frame socket is shared.
  int route_fd_ = -1;
  int frame_fd_ = -1;
  uint32_t route_sequence_ = 0;  // receive thread only
  // Held while an order is armed, checked or carried out; taken after read_lock_.
  std::mutex takeover_lock_;
  std::map<int, TakeoverOrder> takeovers_;  // by vhid; guarded by takeover_lock_
  std::map<int, AdvertFill> fills_;         // by vhid; guarded by takeover_lock_
  uint64_t takeover_generation_ = 0;        // guarded by takeover_lock_
  // When the newest advert for each vhid arrived; guarded by read_lock_.
  std::array<double, 256> last_advert_at_{};
  Napi::FunctionReference on_takeover_;
};

}  // namespace tandem
