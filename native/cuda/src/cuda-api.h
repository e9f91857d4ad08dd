// The few entry points of the CUDA runtime, cuBLASLt and NVML that Nereid uses,
// declared here and resolved with dlopen/dlsym at run time: the addon builds without
// any CUDA header or library and loads on machines that have neither. Types and
// enum values follow the public headers; check-gpu.sh compiles
// native/cuda/test/declarations-test.cc against the real headers to prove they agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nereid::cuda {

using cudaError_t = int;
using cudaStream_t = struct CUstream_st*;
using cudaEvent_t = struct CUevent_st*;
using cudaLibrary_t = struct CUlibrary_st*;
using cudaKernel_t = struct CUkern_st*;
using cudaMemPool_t = struct CUmemPoolHandle_st*;

struct Dim3 {
  unsigned int x, y, z;
};

constexpr cudaError_t kCudaSuccess = 0;
constexpr int kMemcpyHostToDevice = 1;
constexpr int kMemcpyDeviceToHost = 2;
constexpr int kMemcpyDeviceToDevice = 3;
constexpr int kDevAttrComputeCapabilityMajor = 75;
constexpr int kDevAttrComputeCapabilityMinor = 76;
constexpr int kDevAttrMultiProcessorCount = 16;
constexpr int kMemPoolAttrReleaseThreshold = 4;
constexpr unsigned kHostAllocDefault = 0;
constexpr unsigned kStreamNonBlocking = 1;
// cudaDeviceProp's leading fields have kept their places since CUDA 10: name, then uuid,
// luid, luidDeviceNodeMask, then totalGlobalMem. The struct grows at its end between
// versions, so it is read into a buffer larger than any version's struct.
constexpr size_t kDevicePropNameOffset = 0;
constexpr size_t kDevicePropUuidOffset = 256;
constexpr size_t kDevicePropTotalMemOffset = 288;
constexpr size_t kDevicePropBufferBytes = 8192;
// cudaIpcMemHandle_t: 64 opaque bytes (CUDA_IPC_HANDLE_SIZE), passed by value.
constexpr size_t kIpcHandleBytes = 64;
struct CudaIpcMemHandle {
  char reserved[kIpcHandleBytes];
};
constexpr unsigned kIpcMemLazyEnablePeerAccess = 1;

// cudaDataType_t values of library_types.h.
constexpr int kCudaR32F = 0;
constexpr int kCudaR16F = 2;
constexpr int kCudaR16BF = 14;

struct CudaRuntime {
  cudaError_t (*getDeviceCount)(int*);
  cudaError_t (*getDeviceProperties)(void*, int);
  cudaError_t (*deviceGetAttribute)(int*, int, int);
  cudaError_t (*deviceGetPCIBusId)(char*, int, int);
  cudaError_t (*setDevice)(int);
  cudaError_t (*memGetInfo)(size_t*, size_t*);
  const char* (*getErrorString)(cudaError_t);
  const char* (*getErrorName)(cudaError_t);
  cudaError_t (*runtimeGetVersion)(int*);
  cudaError_t (*driverGetVersion)(int*);
  cudaError_t (*malloc)(void**, size_t);
  cudaError_t (*free)(void*);
  cudaError_t (*mallocAsync)(void**, size_t, cudaStream_t);
  cudaError_t (*freeAsync)(void*, cudaStream_t);
  cudaError_t (*deviceGetDefaultMemPool)(cudaMemPool_t*, int);
  cudaError_t (*memPoolSetAttribute)(cudaMemPool_t, int, void*);
  cudaError_t (*hostAlloc)(void**, size_t, unsigned);
  cudaError_t (*freeHost)(void*);
  cudaError_t (*memcpy)(void*, const void*, size_t, int);
  cudaError_t (*memcpyAsync)(void*, const void*, size_t, int, cudaStream_t);
  cudaError_t (*streamCreateWithFlags)(cudaStream_t*, unsigned);
  cudaError_t (*streamDestroy)(cudaStream_t);
  cudaError_t (*streamSynchronize)(cudaStream_t);
  cudaError_t (*libraryLoadData)(cudaLibrary_t*, const void*, void*, void**, unsigned, void*, void**, unsigned);
  cudaError_t (*libraryUnload)(cudaLibrary_t);
  cudaError_t (*libraryGetKernel)(cudaKernel_t*, cudaLibrary_t, const char*);
  cudaError_t (*launchKernel)(const void*, Dim3, Dim3, void**, size_t, cudaStream_t);
  cudaError_t (*getLastError)();
  cudaError_t (*ipcGetMemHandle)(CudaIpcMemHandle*, void*);
  cudaError_t (*ipcOpenMemHandle)(void**, CudaIpcMemHandle, unsigned);
  cudaError_t (*ipcCloseMemHandle)(void*);
};

