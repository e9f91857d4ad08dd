/**
 * Compiles an ONNX model made of dense layers into a DensePlan. Every value is a
 * [batch, …] tensor whose per-row part is flattened to a width; Identity, Flatten and
 * Reshape of the per-row part only rename a value. A MatMul or Gemm followed by the
 * Add of its bias and by Relu becomes one cuBLASLt call with a fused epilogue.
 */
import type { DensePlan, DenseStep, DenseWeight, Precision } from './dense-plan.js';
import { ONNX_FLOAT, ONNX_TYPE_NAMES, type OnnxAttribute, type OnnxModel, type OnnxNode } from './onnx-model.js';

export const SUPPORTED_OPS = ['MatMul', 'Gemm', 'Add', 'Relu', 'Sigmoid', 'Tanh', 'Softmax', 'Identity', 'Reshape', 'Flatten'] as const;

interface Value {
  slot: number;
  /** The per-row shape (without the batch dimension). */
  shape: number[];
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const attribute = (node: OnnxNode, name: string): OnnxAttribute | undefined => node.attributes.find((a) => a.name === name);
const intAttribute = (node: OnnxNode, name: string, fallback: number) => attribute(node, name)?.i ?? fallback;
const floatAttribute = (node: OnnxNode, name: string, fallback: number) => attribute(node, name)?.f ?? fallback;

/** Throws naming the model's operators the backend does not run, every one of them. */
export function checkOperators(model: OnnxModel): void {
  const unsupported = [...new Set(model.nodes.filter((n) => !(SUPPORTED_OPS as readonly string[]).includes(n.opType) || (n.domain !== '' && n.domain !== 'ai.onnx')).map((n) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType)))];
  if (unsupported.length > 0) {
    throw new Error(`the model uses operators the cuda backend does not support: ${unsupported.join(', ')} (it runs ${SUPPORTED_OPS.join(', ')})`);
  }
}

