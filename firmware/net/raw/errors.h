// Errno-carrying JavaScript errors for the raw-packet addon: every failure reads
// "<what we tried>: <ERRNO NAME> (<strerror>[; hint])" and carries code/errno/syscall,
// the same shape as Node's own system errors.
#pragma once

#include <napi.h>

#include <string>

namespace tandem {

// "EPERM" for EPERM; "E<number>" for an errno this table does not know.
std::string ErrnoName(int err);

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& context,
                       const char* syscall, const char* hint = nullptr);

}  // namespace tandem
