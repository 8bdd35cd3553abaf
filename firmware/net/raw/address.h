// Interface addresses over rtnetlink; see address.cc.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

// changeAddress(op: "add" | "del", iface, address, prefixLength, netns?): number (0 or errno)
Napi::Value ChangeAddress(const Napi::CallbackInfo& info);

// One RTM_NEWADDR / RTM_DELADDR request, built once and sent whenever it is needed (the CARP
// takeover adds its addresses from the receive thread, with the message built in advance).
struct AddressRequest {
  std::vector<uint8_t> message;
  // "198.51.100.100/24", for error messages.
  std::string label;
};

// Builds the request; "" on success, else what is wrong with the address or prefix.
std::string BuildAddressRequest(bool add, const std::string& address, int prefix, unsigned ifindex,
                                AddressRequest& request);

// A NETLINK_ROUTE socket bound to an automatic port, created in the calling thread's network
// namespace, that gives up waiting for an answer after a second; the fd, or -errno.
int OpenRouteSocket();

// Sends `request` with sequence number `sequence` and waits for its ACK: 0 or the errno the
// kernel (or the socket) answered.
int ExchangeAddressRequest(int fd, AddressRequest& request, uint32_t sequence);

}  // namespace tandem
