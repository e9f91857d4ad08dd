/** Scratch ensembles for tests, built from test/fixtures/arithmetic/model.js steps. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ARITHMETIC = fileURLToPath(new URL('../fixtures/arithmetic/model.js', import.meta.url));

export interface ArithmeticOptions {
  /** `add_const:K`, `mul_const:K` or `add` (INPUT0 + INPUT1). */
  op: string;
  /** Elements per row of every tensor (FP32). */
  width?: number;
  maxBatchSize?: number;
  /**
   * Appended to the config (dynamic_batching, …); default: a dynamic batcher without a
   * delay, which batches whatever queued while the instance was busy, so that tests hold
   * the instance to make batches of a known size.
   */
  extra?: string;
}

/** `root/<name>`: an arithmetic step model (see the fixture) with FP32 INPUT0 [, INPUT1] and outputs OUTPUT0 and ROWS. */
export function addArithmeticModel(root: string, name: string, options: ArithmeticOptions): void {
  const width = options.width ?? 4;
  const inputs = options.op === 'add' ? ['INPUT0', 'INPUT1'] : ['INPUT0'];
  mkdirSync(join(root, name, '1'), { recursive: true });
  copyFileSync(ARITHMETIC, join(root, name, '1', 'model.js'));
  writeFileSync(
    join(root, name, 'config.pbtxt'),
    `backend: "javascript"
max_batch_size: ${options.maxBatchSize ?? 32}
input [${inputs.map((input) => `{ name: "${input}", data_type: TYPE_FP32, dims: [ ${width} ] }`).join(', ')}]
output [
  { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ ${width} ] },
  { name: "ROWS", data_type: TYPE_INT32, dims: [ 1 ] }
]
parameters { key: "op" value: { string_value: "${options.op}" } }
instance_group [{ count: 1, kind: KIND_CPU }]
${options.extra ?? 'dynamic_batching { }'}
`,
  );
}

export interface StepSpec {
  model: string;
  inputs: Record<string, string>;
  outputs: Record<string, string>;
  version?: number;
}

export interface TensorSpec {
  name: string;
  type?: string;
  dims?: number[];
}

/** `root/<name>`: an ensemble over `steps`, with an empty version folder as Triton requires. */
export function addEnsemble(root: string, name: string, spec: { inputs: TensorSpec[]; outputs: TensorSpec[]; steps: StepSpec[]; maxBatchSize?: number }): void {
  mkdirSync(join(root, name, '1'), { recursive: true });
  const tensor = (t: TensorSpec) => `{ name: "${t.name}", data_type: ${t.type ?? 'TYPE_FP32'}, dims: [ ${(t.dims ?? [4]).join(', ')} ] }`;
  const map = (field: string, entries: Record<string, string>) =>
    Object.entries(entries)
      .map(([key, value]) => `${field} { key: "${key}" value: "${value}" }`)
      .join(' ');
  const steps = spec.steps
    .map((s) => `    { model_name: "${s.model}" model_version: ${s.version ?? -1} ${map('input_map', s.inputs)} ${map('output_map', s.outputs)} }`)
    .join(',\n');
  writeFileSync(
    join(root, name, 'config.pbtxt'),
    `platform: "ensemble"
max_batch_size: ${spec.maxBatchSize ?? 32}
input [${spec.inputs.map(tensor).join(', ')}]
output [${spec.outputs.map(tensor).join(', ')}]
ensemble_scheduling {
  step [
${steps}
  ]
}
`,
  );
}

/** An FP32 request body for `inputs` (name → rows of values). */
export function fp32Request(inputs: Record<string, number[][]>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    inputs: Object.entries(inputs).map(([name, rows]) => ({ name, datatype: 'FP32', shape: [rows.length, rows[0].length], data: rows.flat() })),
    ...extra,
  };
}

/** The data of output `name` of an HTTP JSON answer. */
export function outputOf(json: { outputs: Array<{ name: string; data: unknown[] }> }, name: string): unknown[] {
  const output = json.outputs.find((o) => o.name === name);
  if (!output) throw new Error(`no output '${name}' in ${JSON.stringify(json)}`);
  return output.data;
}
