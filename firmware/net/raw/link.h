// Link-layer helpers: send one complete Ethernet frame through AF_PACKET (gratuitous ARP,
// unsolicited Neighbor Advertisement; the frames are built in TypeScript) and read an
// interface's index, MAC, flags and MTU.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem {

// sendFrame(iface: string, frame: Uint8Array, netns?: string): void
Napi::Value SendFrame(const Napi::CallbackInfo& info);
// interfaceInfo(iface: string, netns?: string): { index, mac, up, running, mtu }
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info);

// The process's send-only packet socket for `netns`, kept for the life of the process; call
// inside that namespace's NetnsScope so a new socket belongs to it.
int FrameSocket(Napi::Env env, const std::string& netns, const std::string& context);

// Sends one complete Ethernet frame (at least a header long) out of `ifindex` through a
// packet socket, from any thread: 0 or the errno.
int SendFrameOn(int sock, unsigned ifindex, const uint8_t* frame, size_t length);

}  // namespace tandem
