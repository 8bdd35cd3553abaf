// See alarm.h. The JS thread arms the timerfd itself (timerfd_settime is thread-safe), so
// set() never waits for the watching thread; the thread only reads expiries and wakes the JS
// thread through a thread-safe function.
#include "alarm.h"

#include <poll.h>
#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "clock.h"
#include "errors.h"
#include "scheduling.h"
#include "stop_event.h"

namespace tandem {

namespace {

// setTimeout's TIMEOUT_MAX; far beyond any CARP timer, and keeps the nanosecond sum in range.
constexpr double kMaxDelayMs = 2147483647;

// A deadline `delay_ms` after now. A zero it_value would disarm the timerfd, but now is never
// zero, and a deadline already past expires at once.
itimerspec DeadlineAfter(double delay_ms) {
  const timespec now = MonotonicTimespec();
  const int64_t delay_ns = delay_ms > 0 ? std::llround(delay_ms * 1e6) : 0;
  const int64_t total = static_cast<int64_t>(now.tv_nsec) + delay_ns % kNanosPerSecond;
  itimerspec spec{};
  spec.it_value.tv_sec = now.tv_sec + static_cast<time_t>(delay_ns / kNanosPerSecond + total / kNanosPerSecond);
  spec.it_value.tv_nsec = static_cast<long>(total % kNanosPerSecond);
  return spec;
}

}  // namespace

Napi::Value MonotonicNow(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), MonotonicMs());
}

Napi::Function Alarm::Define(Napi::Env env) {
  return DefineClass(env, "Alarm",
                     {
                         InstanceMethod<&Alarm::Set>("set"),
                         InstanceMethod<&Alarm::Clear>("clear"),
                         InstanceMethod<&Alarm::Close>("close"),
                         InstanceMethod<&Alarm::Ref>("ref"),
                         InstanceMethod<&Alarm::Unref>("unref"),
                     });
}

Alarm::Alarm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Alarm>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "Alarm(onFire) expected");
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (timer_fd_ < 0) throw ErrnoError(env, errno, "create alarm", "timerfd_create");
  if (const int err = stop_.Open()) {
    close(timer_fd_);
    timer_fd_ = -1;
    throw ErrnoError(env, err, "create alarm", "eventfd");
  }
  try {
    tsfn_ = Tsfn::New(env, "tandem_raw alarm", 0, 1, this);
  } catch (...) {
    close(timer_fd_);
    timer_fd_ = -1;
    stop_.Close();
    throw;
  }
  tsfn_live_ = true;
  on_fire_ = Napi::Persistent(info[0].As<Napi::Function>());
  open_ = true;
  env_ = env;
  UpdateHolds(env);  // disarmed: holds nothing
  thread_ = std::thread(&Alarm::WatchLoop, this);
  napi_add_env_cleanup_hook(env, &Alarm::OnEnvCleanup, this);
  cleanup_hook_ = true;
}

Alarm::~Alarm() {
  if (cleanup_hook_) napi_remove_env_cleanup_hook(env_, &Alarm::OnEnvCleanup, this);
  Stop();
  // Abort, not release: no expiry still queued may reach OnExpiry after this object is gone.
  if (tsfn_live_) tsfn_.Abort();
}

void Alarm::OnEnvCleanup(void* self) {
  // The environment is going away: stop the thread so it cannot outlive the isolate. Node
  // finalizes the thread-safe function itself.
  auto* alarm = static_cast<Alarm*>(self);
  alarm->cleanup_hook_ = false;
  alarm->Stop();
  alarm->tsfn_live_ = false;
}

void Alarm::Stop() {
  if (!open_) return;
  open_ = false;
  stop_.StopAndJoin(thread_);
  close(timer_fd_);
  timer_fd_ = -1;
}

