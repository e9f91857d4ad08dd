#include "cuda-api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <initializer_list>
#include <vector>

namespace nereid::cuda {

namespace {

/**
 * The places a CUDA library may be: the loader's search path first (LD_LIBRARY_PATH,
 * ld.so.conf), then the toolkit's usual folders, which the loader does not search.
 */
std::vector<std::string> candidates(const std::vector<std::string>& names) {
  std::vector<std::string> dirs;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* root = std::getenv(var); root && *root) dirs.push_back(std::string(root) + "/lib64/");
  }
  dirs.push_back("/usr/local/cuda/lib64/");
  dirs.push_back("/usr/local/cuda/targets/x86_64-linux/lib/");
  dirs.push_back("/usr/local/cuda/targets/sbsa-linux/lib/");
  std::vector<std::string> paths(names);
  for (const auto& dir : dirs) {
    for (const auto& name : names) paths.push_back(dir + name);
  }
  return paths;
}

/** Opens the first library that exists; the error names every file tried when none does. */
void* openFirst(const std::vector<std::string>& names, bool searchToolkit, std::string& opened, std::string& error) {
  const auto paths = searchToolkit ? candidates(names) : names;
  std::string firstError;
  for (const auto& path : paths) {
    if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      opened = path;
      return handle;
    }
    if (firstError.empty()) {
      const char* message = dlerror();
      firstError = message ? message : "unknown dlopen error";
    }
  }
  error = firstError;
  return nullptr;
}

/** Resolves every symbol or none: a missing one makes the library unusable. */
class Resolver {
 public:
  explicit Resolver(void* handle) : handle_(handle) {}
  template <typename Fn>
  void operator()(Fn& target, std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (void* symbol = dlsym(handle_, name)) {
        target = reinterpret_cast<Fn>(symbol);
        return;
      }
    }
    if (missing_.empty()) missing_ = *names.begin();
  }
  const std::string& missing() const { return missing_; }

 private:
  void* handle_;
  std::string missing_;
};

template <typename Api, typename Fill>
Loaded<Api> load(const char* what, const std::vector<std::string>& names, bool searchToolkit, Fill fill) {
  Loaded<Api> result;
  std::string error;
  void* handle = openFirst(names, searchToolkit, result.path, error);
  if (!handle) {
    result.error = std::string(what) + " could not be opened (" + error + ")";
    return result;
  }
  static Api api{};
  Resolver resolve(handle);
  fill(api, resolve);
  if (!resolve.missing().empty()) {
    result.error = result.path + " lacks " + resolve.missing() + ": it is older than Nereid needs";
    dlclose(handle);
    return result;
  }
  result.api = &api;
  return result;
}

}  // namespace

const Loaded<void>& cudaDriver() {
  static const Loaded<void> driver = [] {
    Loaded<void> result;
    std::string error;
    if (void* handle = openFirst({"libcuda.so.1"}, false, result.path, error)) {
      result.api = handle;
    } else {
      result.error = "no NVIDIA driver: libcuda.so.1 could not be opened (" + error + ")";
    }
    return result;
  }();
  return driver;
}

const Loaded<CudaDriverApi>& cudaDriverApi() {
  static const Loaded<CudaDriverApi> driver = load<CudaDriverApi>(
      "the NVIDIA driver (libcuda.so.1)", {"libcuda.so.1"}, false,
      [](CudaDriverApi& api, Resolver& resolve) { resolve(api.memGetAddressRange, {"cuMemGetAddressRange_v2"}); });
  return driver;
}

