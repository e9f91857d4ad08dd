/** Scratch JavaScript models for scheduler tests, built on test/fixtures/batch-recorder/model.js. */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningServer } from '../../src/server/index.js';
import { postJson } from './test-server.js';

export const BATCH_RECORDER = fileURLToPath(new URL('../fixtures/batch-recorder/model.js', import.meta.url));

/**
 * The batch recorder's config: INT32 INPUT0 of any length, and its report outputs.
 * `extra` is appended (dynamic_batching, instance_group, …).
 */
export function recorderConfig(extra: string, maxBatchSize = 8): string {
  return `backend: "javascript"
max_batch_size: ${maxBatchSize}
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ -1 ] }]
output [
  { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ -1 ] },
  { name: "BATCH_ROWS", data_type: TYPE_INT32, dims: [ 1 ] },
  { name: "EXECUTION", data_type: TYPE_INT32, dims: [ 1 ] },
  { name: "INSTANCE", data_type: TYPE_STRING, dims: [ 1 ] }
]
${extra}
`;
}

/** Writes `root/<name>/config.pbtxt` and `root/<name>/1/<fileName>` with the given module source (the batch recorder by default). */
export function addJavaScriptModel(root: string, name: string, config: string, options: { source?: string; fileName?: string } = {}): void {
  const versionDir = join(root, name, '1');
  mkdirSync(versionDir, { recursive: true });
  writeFileSync(join(root, name, 'config.pbtxt'), config);
  const target = join(versionDir, options.fileName ?? 'model.js');
  if (options.source !== undefined) writeFileSync(target, options.source);
  else copyFileSync(BATCH_RECORDER, target);
}

/** Polls `condition` every few milliseconds until it holds (or fails the test after `timeoutMs`). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Holds an instance of the batch recorder: a request carrying the gate's path keeps
 * its instance busy until open() creates the file, so that later requests queue up
 * in a known order before any batch is formed.
 */
export class Gate {
  private static next = 0;
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, `gate-${process.pid}-${Gate.next++}`);
  }

  /** Resolves once the model is executing the gated request. */
  started(): Promise<void> {
    return waitFor(() => existsSync(`${this.path}.started`), `gate ${this.path} to be reached`);
  }

  open(): void {
    writeFileSync(this.path, '');
  }
}

export interface RecordedAnswer {
  status: number;
  /** The error text, for a failed request. */
  error?: string;
  output: number[];
  batchRows: number;
  execution: number;
  instance: string;
}

/** Sends INT32 `values` (shape [rows, values.length / rows]) to a batch-recorder model over HTTP. */
export async function record(url: string, model: string, values: number[], rows = 1, parameters?: Record<string, string | number | boolean>): Promise<RecordedAnswer> {
  const body: Record<string, unknown> = {
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [rows, values.length / rows], data: values }],
  };
  if (parameters) body.parameters = parameters;
  const { status, json } = await postJson(`${url}/v2/models/${model}/infer`, body);
  if (status !== 200) return { status, error: json.error, output: [], batchRows: 0, execution: 0, instance: '' };
  const out = (name: string) => json.outputs.find((o: { name: string }) => o.name === name).data;
  return { status, output: out('OUTPUT0'), batchRows: out('BATCH_ROWS')[0], execution: out('EXECUTION')[0], instance: out('INSTANCE')[0] };
}

/** Requests accepted by a model's scheduler and not yet answered. */
export function pending(server: RunningServer, model: string): number {
  return server.registry.resolve(model).requestScheduler.pendingCount;
}

/** A JavaScript model that echoes INPUT0 (INT32 [2]) and reports the request parameters it saw as JSON in PARAMETERS. */
export const PARAMETER_ECHO_SOURCE = `export function execute(requests) {
  return requests.map(({ inputs, parameters }) => ({
    outputs: { OUTPUT0: inputs.INPUT0, PARAMETERS: { shape: [1], data: [JSON.stringify(parameters)] } },
  }));
}
`;

export const PARAMETER_ECHO_CONFIG = `backend: "javascript"
max_batch_size: 0
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ 2 ] }]
output [
  { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 2 ] },
  { name: "PARAMETERS", data_type: TYPE_STRING, dims: [ 1 ] }
]
`;
