// CUDA shared memory as Triton's clients use it, across two processes (a handle cannot be
// opened by the process that exported it). The parent allocates device memory, writes a
// byte pattern and a batch of inputs there, exports it with cudaIpcGetMemHandle and runs
// this program again as its child with the handle in hex. The child opens it through
// CudaIpcRegion (the code behind the addon's CudaSharedMemory), checks the pattern and the
// refusals (a size past the allocation, a device that does not exist, a short handle, an
// access past the region), writes a pattern back, and runs a dense plan in FP32, FP16 and
// BF16 with its inputs and outputs in the region (DenseExecutor::runOnDevice), and again
// as the server's direct device path runs a batch of three requests (DenseExecutor::
// runBatch: their rows gathered from the region out of order, device to device, and each
// request's output rows scattered to its own place in the region). The parent then checks
// the child's pattern and that each output matches its own run of the same plan from host
// memory (bit for bit expected; held to the precision's bound). Built and run by
// native/cuda/check-gpu.sh.
//
//   cuda-ipc-test KERNELS.fatbin           exit 0 when every check passes, 3 without a device
//   cuda-ipc-test KERNELS.fatbin --export  the parent's side for another importer (the Node
//                                          addon, native/cuda/test/cuda-shm-addon-check.mjs):
//                                          prints "HANDLE <hex> <region bytes> <pattern offset>",
//                                          waits for a line on stdin, then checks the pattern
//                                          the importer wrote at that offset
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../src/cuda-shared-memory.h"
#include "../src/dense-executor.h"
#include "../src/devices.h"

using namespace nereid::cuda;

namespace {

constexpr size_t kRows = 48;
constexpr uint32_t kWidths[] = {32, 64, 8, 8};
constexpr size_t kPatternBytes = 4096;
constexpr size_t kInputOffset = kPatternBytes;
constexpr size_t kInputBytes = kRows * kWidths[0] * 4;
constexpr size_t kOutputBytes = kRows * kWidths[3] * 4;
constexpr size_t kOutputOffset = kInputOffset + kInputBytes;
constexpr Precision kPrecisions[] = {Precision::FP32, Precision::FP16, Precision::BF16};
constexpr size_t kBatchOutputOffset = kOutputOffset + 3 * kOutputBytes;
constexpr size_t kChildPatternOffset = kBatchOutputOffset + 3 * kOutputBytes;
// The batch of runBatch: request k takes rows [kRequestStart[k], + kRequestRows[k]) of the
// input in the region, and its output rows go to row kRequestPlace[k] of the batch output area.
constexpr size_t kRequestStart[3] = {10, 0, 30};
constexpr size_t kRequestRows[3] = {20, 10, 18};
constexpr size_t kRequestPlace[3] = {18, 38, 0};
constexpr size_t kRegionBytes = kChildPatternOffset + kPatternBytes;

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

unsigned char patternByte(size_t i, unsigned seed) { return static_cast<unsigned char>((i * 131 + seed) & 0xff); }

/** MatMul+bias+Relu, MatMul+bias, Softmax: the same plan in both processes (fixed seed). */
Plan plan(Precision precision) {
  std::mt19937 gen(99);
  std::uniform_real_distribution<float> dist(-0.3f, 0.3f);
  auto values = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
  };
  Plan p;
  p.precision = precision;
  p.widths = {kWidths[0], kWidths[1], kWidths[2], kWidths[3]};
  p.inputs = {0};
  p.outputs = {3};
  for (int layer = 0; layer < 2; ++layer) {
    p.weights.push_back({values(size_t(kWidths[layer + 1]) * kWidths[layer]), kWidths[layer + 1], kWidths[layer]});
    p.weights.push_back({values(kWidths[layer + 1]), 1, kWidths[layer + 1]});
    Step s;
    s.kind = StepKind::MatMul;
    s.input = layer;
    s.output = layer + 1;
    s.weight = layer * 2;
    s.bias = layer * 2 + 1;
    s.transposeWeight = true;
    s.relu = layer == 0;
    p.steps.push_back(s);
  }
  Step softmax;
  softmax.kind = StepKind::Softmax;
  softmax.input = 2;
  softmax.output = 3;
  p.steps.push_back(softmax);
  return p;
}