// The driver API (cuda.h), for what the runtime does not say: the size of an allocation.
using CUresult = int;
using CUdeviceptr = unsigned long long;
constexpr CUresult kCudaDriverSuccess = 0;
struct CudaDriverApi {
  CUresult (*memGetAddressRange)(CUdeviceptr* base, size_t* bytes, CUdeviceptr pointer);
};

// cuBLASLt (cublasLt.h).
using cublasStatus_t = int;
using cublasLtHandle_t = struct cublasLtContext*;
using cublasLtMatmulDesc_t = struct cublasLtMatmulDescOpaque*;
using cublasLtMatrixLayout_t = struct cublasLtMatrixLayoutOpaque*;
constexpr cublasStatus_t kCublasSuccess = 0;
constexpr int kCublasCompute32F = 68;
constexpr int kCublasOpN = 0;
constexpr int kCublasOpT = 1;
constexpr int kMatmulDescTransA = 3;
constexpr int kMatmulDescTransB = 4;
constexpr int kMatmulDescEpilogue = 7;
constexpr int kMatmulDescBiasPointer = 8;
constexpr uint32_t kEpilogueDefault = 1;
constexpr uint32_t kEpilogueRelu = 2;
constexpr uint32_t kEpilogueBias = 4;
constexpr uint32_t kEpilogueReluBias = 6;

struct CublasLt {
  cublasStatus_t (*create)(cublasLtHandle_t*);
  cublasStatus_t (*destroy)(cublasLtHandle_t);
  cublasStatus_t (*matmulDescCreate)(cublasLtMatmulDesc_t*, int computeType, int scaleType);
  cublasStatus_t (*matmulDescDestroy)(cublasLtMatmulDesc_t);
  cublasStatus_t (*matmulDescSetAttribute)(cublasLtMatmulDesc_t, int, const void*, size_t);
  cublasStatus_t (*matrixLayoutCreate)(cublasLtMatrixLayout_t*, int type, uint64_t rows, uint64_t cols, int64_t ld);
  cublasStatus_t (*matrixLayoutDestroy)(cublasLtMatrixLayout_t);
  cublasStatus_t (*matmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void* alpha, const void* a, cublasLtMatrixLayout_t,
                           const void* b, cublasLtMatrixLayout_t, const void* beta, const void* c, cublasLtMatrixLayout_t, void* d,
                           cublasLtMatrixLayout_t, const void* algo, void* workspace, size_t workspaceBytes, cudaStream_t);
  const char* (*getStatusString)(cublasStatus_t);
};

// NVML (nvml.h).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct Nvml {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  const char* (*errorString)(nvmlReturn_t);
  nvmlReturn_t (*deviceGetHandleByPciBusId)(const char*, nvmlDevice_t*);
  nvmlReturn_t (*deviceGetHandleByUUID)(const char*, nvmlDevice_t*);
  nvmlReturn_t (*deviceGetUtilizationRates)(nvmlDevice_t, NvmlUtilization*);
  nvmlReturn_t (*deviceGetMemoryInfo)(nvmlDevice_t, NvmlMemory*);
  nvmlReturn_t (*deviceGetPowerUsage)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*deviceGetPowerManagementLimit)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*deviceGetTotalEnergyConsumption)(nvmlDevice_t, unsigned long long*);
};

/** A library opened at run time: its functions, or why it could not be opened. */
template <typename Api>
struct Loaded {
  const Api* api = nullptr;
  std::string path;   // the file that was opened
  std::string error;  // why api is null
};

/** Each library is opened once per process; later calls return the same answer. */
const Loaded<CudaRuntime>& cudaRuntime();
const Loaded<CublasLt>& cublasLt();
const Loaded<Nvml>& nvml();
/** Whether the NVIDIA driver (libcuda.so.1) can be opened, and why not. */
const Loaded<void>& cudaDriver();
/** The few driver entry points Nereid calls directly. */
const Loaded<CudaDriverApi>& cudaDriverApi();

/** "cudaErrorNoDevice: no CUDA-capable device is detected". */
std::string cudaErrorText(cudaError_t error);

}  // namespace nereid::cuda