const Loaded<CudaRuntime>& cudaRuntime() {
  static const Loaded<CudaRuntime> runtime = load<CudaRuntime>(
      "the CUDA runtime (libcudart.so.13 or .12)", {"libcudart.so.13", "libcudart.so.12", "libcudart.so"}, true,
      [](CudaRuntime& api, Resolver& resolve) {
        resolve(api.getDeviceCount, {"cudaGetDeviceCount"});
        // CUDA 12 renamed the struct-reading entry point; CUDA 13 went back to the plain name.
        resolve(api.getDeviceProperties, {"cudaGetDeviceProperties_v2", "cudaGetDeviceProperties"});
        resolve(api.deviceGetAttribute, {"cudaDeviceGetAttribute"});
        resolve(api.deviceGetPCIBusId, {"cudaDeviceGetPCIBusId"});
        resolve(api.setDevice, {"cudaSetDevice"});
        resolve(api.memGetInfo, {"cudaMemGetInfo"});
        resolve(api.getErrorString, {"cudaGetErrorString"});
        resolve(api.getErrorName, {"cudaGetErrorName"});
        resolve(api.runtimeGetVersion, {"cudaRuntimeGetVersion"});
        resolve(api.driverGetVersion, {"cudaDriverGetVersion"});
        resolve(api.malloc, {"cudaMalloc"});
        resolve(api.free, {"cudaFree"});
        resolve(api.mallocAsync, {"cudaMallocAsync"});
        resolve(api.freeAsync, {"cudaFreeAsync"});
        resolve(api.deviceGetDefaultMemPool, {"cudaDeviceGetDefaultMemPool"});
        resolve(api.memPoolSetAttribute, {"cudaMemPoolSetAttribute"});
        resolve(api.hostAlloc, {"cudaHostAlloc"});
        resolve(api.freeHost, {"cudaFreeHost"});
        resolve(api.memcpy, {"cudaMemcpy"});
        resolve(api.memcpyAsync, {"cudaMemcpyAsync"});
        resolve(api.streamCreateWithFlags, {"cudaStreamCreateWithFlags"});
        resolve(api.streamDestroy, {"cudaStreamDestroy"});
        resolve(api.streamSynchronize, {"cudaStreamSynchronize"});
        resolve(api.libraryLoadData, {"cudaLibraryLoadData"});
        resolve(api.libraryUnload, {"cudaLibraryUnload"});
        resolve(api.libraryGetKernel, {"cudaLibraryGetKernel"});
        resolve(api.launchKernel, {"cudaLaunchKernel"});
        resolve(api.getLastError, {"cudaGetLastError"});
        resolve(api.ipcGetMemHandle, {"cudaIpcGetMemHandle"});
        resolve(api.ipcOpenMemHandle, {"cudaIpcOpenMemHandle"});
        resolve(api.ipcCloseMemHandle, {"cudaIpcCloseMemHandle"});
      });
  return runtime;
}

const Loaded<CublasLt>& cublasLt() {
  static const Loaded<CublasLt> lt = load<CublasLt>(
      "cuBLASLt (libcublasLt.so.13 or .12)", {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}, true,
      [](CublasLt& api, Resolver& resolve) {
        resolve(api.create, {"cublasLtCreate"});
        resolve(api.destroy, {"cublasLtDestroy"});
        resolve(api.matmulDescCreate, {"cublasLtMatmulDescCreate"});
        resolve(api.matmulDescDestroy, {"cublasLtMatmulDescDestroy"});
        resolve(api.matmulDescSetAttribute, {"cublasLtMatmulDescSetAttribute"});
        resolve(api.matrixLayoutCreate, {"cublasLtMatrixLayoutCreate"});
        resolve(api.matrixLayoutDestroy, {"cublasLtMatrixLayoutDestroy"});
        resolve(api.matmul, {"cublasLtMatmul"});
        resolve(api.getStatusString, {"cublasLtGetStatusString"});
      });
  return lt;
}

const Loaded<Nvml>& nvml() {
  static const Loaded<Nvml> library = [] {
    auto loaded = load<Nvml>("NVML (libnvidia-ml.so.1)", {"libnvidia-ml.so.1"}, false, [](Nvml& api, Resolver& resolve) {
      resolve(api.init, {"nvmlInit_v2"});
      resolve(api.shutdown, {"nvmlShutdown"});
      resolve(api.errorString, {"nvmlErrorString"});
      resolve(api.deviceGetHandleByPciBusId, {"nvmlDeviceGetHandleByPciBusId_v2"});
      resolve(api.deviceGetHandleByUUID, {"nvmlDeviceGetHandleByUUID"});
      resolve(api.deviceGetUtilizationRates, {"nvmlDeviceGetUtilizationRates"});
      resolve(api.deviceGetMemoryInfo, {"nvmlDeviceGetMemoryInfo"});
      resolve(api.deviceGetPowerUsage, {"nvmlDeviceGetPowerUsage"});
      resolve(api.deviceGetPowerManagementLimit, {"nvmlDeviceGetPowerManagementLimit"});
      resolve(api.deviceGetTotalEnergyConsumption, {"nvmlDeviceGetTotalEnergyConsumption"});
    });
    if (loaded.api) {
      nvmlReturn_t status = loaded.api->init();
      if (status != kNvmlSuccess) {
        loaded.error = "nvmlInit failed: " + std::string(loaded.api->errorString(status));
        loaded.api = nullptr;
      }
    }
    return loaded;
  }();
  return library;
}

std::string cudaErrorText(cudaError_t error) {
  const auto& runtime = cudaRuntime();
  if (!runtime.api) return "CUDA error " + std::to_string(error);
  return std::string(runtime.api->getErrorName(error)) + ": " + runtime.api->getErrorString(error);
}

}  // namespace nereid::cuda
