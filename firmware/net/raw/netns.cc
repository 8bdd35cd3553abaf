// See netns.h.
#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "errors.h"

namespace tandem {

NetnsScope::NetnsScope(Napi::Env env, const std::string& netns, const std::string& context) {
  if (netns.empty()) return;
  const std::string path = netns.find('/') == std::string::npos ? "/run/netns/" + netns : netns;
  const int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    throw ErrnoError(env, errno, context + ": open network namespace " + path, "open");
  }
  saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved_ < 0) {
    const int err = errno;
    close(target);
    throw ErrnoError(env, err, context + ": open /proc/thread-self/ns/net", "open");
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    const int err = errno;
    close(target);
    close(saved_);
    saved_ = -1;
    throw ErrnoError(env, err, context + ": enter network namespace " + path, "setns",
                     err == EPERM ? "needs CAP_SYS_ADMIN" : nullptr);
  }
  close(target);
}

NetnsScope::~NetnsScope() {
  if (saved_ < 0) return;
  if (setns(saved_, CLONE_NEWNET) != 0) {
    // Carrying on would run the rest of the JS thread in a foreign namespace.
    std::perror("tandem_raw: cannot return to the original network namespace");
    std::abort();
  }
  close(saved_);
}

}  // namespace tandem
