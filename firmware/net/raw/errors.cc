// Errno names and Node-style system errors (see errors.h).
#include "errors.h"

#include <cerrno>
#include <cstring>

namespace tandem {

std::string ErrnoName(int err) {
  switch (err) {
#define TANDEM_ERRNO(name) \
  case name:               \
    return #name;
    TANDEM_ERRNO(EPERM)
    TANDEM_ERRNO(ENOENT)
    TANDEM_ERRNO(ESRCH)
    TANDEM_ERRNO(EINTR)
    TANDEM_ERRNO(EIO)
    TANDEM_ERRNO(ENXIO)
    TANDEM_ERRNO(E2BIG)
    TANDEM_ERRNO(EBADF)
    TANDEM_ERRNO(EAGAIN)
    TANDEM_ERRNO(ENOMEM)
    TANDEM_ERRNO(EACCES)
    TANDEM_ERRNO(EFAULT)
    TANDEM_ERRNO(EBUSY)
    TANDEM_ERRNO(EEXIST)
    TANDEM_ERRNO(ENODEV)
    TANDEM_ERRNO(ENOTDIR)
    TANDEM_ERRNO(EINVAL)
    TANDEM_ERRNO(ENFILE)
    TANDEM_ERRNO(EMFILE)
    TANDEM_ERRNO(ENOSPC)
    TANDEM_ERRNO(ENOSYS)
    TANDEM_ERRNO(ENOTSOCK)
    TANDEM_ERRNO(EDESTADDRREQ)
    TANDEM_ERRNO(EMSGSIZE)
    TANDEM_ERRNO(EPROTOTYPE)
    TANDEM_ERRNO(ENOPROTOOPT)
    TANDEM_ERRNO(EPROTONOSUPPORT)
    TANDEM_ERRNO(EOPNOTSUPP)
    TANDEM_ERRNO(EAFNOSUPPORT)
    TANDEM_ERRNO(EADDRINUSE)
    TANDEM_ERRNO(EADDRNOTAVAIL)
    TANDEM_ERRNO(ENETDOWN)
    TANDEM_ERRNO(ENETUNREACH)
    TANDEM_ERRNO(ENETRESET)
    TANDEM_ERRNO(ECONNREFUSED)
    TANDEM_ERRNO(ENOBUFS)
    TANDEM_ERRNO(ENOTCONN)
    TANDEM_ERRNO(ETIMEDOUT)
    TANDEM_ERRNO(EHOSTDOWN)
    TANDEM_ERRNO(EHOSTUNREACH)
    TANDEM_ERRNO(ENOMEDIUM)
#undef TANDEM_ERRNO
    default:
      return "E" + std::to_string(err);
  }
}

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& context,
                       const char* syscall, const char* hint) {
  const std::string name = ErrnoName(err);
  std::string message = context + ": " + name + " (" + std::strerror(err);
  if (hint != nullptr) message += std::string("; ") + hint;
  message += ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace tandem
