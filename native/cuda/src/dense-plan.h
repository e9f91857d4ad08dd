// A dense-layer graph as Nereid's CUDA backend runs it: the TypeScript side compiles an
// ONNX model (src/backends/cuda/dense-graph.ts) into this flat list of steps over
// row-major [rows, width] values; the batch dimension is the rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nereid::cuda {

enum class Precision { FP32, FP16, BF16 };

enum class StepKind { MatMul, Add, AddBias, Relu, Sigmoid, Tanh, Softmax };

struct Weight {
  std::vector<float> values;
  uint32_t rows = 0;
  uint32_t cols = 0;
};

struct Step {
  StepKind kind = StepKind::Relu;
  int input = -1;
  /** Add: the second value. */
  int other = -1;
  /** MatMul: the weight; AddBias: the bias vector. */
  int weight = -1;
  /** MatMul: a bias added by cuBLASLt's epilogue, or -1. */
  int bias = -1;
  /** MatMul: the weight is stored [out, in] (ONNX Gemm transB=1, PyTorch's layout). */
  bool transposeWeight = false;
  /** MatMul: Relu applied by the epilogue. */
  bool relu = false;
  float alpha = 1.0f;
  int output = -1;
};

struct Plan {
  Precision precision = Precision::FP32;
  /** Width (values per row) of every value. */
  std::vector<uint32_t> widths;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::vector<Weight> weights;
  std::vector<Step> steps;
};

/** Why the plan is malformed (indices out of range, widths that do not fit), or empty. */
std::string validatePlan(const Plan& plan);

}  // namespace nereid::cuda
