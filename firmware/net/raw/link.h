// Link-layer helpers: send one complete Ethernet frame through AF_PACKET (gratuitous ARP,
// unsolicited Neighbor Advertisement; the frames are built in TypeScript) and read an
// interface's index, MAC, flags and MTU.
#pragma once

#include <napi.h>

namespace tandem {

// sendFrame(iface: string, frame: Uint8Array, netns?: string): void
Napi::Value SendFrame(const Napi::CallbackInfo& info);
// interfaceInfo(iface: string, netns?: string): { index, mac, up, running, mtu }
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info);

}  // namespace tandem
