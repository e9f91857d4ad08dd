#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace nereid {

// The region [offset, offset + byteSize) of a POSIX shared-memory object (a key
// under /dev/shm), mapped into this process. JavaScript never sees the mapping
// itself, only copies in and out through read() and write(): a view on it would
// outlive close() and fault. Every access is bounds-checked against the region and
// against the object's current size, since the client may shrink the object after
// registering it and touching pages past its end raises SIGBUS.
class SystemSharedMemory : public Napi::ObjectWrap<SystemSharedMemory> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new SystemSharedMemory(key: string, offset: number, byteSize: number)
  explicit SystemSharedMemory(const Napi::CallbackInfo& info);
  ~SystemSharedMemory() override;

 private:
  // read(offset: number, target: Uint8Array): copies target.byteLength bytes out of the region.
  Napi::Value Read(const Napi::CallbackInfo& info);
  // write(offset: number, source: Uint8Array): copies source into the region.
  Napi::Value Write(const Napi::CallbackInfo& info);
  // close(): unmaps; later reads and writes throw.
  Napi::Value Close(const Napi::CallbackInfo& info);

  // The address of [offset, offset + length) in the region, or nullptr with a
  // JavaScript exception pending.
  uint8_t* Span(Napi::Env env, const Napi::Value& offset, size_t length);
  void Release();

  int fd_ = -1;
  void* mapping_ = nullptr;
  size_t mappingLength_ = 0;
  uint8_t* base_ = nullptr;
  uint64_t objectOffset_ = 0;
  uint64_t byteSize_ = 0;
};

}  // namespace nereid
