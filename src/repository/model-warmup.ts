/**
 * config.pbtxt `model_warmup`: sample requests each instance executes before the model
 * is READY (and before a restarted instance rejoins), so that the first real request
 * does not pay for lazy initialisation. A warmup that fails fails the load.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import type { ModelInstance } from '../backends/index.js';
import {
  allocateTensorData,
  bf16Bits,
  datatypeFromConfig,
  elementCount,
  fp16Bits,
  packBytes,
  tensorDataFromBytes,
  type Datatype,
  type NumericArray,
  type Tensor,
} from '../core/index.js';
import type { ModelConfig, ModelWarmupInput } from './model-config.js';

function randomFill(datatype: Datatype, data: NumericArray): void {
  switch (datatype) {
    case 'FP32':
    case 'FP64':
      for (let i = 0; i < data.length; i++) data[i] = Math.random();
      return;
    case 'FP16':
    case 'BF16': {
      const toBits = datatype === 'FP16' ? fp16Bits : bf16Bits;
      for (let i = 0; i < data.length; i++) data[i] = toBits(Math.random());
      return;
    }
    case 'BOOL':
      for (let i = 0; i < data.length; i++) data[i] = Math.random() < 0.5 ? 0 : 1;
      return;
    default:
      // Any bit pattern is a valid integer.
      randomFillSync(data);
  }
}

function warmupTensor(name: string, input: ModelWarmupInput, shape: number[], modelDir: string): Tensor {
  const datatype = datatypeFromConfig(input.data_type);
  if (!datatype) throw new Error(`input '${name}' has data_type ${input.data_type}, which cannot carry data`);
  if (input.input_data_file) {
    const path = join(modelDir, 'warmup', input.input_data_file);
    return { name, datatype, shape, data: tensorDataFromBytes(`input '${name}' (${path})`, datatype, shape, readFileSync(path)) };
  }
  const count = elementCount(shape);
  if (datatype === 'BYTES') {
    const data = input.random_data
      ? packBytes(Array.from({ length: count }, () => String(Math.floor(Math.random() * 1e6))))
      : allocateTensorData(datatype, count);
    return { name, datatype, shape, data };
  }
  const data = allocateTensorData(datatype, count) as NumericArray;
  if (input.random_data) randomFill(datatype, data);
  return { name, datatype, shape, data };
}

/** Runs every warmup sample `count` times (at least once) on one instance. */
export async function warmUp(instance: ModelInstance, config: ModelConfig, modelDir: string): Promise<void> {
  const outputNames = config.output.map((o) => o.name);
  for (const sample of config.model_warmup) {
    const rows = Math.max(1, sample.batch_size);
    for (let run = 0; run < Math.max(1, sample.count); run++) {
      try {
        const inputs = Object.entries(sample.inputs).map(([name, input]) =>
          warmupTensor(name, input, config.max_batch_size > 0 ? [rows, ...input.dims] : [...input.dims], modelDir),
        );
        const result = await instance.execute({ inputs, outputNames, requests: [{ rows, outputNames }] });
        if (result.kind === 'per-request') {
          const [outcome] = result.responses;
          if (outcome && 'error' in outcome) throw new Error(outcome.error);
        }
      } catch (err) {
        throw new Error(`warmup '${sample.name}' failed on instance ${instance.name}: ${(err as Error).message}`);
      }
    }
  }
}
