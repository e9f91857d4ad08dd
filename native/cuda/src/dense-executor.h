// Runs a dense-layer Plan on one CUDA device: weights uploaded once in the plan's
// precision, one stream per executor (one per model instance), matrix products by
// cuBLASLt with bias and Relu fused into its epilogue, the other steps by the kernels of
// native/cuda/kernels/dense-kernels.cu.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cuda-api.h"
#include "dense-plan.h"

namespace nereid::cuda {

/** The kernels' fatbin, loaded once per process (cudaLibraryLoadData serves every device). */
class KernelLibrary {
 public:
  /** Loads the fatbin at `path`; on failure returns null and says why. */
  static const KernelLibrary* load(const std::string& path, std::string& error);
  cudaKernel_t kernel(const std::string& name) const;

 private:
  cudaLibrary_t library_ = nullptr;
  std::vector<std::pair<std::string, cudaKernel_t>> kernels_;
};

/**
 * Process-wide memory settings: `--pinned-memory-pool-byte-size` caps the pinned host
 * memory executors take for their staging buffers (beyond it they stage through pageable
 * memory, as Triton does), and `--cuda-memory-pool-byte-size` is the release threshold of
 * each device's stream-ordered pool that activations are allocated from.
 */
struct MemorySettings {
  size_t pinnedPoolBytes = 256u << 20;
  std::vector<std::pair<int, size_t>> devicePoolBytes;
};
void configureMemory(const MemorySettings& settings);
/** Pinned bytes handed out now, for tests and the status of the pool. */
size_t pinnedBytesInUse();

/** Bytes in device memory of the executor's device (a CUDA shared memory region). */
struct DeviceSpan {
  const void* pointer = nullptr;
  size_t bytes = 0;
};

/** One input of runBatch(): host values (`host`), or the requests' spans in row order, gathered on the device. */
struct BatchInput {
  const float* host = nullptr;
  std::vector<DeviceSpan> spans;
};

/** Rows [rowStart, rowStart + rows) of an output, copied on the device to `pointer`. */
struct BatchScatter {
  size_t rowStart = 0;
  size_t rows = 0;
  void* pointer = nullptr;
};

/** One output of runBatch(): the whole batch to `host` when set, and its requests' rows to their regions. */
struct BatchOutput {
  float* host = nullptr;
  std::vector<BatchScatter> scatter;
};

class DenseExecutor {
 public:
  static std::unique_ptr<DenseExecutor> create(const Plan& plan, int device, const KernelLibrary& kernels, std::string& error);
  ~DenseExecutor();
  DenseExecutor(const DenseExecutor&) = delete;
  DenseExecutor& operator=(const DenseExecutor&) = delete;

  /**
   * inputs[i] holds rows × widths[plan.inputs[i]] floats; outputs[i] receives rows ×
   * widths[plan.outputs[i]] floats. Blocking: callers run it off the main thread.
   */
  bool run(size_t rows, const std::vector<const float*>& inputs, const std::vector<float*>& outputs, std::string& error);
  /**
   * The same with FP32 inputs and outputs in device memory of this executor's device (CUDA
   * shared memory regions): nothing passes through host memory. Blocking, like run().
   */
  bool runOnDevice(size_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs, std::string& error);
  /**
   * The direct device path for a batch of requests: each input gathered into the batch
   * from host memory or from the requests' device spans (device-to-device copies), the
   * plan run, and each output's rows scattered device-to-device to the requests' regions
   * and, where `host` is set, copied to host memory. Spans must hold exactly the batch's
   * bytes; scatters must lie inside the batch. Blocking, like run().
   */
  bool runBatch(size_t rows, const std::vector<BatchInput>& inputs, const std::vector<BatchOutput>& outputs, std::string& error);

 private:
  DenseExecutor(const Plan& plan, int device, const KernelLibrary& kernels);
  bool upload(std::string& error);
  bool reserve(size_t rows, std::string& error);
  bool launch(const char* op, std::vector<void*> args, long long elements, std::string& error, bool perRow = false);
  bool matmul(const Step& step, size_t rows, std::string& error);
  /** The plan's steps over values_, whose inputs are in place. */
  bool compute(size_t rows, std::string& error);
  void releaseBuffers();

  Plan plan_;
  int device_;
  const KernelLibrary& kernels_;
  const CudaRuntime& rt_;
  const CublasLt* lt_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t ltHandle_ = nullptr;
  std::vector<cublasLtMatmulDesc_t> matmulDescs_;
  std::vector<void*> weights_;
  std::vector<void*> values_;
  void* workspace_ = nullptr;
  size_t workspaceBytes_ = 4u << 20;
  /** fp32 staging of the inputs and outputs on the device, and in host memory. */
  std::vector<float*> deviceStaging_;
  void* hostStaging_ = nullptr;
  bool hostStagingPinned_ = false;
  size_t hostStagingBytes_ = 0;
  size_t capacityRows_ = 0;
};

const char* precisionSuffix(Precision precision);

}  // namespace nereid::cuda
