// Runs the CUDA code paths of native/cuda/src on a GPU and checks them against a CPU
// reference of the same plans (rounding FP16/BF16 as the GPU stores them), including the
// direct device path (DenseExecutor::runBatch: a batch gathered from several requests'
// device memory, outputs scattered back to it), then, with --bench, times the mlp shape
// for bench/cuda/pytorch-mlp-bench.py. Built and run by native/cuda/check-gpu.sh; needs no Node.
//
//   dense-executor-test KERNELS.fatbin                 correctness; exit 0 when all pass
//   dense-executor-test KERNELS.fatbin --bench W.bin   timings (JSON lines) on PyTorch's weights
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../src/dense-executor.h"
#include "../src/devices.h"

using namespace nereid::cuda;

namespace {

float roundTo(Precision precision, float value) {
  if (precision == Precision::FP32) return value;
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if (precision == Precision::BF16) {
    bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
  }
  // FP16: round through the nearest representable half (normal range and subnormals).
  if (std::fabs(value) >= 65520.0f) return std::copysign(INFINITY, value);
  int exponent;
  std::frexp(value, &exponent);
  const int step = std::max(exponent - 11, -24);
  return std::nearbyint(std::ldexp(value, -step)) * std::ldexp(1.0f, step);
}

/** The CPU reference: the plan's steps in double precision sums, every stored value rounded. */
std::vector<std::vector<float>> reference(const Plan& plan, size_t rows, const std::vector<std::vector<float>>& inputs) {
  auto r = [&](double v) { return roundTo(plan.precision, static_cast<float>(v)); };
  std::vector<std::vector<float>> weights;
  for (const Weight& w : plan.weights) {
    std::vector<float> values(w.values);
    for (float& v : values) v = r(v);
    weights.push_back(values);
  }
  std::vector<std::vector<float>> values(plan.widths.size());
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    values[plan.inputs[i]] = inputs[i];
    for (float& v : values[plan.inputs[i]]) v = r(v);
  }
  for (const Step& s : plan.steps) {
    const size_t in = plan.widths[s.input], out = plan.widths[s.output];
    const std::vector<float>& x = values[s.input];
    std::vector<float> y(rows * out);
    for (size_t row = 0; row < rows; ++row) {
      if (s.kind == StepKind::Softmax) {
        double max = -INFINITY, sum = 0;
        for (size_t c = 0; c < in; ++c) max = std::max<double>(max, x[row * in + c]);
        for (size_t c = 0; c < in; ++c) sum += std::exp(x[row * in + c] - max);
        for (size_t c = 0; c < in; ++c) y[row * out + c] = r(std::exp(x[row * in + c] - max) / sum);
        continue;
      }
      for (size_t o = 0; o < out; ++o) {
        const size_t at = row * out + o;
        const double a = x[row * in + o % in];
        switch (s.kind) {
          case StepKind::MatMul: {
            const Weight& w = plan.weights[s.weight];
            double acc = 0;
            for (size_t k = 0; k < in; ++k) acc += double(x[row * in + k]) * weights[s.weight][s.transposeWeight ? o * w.cols + k : k * w.cols + o];
            double v = s.alpha * acc + (s.bias >= 0 ? weights[s.bias][o] : 0.0);
            y[at] = r(s.relu && v < 0 ? 0 : v);
            break;
          }
          case StepKind::Add:
            y[at] = r(a + values[s.other][row * in + o]);
            break;
          case StepKind::AddBias:
            y[at] = r(a + weights[s.weight][o]);
            break;
          case StepKind::Relu:
            y[at] = a > 0 ? a : 0;
            break;
          case StepKind::Sigmoid:
            y[at] = r(1 / (1 + std::exp(-a)));
            break;
          case StepKind::Tanh:
            y[at] = r(std::tanh(a));
            break;
          default:
            break;
        }
      }
    }
    values[s.output] = y;
  }
  std::vector<std::vector<float>> outputs;
  for (int index : plan.outputs) outputs.push_back(values[index]);
  return outputs;
}

