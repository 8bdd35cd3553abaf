// CLOCK_MONOTONIC for the addon's timestamps and deadlines. It is the clock of
// process.hrtime() and of libuv, so what the addon reports compares directly with JavaScript's
// own readings.
#pragma once

#include <time.h>

#include <cmath>
#include <cstdint>

namespace tandem {

constexpr int64_t kNanosPerSecond = 1000000000;

inline timespec MonotonicTimespec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now;
}

// Milliseconds, fractional: a double keeps sub-microsecond precision for centuries of uptime.
inline double MonotonicMs() {
  const timespec now = MonotonicTimespec();
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// The instant `ms` (as MonotonicMs counts) as a timespec, for absolute timerfd deadlines.
inline timespec MonotonicAt(double ms) {
  const int64_t total = std::llround(ms * 1e6);
  timespec at{};
  at.tv_sec = static_cast<time_t>(total / kNanosPerSecond);
  at.tv_nsec = static_cast<long>(total % kNanosPerSecond);
  return at;
}

}  // namespace tandem
