// A one-shot timer with sub-millisecond precision for the CARP timers. libuv's timers count
// whole milliseconds of a loop time cached once per iteration, so a timer of a few
// milliseconds (a fast master-down) is routinely off by one of them; here a timerfd armed at
// an absolute CLOCK_MONOTONIC deadline is watched by a thread of its own, which wakes the JS
// thread when it expires.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>

#include "stop_event.h"

namespace tandem {

class Alarm : public Napi::ObjectWrap<Alarm> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Alarm(onFire: () => void)
  explicit Alarm(const Napi::CallbackInfo& info);
  ~Alarm() override;

 private:
  static void OnExpiry(Napi::Env env, Napi::Function unused, Alarm* alarm, void* data);
  using Tsfn = Napi::TypedThreadSafeFunction<Alarm, void, &Alarm::OnExpiry>;

  Napi::Value Set(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);

  void WatchLoop();
  void Disarm(Napi::Env env);
  // Like setTimeout: only an armed, referenced alarm holds the event loop open, and an armed
  // one holds its own wrapper so it still fires when JavaScript dropped every reference.
  void UpdateHolds(Napi::Env env);
  // Wakes and joins the thread and closes both descriptors; idempotent.
  void Stop();
  static void OnEnvCleanup(void* self);

  int timer_fd_ = -1;
  StopEvent stop_;
  bool open_ = false;
  bool armed_ = false;
  bool referenced_ = true;
  bool holding_wrapper_ = false;
  bool tsfn_live_ = false;
  bool cleanup_hook_ = false;
  napi_env env_ = nullptr;
  // Re-arming and the thread's read of an expiry happen under this lock, so an expiry is
  // always paired with the generation it belongs to.
  std::mutex timer_lock_;
  // Bumped by every set() and clear(); written only by the JS thread.
  uint64_t generation_ = 0;
  // The generation whose expiry the thread read last; the JS thread fires only if it is
  // still the current one, which discards a firing overtaken by clear() or set().
  std::atomic<uint64_t> expired_generation_{0};
  Napi::FunctionReference on_fire_;
  std::thread thread_;
  Tsfn tsfn_;
};

// monotonicNow(): number — CLOCK_MONOTONIC in milliseconds
Napi::Value MonotonicNow(const Napi::CallbackInfo& info);

}  // namespace tandem
