// Interface addresses over rtnetlink; see address.cc.
#pragma once

#include <napi.h>

namespace tandem {

// changeAddress(op: "add" | "del", iface, address, prefixLength, netns?): number (0 or errno)
Napi::Value ChangeAddress(const Napi::CallbackInfo& info);

}  // namespace tandem
