// Runs a block of socket setup inside another network namespace. Sockets keep the
// namespace they were created in, so the calling thread enters the target only for the
// duration of one synchronous addon call and always returns (keepalived's net_namespace
// works the same way, and the netns tests drive several lab hosts from one process).
#pragma once

#include <napi.h>

#include <string>

namespace tandem {

class NetnsScope {
 public:
  // `netns` is a name under /run/netns, an absolute path, or "" for "stay where we are".
  NetnsScope(Napi::Env env, const std::string& netns, const std::string& context);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace tandem
