/**
 * Triton's system shared memory extension: regions of POSIX shared-memory objects
 * that clients register by name, and the tensors read from and written to them.
 *
 * Input values are copied out of a region while the request is decoded, so an input
 * never depends on the region afterwards. An output is written when the model has
 * answered; if its region was unregistered in between, that request fails with a
 * clear error and nothing is written (the mapping is already gone).
 */
import {
  byteSize as datatypeByteSize,
  elementCount,
  InferenceError,
  tensorDataFromBytes,
  typedArrayFor,
  type Datatype,
  type TensorData,
} from '../../core/index.js';
import { nativeAddon, type NativeError, type NativeSystemSharedMemory } from './native-addon.js';
import type { SharedMemoryReference } from './shared-memory-reference.js';

/** A region as the status endpoints describe it (Triton's field names). */
export interface SharedMemoryRegionStatus {
  name: string;
  key: string;
  offset: number;
  byte_size: number;
}

class Region {
  unregistered = false;

  constructor(
    readonly name: string,
    readonly key: string,
    readonly offset: number,
    readonly byteSize: number,
    readonly mapping: NativeSystemSharedMemory,
  ) {}
}

/** Where one output goes, checked when the request arrives and written when the answer is ready. */
export class SharedMemoryOutput {
  constructor(
    private readonly region: Region,
    private readonly reference: SharedMemoryReference,
    private readonly label: string,
  ) {}

  write(bytes: Uint8Array): void {
    const { region, reference, label } = this;
    if (region.unregistered) {
      throw new InferenceError(
        'INVALID_ARG',
        `${label}: shared memory region '${region.name}' was unregistered while the request was in flight; the output was not written`,
      );
    }
    if (bytes.byteLength > reference.byteSize) {
      throw new InferenceError(
        'INVALID_ARG',
        `shared memory size specified with the request for ${label} (${reference.byteSize} bytes) should be at least ${bytes.byteLength} bytes to hold the results`,
      );
    }
    access(label, region, () => region.mapping.write(reference.offset, bytes));
  }
}

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

/** Runs one native access, turning the addon's errors into request errors. */
function access(label: string, region: Region, run: () => void): void {
  try {
    run();
  } catch (err) {
    throw invalid(`${label}: shared memory region '${region.name}' (key '${region.key}'): ${(err as Error).message}`);
  }
}

export class SharedMemoryManager {
  private readonly regions = new Map<string, Region>();

  register(name: string, key: string, offset: number, byteSize: number): void {
    if (name === '') throw invalid(`'region name' is necessary to register system shared memory region`);
    if (this.regions.has(name)) throw new InferenceError('ALREADY_EXISTS', `shared memory region '${name}' already in manager`);
    const { SystemSharedMemory } = nativeAddon();
    let mapping: NativeSystemSharedMemory;
    try {
      mapping = new SystemSharedMemory(key, offset, byteSize);
    } catch (err) {
      const detail = (err as NativeError).code === 'ERR_OUT_OF_RANGE' ? `invalid args: ${(err as Error).message}` : (err as Error).message;
      throw invalid(`failed to register shared memory region '${name}': ${detail}`);
    }
    this.regions.set(name, new Region(name, key, offset, byteSize, mapping));
  }

  /** As Triton: unregistering a name that is not registered succeeds. */
  unregister(name: string): void {
    const region = this.regions.get(name);
    if (!region) return;
    this.regions.delete(name);
    region.unregistered = true;
    region.mapping.close();
  }

  unregisterAll(): void {
    for (const name of [...this.regions.keys()]) this.unregister(name);
  }

  /** Every region, or the one named (NOT_FOUND when it is not registered). */
  status(name?: string): SharedMemoryRegionStatus[] {
    const describe = (r: Region): SharedMemoryRegionStatus => ({ name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize });
    if (name === undefined || name === '') return [...this.regions.values()].map(describe);
    const region = this.regions.get(name);
    if (!region) throw new InferenceError('NOT_FOUND', `Unable to find system shared memory region: '${name}'`);
    return [describe(region)];
  }

  /** Copies an input's values out of its region into fresh storage. `label` names the input in errors. */
  readInput(label: string, datatype: Datatype, shape: readonly number[], reference: SharedMemoryReference): TensorData {
    const region = this.lookup(label, reference);
    if (datatype === 'BYTES') {
      const bytes = new Uint8Array(reference.byteSize);
      access(label, region, () => region.mapping.read(reference.offset, bytes));
      return tensorDataFromBytes(label, datatype, shape, bytes);
    }
    const count = elementCount(shape);
    const expected = count * datatypeByteSize(datatype);
    if (reference.byteSize !== expected) {
      throw invalid(
        `${label}: shared_memory_byte_size ${reference.byteSize} does not match shape [${shape.join(',')}] of ${datatype}, which needs ${expected} bytes`,
      );
    }
    const data = new (typedArrayFor(datatype))(count);
    access(label, region, () => region.mapping.read(reference.offset, new Uint8Array(data.buffer, data.byteOffset, expected)));
    return data;
  }

  /** Checks an output's region now, so that a bad reference fails before the model runs. */
  outputTarget(label: string, reference: SharedMemoryReference): SharedMemoryOutput {
    return new SharedMemoryOutput(this.lookup(label, reference), reference, label);
  }

  private lookup(label: string, reference: SharedMemoryReference): Region {
    const region = this.regions.get(reference.region);
    if (!region) throw new InferenceError('NOT_FOUND', `${label}: Unable to find shared memory region: '${reference.region}'`);
    if (reference.offset >= region.byteSize) {
      throw invalid(
        `${label}: Invalid offset for shared memory region: '${region.name}': offset ${reference.offset} is not inside the ${region.byteSize}-byte region`,
      );
    }
    if (reference.offset + reference.byteSize > region.byteSize) {
      throw invalid(
        `${label}: Invalid offset + byte size for shared memory region: '${region.name}': ` +
          `offset ${reference.offset} + byte size ${reference.byteSize} = ${reference.offset + reference.byteSize} runs past the ${region.byteSize}-byte region`,
      );
    }
    return region;
  }
}
