// Nereid's native addon: what Node cannot do on its own. Today, mapping POSIX
// shared memory for Triton's system shared memory extension.
#include <napi.h>

#include "system-shared-memory.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("SystemSharedMemory", nereid::SystemSharedMemory::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(nereid_native, Init)
