/**
 * What the data plane does with an answer before a frontend encodes it, for outputs
 * whose request asked for more than their values: `classification` (the top N
 * classes as BYTES) and `shared_memory_region` (the values written into the
 * client's region). Both frontends go through it, so HTTP and gRPC behave alike.
 */
import {
  datatypeFromConfig,
  InferenceError,
  tensorDataToBytes,
  type InferenceRequest,
  type InferenceResponse,
} from '../core/index.js';
import type { ModelConfig, OutputLabels } from '../repository/index.js';
import { classify, isClassifiable, unclassifiable } from './classification.js';
import { sharedMemoryReference, type SharedMemoryManager, type SharedMemoryOutput } from './shared-memory/index.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

export class OutputDelivery {
  private constructor(
    private readonly classifications: ReadonlyMap<string, number>,
    /** The outputs that go to shared memory (read by device-path.ts for the cuda backend's device path). */
    readonly sharedMemory: ReadonlyMap<string, SharedMemoryOutput>,
    private readonly batched: boolean,
    private readonly labels: OutputLabels,
  ) {}

  /**
   * Checks the requested outputs' parameters before the model runs, so that a bad
   * classification count or shared-memory reference fails at once. Undefined when no
   * output asks for either, which is the common case and costs nothing later.
   */
  static prepare(request: InferenceRequest, config: ModelConfig, labels: OutputLabels, manager: SharedMemoryManager): OutputDelivery | undefined {
    let classifications: Map<string, number> | undefined;
    let sharedMemory: Map<string, SharedMemoryOutput> | undefined;
    for (const output of request.outputs ?? []) {
      const parameters = output.parameters;
      if (!parameters) continue;
      const label = `output '${output.name}'`;
      const reference = sharedMemoryReference(parameters, label);
      const count = parameters['classification'];
      if (count !== undefined) {
        if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
          throw invalid(`${label}: parameter 'classification' must be a non-negative integer (the number of classes), got ${JSON.stringify(count)}`);
        }
        if (reference) throw invalid(`${label}: Output can't set both 'shared_memory_region' and 'classification'`);
        const spec = config.output.find((o) => o.name === output.name);
        const datatype = spec && datatypeFromConfig(spec.data_type);
        if (datatype && !isClassifiable(datatype)) throw unclassifiable(output.name, datatype);
        // As in Triton, 0 classes means no classification.
        if (count > 0) (classifications ??= new Map()).set(output.name, count);
      }
      if (reference) (sharedMemory ??= new Map()).set(output.name, manager.outputTarget(label, reference));
    }
    if (!classifications && !sharedMemory) return undefined;
    return new OutputDelivery(classifications ?? new Map(), sharedMemory ?? new Map(), config.max_batch_size > 0, labels);
  }

  apply(response: InferenceResponse): InferenceResponse {
    const outputs = response.outputs.map((output) => {
      const count = this.classifications.get(output.name);
      return count === undefined ? output : classify(output, count, this.batched, this.labels.get(output.name));
    });
    for (const output of outputs) this.sharedMemory.get(output.name)?.write(tensorDataToBytes(output.datatype, output.data));
    return { ...response, outputs };
  }
}