std::string hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < n; ++i) text += {digits[bytes[i] >> 4], digits[bytes[i] & 15]};
  return text;
}

std::vector<unsigned char> unhex(const std::string& text) {
  std::vector<unsigned char> bytes;
  for (size_t i = 0; i + 1 < text.size(); i += 2) bytes.push_back(static_cast<unsigned char>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return bytes;
}

int child(const KernelLibrary& kernels, const std::string& handleHex) {
  const std::vector<unsigned char> handle = unhex(handleHex);
  IpcError error;
  auto region = CudaIpcRegion::open(handle.data(), handle.size(), 0, kRegionBytes, error);
  if (!region) {
    std::printf("FAIL child: opening the handle: %s\n", error.message.c_str());
    return 1;
  }
  expect(region->allocationBytes() >= kRegionBytes, "child: the allocation (" + std::to_string(region->allocationBytes()) + " bytes) holds the region");

  IpcError tooLarge;
  expect(!CudaIpcRegion::open(handle.data(), handle.size(), 0, region->allocationBytes() + 1, tooLarge) && tooLarge.kind == IpcErrorKind::OutOfRange,
         "child: a byte_size past the allocation is refused: " + tooLarge.message);
  IpcError noDevice;
  const int count = static_cast<int>(probeDevices().devices.size());
  expect(!CudaIpcRegion::open(handle.data(), handle.size(), count, kRegionBytes, noDevice) && noDevice.kind == IpcErrorKind::DeviceRange,
         "child: device_id " + std::to_string(count) + " is refused: " + noDevice.message);
  IpcError shortHandle;
  expect(!CudaIpcRegion::open(handle.data(), 63, 0, kRegionBytes, shortHandle) && shortHandle.kind == IpcErrorKind::InvalidArgument,
         "child: a 63-byte handle is refused: " + shortHandle.message);

  std::vector<unsigned char> pattern(kPatternBytes);
  expect(region->read(0, pattern.data(), kPatternBytes, error), "child: reads the parent's pattern" + error.message);
  bool same = true;
  for (size_t i = 0; i < kPatternBytes; ++i) same = same && pattern[i] == patternByte(i, 1);
  expect(same, "child: the pattern is the parent's");
  IpcError past;
  expect(!region->read(kRegionBytes - 8, pattern.data(), 16, past) && past.kind == IpcErrorKind::OutOfRange, "child: a read past the region is refused: " + past.message);
  for (size_t i = 0; i < kPatternBytes; ++i) pattern[i] = patternByte(i, 7);
  expect(region->write(kChildPatternOffset, pattern.data(), kPatternBytes, error), "child: writes its pattern" + error.message);

  for (size_t p = 0; p < 3; ++p) {
    std::string createError;
    auto executor = DenseExecutor::create(plan(kPrecisions[p]), 0, kernels, createError);
    if (!executor) {
      expect(false, "child: executor: " + createError);
      continue;
    }
    const void* input = region->at(kInputOffset, kInputBytes);
    void* output = region->at(kOutputOffset + p * kOutputBytes, kOutputBytes);
    std::string runError;
    expect(executor->runOnDevice(kRows, {input}, {output}, runError), "child: runOnDevice precision " + std::to_string(p) + " " + runError);

    BatchInput gathered;
    BatchOutput scattered;
    char* batchOutput = static_cast<char*>(region->at(kBatchOutputOffset + p * kOutputBytes, kOutputBytes));
    size_t row = 0;
    for (int k = 0; k < 3; ++k) {
      gathered.spans.push_back({static_cast<const char*>(input) + kRequestStart[k] * kWidths[0] * 4, kRequestRows[k] * kWidths[0] * 4});
      scattered.scatter.push_back({row, kRequestRows[k], batchOutput + kRequestPlace[k] * kWidths[3] * 4});
      row += kRequestRows[k];
    }
    expect(executor->runBatch(kRows, {gathered}, {scattered}, runError), "child: runBatch (gather and scatter in the region) precision " + std::to_string(p) + " " + runError);
  }
  region->close();
  IpcError closed;
  expect(!region->read(0, pattern.data(), 1, closed) && closed.kind == IpcErrorKind::Closed, "child: a closed region refuses reads");
  return failures == 0 ? 0 : 1;
}

int parent(const char* self, const char* kernelsPath, const KernelLibrary& kernels) {
  const CudaRuntime& rt = *cudaRuntime().api;
  rt.setDevice(0);
  void* device = nullptr;
  if (rt.malloc(&device, kRegionBytes) != kCudaSuccess) {
    std::printf("FAIL: cudaMalloc\n");
    return 1;
  }
  std::vector<unsigned char> pattern(kPatternBytes);
  for (size_t i = 0; i < kPatternBytes; ++i) pattern[i] = patternByte(i, 1);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> input(kRows * kWidths[0]);
  for (float& x : input) x = dist(gen);
  std::vector<float> nan(3 * kRows * kWidths[3], NAN);
  rt.memcpy(device, pattern.data(), kPatternBytes, kMemcpyHostToDevice);
  rt.memcpy(static_cast<char*>(device) + kInputOffset, input.data(), kInputBytes, kMemcpyHostToDevice);
  rt.memcpy(static_cast<char*>(device) + kOutputOffset, nan.data(), nan.size() * 4, kMemcpyHostToDevice);
  rt.memcpy(static_cast<char*>(device) + kBatchOutputOffset, nan.data(), nan.size() * 4, kMemcpyHostToDevice);
  CudaIpcMemHandle handle;
  if (cudaError_t status = rt.ipcGetMemHandle(&handle, device); status != kCudaSuccess) {
    std::printf("FAIL: cudaIpcGetMemHandle: %s\n", cudaErrorText(status).c_str());
    return 1;
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(handle.reserved);
  // CUDA documents that the exporting process cannot import its own handle; a driver that
  // allows it is noted, not failed, since nothing in Nereid depends on it.
  IpcError same;
  if (auto own = CudaIpcRegion::open(bytes, kIpcHandleBytes, 0, kRegionBytes, same)) {
    std::printf("note parent: this driver let the exporting process open its own handle\n");
  } else {
    std::printf("ok   parent: the exporting process cannot open its own handle (%s)\n", same.message.c_str());
  }

  const std::string handleHex = hex(bytes, kIpcHandleBytes);
  const pid_t pid = fork();
  if (pid == 0) {
    execl(self, self, kernelsPath, "--child", handleHex.c_str(), static_cast<char*>(nullptr));
    std::perror("execl");
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "parent: the child passed (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");

  std::vector<unsigned char> childPattern(kPatternBytes);
  rt.memcpy(childPattern.data(), static_cast<char*>(device) + kChildPatternOffset, kPatternBytes, kMemcpyDeviceToHost);
  bool patternOk = true;
  for (size_t i = 0; i < kPatternBytes; ++i) patternOk = patternOk && childPattern[i] == patternByte(i, 7);
  expect(patternOk, "parent: reads the child's pattern");

  std::string error;
  for (size_t p = 0; p < 3; ++p) {
    std::vector<float> fromDevice(kRows * kWidths[3]), fromHost(kRows * kWidths[3], NAN);
    rt.memcpy(fromDevice.data(), static_cast<char*>(device) + kOutputOffset + p * kOutputBytes, kOutputBytes, kMemcpyDeviceToHost);
    auto executor = DenseExecutor::create(plan(kPrecisions[p]), 0, kernels, error);
    if (!executor || !executor->run(kRows, {input.data()}, {fromHost.data()}, error)) {
      expect(false, "parent: host run: " + error);
      continue;
    }
    // The same kernels on the same values: expected bit for bit; held to the precision's
    // bound (as dense-executor-test holds the GPU to the CPU reference) in case cuBLASLt
    // picks another algorithm in the other process.
    double scale = 1e-6, worst = 0;
    for (size_t i = 0; i < fromHost.size(); ++i) {
      scale = std::max(scale, std::fabs(double(fromHost[i])));
      const double diff = std::fabs(double(fromDevice[i]) - fromHost[i]);
      worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);
    }
    const double bound = p == 0 ? 1e-5 : p == 1 ? 5e-3 : 4e-2;
    const bool identical = std::memcmp(fromDevice.data(), fromHost.data(), kOutputBytes) == 0;
    expect(worst / scale <= bound, "parent: precision " + std::to_string(p) + ": the child's outputs in the region match a host run (" +
                                       (identical ? std::string("bit for bit") : "largest error ratio " + std::to_string(worst / scale)) + ")");

    // runBatch's output area holds request k's rows at row kRequestPlace[k]; the batch's rows were the requests' input rows in request order.
    std::vector<float> batchArea(kRows * kWidths[3]), expectedArea(kRows * kWidths[3], NAN);
    rt.memcpy(batchArea.data(), static_cast<char*>(device) + kBatchOutputOffset + p * kOutputBytes, kOutputBytes, kMemcpyDeviceToHost);
    std::vector<float> batchInput;
    for (int k = 0; k < 3; ++k) batchInput.insert(batchInput.end(), input.begin() + kRequestStart[k] * kWidths[0], input.begin() + (kRequestStart[k] + kRequestRows[k]) * kWidths[0]);
    std::vector<float> batchHost(kRows * kWidths[3], NAN);
    if (!executor->run(kRows, {batchInput.data()}, {batchHost.data()}, error)) {
      expect(false, "parent: host run of the batch: " + error);
      continue;
    }
    size_t row = 0;
    for (int k = 0; k < 3; ++k) {
      std::copy(batchHost.begin() + row * kWidths[3], batchHost.begin() + (row + kRequestRows[k]) * kWidths[3], expectedArea.begin() + kRequestPlace[k] * kWidths[3]);
      row += kRequestRows[k];
    }
    double worstBatch = 0;
    for (size_t i = 0; i < expectedArea.size(); ++i) {
      const double diff = std::fabs(double(batchArea[i]) - expectedArea[i]);
      worstBatch = std::isnan(diff) ? INFINITY : std::max(worstBatch, diff);
    }
    expect(worstBatch / scale <= bound, "parent: precision " + std::to_string(p) + ": runBatch gathered and scattered in the region as a host run of the batch (largest error ratio " +
                                            std::to_string(worstBatch / scale) + ")");
  }
  rt.free(device);
  std::printf("%s: %d failure(s)\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}

/** The exporting side alone: the importer is another program. */
int exportForImporter() {
  const CudaRuntime& rt = *cudaRuntime().api;
  rt.setDevice(0);
  void* device = nullptr;
  if (rt.malloc(&device, kRegionBytes) != kCudaSuccess) {
    std::printf("FAIL: cudaMalloc\n");
    return 1;
  }
  std::vector<unsigned char> pattern(kPatternBytes);
  for (size_t i = 0; i < kPatternBytes; ++i) pattern[i] = patternByte(i, 1);
  rt.memcpy(device, pattern.data(), kPatternBytes, kMemcpyHostToDevice);
  CudaIpcMemHandle handle;
  if (cudaError_t status = rt.ipcGetMemHandle(&handle, device); status != kCudaSuccess) {
    std::printf("FAIL: cudaIpcGetMemHandle: %s\n", cudaErrorText(status).c_str());
    return 1;
  }
  std::printf("HANDLE %s %zu %zu\n", hex(reinterpret_cast<const unsigned char*>(handle.reserved), kIpcHandleBytes).c_str(), kRegionBytes,
              kChildPatternOffset);
  std::fflush(stdout);
  char line[64];
  if (!std::fgets(line, sizeof line, stdin)) std::printf("(stdin closed)\n");
  rt.memcpy(pattern.data(), static_cast<char*>(device) + kChildPatternOffset, kPatternBytes, kMemcpyDeviceToHost);
  bool ok = true;
  for (size_t i = 0; i < kPatternBytes; ++i) ok = ok && pattern[i] == patternByte(i, 7);
  expect(ok, "exporter: reads the pattern the importer wrote");
  rt.free(device);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::printf("usage: %s KERNELS.fatbin\n", argv[0]);
    return 2;
  }
  const DeviceProbe& probe = probeDevices();
  if (probe.devices.empty()) {
    std::printf("no CUDA device: %s\n", probe.reason.c_str());
    return 3;
  }
  std::string error;
  const KernelLibrary* kernels = KernelLibrary::load(argv[1], error);
  if (!kernels) {
    std::printf("FAIL: %s\n", error.c_str());
    return 1;
  }
  if (argc >= 4 && std::string(argv[2]) == "--child") return child(*kernels, argv[3]);
  if (argc >= 3 && std::string(argv[2]) == "--export") return exportForImporter();
  return parent(argv[0], argv[1], *kernels);
}
