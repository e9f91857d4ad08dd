// Triton's CUDA shared memory: device memory another process allocated and exported with
// cudaIpcGetMemHandle, opened here with the 64-byte handle the client registered.
// Copies between it and host memory for models on the CPU; device pointers into it for
// models on its device, so their inputs and outputs never pass through host memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "cuda-api.h"

namespace nereid::cuda {

/** Why a region could not be opened or used; the addon turns it into an Error's `code`. */
enum class IpcErrorKind {
  None,
  InvalidArgument,  // a handle that is not 64 bytes, a size of 0
  NoRuntime,        // libcudart could not be opened
  NoDevice,         // no driver, or the driver reports no device
  DeviceRange,      // device_id is not one of this machine's devices
  OpenFailed,       // cudaIpcOpenMemHandle refused the handle
  OutOfRange,       // the size runs past the allocation, or an access past the region
  CopyFailed,       // cudaMemcpy failed
  Closed,
};

struct IpcError {
  IpcErrorKind kind = IpcErrorKind::None;
  std::string message;
};

class CudaIpcRegion {
 public:
  /**
   * Opens `handle` on `device` and checks that `byteSize` bytes from its start lie inside
   * the exported allocation (the driver knows its size), so that no later access can
   * reach memory the client did not export. Null and the reason when it cannot.
   */
  static std::unique_ptr<CudaIpcRegion> open(const unsigned char* handle, size_t handleBytes, int device, size_t byteSize, IpcError& error);
  ~CudaIpcRegion();
  CudaIpcRegion(const CudaIpcRegion&) = delete;
  CudaIpcRegion& operator=(const CudaIpcRegion&) = delete;

  /** Device → host, synchronously; bounds-checked against the registered size. */
  bool read(size_t offset, void* host, size_t bytes, IpcError& error) const;
  /** Host → device, synchronously. */
  bool write(size_t offset, const void* host, size_t bytes, IpcError& error) const;
  /** A device pointer `offset` bytes in, for kernels and device-to-device copies; null when out of range. */
  void* at(size_t offset, size_t bytes) const;
  /** Unmaps the region; later accesses fail with Closed. */
  void close();

  int device() const { return device_; }
  size_t byteSize() const { return byteSize_; }
  size_t allocationBytes() const { return allocationBytes_; }

 private:
  CudaIpcRegion(void* base, int device, size_t byteSize, size_t allocationBytes)
      : base_(static_cast<unsigned char*>(base)), device_(device), byteSize_(byteSize), allocationBytes_(allocationBytes) {}
  bool check(size_t offset, size_t bytes, IpcError& error) const;

  unsigned char* base_;
  int device_;
  size_t byteSize_;
  size_t allocationBytes_;
};

}  // namespace nereid::cuda
