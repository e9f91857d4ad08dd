#include "dense-executor.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>

namespace nereid::cuda {

namespace {

const char* kKernelNames[] = {"add", "add_bias", "relu", "sigmoid", "tanh", "softmax", "from_f32", "to_f32"};

size_t elementBytes(Precision precision) { return precision == Precision::FP32 ? 4 : 2; }

int cudaType(Precision precision) {
  switch (precision) {
    case Precision::FP16:
      return kCudaR16F;
    case Precision::BF16:
      return kCudaR16BF;
    default:
      return kCudaR32F;
  }
}

std::mutex memoryMutex;
MemorySettings memorySettings;
std::vector<int> configuredDevices;
std::atomic<size_t> pinnedInUse{0};

std::string cublasText(cublasStatus_t status) {
  const auto& lt = cublasLt();
  return lt.api ? lt.api->getStatusString(status) : "cuBLAS status " + std::to_string(status);
}

#define CUDA_CHECK(call, what)                                           \
  do {                                                                   \
    cudaError_t status_ = (call);                                        \
    if (status_ != kCudaSuccess) {                                       \
      error = std::string(what) + " failed: " + cudaErrorText(status_); \
      return false;                                                      \
    }                                                                    \
  } while (0)

#define CUBLAS_CHECK(call, what)                                        \
  do {                                                                  \
    cublasStatus_t status_ = (call);                                    \
    if (status_ != kCublasSuccess) {                                    \
      error = std::string(what) + " failed: " + cublasText(status_);   \
      return false;                                                     \
    }                                                                   \
  } while (0)

/** The device's stream-ordered pool keeps this many bytes when freed instead of returning them to the driver. */
void applyDevicePool(const CudaRuntime& rt, int device) {
  std::lock_guard<std::mutex> lock(memoryMutex);
  if (std::find(configuredDevices.begin(), configuredDevices.end(), device) != configuredDevices.end()) return;
  configuredDevices.push_back(device);
  uint64_t threshold = 64u << 20;  // Triton's default --cuda-memory-pool-byte-size
  for (const auto& [id, bytes] : memorySettings.devicePoolBytes) {
    if (id == device) threshold = bytes;
  }
  cudaMemPool_t pool = nullptr;
  if (rt.deviceGetDefaultMemPool(&pool, device) == kCudaSuccess) rt.memPoolSetAttribute(pool, kMemPoolAttrReleaseThreshold, &threshold);
}

}  // namespace

const char* precisionSuffix(Precision precision) {
  switch (precision) {
    case Precision::FP16:
      return "f16";
    case Precision::BF16:
      return "bf16";
    default:
      return "f32";
  }
}

void configureMemory(const MemorySettings& settings) {
  std::lock_guard<std::mutex> lock(memoryMutex);
  memorySettings = settings;
}

size_t pinnedBytesInUse() { return pinnedInUse.load(); }

const KernelLibrary* KernelLibrary::load(const std::string& path, std::string& error) {
  static std::mutex mutex;
  static std::unique_ptr<KernelLibrary> loaded;
  static std::string loadError;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded) return loaded.get();
  const auto& runtime = cudaRuntime();
  if (!runtime.api) {
    error = runtime.error;
    return nullptr;
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = "the CUDA kernels were not built (" + path +
            " does not exist): rebuild with nvcc on the PATH (CUDA 12 or later), e.g. 'node native/build.js'";
    return nullptr;
  }
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto library = std::make_unique<KernelLibrary>();
  if (cudaError_t status = runtime.api->libraryLoadData(&library->library_, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
      status != kCudaSuccess) {
    error = "cudaLibraryLoadData(" + path + ") failed: " + cudaErrorText(status);
    return nullptr;
  }
  for (const char* op : kKernelNames) {
    for (const char* suffix : {"f32", "f16", "bf16"}) {
      const std::string name = std::string("nereid_") + op + "_" + suffix;
      cudaKernel_t kernel = nullptr;
      if (cudaError_t status = runtime.api->libraryGetKernel(&kernel, library->library_, name.c_str()); status != kCudaSuccess) {
        error = path + " lacks kernel " + name + ": " + cudaErrorText(status);
        return nullptr;
      }
      library->kernels_.emplace_back(name, kernel);
    }
  }
  loaded = std::move(library);
  return loaded.get();
}

cudaKernel_t KernelLibrary::kernel(const std::string& name) const {
  for (const auto& [candidate, kernel] : kernels_) {
    if (candidate == name) return kernel;
  }
  return nullptr;
}

DenseExecutor::DenseExecutor(const Plan& plan, int device, const KernelLibrary& kernels)
    : plan_(plan), device_(device), kernels_(kernels), rt_(*cudaRuntime().api) {}

std::unique_ptr<DenseExecutor> DenseExecutor::create(const Plan& plan, int device, const KernelLibrary& kernels, std::string& error) {
  if (std::string invalid = validatePlan(plan); !invalid.empty()) {
    error = "invalid plan: " + invalid;
    return nullptr;
  }
  const auto& lt = cublasLt();
  if (!lt.api) {
    error = lt.error;
    return nullptr;
  }
  std::unique_ptr<DenseExecutor> executor(new DenseExecutor(plan, device, kernels));
  executor->lt_ = lt.api;
  if (!executor->upload(error)) return nullptr;
  return executor;
}

bool DenseExecutor::upload(std::string& error) {
  CUDA_CHECK(rt_.setDevice(device_), "cudaSetDevice(" + std::to_string(device_) + ")");
  applyDevicePool(rt_, device_);
  CUDA_CHECK(rt_.streamCreateWithFlags(&stream_, kStreamNonBlocking), "cudaStreamCreateWithFlags");
  CUBLAS_CHECK(lt_->create(&ltHandle_), "cublasLtCreate");
  CUDA_CHECK(rt_.malloc(&workspace_, workspaceBytes_), "cudaMalloc(cuBLASLt workspace)");
  const size_t element = elementBytes(plan_.precision);
  const std::string toPrecision = std::string("nereid_from_f32_") + precisionSuffix(plan_.precision);
  for (const Weight& w : plan_.weights) {
    void* target = nullptr;
    CUDA_CHECK(rt_.malloc(&target, w.values.size() * element), "cudaMalloc(weights)");
    weights_.push_back(target);
    if (plan_.precision == Precision::FP32) {
      CUDA_CHECK(rt_.memcpy(target, w.values.data(), w.values.size() * 4, kMemcpyHostToDevice), "cudaMemcpy(weights)");
      continue;
    }
    // Converted on the device with the same rounding (round to nearest even) as the activations.
    void* staging = nullptr;
    CUDA_CHECK(rt_.malloc(&staging, w.values.size() * 4), "cudaMalloc(weight staging)");
    cudaError_t copied = rt_.memcpy(staging, w.values.data(), w.values.size() * 4, kMemcpyHostToDevice);
    long long n = static_cast<long long>(w.values.size());
    bool converted = copied == kCudaSuccess && launch(toPrecision.c_str(), {&staging, &target, &n}, n, error);
    cudaError_t synced = rt_.streamSynchronize(stream_);
    rt_.free(staging);
    CUDA_CHECK(copied, "cudaMemcpy(weights)");
    if (!converted) return false;
    CUDA_CHECK(synced, "converting weights");
  }
  for (const Step& step : plan_.steps) {
    if (step.kind != StepKind::MatMul) {
      matmulDescs_.push_back(nullptr);
      continue;
    }
    cublasLtMatmulDesc_t desc = nullptr;
    CUBLAS_CHECK(lt_->matmulDescCreate(&desc, kCublasCompute32F, kCudaR32F), "cublasLtMatmulDescCreate");
    matmulDescs_.push_back(desc);
    const int transA = step.transposeWeight ? kCublasOpT : kCublasOpN;
    CUBLAS_CHECK(lt_->matmulDescSetAttribute(desc, kMatmulDescTransA, &transA, sizeof transA), "setting TRANSA");
    const uint32_t epilogue = step.bias >= 0 ? (step.relu ? kEpilogueReluBias : kEpilogueBias) : (step.relu ? kEpilogueRelu : kEpilogueDefault);
    CUBLAS_CHECK(lt_->matmulDescSetAttribute(desc, kMatmulDescEpilogue, &epilogue, sizeof epilogue), "setting EPILOGUE");
    if (step.bias >= 0) {
      const void* bias = weights_[step.bias];
      CUBLAS_CHECK(lt_->matmulDescSetAttribute(desc, kMatmulDescBiasPointer, &bias, sizeof bias), "setting BIAS_POINTER");
    }
  }
  return true;
}

DenseExecutor::~DenseExecutor() {
  rt_.setDevice(device_);
  if (stream_) rt_.streamSynchronize(stream_);
  releaseBuffers();
  for (void* w : weights_) rt_.free(w);
  if (workspace_) rt_.free(workspace_);
  for (auto desc : matmulDescs_) {
    if (desc) lt_->matmulDescDestroy(desc);
  }
  if (ltHandle_) lt_->destroy(ltHandle_);
  if (stream_) rt_.streamDestroy(stream_);
}

void DenseExecutor::releaseBuffers() {
  for (void* v : values_) {
    if (v) rt_.freeAsync(v, stream_);
  }
  values_.clear();
  for (float* s : deviceStaging_) {
    if (s) rt_.freeAsync(s, stream_);
  }
  deviceStaging_.clear();
  if (hostStaging_) {
    if (hostStagingPinned_) {
      rt_.freeHost(hostStaging_);
      pinnedInUse -= hostStagingBytes_;
    } else {
      std::free(hostStaging_);
    }
  }
  hostStaging_ = nullptr;
  hostStagingBytes_ = 0;
  capacityRows_ = 0;
}

bool DenseExecutor::reserve(size_t rows, std::string& error) {
  if (rows <= capacityRows_) return true;
  size_t capacity = 64;
  while (capacity < rows) capacity *= 2;
  rt_.streamSynchronize(stream_);
  releaseBuffers();
  const size_t element = elementBytes(plan_.precision);
  values_.assign(plan_.widths.size(), nullptr);
  for (size_t i = 0; i < plan_.widths.size(); ++i) {
    CUDA_CHECK(rt_.mallocAsync(&values_[i], capacity * plan_.widths[i] * element, stream_), "cudaMallocAsync(activations)");
  }
  size_t hostFloats = 0;
  for (int index : plan_.inputs) hostFloats += plan_.widths[index];
  for (int index : plan_.outputs) hostFloats += plan_.widths[index];
  if (plan_.precision != Precision::FP32) {
    for (int index : plan_.inputs) {
      void* staging = nullptr;
      CUDA_CHECK(rt_.mallocAsync(&staging, capacity * plan_.widths[index] * 4, stream_), "cudaMallocAsync(staging)");
      deviceStaging_.push_back(static_cast<float*>(staging));
    }
    for (int index : plan_.outputs) {
      void* staging = nullptr;
      CUDA_CHECK(rt_.mallocAsync(&staging, capacity * plan_.widths[index] * 4, stream_), "cudaMallocAsync(staging)");
      deviceStaging_.push_back(static_cast<float*>(staging));
    }
  }
  const size_t bytes = capacity * hostFloats * 4;
  size_t limit;
  {
    std::lock_guard<std::mutex> lock(memoryMutex);
    limit = memorySettings.pinnedPoolBytes;
  }
  if (pinnedInUse.fetch_add(bytes) + bytes <= limit && rt_.hostAlloc(&hostStaging_, bytes, kHostAllocDefault) == kCudaSuccess) {
    hostStagingPinned_ = true;
  } else {
    pinnedInUse -= bytes;
    hostStaging_ = std::malloc(bytes);
    hostStagingPinned_ = false;
    if (!hostStaging_) {
      error = "out of host memory for staging " + std::to_string(bytes) + " bytes";
      return false;
    }
  }
  hostStagingBytes_ = bytes;
  capacityRows_ = capacity;
  return true;
}

bool DenseExecutor::launch(const char* op, std::vector<void*> args, long long elements, std::string& error, bool perRow) {
  cudaKernel_t kernel = kernels_.kernel(op);
  if (!kernel) {
    error = std::string("kernel ") + op + " is not loaded";
    return false;
  }
  const unsigned threads = 256;
  const long long wanted = perRow ? elements : (elements + threads - 1) / threads;
  const unsigned blocks = static_cast<unsigned>(std::max<long long>(1, std::min<long long>(wanted, 65535)));
  CUDA_CHECK(rt_.launchKernel(reinterpret_cast<const void*>(kernel), Dim3{blocks, 1, 1}, Dim3{threads, 1, 1}, args.data(), 0, stream_),
             std::string("launching ") + op);
  return true;
}

bool DenseExecutor::matmul(const Step& step, size_t rows, std::string& error) {
  const Weight& w = plan_.weights[step.weight];
  const uint64_t k = plan_.widths[step.input];
  const uint64_t m = plan_.widths[step.output];
  const int type = cudaType(plan_.precision);
  // Row-major [rows, k] · [k, m] is, read column-major, D (m × rows) = op(W) (m × k) · X (k × rows).
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  // W as stored, row-major [w.rows, w.cols], is column-major w.cols × w.rows: op T turns
  // an [out, in] weight into m × k, and an [in, out] weight already is m × k.
  cublasStatus_t status = lt_->matrixLayoutCreate(&a, type, w.cols, w.rows, w.cols);
  if (status == kCublasSuccess) status = lt_->matrixLayoutCreate(&b, type, k, rows, k);
  if (status == kCublasSuccess) status = lt_->matrixLayoutCreate(&d, type, m, rows, m);
  const float alpha = step.alpha;
  const float beta = 0.0f;
  const size_t index = &step - plan_.steps.data();
  if (status == kCublasSuccess) {
    status = lt_->matmul(ltHandle_, matmulDescs_[index], &alpha, weights_[step.weight], a, values_[step.input], b, &beta, values_[step.output], d,
                         values_[step.output], d, nullptr, workspace_, workspaceBytes_, stream_);
  }
  if (a) lt_->matrixLayoutDestroy(a);
  if (b) lt_->matrixLayoutDestroy(b);
  if (d) lt_->matrixLayoutDestroy(d);
  CUBLAS_CHECK(status, "cublasLtMatmul (step " + std::to_string(index) + ")");
  return true;
}

bool DenseExecutor::run(size_t rows, const std::vector<const float*>& inputs, const std::vector<float*>& outputs, std::string& error) {
  if (inputs.size() != plan_.inputs.size() || outputs.size() != plan_.outputs.size()) {
    error = "expected " + std::to_string(plan_.inputs.size()) + " inputs and " + std::to_string(plan_.outputs.size()) + " outputs";
    return false;
  }
  if (rows == 0) return true;
  CUDA_CHECK(rt_.setDevice(device_), "cudaSetDevice");
  if (!reserve(rows, error)) return false;
  const bool fp32 = plan_.precision == Precision::FP32;
  const std::string suffix = precisionSuffix(plan_.precision);
  float* host = static_cast<float*>(hostStaging_);
  size_t staging = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int value = plan_.inputs[i];
    const size_t count = rows * plan_.widths[value];
    std::memcpy(host, inputs[i], count * 4);
    void* target = fp32 ? values_[value] : deviceStaging_[staging];
    CUDA_CHECK(rt_.memcpyAsync(target, host, count * 4, kMemcpyHostToDevice, stream_), "cudaMemcpyAsync(input)");
    if (!fp32) {
      long long n = static_cast<long long>(count);
      if (!launch(("nereid_from_f32_" + suffix).c_str(), {&deviceStaging_[staging], &values_[value], &n}, n, error)) return false;
      ++staging;
    }
    host += count;
  }
  if (!compute(rows, error)) return false;
  float* hostOutputs = host;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const int value = plan_.outputs[i];
    const size_t count = rows * plan_.widths[value];
    void* source = values_[value];
    if (!fp32) {
      long long n = static_cast<long long>(count);
      if (!launch(("nereid_to_f32_" + suffix).c_str(), {&values_[value], &deviceStaging_[staging], &n}, n, error)) return false;
      source = deviceStaging_[staging];
      ++staging;
    }
    CUDA_CHECK(rt_.memcpyAsync(host, source, count * 4, kMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(output)");
    host += count;
  }
  CUDA_CHECK(rt_.streamSynchronize(stream_), "running the model");
  host = hostOutputs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const size_t count = rows * plan_.widths[plan_.outputs[i]];
    std::memcpy(outputs[i], host, count * 4);
    host += count;
  }
  return true;
}

