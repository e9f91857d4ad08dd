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

/** Keys Triton keeps for its Python backend's own regions; a client may not register them. */
const RESERVED_KEY_PREFIX = 'triton_python_backend_shm_region_';

/** What Triton answers when registration fails on the region's bounds or size. */
const invalidArgs = (name: string, detail: string) => invalid(`failed to register shared memory region '${name}': invalid args - ${detail}`);

export interface SharedMemoryOptions {
  /** `--allow-client-shm`: whether clients may register, unregister and use regions (Triton's default: false). */
  allowClientShm: boolean;
}

/** Runs one native access, turning the addon's errors into request errors. */
function access(label: string, region: Region, run: () => void): void {
  try {
    run();
  } catch (err) {
    throw invalid(`${label}: shared memory region '${region.name}' (key '${region.key}'): ${(err as Error).message}`);
  }
}

/** Triton's checks of a key before it is opened: not only slashes, not one of its reserved keys. */
function checkKey(name: string, key: string): void {
  const bare = key.replace(/^\/+/, '');
  if (bare === '') throw invalid(`cannot register shared memory region '${name}' - invalid shm key '${key}'`);
  if (bare.startsWith(RESERVED_KEY_PREFIX)) {
    throw invalid(
      `cannot register shared memory region '${name}' with key '${key}' as the key contains the reserved prefix '${RESERVED_KEY_PREFIX}'`,
    );
  }
}

/** The clause of every refusal while `--allow-client-shm` is false. */
export const CLIENT_SHM_DISABLED =
  'client shared memory is disabled on this server; start it with --allow-client-shm=true to register, unregister and use shared memory regions';

export class SharedMemoryManager {
  private readonly regions = new Map<string, Region>();

  constructor(private readonly options: SharedMemoryOptions) {}

  /** Refuses a client's registration or unregistration while `--allow-client-shm` is false. */
  checkClientAccess(): void {
    if (!this.options.allowClientShm) throw invalid(CLIENT_SHM_DISABLED);
  }

  register(name: string, key: string, offset: number, byteSize: number): void {
    this.checkClientAccess();
    if (name === '') throw invalid(`'region name' is necessary to register system shared memory region`);
    checkKey(name, key);
    if (this.regions.has(name)) throw new InferenceError('ALREADY_EXISTS', `shared memory region '${name}' already in manager`);
    if (byteSize === 0) throw invalidArgs(name, 'byte_size must be positive');
    const { SystemSharedMemory } = nativeAddon();
    let mapping: NativeSystemSharedMemory;
    try {
      mapping = new SystemSharedMemory(key, offset, byteSize);
    } catch (err) {
      const { code, message } = err as NativeError;
      if (code === 'ERR_OUT_OF_RANGE' || code === 'ERR_INVALID_ARG') throw invalidArgs(name, message);
      // As Triton: a key that cannot be opened is the server's INTERNAL error, with the key named.
      if (code === 'ERR_SHM_OPEN') throw new InferenceError('INTERNAL', message);
      throw invalid(`failed to register shared memory region '${name}': ${message}`);
    }
    this.regions.set(name, new Region(name, key, offset, byteSize, mapping));
  }

  /** As Triton: unregistering a name that is not registered succeeds. */
  unregister(name: string): void {
    this.checkClientAccess();
    this.release(name);
  }

  unregisterAll(): void {
    this.checkClientAccess();
    this.releaseAll();
  }

  /** Unmaps every region whatever `--allow-client-shm` says: the server's own clean-up at stop. */
  releaseAll(): void {
    for (const name of [...this.regions.keys()]) this.release(name);
  }

  private release(name: string): void {
    const region = this.regions.get(name);
    if (!region) return;
    this.regions.delete(name);
    region.unregistered = true;
    region.mapping.close();
  }

  /**
   * CUDA shared memory as Triton serves it without GPUs: no region can be registered,
   * so status lists none and unregistering succeeds. Client scripts unregister
   * everything before they start and must not fail there.
   */
  registerCuda(name: string, deviceId: number, byteSize: number): void {
    this.checkClientAccess();
    if (name === '') throw invalid(`'region name' is necessary to register cuda shared memory region`);
    if (this.regions.has(name)) throw new InferenceError('ALREADY_EXISTS', `shared memory region '${name}' already in manager`);
    throw invalidArgs(name, `no CUDA device is available to this server, so CUDA memory of device ${deviceId} (${byteSize} bytes) cannot be opened`);
  }

  unregisterCuda(): void {
    this.checkClientAccess();
  }

  cudaStatus(name?: string): SharedMemoryRegionStatus[] {
    if (name === undefined || name === '') return [];
    if (this.regions.has(name)) {
      throw new InferenceError('NOT_FOUND', `The region named '${name}' is registered as system shared memory, not CUDA shared memory`);
    }
    throw new InferenceError('NOT_FOUND', `Unable to find cuda shared memory region: '${name}'`);
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
  readInput(model: string, name: string, datatype: Datatype, shape: readonly number[], reference: SharedMemoryReference): TensorData {
    const label = `input '${name}'`;
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
        `input byte size mismatch for input '${name}' for model '${model}'. Expected ${expected}, got ${reference.byteSize}: ` +
          `shape [${shape.join(',')}] of ${datatype} needs ${expected} bytes, shared_memory_byte_size is ${reference.byteSize}`,
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
