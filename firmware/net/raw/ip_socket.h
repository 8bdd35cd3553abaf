// A raw IP socket for one protocol (CARP: 112) bound to one interface and joined to one
// multicast group. A receive thread reads datagrams into the socket's own queue and wakes the
// JS thread, so the event loop never blocks on the socket; drain() empties the same queue
// (and the kernel's buffer) synchronously, for a timer that must not fire while an advert
// that arrived in time still waits behind a stalled event loop.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stop_event.h"

namespace tandem {

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
};

class IpSocket : public Napi::ObjectWrap<IpSocket> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new IpSocket(options, (error, datagram) => void)
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

  void Configure(Napi::Env env, const Napi::Object& options);
  void ReceiveLoop();
  // One non-blocking recvmsg into `datagram`, from either thread.
  ReadOutcome ReadOne(std::vector<uint8_t>& buffer, Datagram& datagram);
  // Reads one datagram (or error) and queues it, as one step against the other reader.
  ReadOutcome ReadAndQueue(std::vector<uint8_t>& buffer);
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
};

}  // namespace tandem
