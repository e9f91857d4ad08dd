#include "cuda-shared-memory.h"

#include <cstring>

#include "devices.h"

namespace nereid::cuda {

namespace {

bool fail(IpcError& error, IpcErrorKind kind, std::string message) {
  error.kind = kind;
  error.message = std::move(message);
  return false;
}

}  // namespace

std::unique_ptr<CudaIpcRegion> CudaIpcRegion::open(const unsigned char* handle, size_t handleBytes, int device, size_t byteSize, IpcError& error) {
  if (handleBytes != kIpcHandleBytes) {
    fail(error, IpcErrorKind::InvalidArgument,
         "the CUDA IPC handle must be " + std::to_string(kIpcHandleBytes) + " bytes (a cudaIpcMemHandle_t), got " + std::to_string(handleBytes));
    return nullptr;
  }
  if (byteSize == 0) {
    fail(error, IpcErrorKind::InvalidArgument, "byte_size must be positive");
    return nullptr;
  }
  const DeviceProbe& probe = probeDevices();
  if (probe.devices.empty()) {
    const bool runtimeMissing = cudaDriver().api && !cudaRuntime().api;
    fail(error, runtimeMissing ? IpcErrorKind::NoRuntime : IpcErrorKind::NoDevice, "no CUDA device: " + probe.reason);
    return nullptr;
  }
  if (device < 0 || device >= static_cast<int>(probe.devices.size())) {
    fail(error, IpcErrorKind::DeviceRange,
         "device_id " + std::to_string(device) + " is not a CUDA device of this server (it has " + std::to_string(probe.devices.size()) +
             ", numbered from 0)");
    return nullptr;
  }
  const CudaRuntime& rt = *cudaRuntime().api;
  if (cudaError_t status = rt.setDevice(device); status != kCudaSuccess) {
    fail(error, IpcErrorKind::OpenFailed, "cudaSetDevice(" + std::to_string(device) + ") failed: " + cudaErrorText(status));
    return nullptr;
  }
  CudaIpcMemHandle ipc;
  std::memcpy(ipc.reserved, handle, kIpcHandleBytes);
  void* base = nullptr;
  if (cudaError_t status = rt.ipcOpenMemHandle(&base, ipc, kIpcMemLazyEnablePeerAccess); status != kCudaSuccess) {
    fail(error, IpcErrorKind::OpenFailed, "failed to open CUDA IPC handle: " + cudaErrorText(status));
    return nullptr;
  }
  // The handle names the base of an allocation; its size bounds what may be registered.
  // Where the driver cannot say, byte_size is trusted, as Triton always trusts it.
  size_t allocationBytes = byteSize;
  if (const auto& driver = cudaDriverApi(); driver.api) {
    CUdeviceptr allocationBase = 0;
    if (driver.api->memGetAddressRange(&allocationBase, &allocationBytes, reinterpret_cast<CUdeviceptr>(base)) != kCudaDriverSuccess) {
      allocationBytes = byteSize;
    } else {
      allocationBytes -= reinterpret_cast<CUdeviceptr>(base) - allocationBase;
    }
  }
  if (byteSize > allocationBytes) {
    rt.ipcCloseMemHandle(base);
    fail(error, IpcErrorKind::OutOfRange,
         "byte_size " + std::to_string(byteSize) + " runs past the " + std::to_string(allocationBytes) + "-byte device allocation the handle exports");
    return nullptr;
  }
  return std::unique_ptr<CudaIpcRegion>(new CudaIpcRegion(base, device, byteSize, allocationBytes));
}

CudaIpcRegion::~CudaIpcRegion() { close(); }

void CudaIpcRegion::close() {
  if (!base_) return;
  const CudaRuntime& rt = *cudaRuntime().api;
  rt.setDevice(device_);
  rt.ipcCloseMemHandle(base_);
  base_ = nullptr;
}

bool CudaIpcRegion::check(size_t offset, size_t bytes, IpcError& error) const {
  if (!base_) return fail(error, IpcErrorKind::Closed, "the CUDA shared memory region is closed");
  if (offset > byteSize_ || bytes > byteSize_ - offset) {
    return fail(error, IpcErrorKind::OutOfRange,
                "offset " + std::to_string(offset) + " + " + std::to_string(bytes) + " bytes runs past the " + std::to_string(byteSize_) + "-byte region");
  }
  return true;
}

void* CudaIpcRegion::at(size_t offset, size_t bytes) const {
  IpcError ignored;
  return check(offset, bytes, ignored) ? base_ + offset : nullptr;
}

bool CudaIpcRegion::read(size_t offset, void* host, size_t bytes, IpcError& error) const {
  if (!check(offset, bytes, error)) return false;
  if (bytes == 0) return true;
  const CudaRuntime& rt = *cudaRuntime().api;
  // The current device is per thread: set it on every call, whichever thread makes it.
  cudaError_t status = rt.setDevice(device_);
  if (status == kCudaSuccess) status = rt.memcpy(host, base_ + offset, bytes, kMemcpyDeviceToHost);
  if (status != kCudaSuccess) return fail(error, IpcErrorKind::CopyFailed, "copying from device " + std::to_string(device_) + " failed: " + cudaErrorText(status));
  return true;
}

bool CudaIpcRegion::write(size_t offset, const void* host, size_t bytes, IpcError& error) const {
  if (!check(offset, bytes, error)) return false;
  if (bytes == 0) return true;
  const CudaRuntime& rt = *cudaRuntime().api;
  cudaError_t status = rt.setDevice(device_);
  if (status == kCudaSuccess) status = rt.memcpy(base_ + offset, host, bytes, kMemcpyHostToDevice);
  if (status != kCudaSuccess) return fail(error, IpcErrorKind::CopyFailed, "copying to device " + std::to_string(device_) + " failed: " + cudaErrorText(status));
  return true;
}

}  // namespace nereid::cuda