export function compileDenseGraph(model: OnnxModel, precision: Precision): DensePlan {
  checkOperators(model);
  const widths: number[] = [];
  const weights: DenseWeight[] = [];
  const steps: DenseStep[] = [];
  const values = new Map<string, Value>();
  const newValue = (name: string, shape: number[]): Value => {
    const value = { slot: widths.length, shape };
    widths.push(product(shape));
    values.set(name, value);
    return value;
  };

  for (const input of model.inputs) {
    if (input.elemType !== ONNX_FLOAT) throw new Error(`input '${input.name}' is ${ONNX_TYPE_NAMES[input.elemType] ?? input.elemType}: the cuda backend takes FLOAT inputs and outputs`);
    if (input.dims.length < 2) throw new Error(`input '${input.name}' has rank ${input.dims.length}: the cuda backend needs a batch dimension and at least one more`);
    const perRow = input.dims.slice(1);
    if (perRow.some((d) => d < 0)) throw new Error(`input '${input.name}' has a dimension of unknown size after the batch dimension ([${input.dims.join(', ')}])`);
    newValue(input.name, perRow);
  }

  const where = (node: OnnxNode) => `node '${node.name}' (${node.opType})`;
  const valueOf = (node: OnnxNode, name: string): Value => {
    const value = values.get(name);
    if (!value) {
      if (model.initializers.has(name)) throw new Error(`${where(node)}: '${name}' is a constant where the cuda backend needs a batched value`);
      throw new Error(`${where(node)}: input '${name}' is not produced by any earlier node`);
    }
    return value;
  };
  const floats = (node: OnnxNode, name: string): { dims: number[]; values: Float32Array } => {
    const init = model.initializers.get(name);
    if (!init || !(init.values instanceof Float32Array)) {
      throw new Error(`${where(node)}: '${name}' must be a FLOAT or FLOAT16 initializer`);
    }
    return { dims: init.dims, values: init.values };
  };
  const addWeight = (values: Float32Array, rows: number, cols: number): number => {
    weights.push({ values, rows, cols });
    return weights.length - 1;
  };
  const alias = (node: OnnxNode, source: Value, shape: number[]) => {
    if (product(shape) !== product(source.shape)) throw new Error(`${where(node)}: a per-row shape of ${product(source.shape)} values cannot become [${shape.join(', ')}]`);
    values.set(node.outputs[0], { slot: source.slot, shape });
  };
  /** A bias of `width` values from a scalar, [width] or [1, width] initializer. */
  const biasOf = (node: OnnxNode, name: string, width: number, scale: number): Float32Array => {
    const { dims, values: data } = floats(node, name);
    const size = product(dims);
    if (size === 1) return new Float32Array(width).fill(data[0] * scale);
    if (size !== width || dims.some((d, k) => k < dims.length - 1 && d !== 1)) {
      throw new Error(`${where(node)}: '${name}' of shape [${dims.join(', ')}] is not a bias of ${width} values`);
    }
    return scale === 1 ? data : data.map((v) => v * scale);
  };

  for (const node of model.nodes) {
    const out = node.outputs[0];
    switch (node.opType) {
      case 'Identity':
        alias(node, valueOf(node, node.inputs[0]), valueOf(node, node.inputs[0]).shape);
        break;
      case 'Flatten': {
        const axis = intAttribute(node, 'axis', 1);
        if (axis !== 1) throw new Error(`${where(node)}: axis ${axis} would mix the batch dimension; the cuda backend flattens with axis 1 only`);
        const source = valueOf(node, node.inputs[0]);
        alias(node, source, [product(source.shape)]);
        break;
      }
      case 'Reshape': {
        const source = valueOf(node, node.inputs[0]);
        const target = model.initializers.get(node.inputs[1]);
        if (!target || !Array.isArray(target.values)) throw new Error(`${where(node)}: the shape must be an INT64 initializer`);
        const [batch, ...rest] = target.values;
        if (batch !== 0 && batch !== -1) throw new Error(`${where(node)}: shape [${target.values.join(', ')}] must keep the batch dimension (0 or -1 first)`);
        if (rest.filter((d) => d === -1).length > 1 || (batch === -1 && rest.includes(-1))) throw new Error(`${where(node)}: shape [${target.values.join(', ')}] has more than one -1`);
        const resolved = rest.map((d, k) => (d === 0 ? source.shape[k] : d));
        const known = product(resolved.filter((d) => d !== -1));
        alias(node, source, resolved.map((d) => (d === -1 ? product(source.shape) / known : d)));
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const input = valueOf(node, node.inputs[0]);
        if (input.shape.length !== 1) throw new Error(`${where(node)}: input of per-row shape [${input.shape.join(', ')}] is not [batch, features]; Flatten it first`);
        if (node.opType === 'Gemm' && intAttribute(node, 'transA', 0) !== 0) throw new Error(`${where(node)}: transA=1 would transpose the batch dimension`);
        const { dims, values: w } = floats(node, node.inputs[1]);
        if (dims.length !== 2) throw new Error(`${where(node)}: the weight '${node.inputs[1]}' must be 2-D, is [${dims.join(', ')}]`);
        const transposeWeight = node.opType === 'Gemm' && intAttribute(node, 'transB', 0) === 1;
        const [k, m] = transposeWeight ? [dims[1], dims[0]] : dims;
        if (k !== input.shape[0]) throw new Error(`${where(node)}: the weight '${node.inputs[1]}' [${dims.join(', ')}] does not take ${input.shape[0]} features`);
        const weight = addWeight(w, dims[0], dims[1]);
        const bias = node.opType === 'Gemm' && node.inputs[2] ? addWeight(biasOf(node, node.inputs[2], m, floatAttribute(node, 'beta', 1)), 1, m) : -1;
        const output = newValue(out, [m]);
        steps.push({ op: 'MatMul', input: input.slot, weight, transposeWeight, alpha: floatAttribute(node, 'alpha', 1), bias, relu: false, output: output.slot });
        break;
      }
      case 'Add': {
        const [a, b] = node.inputs;
        const constantA = model.initializers.has(a);
        const constantB = model.initializers.has(b);
        if (constantA && constantB) throw new Error(`${where(node)}: both operands are constants`);
        if (constantA || constantB) {
          const input = valueOf(node, constantA ? b : a);
          const bias = addWeight(biasOf(node, constantA ? a : b, product(input.shape), 1), 1, product(input.shape));
          const output = newValue(out, input.shape);
          steps.push({ op: 'AddBias', input: input.slot, weight: bias, output: output.slot });
        } else {
          const left = valueOf(node, a);
          const right = valueOf(node, b);
          if (product(left.shape) !== product(right.shape)) throw new Error(`${where(node)}: operands of per-row shapes [${left.shape.join(', ')}] and [${right.shape.join(', ')}] differ`);
          const output = newValue(out, left.shape);
          steps.push({ op: 'Add', input: left.slot, other: right.slot, output: output.slot });
        }
        break;
      }
      case 'Softmax': {
        const input = valueOf(node, node.inputs[0]);
        const rank = input.shape.length + 1;
        // Before opset 13 Softmax flattened from `axis` (default 1) on; from 13 it is one axis (default -1). For [batch, n] both mean the last axis.
        const axis = intAttribute(node, 'axis', model.opsetVersion >= 13 ? -1 : 1);
        const normalized = axis < 0 ? axis + rank : axis;
        const lastAxis = model.opsetVersion >= 13 ? normalized === rank - 1 : normalized === 1;
        if (!lastAxis || (model.opsetVersion >= 13 && input.shape.length !== 1)) {
          throw new Error(`${where(node)}: Softmax over axis ${axis} of a rank-${rank} tensor; the cuda backend normalizes each row of [batch, features]`);
        }
        const output = newValue(out, input.shape);
        steps.push({ op: 'Softmax', input: input.slot, output: output.slot });
        break;
      }
      default: {
        const input = valueOf(node, node.inputs[0]);
        const output = newValue(out, input.shape);
        steps.push({ op: node.opType as 'Relu' | 'Sigmoid' | 'Tanh', input: input.slot, output: output.slot });
      }
    }
  }

  const outputs = model.outputs.map((o) => {
    if (o.elemType !== ONNX_FLOAT) throw new Error(`output '${o.name}' is ${ONNX_TYPE_NAMES[o.elemType] ?? o.elemType}: the cuda backend takes FLOAT inputs and outputs`);
    const value = values.get(o.name);
    if (!value) throw new Error(`output '${o.name}' is not produced by any node`);
    return value.slot;
  });
  const plan: DensePlan = { precision, widths, inputs: model.inputs.map((i) => values.get(i.name)!.slot), outputs, weights, steps };
  return fuseEpilogues(plan);
}

/**
 * MatMul → AddBias → Relu chains become one MatMul with a bias and Relu epilogue, where
 * the intermediate values are read by nothing else and are not graph outputs.
 */
function fuseEpilogues(plan: DensePlan): DensePlan {
  const readers = (slot: number) =>
    plan.steps.filter((s) => s.input === slot || (s.op === 'Add' && s.other === slot)).length + plan.outputs.filter((o) => o === slot).length;
  const steps: DenseStep[] = [];
  for (const step of plan.steps) {
    const previous = steps[steps.length - 1];
    if (previous?.op === 'MatMul' && step.input === previous.output && readers(previous.output) === 1) {
      if (step.op === 'AddBias' && previous.bias < 0 && !previous.relu) {
        steps[steps.length - 1] = { ...previous, bias: step.weight, output: step.output };
        continue;
      }
      if (step.op === 'Relu' && !previous.relu) {
        steps[steps.length - 1] = { ...previous, relu: true, output: step.output };
        continue;
      }
    }
    steps.push(step);
  }
  return { ...plan, steps };
}
