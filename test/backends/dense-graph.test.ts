/**
 * The cuda backend's graph handling, on any machine: ONNX dense graphs compiled into
 * plans (fused epilogues, renames, refusals that name what is wrong) and the CPU
 * reference run against onnxruntime on the same model files, per precision.
 *
 * Tolerances against onnxruntime's FP32 result, as a fraction of the largest |output|:
 * FP32 1e-5, FP16 5e-3, BF16 4e-2 (measured on mlp: 4e-7, 6e-4, 6e-3).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compileDenseGraph } from '../../src/backends/cuda/dense-graph.js';
import type { Precision } from '../../src/backends/cuda/dense-plan.js';
import { DenseReference } from '../../src/backends/cuda/dense-reference.js';
import { readOnnxModel } from '../../src/backends/cuda/onnx-model.js';
import { EXAMPLE_REPOSITORY } from '../helpers/test-server.js';
import { onnxBytes, pseudoRandom, type BuiltGraph } from '../helpers/onnx-builder.js';

const TOLERANCE: Readonly<Record<Precision, number>> = { FP32: 1e-5, FP16: 5e-3, BF16: 4e-2 };
const MLP = join(EXAMPLE_REPOSITORY, 'mlp', '1', 'model.onnx');

const dir = mkdtempSync(join(tmpdir(), 'nereid-dense-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let written = 0;
function write(graph: BuiltGraph): string {
  const path = join(dir, `model-${written++}.onnx`);
  writeFileSync(path, onnxBytes(graph));
  return path;
}

async function onnxruntime(path: string, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(path);
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('float32', t.data, t.dims)]));
    const results = await session.run(inputs);
    return session.outputNames.map((name) => results[name].data as Float32Array);
  } finally {
    await session.release();
  }
}

function expectClose(actual: Float32Array, expected: Float32Array, tolerance: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  const scale = Math.max(...Array.from(expected, Math.abs), 1e-6);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst / scale, `${label}: largest error ${worst} against max |expected| ${scale}`).toBeLessThanOrEqual(tolerance);
}

/** Features 6 → [2, 3] → Flatten → MatMul 6×5 + bias → Sigmoid; Tanh branch; Add of the branches; Gemm with alpha, beta and a scalar C; Identity; Softmax. */
function branchyGraph(): BuiltGraph {
  return {
    inputs: [{ name: 'X', dims: ['batch', 2, 3] }],
    outputs: [
      { name: 'PROBS', dims: ['batch', 4] },
      { name: 'HIDDEN', dims: ['batch', 5] },
    ],
    nodes: [
      { op: 'Flatten', inputs: ['X'], outputs: ['flat'], ints: { axis: 1 } },
      { op: 'MatMul', inputs: ['flat', 'W1'], outputs: ['mm'] },
      { op: 'Add', inputs: ['B1', 'mm'], outputs: ['biased'] },
      { op: 'Sigmoid', inputs: ['biased'], outputs: ['sig'] },
      { op: 'Tanh', inputs: ['biased'], outputs: ['tanh'] },
      { op: 'Add', inputs: ['sig', 'tanh'], outputs: ['sum'] },
      { op: 'Identity', inputs: ['sum'], outputs: ['HIDDEN'] },
      { op: 'Reshape', inputs: ['sum', 'SHAPE'], outputs: ['reshaped'] },
      { op: 'Gemm', inputs: ['reshaped', 'W2', 'C2'], outputs: ['logits'], floats: { alpha: 0.5, beta: 2 } },
      { op: 'Relu', inputs: ['logits'], outputs: ['relu'] },
      { op: 'Softmax', inputs: ['relu'], outputs: ['PROBS'], ints: { axis: -1 } },
    ],
    floats: [
      { name: 'W1', dims: [6, 5], values: pseudoRandom(30, 1) },
      { name: 'B1', dims: [5], values: pseudoRandom(5, 2) },
      { name: 'W2', dims: [5, 4], values: pseudoRandom(20, 3, 2) },
      { name: 'C2', dims: [], values: Float32Array.of(0.25) },
    ],
    int64s: [{ name: 'SHAPE', values: [-1, 5] }],
  };
}

