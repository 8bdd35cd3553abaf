// tandem_raw: Tandem's Linux raw-packet addon (CARP over IP protocol 112, gratuitous ARP,
// unsolicited NA). Node-API only, so one build loads on every Node major the daemon supports.
#include <napi.h>

#include "address.h"
#include "alarm.h"
#include "ip_socket.h"
#include "link.h"
#include "scheduling.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("IpSocket", tandem::IpSocket::Define(env));
  exports.Set("sendFrame", Napi::Function::New<tandem::SendFrame>(env, "sendFrame"));
  exports.Set("interfaceInfo", Napi::Function::New<tandem::InterfaceInfo>(env, "interfaceInfo"));
  exports.Set("changeAddress", Napi::Function::New<tandem::ChangeAddress>(env, "changeAddress"));
  exports.Set("Alarm", tandem::Alarm::Define(env));
  exports.Set("setRealtimePriority",
              Napi::Function::New<tandem::SetRealtimePriority>(env, "setRealtimePriority"));
  exports.Set("lockMemory", Napi::Function::New<tandem::LockMemory>(env, "lockMemory"));
  exports.Set("monotonicNow", Napi::Function::New<tandem::MonotonicNow>(env, "monotonicNow"));
  return exports;
}

}  // namespace

NODE_API_MODULE(tandem_raw, Init)
