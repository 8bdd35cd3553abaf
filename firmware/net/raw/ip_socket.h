// A raw IP socket for one protocol (CARP: 112) bound to one interface and joined to one
// multicast group, with a receive thread that hands datagrams to JavaScript through a
// thread-safe function, so the event loop never blocks on the socket.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace tandem {

// One datagram (or one receive error) travelling from the receive thread to JavaScript.
struct Datagram {
  int error = 0;
  std::vector<uint8_t> data;
  sockaddr_storage source{};
  bool has_destination = false;
  sockaddr_storage destination{};
  int hop_limit = -1;
  int ifindex = 0;
  bool truncated = false;
};

void DeliverDatagram(Napi::Env env, Napi::Function callback, std::nullptr_t* context,
                     Datagram* datagram);

class IpSocket : public Napi::ObjectWrap<IpSocket> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new IpSocket(options, (error, datagram) => void)
  explicit IpSocket(const Napi::CallbackInfo& info);
  ~IpSocket() override;

 private:
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Datagram, DeliverDatagram>;

  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Ifindex(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);

  void Configure(Napi::Env env, const Napi::Object& options);
  void ReceiveLoop();
  void Post(Datagram* datagram);
  // Wakes and joins the receive thread and closes both descriptors; idempotent.
  void Stop();
  static void OnEnvCleanup(void* self);

  int family_ = 0;
  std::string iface_;
  unsigned ifindex_ = 0;
  int fd_ = -1;
  int wake_fd_ = -1;
  bool open_ = false;
  bool tsfn_live_ = false;
  bool cleanup_hook_ = false;
  napi_env env_ = nullptr;
  std::thread thread_;
  Tsfn tsfn_;
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> queue_drops_{0};
};

}  // namespace tandem