std::vector<float> randomValues(size_t count, std::mt19937& gen, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(count);
  for (float& x : v) x = dist(gen);
  return v;
}

/** The shape of model_repository/mlp: 256 → 1024 → 1024 → 16, Relu between, weights [out, in]. */
Plan mlpPlan(Precision precision, std::vector<Weight> weights) {
  Plan plan;
  plan.precision = precision;
  plan.widths = {256, 1024, 1024, 16};
  plan.inputs = {0};
  plan.outputs = {3};
  plan.weights = std::move(weights);
  for (int layer = 0; layer < 3; ++layer) {
    Step s;
    s.kind = StepKind::MatMul;
    s.input = layer;
    s.output = layer + 1;
    s.weight = layer * 2;
    s.bias = layer * 2 + 1;
    s.transposeWeight = true;
    s.relu = layer < 2;
    plan.steps.push_back(s);
  }
  return plan;
}

std::vector<Weight> randomMlpWeights(std::mt19937& gen) {
  const uint32_t dims[4] = {256, 1024, 1024, 16};
  std::vector<Weight> weights;
  for (int layer = 0; layer < 3; ++layer) {
    const float bound = 1.0f / std::sqrt(float(dims[layer]));
    weights.push_back({randomValues(dims[layer + 1] * dims[layer], gen, bound), dims[layer + 1], dims[layer]});
    weights.push_back({randomValues(dims[layer + 1], gen, bound), 1, dims[layer + 1]});
  }
  return weights;
}

/** Every other step kind: MatMul [in, out] without epilogue, AddBias, Sigmoid, Tanh, Add, Relu, Softmax. */
Plan branchyPlan(Precision precision, std::mt19937& gen) {
  Plan plan;
  plan.precision = precision;
  plan.widths = {40, 24, 24, 24, 24, 24, 24, 24};
  plan.inputs = {0};
  plan.outputs = {7, 5};
  plan.weights = {{randomValues(40 * 24, gen, 0.3f), 40, 24}, {randomValues(24, gen, 0.5f), 1, 24}};
  auto step = [&](StepKind kind, int input, int output, int weight = -1, int other = -1) {
    Step s;
    s.kind = kind;
    s.input = input;
    s.output = output;
    s.weight = weight;
    s.other = other;
    s.alpha = kind == StepKind::MatMul ? 0.75f : 1.0f;
    plan.steps.push_back(s);
  };
  step(StepKind::MatMul, 0, 1, 0);
  step(StepKind::AddBias, 1, 2, 1);
  step(StepKind::Sigmoid, 2, 3);
  step(StepKind::Tanh, 2, 4);
  step(StepKind::Add, 3, 5, -1, 4);
  step(StepKind::Relu, 5, 6);
  step(StepKind::Softmax, 6, 7);
  return plan;
}

const char* name(Precision p) { return p == Precision::FP32 ? "FP32" : p == Precision::FP16 ? "FP16" : "BF16"; }
// Largest error as a fraction of the largest |reference| value; the same bounds as the TypeScript tests against onnxruntime.
double tolerance(Precision p) { return p == Precision::FP32 ? 1e-5 : p == Precision::FP16 ? 5e-3 : 4e-2; }

int failures = 0;

