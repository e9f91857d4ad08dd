#include "system-shared-memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

namespace nereid {

namespace {

// The largest integer a JavaScript number holds exactly.
constexpr double kMaxSafeInteger = 9007199254740991.0;

// Throws a JavaScript Error carrying `code` (what went wrong, for the caller to map
// to its own wording) and, when set, the errno of the failed call.
void ThrowError(Napi::Env env, const char* code, const std::string& message, int errnum = 0) {
  Napi::Error error = Napi::Error::New(env, errnum != 0 ? message + ": " + std::strerror(errnum) : message);
  error.Set("code", Napi::String::New(env, code));
  if (errnum != 0) error.Set("errno", Napi::Number::New(env, errnum));
  error.ThrowAsJavaScriptException();
}

// A non-negative integer argument, or false with an exception pending.
bool ToSize(Napi::Env env, const Napi::Value& value, const char* name, uint64_t* out) {
  if (!value.IsNumber()) {
    ThrowError(env, "ERR_INVALID_ARG", std::string(name) + " must be a number");
    return false;
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0) || number > kMaxSafeInteger || std::floor(number) != number) {
    ThrowError(env, "ERR_INVALID_ARG", std::string(name) + " must be a non-negative integer");
    return false;
  }
  *out = static_cast<uint64_t>(number);
  return true;
}

}  // namespace

Napi::Function SystemSharedMemory::Define(Napi::Env env) {
  return DefineClass(env, "SystemSharedMemory",
                     {
                         InstanceMethod("read", &SystemSharedMemory::Read),
                         InstanceMethod("write", &SystemSharedMemory::Write),
                         InstanceMethod("close", &SystemSharedMemory::Close),
                     });
}

SystemSharedMemory::SystemSharedMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SystemSharedMemory>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsString()) {
    ThrowError(env, "ERR_INVALID_ARG", "expected (key: string, offset: number, byteSize: number)");
    return;
  }
  std::string key = info[0].As<Napi::String>().Utf8Value();
  uint64_t offset = 0;
  uint64_t byteSize = 0;
  if (!ToSize(env, info[1], "offset", &offset) || !ToSize(env, info[2], "byte_size", &byteSize)) return;
  if (byteSize == 0) {
    ThrowError(env, "ERR_INVALID_ARG", "byte_size must be positive");
    return;
  }
  if (key.find('\0') != std::string::npos) {
    ThrowError(env, "ERR_INVALID_ARG", "key must not contain a NUL character");
    return;
  }

  int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd == -1) {
    ThrowError(env, "ERR_SHM_OPEN", "Unable to open shared memory region: '" + key + "'", errno);
    return;
  }
  struct stat status;
  if (fstat(fd, &status) == -1) {
    int errnum = errno;
    close(fd);
    ThrowError(env, "ERR_SHM_OPEN", "Invalid shared memory region: '" + key + "'", errnum);
    return;
  }
  uint64_t objectSize = status.st_size < 0 ? 0 : static_cast<uint64_t>(status.st_size);
  if (offset > objectSize || byteSize > objectSize - offset) {
    close(fd);
    ThrowError(env, "ERR_OUT_OF_RANGE",
               "offset " + std::to_string(offset) + " + byte_size " + std::to_string(byteSize) + " = " +
                   std::to_string(offset + byteSize) + " runs past the end of '" + key + "', which is " +
                   std::to_string(objectSize) + " bytes");
    return;
  }

  // mmap wants a page-aligned file offset; map from the page that holds `offset`.
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t lead = offset % page;
  size_t length = static_cast<size_t>(byteSize + lead);
  void* mapping = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset - lead));
  if (mapping == MAP_FAILED) {
    int errnum = errno;
    close(fd);
    ThrowError(env, "ERR_SHM_MAP", "unable to map '" + key + "' into the server's address space", errnum);
    return;
  }
  fd_ = fd;
  mapping_ = mapping;
  mappingLength_ = length;
  base_ = static_cast<uint8_t*>(mapping) + lead;
  objectOffset_ = offset;
  byteSize_ = byteSize;
}

SystemSharedMemory::~SystemSharedMemory() { Release(); }

void SystemSharedMemory::Release() {
  if (mapping_ != nullptr) munmap(mapping_, mappingLength_);
  if (fd_ != -1) close(fd_);
  mapping_ = nullptr;
  base_ = nullptr;
  fd_ = -1;
}

uint8_t* SystemSharedMemory::Span(Napi::Env env, const Napi::Value& offsetValue, size_t length) {
  if (base_ == nullptr) {
    ThrowError(env, "ERR_CLOSED", "the shared memory region has been unregistered");
    return nullptr;
  }
  uint64_t offset = 0;
  if (!ToSize(env, offsetValue, "offset", &offset)) return nullptr;
  if (offset > byteSize_ || length > byteSize_ - offset) {
    ThrowError(env, "ERR_OUT_OF_RANGE",
               std::to_string(length) + " bytes at offset " + std::to_string(offset) + " run past the end of the " +
                   std::to_string(byteSize_) + "-byte region");
    return nullptr;
  }
  struct stat status;
  if (fstat(fd_, &status) == -1) {
    ThrowError(env, "ERR_SHM_STAT", "cannot check the size of the shared memory object", errno);
    return nullptr;
  }
  uint64_t objectSize = status.st_size < 0 ? 0 : static_cast<uint64_t>(status.st_size);
  if (objectOffset_ + offset + length > objectSize) {
    ThrowError(env, "ERR_OBJECT_SHRUNK",
               "the shared memory object is now " + std::to_string(objectSize) + " bytes, too small for " +
                   std::to_string(length) + " bytes at offset " + std::to_string(objectOffset_ + offset));
    return nullptr;
  }
  return base_ + offset;
}

Napi::Value SystemSharedMemory::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowError(env, "ERR_INVALID_ARG", "expected (offset: number, target: Uint8Array)");
    return env.Undefined();
  }
  Napi::Uint8Array target = info[1].As<Napi::Uint8Array>();
  uint8_t* source = Span(env, info[0], target.ByteLength());
  if (source != nullptr && target.ByteLength() > 0) std::memcpy(target.Data(), source, target.ByteLength());
  return env.Undefined();
}

Napi::Value SystemSharedMemory::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowError(env, "ERR_INVALID_ARG", "expected (offset: number, source: Uint8Array)");
    return env.Undefined();
  }
  Napi::Uint8Array source = info[1].As<Napi::Uint8Array>();
  uint8_t* target = Span(env, info[0], source.ByteLength());
  if (target != nullptr && source.ByteLength() > 0) std::memcpy(target, source.Data(), source.ByteLength());
  return env.Undefined();
}

Napi::Value SystemSharedMemory::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace nereid
