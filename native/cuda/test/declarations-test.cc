// Proves that the declarations of native/cuda/src/cuda-api.h agree with NVIDIA's headers:
// compiled by check-gpu.sh (and by hand: g++ -std=c++17 -I/usr/local/cuda/include
// declarations-test.cc) wherever the CUDA headers exist. cuBLASLt's and NVML's are checked
// when their headers are installed too. It compiles or it does not; running it prints OK.
#include <cuda_runtime_api.h>
#include <library_types.h>

#include <cstddef>
#include <cstdio>
#include <type_traits>

#include "../src/cuda-api.h"

namespace c = nereid::cuda;

static_assert(offsetof(cudaDeviceProp, name) == c::kDevicePropNameOffset, "cudaDeviceProp::name moved");
static_assert(offsetof(cudaDeviceProp, uuid) == c::kDevicePropUuidOffset, "cudaDeviceProp::uuid moved");
static_assert(offsetof(cudaDeviceProp, totalGlobalMem) == c::kDevicePropTotalMemOffset, "cudaDeviceProp::totalGlobalMem moved");
static_assert(sizeof(cudaDeviceProp) <= c::kDevicePropBufferBytes, "cudaDeviceProp outgrew the buffer");
static_assert(cudaSuccess == c::kCudaSuccess, "cudaSuccess");
static_assert(cudaMemcpyHostToDevice == c::kMemcpyHostToDevice && cudaMemcpyDeviceToHost == c::kMemcpyDeviceToHost, "cudaMemcpyKind");
static_assert(cudaDevAttrComputeCapabilityMajor == c::kDevAttrComputeCapabilityMajor, "cudaDevAttrComputeCapabilityMajor");
static_assert(cudaDevAttrComputeCapabilityMinor == c::kDevAttrComputeCapabilityMinor, "cudaDevAttrComputeCapabilityMinor");
static_assert(cudaDevAttrMultiProcessorCount == c::kDevAttrMultiProcessorCount, "cudaDevAttrMultiProcessorCount");
static_assert(cudaMemPoolAttrReleaseThreshold == c::kMemPoolAttrReleaseThreshold, "cudaMemPoolAttrReleaseThreshold");
static_assert(cudaHostAllocDefault == c::kHostAllocDefault && cudaStreamNonBlocking == c::kStreamNonBlocking, "flags");
static_assert(CUDA_R_32F == c::kCudaR32F && CUDA_R_16F == c::kCudaR16F && CUDA_R_16BF == c::kCudaR16BF, "cudaDataType");
static_assert(sizeof(dim3) == sizeof(c::Dim3), "dim3");
static_assert(cudaMemcpyDeviceToDevice == c::kMemcpyDeviceToDevice, "cudaMemcpyDeviceToDevice");
static_assert(sizeof(cudaError_t) == sizeof(c::cudaError_t), "cudaError_t is returned as an int");
// cudaIpcOpenMemHandle takes the handle by value: the same size and alignment pass it the same way.
static_assert(CUDA_IPC_HANDLE_SIZE == c::kIpcHandleBytes, "CUDA_IPC_HANDLE_SIZE");
static_assert(sizeof(cudaIpcMemHandle_t) == sizeof(c::CudaIpcMemHandle) && alignof(cudaIpcMemHandle_t) == alignof(c::CudaIpcMemHandle),
              "cudaIpcMemHandle_t");
static_assert(std::is_trivially_copyable_v<cudaIpcMemHandle_t> && std::is_trivially_copyable_v<c::CudaIpcMemHandle>, "handles are plain bytes");
static_assert(cudaIpcMemLazyEnablePeerAccess == c::kIpcMemLazyEnablePeerAccess, "cudaIpcMemLazyEnablePeerAccess");
static_assert(std::is_same_v<decltype(&cudaIpcOpenMemHandle), cudaError_t (*)(void**, cudaIpcMemHandle_t, unsigned int)>, "cudaIpcOpenMemHandle");
static_assert(std::is_same_v<decltype(&cudaIpcGetMemHandle), cudaError_t (*)(cudaIpcMemHandle_t*, void*)>, "cudaIpcGetMemHandle");
static_assert(std::is_same_v<decltype(&cudaIpcCloseMemHandle), cudaError_t (*)(void*)>, "cudaIpcCloseMemHandle");

// The driver API entry point the CUDA shared memory regions use (cuda.h ships with the runtime headers).
#include <cuda.h>
static_assert(std::is_same_v<CUdeviceptr, c::CUdeviceptr>, "CUdeviceptr");
static_assert(CUDA_SUCCESS == c::kCudaDriverSuccess && sizeof(CUresult) == sizeof(c::CUresult), "CUresult");
static_assert(std::is_same_v<decltype(&cuMemGetAddressRange_v2), CUresult (*)(CUdeviceptr*, size_t*, CUdeviceptr)>, "cuMemGetAddressRange_v2");

#if __has_include(<cublasLt.h>)
#include <cublasLt.h>
static_assert(CUBLAS_COMPUTE_32F == c::kCublasCompute32F, "CUBLAS_COMPUTE_32F");
static_assert(CUBLAS_OP_N == c::kCublasOpN && CUBLAS_OP_T == c::kCublasOpT, "cublasOperation_t");
static_assert(CUBLASLT_MATMUL_DESC_TRANSA == c::kMatmulDescTransA && CUBLASLT_MATMUL_DESC_TRANSB == c::kMatmulDescTransB, "TRANSA/B");
static_assert(CUBLASLT_MATMUL_DESC_EPILOGUE == c::kMatmulDescEpilogue && CUBLASLT_MATMUL_DESC_BIAS_POINTER == c::kMatmulDescBiasPointer, "EPILOGUE");
static_assert(CUBLASLT_EPILOGUE_DEFAULT == c::kEpilogueDefault && CUBLASLT_EPILOGUE_RELU == c::kEpilogueRelu, "epilogues");
static_assert(CUBLASLT_EPILOGUE_BIAS == c::kEpilogueBias && CUBLASLT_EPILOGUE_RELU_BIAS == c::kEpilogueReluBias, "bias epilogues");
#define CUBLASLT_CHECKED "yes"
#else
#define CUBLASLT_CHECKED "no (cublasLt.h not installed)"
#endif

#if __has_include(<nvml.h>)
#include <nvml.h>
static_assert(sizeof(nvmlUtilization_t) == sizeof(c::NvmlUtilization) && sizeof(nvmlMemory_t) == sizeof(c::NvmlMemory), "NVML structs");
#define NVML_CHECKED "yes"
#else
#define NVML_CHECKED "no (nvml.h not installed)"
#endif

int main() {
  std::printf("declarations agree with the CUDA runtime headers; cuBLASLt checked: %s; NVML checked: %s\n", CUBLASLT_CHECKED, NVML_CHECKED);
  return 0;
}
