#include "dense-plan.h"

namespace nereid::cuda {

std::string validatePlan(const Plan& plan) {
  const int values = static_cast<int>(plan.widths.size());
  const int weights = static_cast<int>(plan.weights.size());
  auto value = [&](int index) { return index >= 0 && index < values; };
  auto weight = [&](int index) { return index >= 0 && index < weights; };
  for (int index : plan.inputs) {
    if (!value(index)) return "input value " + std::to_string(index) + " does not exist";
  }
  for (int index : plan.outputs) {
    if (!value(index)) return "output value " + std::to_string(index) + " does not exist";
  }
  for (const Weight& w : plan.weights) {
    if (w.values.size() != static_cast<size_t>(w.rows) * w.cols) return "a weight's values do not match its shape";
  }
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    const std::string where = "step " + std::to_string(i) + ": ";
    if (!value(s.input) || !value(s.output)) return where + "value index out of range";
    const uint32_t in = plan.widths[s.input];
    const uint32_t out = plan.widths[s.output];
    switch (s.kind) {
      case StepKind::MatMul: {
        if (!weight(s.weight)) return where + "weight index out of range";
        const Weight& w = plan.weights[s.weight];
        const uint32_t k = s.transposeWeight ? w.cols : w.rows;
        const uint32_t m = s.transposeWeight ? w.rows : w.cols;
        if (k != in || m != out) return where + "weight shape does not match the widths";
        if (s.bias >= 0 && (!weight(s.bias) || plan.weights[s.bias].values.size() != m)) return where + "bias does not match";
        break;
      }
      case StepKind::Add:
        if (!value(s.other) || plan.widths[s.other] != in || in != out) return where + "Add of values of different widths";
        break;
      case StepKind::AddBias:
        if (!weight(s.weight) || plan.weights[s.weight].values.size() != in || in != out) return where + "bias does not match";
        break;
      default:
        if (in != out) return where + "an elementwise step changes the width";
    }
  }
  return "";
}

}  // namespace nereid::cuda