void check(const char* what, const Plan& plan, const KernelLibrary& kernels, std::mt19937& gen) {
  std::string error;
  auto executor = DenseExecutor::create(plan, 0, kernels, error);
  if (!executor) {
    std::printf("FAIL %s %s: %s\n", what, name(plan.precision), error.c_str());
    ++failures;
    return;
  }
  for (size_t rows : {size_t(1), size_t(7), size_t(64), size_t(300), size_t(0), size_t(1024)}) {
    std::vector<std::vector<float>> inputs;
    for (int index : plan.inputs) inputs.push_back(randomValues(rows * plan.widths[index], gen, 2.0f));
    std::vector<std::vector<float>> outputs;
    for (int index : plan.outputs) outputs.emplace_back(rows * plan.widths[index], NAN);
    std::vector<const float*> in;
    for (auto& v : inputs) in.push_back(v.data());
    std::vector<float*> out;
    for (auto& v : outputs) out.push_back(v.data());
    if (!executor->run(rows, in, out, error)) {
      std::printf("FAIL %s %s rows=%zu: %s\n", what, name(plan.precision), rows, error.c_str());
      ++failures;
      continue;
    }
    const auto expected = reference(plan, rows, inputs);
    for (size_t o = 0; o < outputs.size(); ++o) {
      double scale = 1e-6, worst = 0;
      for (float v : expected[o]) scale = std::max(scale, std::fabs(double(v)));
      for (size_t i = 0; i < outputs[o].size(); ++i) {
        const double diff = std::fabs(double(outputs[o][i]) - expected[o][i]);
        worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);
      }
      const bool ok = worst / scale <= tolerance(plan.precision);
      if (!ok) ++failures;
      std::printf("%s %s %s rows=%zu output %zu: largest error %.3g of max |ref| %.3g (ratio %.3g, bound %.0e)\n", ok ? "ok  " : "FAIL", what,
                  name(plan.precision), rows, o, worst, scale, worst / scale, tolerance(plan.precision));
    }
  }
}

/** Two inputs added, then a dense layer: outputs {dense, sum}. */
Plan twoInputPlan(Precision precision, std::mt19937& gen) {
  Plan plan;
  plan.precision = precision;
  plan.widths = {32, 32, 32, 16};
  plan.inputs = {0, 1};
  plan.outputs = {3, 2};
  plan.weights = {{randomValues(16 * 32, gen, 0.2f), 16, 32}, {randomValues(16, gen, 0.2f), 1, 16}};
  Step add;
  add.kind = StepKind::Add;
  add.input = 0;
  add.other = 1;
  add.output = 2;
  Step dense;
  dense.kind = StepKind::MatMul;
  dense.input = 2;
  dense.output = 3;
  dense.weight = 0;
  dense.bias = 1;
  dense.transposeWeight = true;
  dense.relu = true;
  plan.steps = {add, dense};
  return plan;
}

void compare(const std::string& what, Precision precision, const std::vector<float>& actual, const std::vector<float>& expected) {
  double scale = 1e-6, worst = actual.size() == expected.size() ? 0 : INFINITY;
  for (float v : expected) scale = std::max(scale, std::fabs(double(v)));
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    const double diff = std::fabs(double(actual[i]) - expected[i]);
    worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);
  }
  const bool ok = worst / scale <= tolerance(precision);
  if (!ok) ++failures;
  std::printf("%s %s %s: largest error ratio %.3g (bound %.0e)\n", ok ? "ok  " : "FAIL", what.c_str(), name(precision), worst / scale, tolerance(precision));
}

void expectRefused(const std::string& what, bool ran, const std::string& error, const std::string& needle) {
  const bool ok = !ran && error.find(needle) != std::string::npos;
  if (!ok) ++failures;
  std::printf("%s runBatch refuses %s: %s\n", ok ? "ok  " : "FAIL", what.c_str(), error.c_str());
}

/**
 * The direct device path in one process: three requests of 3, 5 and 4 rows whose input 0
 * lies in device memory out of order (gathered device to device), input 1 from the host,
 * output 0 scattered to three device places and copied to the host, output 1 to the host
 * only; everything against the CPU reference of the whole batch. Then the refusals.
 */
