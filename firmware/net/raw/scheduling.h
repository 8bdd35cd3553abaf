// Process-wide scheduling and memory residency for the CARP timing path, as keepalived's
// vrrp_rt_priority and vrrp_no_swap: SCHED_RR for every thread of the process (what
// `chrt -a -p` does) and locked code pages, so neither busy neighbours nor paging delay an
// advert or a master-down timer.
#pragma once

#include <napi.h>

namespace tandem {

// setRealtimePriority(priority: number): number
Napi::Value SetRealtimePriority(const Napi::CallbackInfo& info);
// lockMemory(): void
Napi::Value LockMemory(const Napi::CallbackInfo& info);

// Each thread the addon starts calls this first: a thread started after setRealtimePriority
// listed /proc/self/task would otherwise keep whatever it inherited from its creator.
void ApplyProcessPriority();

}  // namespace tandem