describe('compiling dense ONNX graphs', () => {
  it('turns the bundled mlp into three cuBLASLt calls with bias and Relu fused', () => {
    const plan = compileDenseGraph(readOnnxModel(MLP), 'FP16');
    expect(plan.precision).toBe('FP16');
    expect(plan.steps.map((s) => (s.op === 'MatMul' ? [s.op, s.transposeWeight, s.bias >= 0, s.relu] : [s.op]))).toEqual([
      ['MatMul', true, true, true],
      ['MatMul', true, true, true],
      ['MatMul', true, true, false],
    ]);
    expect(plan.weights.map((w) => [w.rows, w.cols])).toEqual([
      [1024, 256],
      [1, 1024],
      [1024, 1024],
      [1, 1024],
      [16, 1024],
      [1, 16],
    ]);
    expect([plan.widths[plan.inputs[0]], plan.widths[plan.outputs[0]]]).toEqual([256, 16]);
  });

  it('keeps a value that another node reads out of a fused epilogue', () => {
    const plan = compileDenseGraph(readOnnxModel(write(branchyGraph())), 'FP32');
    // MatMul+Add fuse (the product is read once); the biased value feeds two nodes, so nothing fuses past it.
    expect(plan.steps.map((s) => s.op)).toEqual(['MatMul', 'Sigmoid', 'Tanh', 'Add', 'MatMul', 'Softmax']);
    const gemm = plan.steps[4];
    expect(gemm).toMatchObject({ op: 'MatMul', alpha: 0.5, relu: true, transposeWeight: false });
    expect(Array.from(plan.weights[(gemm as { bias: number }).bias].values)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('refuses a model with other operators, listing every one of them', () => {
    const path = write({
      inputs: [{ name: 'X', dims: ['batch', 4] }],
      outputs: [{ name: 'Y', dims: ['batch', 4] }],
      nodes: [
        { op: 'Mul', inputs: ['X', 'X'], outputs: ['a'] },
        { op: 'Relu', inputs: ['a'], outputs: ['b'] },
        { op: 'Conv', inputs: ['b', 'W'], outputs: ['c'] },
        { op: 'Mul', inputs: ['c', 'c'], outputs: ['d'] },
        { op: 'FusedMatMul', inputs: ['d', 'W'], outputs: ['Y'], domain: 'com.microsoft' },
      ],
    });
    expect(() => compileDenseGraph(readOnnxModel(path), 'FP32')).toThrow(
      'the model uses operators the cuda backend does not support: Mul, Conv, com.microsoft.FusedMatMul (it runs MatMul, Gemm, Add, Relu, Sigmoid, Tanh, Softmax, Identity, Reshape, Flatten)',
    );
  });

  it('refuses supported operators used in ways it cannot run, naming the node', () => {
    const refused = (graph: Partial<BuiltGraph>, message: string) => {
      const base: BuiltGraph = { inputs: [{ name: 'X', dims: ['batch', 4] }], outputs: [{ name: 'Y', dims: ['batch', 4] }], nodes: [] };
      expect(() => compileDenseGraph(readOnnxModel(write({ ...base, ...graph })), 'FP32')).toThrow(message);
    };
    const w = [{ name: 'W', dims: [4, 4], values: pseudoRandom(16, 4) }];
    refused({ nodes: [{ op: 'Gemm', inputs: ['X', 'W'], outputs: ['Y'], ints: { transA: 1 } }], floats: w }, "node 'gemm_0' (Gemm): transA=1 would transpose the batch dimension");
    refused({ nodes: [{ op: 'MatMul', inputs: ['X', 'V'], outputs: ['Y'] }] }, "node 'matmul_0' (MatMul): 'V' must be a FLOAT or FLOAT16 initializer");
    refused({ nodes: [{ op: 'Flatten', inputs: ['X'], outputs: ['Y'], ints: { axis: 0 } }] }, "node 'flatten_0' (Flatten): axis 0 would mix the batch dimension");
    refused({ nodes: [{ op: 'Reshape', inputs: ['X', 'S'], outputs: ['Y'] }], int64s: [{ name: 'S', values: [2, 2] }] }, "node 'reshape_0' (Reshape): shape [2, 2] must keep the batch dimension");
    refused({ nodes: [{ op: 'Add', inputs: ['X', 'B'], outputs: ['Y'] }], floats: [{ name: 'B', dims: [3], values: pseudoRandom(3, 5) }] }, "node 'add_0' (Add): 'B' of shape [3] is not a bias of 4 values");
    refused({ inputs: [{ name: 'X', dims: ['batch', 4], elemType: 10 }], nodes: [{ op: 'Relu', inputs: ['X'], outputs: ['Y'] }] }, "input 'X' is FLOAT16: the cuda backend takes FLOAT inputs and outputs");
    refused({ nodes: [{ op: 'Relu', inputs: ['Z'], outputs: ['Y'] }] }, "node 'relu_0' (Relu): input 'Z' is not produced by any earlier node");
    refused({ nodes: [{ op: 'Relu', inputs: ['X'], outputs: ['Q'] }] }, "output 'Y' is not produced by any node");
  });
});

describe('the CPU reference against onnxruntime', () => {
  const rows = 24;
  const input = pseudoRandom(rows * 256, 7, 2);

  for (const precision of ['FP32', 'FP16', 'BF16'] as const) {
    it(`runs mlp in ${precision} within ${TOLERANCE[precision]} of onnxruntime`, async () => {
      const [expected] = await onnxruntime(MLP, { INPUT0: { data: input, dims: [rows, 256] } });
      const [actual] = new DenseReference(compileDenseGraph(readOnnxModel(MLP), precision)).run(rows, [input]);
      expectClose(actual, expected, TOLERANCE[precision], `mlp ${precision}`);
    });
  }

  it('runs every supported operator as onnxruntime does', async () => {
    const path = write(branchyGraph());
    const x = pseudoRandom(rows * 6, 11, 3);
    const [probs, hidden] = await onnxruntime(path, { X: { data: x, dims: [rows, 2, 3] } });
    const [actualProbs, actualHidden] = new DenseReference(compileDenseGraph(readOnnxModel(path), 'FP32')).run(rows, [x]);
    expectClose(actualProbs, probs, TOLERANCE.FP32, 'PROBS');
    expectClose(actualHidden, hidden, TOLERANCE.FP32, 'HIDDEN');
  });

  it('refuses inputs of the wrong size', () => {
    const reference = new DenseReference(compileDenseGraph(readOnnxModel(MLP), 'FP32'));
    expect(() => reference.run(2, [new Float32Array(511)])).toThrow('input 0: expected 512 values, got 511');
  });
});