bool DenseExecutor::compute(size_t rows, std::string& error) {
  const std::string suffix = precisionSuffix(plan_.precision);
  for (const Step& step : plan_.steps) {
    long long width = plan_.widths[step.input];
    long long r = static_cast<long long>(rows);
    long long n = r * width;
    void* in = values_[step.input];
    void* out = values_[step.output];
    bool ok = true;
    switch (step.kind) {
      case StepKind::MatMul:
        ok = matmul(step, rows, error);
        break;
      case StepKind::Add:
        ok = launch(("nereid_add_" + suffix).c_str(), {&in, &values_[step.other], &out, &n}, n, error);
        break;
      case StepKind::AddBias:
        ok = launch(("nereid_add_bias_" + suffix).c_str(), {&in, &weights_[step.weight], &out, &r, &width}, n, error);
        break;
      case StepKind::Relu:
        ok = launch(("nereid_relu_" + suffix).c_str(), {&in, &out, &n}, n, error);
        break;
      case StepKind::Sigmoid:
        ok = launch(("nereid_sigmoid_" + suffix).c_str(), {&in, &out, &n}, n, error);
        break;
      case StepKind::Tanh:
        ok = launch(("nereid_tanh_" + suffix).c_str(), {&in, &out, &n}, n, error);
        break;
      case StepKind::Softmax:
        ok = launch(("nereid_softmax_" + suffix).c_str(), {&in, &out, &r, &width}, r, error, true);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

bool DenseExecutor::runOnDevice(size_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs, std::string& error) {
  if (inputs.size() != plan_.inputs.size() || outputs.size() != plan_.outputs.size()) {
    error = "expected " + std::to_string(plan_.inputs.size()) + " inputs and " + std::to_string(plan_.outputs.size()) + " outputs";
    return false;
  }
  std::vector<BatchInput> batchInputs(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) batchInputs[i].spans.push_back({inputs[i], rows * plan_.widths[plan_.inputs[i]] * 4});
  std::vector<BatchOutput> batchOutputs(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) batchOutputs[i].scatter.push_back({0, rows, outputs[i]});
  return runBatch(rows, batchInputs, batchOutputs, error);
}

bool DenseExecutor::runBatch(size_t rows, const std::vector<BatchInput>& inputs, const std::vector<BatchOutput>& outputs, std::string& error) {
  if (inputs.size() != plan_.inputs.size() || outputs.size() != plan_.outputs.size()) {
    error = "expected " + std::to_string(plan_.inputs.size()) + " inputs and " + std::to_string(plan_.outputs.size()) + " outputs";
    return false;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].host) continue;
    const size_t expected = rows * plan_.widths[plan_.inputs[i]] * 4;
    size_t bytes = 0;
    for (const DeviceSpan& span : inputs[i].spans) {
      if (!span.pointer && span.bytes > 0) {
        error = "input " + std::to_string(i) + ": a device span has no address";
        return false;
      }
      bytes += span.bytes;
    }
    if (bytes != expected) {
      error = "input " + std::to_string(i) + ": device spans hold " + std::to_string(bytes) + " bytes, the batch of " + std::to_string(rows) + " rows needs " +
              std::to_string(expected);
      return false;
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (const BatchScatter& scatter : outputs[i].scatter) {
      if (!scatter.pointer || scatter.rowStart > rows || scatter.rows > rows - scatter.rowStart) {
        error = "output " + std::to_string(i) + ": rows [" + std::to_string(scatter.rowStart) + ", " + std::to_string(scatter.rowStart + scatter.rows) +
                ") to scatter are not rows of the batch of " + std::to_string(rows) + (scatter.pointer ? "" : " (or have no address)");
        return false;
      }
    }
  }
  if (rows == 0) return true;
  CUDA_CHECK(rt_.setDevice(device_), "cudaSetDevice");
  if (!reserve(rows, error)) return false;
  const bool fp32 = plan_.precision == Precision::FP32;
  const std::string suffix = precisionSuffix(plan_.precision);
  float* host = static_cast<float*>(hostStaging_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int value = plan_.inputs[i];
    const size_t count = rows * plan_.widths[value];
    long long n = static_cast<long long>(count);
    // FP32 values are the batch buffer itself; other precisions gather in FP32 and convert.
    void* target = fp32 ? values_[value] : deviceStaging_[i];
    if (inputs[i].host) {
      std::memcpy(host, inputs[i].host, count * 4);
      CUDA_CHECK(rt_.memcpyAsync(target, host, count * 4, kMemcpyHostToDevice, stream_), "cudaMemcpyAsync(input)");
    } else if (!fp32 && inputs[i].spans.size() == 1) {
      // One request: converted straight from its region, no gather copy.
      target = const_cast<void*>(inputs[i].spans[0].pointer);
    } else {
      char* at = static_cast<char*>(target);
      for (const DeviceSpan& span : inputs[i].spans) {
        if (span.bytes == 0) continue;
        CUDA_CHECK(rt_.memcpyAsync(at, span.pointer, span.bytes, kMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync(gathering input " + std::to_string(i) + ")");
        at += span.bytes;
      }
    }
    if (!fp32 && !launch(("nereid_from_f32_" + suffix).c_str(), {&target, &values_[value], &n}, n, error)) return false;
    host += count;
  }
  if (!compute(rows, error)) return false;
  float* hostOutputs = host;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const int value = plan_.outputs[i];
    const size_t width = plan_.widths[value];
    const size_t count = rows * width;
    void* source = values_[value];
    if (!fp32) {
      long long n = static_cast<long long>(count);
      void* staging = deviceStaging_[inputs.size() + i];
      if (!launch(("nereid_to_f32_" + suffix).c_str(), {&values_[value], &staging, &n}, n, error)) return false;
      source = staging;
    }
    for (const BatchScatter& scatter : outputs[i].scatter) {
      if (scatter.rows == 0) continue;
      CUDA_CHECK(rt_.memcpyAsync(scatter.pointer, static_cast<const char*>(source) + scatter.rowStart * width * 4, scatter.rows * width * 4, kMemcpyDeviceToDevice,
                                 stream_),
                 "cudaMemcpyAsync(scattering output " + std::to_string(i) + ")");
    }
    if (outputs[i].host) CUDA_CHECK(rt_.memcpyAsync(host, source, count * 4, kMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(output)");
    host += count;
  }
  CUDA_CHECK(rt_.streamSynchronize(stream_), "running the model");
  host = hostOutputs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const size_t count = rows * plan_.widths[plan_.outputs[i]];
    if (outputs[i].host) std::memcpy(outputs[i].host, host, count * 4);
    host += count;
  }
  return true;
}

}  // namespace nereid::cuda