void checkBatch(Precision precision, const KernelLibrary& kernels, std::mt19937& gen) {
  const CudaRuntime& rt = *cudaRuntime().api;
  const Plan plan = twoInputPlan(precision, gen);
  std::string error;
  auto executor = DenseExecutor::create(plan, 0, kernels, error);
  if (!executor) {
    std::printf("FAIL batch %s: %s\n", name(precision), error.c_str());
    ++failures;
    return;
  }
  const size_t requestRows[3] = {3, 5, 4};
  const size_t rows = 12, in = 32, out = 16;
  const std::vector<float> input0 = randomValues(rows * in, gen, 2.0f), input1 = randomValues(rows * in, gen, 2.0f);
  // Device memory: the requests' input rows in the order 2, 0, 1 after a gap; then room for the outputs.
  const size_t inputBase = 64, outputBase = inputBase + rows * in * 4 + 128;
  char* device = nullptr;
  if (rt.malloc(reinterpret_cast<void**>(&device), outputBase + rows * out * 4 + 64) != kCudaSuccess) {
    std::printf("FAIL batch: cudaMalloc\n");
    ++failures;
    return;
  }
  const size_t rowStart[3] = {0, 3, 8};
  const size_t placed[3] = {9, 0, 4};  // request k's rows start at row placed[k] of the device copy
  for (int k = 0; k < 3; ++k) {
    rt.memcpy(device + inputBase + placed[k] * in * 4, input0.data() + rowStart[k] * in, requestRows[k] * in * 4, kMemcpyHostToDevice);
  }
  BatchInput gathered, fromHost;
  for (int k = 0; k < 3; ++k) gathered.spans.push_back({device + inputBase + placed[k] * in * 4, requestRows[k] * in * 4});
  fromHost.host = input1.data();
  std::vector<float> hostOutput0(rows * out, NAN), hostOutput1(rows * in, NAN);
  BatchOutput scattered, hostOnly;
  scattered.host = hostOutput0.data();
  for (int k = 0; k < 3; ++k) scattered.scatter.push_back({rowStart[k], requestRows[k], device + outputBase + placed[k] * out * 4});
  hostOnly.host = hostOutput1.data();
  if (!executor->runBatch(rows, {gathered, fromHost}, {scattered, hostOnly}, error)) {
    std::printf("FAIL batch %s: %s\n", name(precision), error.c_str());
    ++failures;
    rt.free(device);
    return;
  }
  const auto expected = reference(plan, rows, {input0, input1});
  compare("batch: output 0 copied to the host", precision, hostOutput0, expected[0]);
  compare("batch: output 1 (host only)", precision, hostOutput1, expected[1]);
  std::vector<float> scatteredBack(rows * out, NAN);
  for (int k = 0; k < 3; ++k) {
    rt.memcpy(scatteredBack.data() + rowStart[k] * out, device + outputBase + placed[k] * out * 4, requestRows[k] * out * 4, kMemcpyDeviceToHost);
  }
  compare("batch: output 0 scattered on the device to each request's place", precision, scatteredBack, expected[0]);

  BatchInput short0 = gathered;
  short0.spans.back().bytes -= 4;
  bool ran = executor->runBatch(rows, {short0, fromHost}, {scattered, hostOnly}, error);
  expectRefused("spans 4 bytes short of the batch", ran, error, "input 0: device spans hold 1532 bytes, the batch of 12 rows needs 1536");
  BatchOutput past = scattered;
  past.scatter.push_back({10, 3, device + outputBase});
  ran = executor->runBatch(rows, {gathered, fromHost}, {past, hostOnly}, error);
  expectRefused("a scatter past the batch", ran, error, "output 0: rows [10, 13) to scatter are not rows of the batch of 12");
  rt.free(device);
}

