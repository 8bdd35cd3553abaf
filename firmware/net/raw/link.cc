// See link.h.
#include "link.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "errors.h"
#include "netns.h"

namespace tandem {

namespace {

constexpr size_t kEthernetHeader = 14;

std::string OptionalNetns(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) return "";
  if (!info[index].IsString()) throw Napi::TypeError::New(info.Env(), "netns must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

std::string InterfaceName(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(info.Env(), "interface name expected");
  }
  std::string iface = info[0].As<Napi::String>().Utf8Value();
  if (iface.empty() || iface.size() >= IFNAMSIZ) {
    throw Napi::TypeError::New(info.Env(), "interface name must be 1-15 characters");
  }
  return iface;
}

// Owns a descriptor for the length of one call.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// One send-only packet socket per network namespace, kept for the life of the process:
// close() of an AF_PACKET socket waits for an RCU grace period (synchronize_net), which
// blocked the event loop for ~12 ms after every announcement (measured by the failover
// bench). An unbound socket can send on any interface of its namespace via sockaddr_ll.
std::mutex frame_sockets_lock;
std::map<std::string, int> frame_sockets;

}  // namespace

int FrameSocket(Napi::Env env, const std::string& netns, const std::string& context) {
  std::lock_guard<std::mutex> guard(frame_sockets_lock);
  auto found = frame_sockets.find(netns);
  if (found != frame_sockets.end()) return found->second;
  // Protocol 0: a send-only packet socket, so nothing is queued for receive.
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    throw ErrnoError(env, err, context, "socket", err == EPERM || err == EACCES ? "needs CAP_NET_RAW" : nullptr);
  }
  frame_sockets.emplace(netns, fd);
  return fd;
}

int SendFrameOn(int sock, unsigned ifindex, const uint8_t* frame, size_t length) {
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_ifindex = static_cast<int>(ifindex);
  std::memcpy(&address.sll_protocol, frame + 12, 2);  // EtherType, already network order
  address.sll_halen = ETH_ALEN;
  std::memcpy(address.sll_addr, frame, ETH_ALEN);
  const ssize_t sent = sendto(sock, frame, length, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&address), sizeof address);
  return sent < 0 ? errno : 0;
}

Napi::Value SendFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string iface = InterfaceName(info);
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "sendFrame(iface, frame: Uint8Array, netns?) expected");
  }
  Napi::Uint8Array frame = info[1].As<Napi::Uint8Array>();
  const std::string context = "send frame on " + iface;
  if (frame.ByteLength() < kEthernetHeader) {
    throw Napi::RangeError::New(env, context + ": frame shorter than an Ethernet header");
  }
  const std::string netns = OptionalNetns(info, 2);
  NetnsScope scope(env, netns, context);
  const unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex == 0) {
    throw ErrnoError(env, errno == 0 ? ENODEV : errno, context, "if_nametoindex", "no such interface");
  }
  const int sock = FrameSocket(env, netns, context);
  if (const int err = SendFrameOn(sock, ifindex, frame.Data(), frame.ByteLength())) {
    throw ErrnoError(env, err, context, "sendto");
  }
  return env.Undefined();
}

Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string iface = InterfaceName(info);
  const std::string context = "read interface " + iface;
  NetnsScope scope(env, OptionalNetns(info, 1), context);
  Fd sock{socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) throw ErrnoError(env, errno, context, "socket");
  ifreq request{};
  std::memcpy(request.ifr_name, iface.c_str(), iface.size());
  auto query = [&](unsigned long code, const char* label) {
    if (ioctl(sock.fd, code, &request) != 0) {
      const int err = errno;
      throw ErrnoError(env, err, context, label, err == ENODEV ? "no such interface" : nullptr);
    }
  };
  Napi::Object result = Napi::Object::New(env);
  query(SIOCGIFINDEX, "ioctl(SIOCGIFINDEX)");
  result.Set("index", request.ifr_ifindex);
  query(SIOCGIFFLAGS, "ioctl(SIOCGIFFLAGS)");
  result.Set("up", (request.ifr_flags & IFF_UP) != 0);
  result.Set("running", (request.ifr_flags & IFF_RUNNING) != 0);
  query(SIOCGIFMTU, "ioctl(SIOCGIFMTU)");
  result.Set("mtu", request.ifr_mtu);
  query(SIOCGIFHWADDR, "ioctl(SIOCGIFHWADDR)");
  const auto* mac = reinterpret_cast<const uint8_t*>(request.ifr_hwaddr.sa_data);
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  result.Set("mac", text);
  result.Set("ethernet", request.ifr_hwaddr.sa_family == ARPHRD_ETHER);
  return result;
}

}  // namespace tandem
