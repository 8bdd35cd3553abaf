// See scheduling.h. sched_setscheduler(2) takes a thread id, so walking /proc/self/task sets
// every thread; the walk repeats until a pass finds no thread it has not set, which catches
// threads started while it ran.
//
// Memory is locked mapping by mapping, not with mlockall(2): Linux refuses MADV_DONTNEED on
// locked pages (EINVAL), and V8 treats that refusal as a fatal bug (a CHECK in
// DiscardSystemPages, also in Node 18's heap). Under mlockall, with MCL_CURRENT or
// MCL_FUTURE, Node 18 and 20 both abort a few seconds into an idle period, when the memory
// reducer returns young-generation pages, and Node 20 again at exit. V8's anonymous mappings
// are therefore left alone; what is locked is what V8 never discards.
#include "scheduling.h"

#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "errors.h"

// Linux 4.4+; older glibc headers lack the name.
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

namespace tandem {

namespace {

constexpr int kNeverSet = -1;
// A thread started between two passes inherits its creator's policy, so a few passes settle.
constexpr int kMaxPasses = 8;

// What setRealtimePriority last asked for; kNeverSet leaves new threads with what they
// inherit (for example from `chrt` around the whole daemon).
std::atomic<int> process_priority{kNeverSet};

// 0, or the errno of sched_setscheduler(2); tid 0 is the calling thread.
int SetThreadPriority(pid_t tid, int priority) {
  sched_param param{};
  param.sched_priority = priority;
  return sched_setscheduler(tid, priority == 0 ? SCHED_OTHER : SCHED_RR, &param) == 0 ? 0 : errno;
}

// The process's thread ids, or the errno of opendir.
int ListThreads(std::vector<pid_t>& tids) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return errno;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long tid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && tid > 0) tids.push_back(static_cast<pid_t>(tid));
  }
  closedir(dir);
  return 0;
}

// Executables, libraries and this addon (V8's builtins live in node's text), the main
// thread's stack and malloc's brk heap. Not devices, nor what shows as "(deleted)": memfd,
// SysV and shared anonymous memory, which their owners may discard.
bool Lockable(const std::string& path) {
  if (path == "[stack]" || path == "[heap]") return true;
  const std::string deleted = " (deleted)";
  const bool is_deleted = path.size() >= deleted.size() &&
                          path.compare(path.size() - deleted.size(), deleted.size(), deleted) == 0;
  return path.compare(0, 1, "/") == 0 && path.compare(0, 5, "/dev/") != 0 && !is_deleted;
}

}  // namespace

void ApplyProcessPriority() {
  const int priority = process_priority.load();
  // Nowhere to report a failure from a worker thread; the process-wide call already proved
  // the permission.
  if (priority != kNeverSet) SetThreadPriority(0, priority);
}

Napi::Value SetRealtimePriority(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "setRealtimePriority(priority) expected");
  }
  const double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0 && requested <= 99) || requested != static_cast<int>(requested)) {
    throw Napi::RangeError::New(env, "priority must be an integer 0-99");
  }
  const int priority = static_cast<int>(requested);
  const std::string context = "set realtime priority " + std::to_string(priority);
  // Stored first, so an addon thread starting during the walk applies it itself.
  const int previous = process_priority.exchange(priority);
  auto fail = [&](int err, const char* syscall) {
    process_priority.store(previous);
    return ErrnoError(env, err, context, syscall,
                      err == EPERM ? "needs CAP_SYS_NICE" : nullptr);
  };
  std::set<pid_t> visited;
  uint32_t set = 0;
  for (int pass = 0; pass < kMaxPasses; pass++) {
    std::vector<pid_t> tids;
    if (const int err = ListThreads(tids)) throw fail(err, "opendir");
    bool found_new = false;
    for (const pid_t tid : tids) {
      if (!visited.insert(tid).second) continue;
      found_new = true;
      const int err = SetThreadPriority(tid, priority);
      if (err == 0) {
        set++;
      } else if (err != ESRCH) {  // ESRCH: the thread ended after it was listed
        throw fail(err, "sched_setscheduler");
      }
    }
    if (!found_new) break;
  }
  return Napi::Number::New(env, set);
}

Napi::Value LockMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) {
    const int err = errno;
    throw ErrnoError(env, err, "lock memory: read /proc/self/maps", "open");
  }
  char* line = nullptr;
  size_t capacity = 0;
  int err = 0;
  while (err == 0 && getline(&line, &capacity, maps) > 0) {
    unsigned long start = 0;
    unsigned long end = 0;
    char perms[5] = "";
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %4s %*x %*s %*u %n", &start, &end, perms, &path_at) < 3 || path_at == 0) {
      continue;
    }
    std::string path = line + path_at;
    if (!path.empty() && path.back() == '\n') path.pop_back();
    // The "---p" gaps between a library's segments are never touched.
    if (!Lockable(path) || std::strcmp(perms, "---p") == 0) continue;
    // On fault, so the untouched bulk of node's text does not become resident.
    if (mlock2(reinterpret_cast<void*>(start), end - start, MLOCK_ONFAULT) != 0) err = errno;
  }
  std::free(line);
  std::fclose(maps);
  if (err != 0) {
    const char* hint = nullptr;
    if (err == EPERM) hint = "needs CAP_IPC_LOCK";
    if (err == ENOMEM) hint = "RLIMIT_MEMLOCK is too small: raise it (LimitMEMLOCK=infinity) or grant CAP_IPC_LOCK";
    if (err == EINVAL || err == ENOSYS) hint = "the kernel lacks mlock2 with MLOCK_ONFAULT (Linux 4.4+)";
    throw ErrnoError(env, err, "lock memory", "mlock2", hint);
  }
  return env.Undefined();
}

}  // namespace tandem
