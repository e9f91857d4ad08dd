import { createHash } from 'node:crypto';
import { copyTensorData, isPackedBytes, tensorDataToBytes, type InferenceRequest, type InferenceResponse, type Tensor } from '../core/index.js';

/**
 * Triton's local response cache (`--cache-config local,size=BYTES`): answers of
 * models with `response_cache { enable: true }`, keyed by what determines them,
 * evicted least recently used first so that the stored bytes stay within the size.
 */

/** Request parameters that only steer scheduling or encoding, so two requests differing in them get the same outputs. */
const NON_RESULT_PARAMETERS = new Set(['priority', 'timeout', 'binary_data_output', 'triton_enable_empty_final_response']);

/** Per entry, what a Map entry, its key and the response object cost beyond the tensor bytes. */
const ENTRY_OVERHEAD_BYTES = 256;

interface Entry {
  scope: string;
  response: InferenceResponse;
  bytes: number;
}

export class ResponseCache {
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();
  private used = 0;

  constructor(readonly sizeBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  get entryCount(): number {
    return this.entries.size;
  }

  /** The key of `request` for the model load identified by `scope`. */
  static key(scope: string, request: InferenceRequest): string {
    const hash = createHash('sha256');
    hash.update(scope).update('\0');
    const inputs = [...request.inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const input of inputs) {
      const bytes = tensorDataToBytes(input.datatype, input.data);
      hash.update(`${input.name}\0${input.datatype}\0${input.shape.join(',')}\0${bytes.byteLength}\0`).update(bytes);
    }
    const outputs = (request.outputs ?? []).map((output) => output.name).sort();
    hash.update(`outputs\0${outputs.join('\0')}\0`);
    const parameters = Object.entries(request.parameters ?? {})
      .filter(([name]) => !NON_RESULT_PARAMETERS.has(name))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    hash.update(JSON.stringify(parameters));
    return `${scope}\0${hash.digest('base64')}`;
  }

  lookup(key: string): InferenceResponse | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.response;
  }

  /**
   * Stores a copy of `response`'s outputs: the original may be a view on a batch
   * buffer that is reused. An answer larger than the whole cache is not stored.
   */
  insert(key: string, scope: string, response: InferenceResponse): void {
    const outputs = response.outputs.map(copyTensor);
    let bytes = ENTRY_OVERHEAD_BYTES + key.length;
    for (const output of outputs) bytes += tensorBytes(output);
    if (bytes > this.sizeBytes) return;
    this.remove(key);
    while (this.used + bytes > this.sizeBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest);
    }
    this.entries.set(key, { scope, response: { ...response, id: undefined, outputs }, bytes });
    this.used += bytes;
  }

  /** Drops every entry of a model load: a (re)loaded model may answer differently. */
  invalidate(scope: string): void {
    for (const [key, entry] of this.entries) if (entry.scope === scope) this.remove(key);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.used -= entry.bytes;
  }
}

function copyTensor(tensor: Tensor): Tensor {
  return { ...tensor, shape: [...tensor.shape], data: copyTensorData(tensor.data) };
}

function tensorBytes(tensor: Tensor): number {
  return isPackedBytes(tensor.data) ? tensor.data.bytes.byteLength : tensor.data.byteLength;
}
