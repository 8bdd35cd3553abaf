// Adding and removing interface addresses over rtnetlink (RTM_NEWADDR / RTM_DELADDR), what
// `ip addr add|del` does, without forking a process: spawn() blocked the event loop 2.4-3 ms
// and `ip` took 4.4-7.6 ms end to end on the takeover path (scripts/bench/failover). One
// netlink socket per namespace is kept, like the frame sockets; the kernel answers the request
// synchronously, so the ACK is read at once.
#include "address.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "errors.h"
#include "netns.h"

namespace tandem {

namespace {

std::mutex netlink_lock;
std::map<std::string, int> netlink_sockets;
uint32_t netlink_sequence = 0;

void AddAttribute(std::vector<uint8_t>& message, uint16_t type, const void* data, size_t length) {
  const size_t offset = NLMSG_ALIGN(message.size());
  const size_t attribute_length = RTA_LENGTH(length);
  message.resize(offset + RTA_ALIGN(attribute_length));
  auto* attribute = reinterpret_cast<rtattr*>(message.data() + offset);
  attribute->rta_type = type;
  attribute->rta_len = static_cast<uint16_t>(attribute_length);
  std::memcpy(RTA_DATA(attribute), data, length);
  reinterpret_cast<nlmsghdr*>(message.data())->nlmsg_len = static_cast<uint32_t>(message.size());
}

}  // namespace

std::string BuildAddressRequest(bool add, const std::string& address, int prefix, unsigned ifindex,
                                AddressRequest& request) {
  unsigned char bytes[16];
  int family = AF_INET;
  size_t length = 4;
  if (inet_pton(AF_INET, address.c_str(), bytes) != 1) {
    if (inet_pton(AF_INET6, address.c_str(), bytes) != 1) return "bad address";
    family = AF_INET6;
    length = 16;
  }
  if (prefix < 0 || prefix > (family == AF_INET ? 32 : 128)) return "bad prefix length";
  request.label = address + "/" + std::to_string(prefix);
  // Aligned storage: the header and ifaddrmsg are read in place.
  request.message.assign(NLMSG_LENGTH(sizeof(ifaddrmsg)), 0);
  auto* header = reinterpret_cast<nlmsghdr*>(request.message.data());
  header->nlmsg_len = static_cast<uint32_t>(request.message.size());
  header->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  auto* message = reinterpret_cast<ifaddrmsg*>(NLMSG_DATA(header));
  message->ifa_family = static_cast<unsigned char>(family);
  message->ifa_prefixlen = static_cast<unsigned char>(prefix);
  // IPv6 virtual addresses skip DAD, or they would stay tentative (unusable) after failover.
  message->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
  message->ifa_scope = RT_SCOPE_UNIVERSE;
  message->ifa_index = ifindex;
  AddAttribute(request.message, IFA_LOCAL, bytes, length);
  AddAttribute(request.message, IFA_ADDRESS, bytes, length);
  return "";
}

int OpenRouteSocket() {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  // The kernel answers at once; a second without an answer means it never will.
  const timeval patience{1, 0};
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) != 0) {
    const int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int ExchangeAddressRequest(int fd, AddressRequest& request, uint32_t sequence) {
  auto* header = reinterpret_cast<nlmsghdr*>(request.message.data());
  header->nlmsg_seq = sequence;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, request.message.data(), request.message.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    return errno;
  }
  // Read until the ACK (or error) for our sequence number; stale answers are skipped.
  for (;;) {
    alignas(nlmsghdr) char reply[4096];
    const ssize_t got = recv(fd, reply, sizeof reply, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    int remaining = static_cast<int>(got);
    for (auto* answer = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(answer, remaining);
         answer = NLMSG_NEXT(answer, remaining)) {
      if (answer->nlmsg_seq != sequence || answer->nlmsg_type != NLMSG_ERROR) continue;
      return -reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(answer))->error;
    }
  }
}

// changeAddress(op: "add" | "del", iface, address, prefixLength, netns?): returns 0, or the
// errno the kernel answered with (EEXIST, EADDRNOTAVAIL, ...) for the caller to judge.
Napi::Value ChangeAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() || !info[3].IsNumber()) {
    throw Napi::TypeError::New(env, "changeAddress(op, iface, address, prefixLength, netns?) expected");
  }
  const std::string op = info[0].As<Napi::String>().Utf8Value();
  const std::string iface = info[1].As<Napi::String>().Utf8Value();
  const std::string address = info[2].As<Napi::String>().Utf8Value();
  const int prefix = info[3].As<Napi::Number>().Int32Value();
  const std::string netns = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  if (op != "add" && op != "del") throw Napi::TypeError::New(env, "op must be add or del");
  const std::string context = "ip addr " + op + " " + address + "/" + std::to_string(prefix) + " dev " + iface;

  AddressRequest request;
  const std::string problem = BuildAddressRequest(op == "add", address, prefix, 0, request);
  if (problem == "bad address") throw Napi::TypeError::New(env, context + ": " + problem);
  if (!problem.empty()) throw Napi::RangeError::New(env, context + ": " + problem);

  std::lock_guard<std::mutex> guard(netlink_lock);
  NetnsScope scope(env, netns, context);
  const unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex == 0) return Napi::Number::New(env, ENODEV);
  reinterpret_cast<ifaddrmsg*>(NLMSG_DATA(reinterpret_cast<nlmsghdr*>(request.message.data())))->ifa_index = ifindex;
  auto found = netlink_sockets.find(netns);
  if (found == netlink_sockets.end()) {
    const int fd = OpenRouteSocket();
    if (fd < 0) throw ErrnoError(env, -fd, context, "socket(AF_NETLINK)");
    found = netlink_sockets.emplace(netns, fd).first;
  }
  const int answer = ExchangeAddressRequest(found->second, request, ++netlink_sequence);
  // A failure of the socket itself is thrown; the kernel's verdict on the request is returned.
  if (answer == EAGAIN || answer == EBADF || answer == ENOTSOCK) {
    throw ErrnoError(env, answer, context, "netlink exchange");
  }
  return Napi::Number::New(env, answer);
}

}  // namespace tandem