/** Reads the weights bench/cuda/pytorch-mlp-bench.py wrote: per layer, int32 out, int32 in, out×in floats, out floats. */
bool readWeights(const std::string& path, std::vector<Weight>& weights) {
  std::ifstream file(path, std::ios::binary);
  for (int layer = 0; layer < 3 && file; ++layer) {
    int32_t out = 0, in = 0;
    file.read(reinterpret_cast<char*>(&out), 4);
    file.read(reinterpret_cast<char*>(&in), 4);
    Weight w{std::vector<float>(size_t(out) * in), uint32_t(out), uint32_t(in)};
    Weight b{std::vector<float>(out), 1, uint32_t(out)};
    file.read(reinterpret_cast<char*>(w.values.data()), w.values.size() * 4);
    file.read(reinterpret_cast<char*>(b.values.data()), b.values.size() * 4);
    weights.push_back(std::move(w));
    weights.push_back(std::move(b));
  }
  return file.good() && weights.size() == 6;
}

int bench(const KernelLibrary& kernels, const std::string& weightsPath) {
  std::vector<Weight> weights;
  if (!readWeights(weightsPath, weights)) {
    std::printf("cannot read %s\n", weightsPath.c_str());
    return 1;
  }
  std::string error;
  auto executor = DenseExecutor::create(mlpPlan(Precision::FP16, weights), 0, kernels, error);
  if (!executor) {
    std::printf("FAIL: %s\n", error.c_str());
    return 1;
  }
  std::mt19937 gen(7);
  for (size_t rows : {size_t(1), size_t(64), size_t(256), size_t(1024)}) {
    std::vector<float> input = randomValues(rows * 256, gen, 1.0f), output(rows * 16);
    const float* in = input.data();
    float* out = output.data();
    for (int i = 0; i < 20; ++i) executor->run(rows, {in}, {out}, error);
    const int iterations = rows >= 1024 ? 300 : 1000;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) {
      if (!executor->run(rows, {in}, {out}, error)) {
        std::printf("FAIL: %s\n", error.c_str());
        return 1;
      }
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / iterations;
    std::printf("{\"impl\": \"nereid-cuda\", \"batch\": %zu, \"us_per_batch\": %.2f, \"rows_per_s\": %.0f}\n", rows, us, rows * 1e6 / us);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::printf("usage: %s KERNELS.fatbin [--bench WEIGHTS.bin]\n", argv[0]);
    return 2;
  }
  const DeviceProbe& probe = probeDevices();
  if (probe.devices.empty()) {
    std::printf("no CUDA device: %s\n", probe.reason.c_str());
    return 3;
  }
  for (const DeviceInfo& d : probe.devices) {
    std::printf("device %d: %s %s, %.1f GiB, compute capability %d.%d, %d SMs, runtime %d, driver %d\n", d.index, d.name.c_str(), d.uuid.c_str(),
                d.totalMemoryBytes / 1073741824.0, d.computeCapabilityMajor, d.computeCapabilityMinor, d.multiProcessorCount, probe.runtimeVersion,
                probe.driverVersion);
    const NvmlReading reading = readNvml(d.uuid);
    if (reading.error.empty()) {
      std::printf("  NVML: utilization %.2f, memory %llu / %llu bytes, power %.1f W of %.1f W, energy %.1f J\n", reading.utilization,
                  (unsigned long long)reading.memoryUsedBytes, (unsigned long long)reading.memoryTotalBytes, reading.powerUsageWatts,
                  reading.powerLimitWatts, reading.energyJoules);
    } else {
      std::printf("  NVML: %s\n", reading.error.c_str());
    }
  }
  std::string error;
  const KernelLibrary* kernels = KernelLibrary::load(argv[1], error);
  if (!kernels) {
    std::printf("FAIL: %s\n", error.c_str());
    return 1;
  }
  if (argc >= 4 && std::string(argv[2]) == "--bench") return bench(*kernels, argv[3]);
  std::mt19937 gen(1234);
  for (Precision p : {Precision::FP32, Precision::FP16, Precision::BF16}) {
    check("mlp", mlpPlan(p, randomMlpWeights(gen)), *kernels, gen);
    check("branchy", branchyPlan(p, gen), *kernels, gen);
    checkBatch(p, *kernels, gen);
  }
  std::printf("%s: %d failure(s)\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}