void Alarm::WatchLoop() {
  pthread_setname_np(pthread_self(), "tandem-alarm");
  ApplyProcessPriority();
  pollfd fds[2] = {{timer_fd_, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      // Only EINTR and ENOMEM are possible with valid descriptors; giving up would leave a
      // master-down timer that never fires.
      continue;
    }
    if (fds[1].revents != 0) return;  // close(): woken through the eventfd
    if (fds[0].revents == 0) continue;
    uint64_t expirations = 0;
    bool expired = false;
    {
      std::lock_guard<std::mutex> guard(timer_lock_);
      // EAGAIN when set() or clear() re-armed it after poll returned: the expiry is void.
      expired = read(timer_fd_, &expirations, sizeof expirations) == sizeof expirations;
      if (expired) expired_generation_.store(generation_);
    }
    if (expired) tsfn_.NonBlockingCall();
  }
}

void Alarm::OnExpiry(Napi::Env env, Napi::Function, Alarm* alarm, void*) {
  if (env == nullptr) return;  // the function is being torn down; the alarm may be gone
  if (!alarm->armed_ || alarm->expired_generation_.load() != alarm->generation_) return;
  alarm->armed_ = false;
  // Taken before the holds are dropped: the wrapper may be collected once it is not armed.
  Napi::Function on_fire = alarm->on_fire_.Value();
  alarm->UpdateHolds(env);
  on_fire.Call({});
}

Napi::Value Alarm::Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "set(delayMs) expected");
  const double delay_ms = info[0].As<Napi::Number>().DoubleValue();
  if (std::isnan(delay_ms) || delay_ms > kMaxDelayMs) {
    throw Napi::RangeError::New(env, "delayMs must be a number up to 2147483647");
  }
  if (!open_) throw ErrnoError(env, EBADF, "set alarm", "timerfd_settime", "alarm is closed");
  const itimerspec deadline = DeadlineAfter(delay_ms);
  int err = 0;
  {
    std::lock_guard<std::mutex> guard(timer_lock_);
    generation_++;
    if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &deadline, nullptr) != 0) err = errno;
  }
  if (err != 0) {
    Disarm(env);
    throw ErrnoError(env, err, "set alarm", "timerfd_settime");
  }
  armed_ = true;
  UpdateHolds(env);
  return env.Undefined();
}

Napi::Value Alarm::Clear(const Napi::CallbackInfo& info) {
  if (open_) Disarm(info.Env());
  return info.Env().Undefined();
}

void Alarm::Disarm(Napi::Env env) {
  const itimerspec never{};
  {
    std::lock_guard<std::mutex> guard(timer_lock_);
    generation_++;
    timerfd_settime(timer_fd_, 0, &never, nullptr);  // cannot fail for a valid descriptor
  }
  armed_ = false;
  UpdateHolds(env);
}

void Alarm::UpdateHolds(Napi::Env env) {
  if (tsfn_live_) {
    if (armed_ && referenced_) {
      tsfn_.Ref(env);
    } else {
      tsfn_.Unref(env);
    }
  }
  if (armed_ && !holding_wrapper_) {
    Napi::ObjectWrap<Alarm>::Ref();
    holding_wrapper_ = true;
  } else if (!armed_ && holding_wrapper_) {
    Napi::ObjectWrap<Alarm>::Unref();
    holding_wrapper_ = false;
  }
}

Napi::Value Alarm::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, &Alarm::OnEnvCleanup, this);
    cleanup_hook_ = false;
  }
  Stop();
  if (tsfn_live_) {
    tsfn_.Abort();
    tsfn_live_ = false;
  }
  armed_ = false;
  UpdateHolds(env);
  // Lets a callback that refers to this alarm be collected with it.
  on_fire_.Reset();
  return env.Undefined();
}

Napi::Value Alarm::Ref(const Napi::CallbackInfo& info) {
  referenced_ = true;
  UpdateHolds(info.Env());
  return info.Env().Undefined();
}

Napi::Value Alarm::Unref(const Napi::CallbackInfo& info) {
  referenced_ = false;
  UpdateHolds(info.Env());
  return info.Env().Undefined();
}

}  // namespace tandem
