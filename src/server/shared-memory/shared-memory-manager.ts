/**
 * Triton's system and CUDA shared memory extensions: regions of POSIX shared-memory
 * objects, or of device memory a client exported with cudaIpcGetMemHandle, that clients
 * register by name (one namespace for both kinds, as in Triton), and the tensors read
 * from and written to them. A CUDA region is copied to and from host memory
 * (cudaMemcpy), which is what a model on the CPU needs.
 *
 * Input values are copied out of a system region while the request is decoded, so such
 * an input never depends on the region afterwards. An input in a CUDA region the device
 * can address stays there (a DeviceTensorData, core/device-tensor.ts): the cuda backend
 * reads it in place when the model runs on that device, anything else copies it to the
 * host first (see device-path.ts). An output is written when the model has answered (or,
 * on the device path, by the model itself); if its region was unregistered in between,
 * that request fails with a clear error and nothing is written. A region that an
 * in-flight request uses in place stays mapped until the request is answered, even once
 * unregistered.
 */
import {
  byteSize as datatypeByteSize,
  elementCount,
  InferenceError,
  tensorDataFromBytes,
  typedArrayFor,
  DeviceTensorData,
  deviceTensorPlaceholder,
  type Datatype,
  type DeviceBytes,
  type DeviceOutputTarget,
  type DeviceSpan,
  type TensorData,
} from '../../core/index.js';
import { CUDA_IPC_HANDLE_BYTES, cudaIpcMemory, type DeviceMemory, type DeviceMemoryError, type DeviceMemoryOpener } from './cuda-device-memory.js';
import { nativeAddon, type NativeError, type NativeSystemSharedMemory } from './native-addon.js';
import type { SharedMemoryReference } from './shared-memory-reference.js';

/** A region as the status endpoints describe it (Triton's field names). */
export interface SharedMemoryRegionStatus {
  name: string;
  key: string;
  offset: number;
  byte_size: number;
}

/** A CUDA region as the status endpoints describe it (Triton's field names). */
export interface CudaSharedMemoryRegionStatus {
  name: string;
  device_id: number;
  byte_size: number;
}

type RegionKind = 'system' | 'cuda';

class Region {
  unregistered = false;
  /** Requests and executions using it in place (device path): its mapping outlives unregistering until they let go. */
  private pins = 0;
  /** Set once its mapping is closed (unregistered and no longer pinned). */
  unmapped = false;

  constructor(
    readonly name: string,
    readonly kind: RegionKind,
    /** The object's key (system) or `CUDA device N` (cuda), for error messages. */
    readonly where: string,
    readonly key: string,
    readonly offset: number,
    readonly byteSize: number,
    readonly deviceId: number,
    readonly mapping: NativeSystemSharedMemory | DeviceMemory,
  ) {}

  /** Whether the device can read and write it in place (a CUDA region whose memory gives device spans). */
  get deviceAddressable(): boolean {
    return this.kind === 'cuda' && typeof (this.mapping as DeviceMemory).span === 'function';
  }

  /** Unmaps it now, or once nothing pins it any more. */
  release(): void {
    this.unregistered = true;
    if (this.pins === 0) this.unmap();
  }

  /** Keeps it mapped (even once unregistered) until the returned release is called. */
  pin(): () => void {
    this.pins += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.pins -= 1;
      if (this.pins === 0 && this.unregistered) this.unmap();
    };
  }

  /** `byteSize` bytes at `offset` for an execution on the device, mapped until `release()`; throws when it is no longer mapped. */
  use(label: string, offset: number, byteSize: number): { span: DeviceSpan; release(): void } {
    if (this.unmapped) throw unregisteredInFlight(label, this.name);
    let span: DeviceSpan | undefined;
    access(label, this, () => (span = (this.mapping as DeviceMemory).span!(offset, byteSize)));
    return { span: span!, release: this.pin() };
  }

  private unmap(): void {
    this.unmapped = true;
    this.mapping.close();
  }
}

const unregisteredInFlight = (label: string, region: string) =>
  new InferenceError('INVALID_ARG', `${label}: shared memory region '${region}' was unregistered while the request was in flight`);

/** An output's place in a CUDA region, for the cuda backend to write on the device. */
class RegionOutputTarget implements DeviceOutputTarget {
  written = false;

  constructor(
    private readonly region: Region,
    private readonly reference: SharedMemoryReference,
    private readonly label: string,
  ) {}

  get deviceId(): number {
    return this.region.deviceId;
  }

  get byteSize(): number {
    return this.reference.byteSize;
  }

  pin(): () => void {
    return this.region.pin();
  }

  use(): { span: DeviceSpan; release(): void } | undefined {
    if (this.region.unregistered) return undefined;
    return this.region.use(this.label, this.reference.offset, this.reference.byteSize);
  }
}

/** Where one output goes, checked when the request arrives and written when the answer is ready. */
export class SharedMemoryOutput {
  private target: RegionOutputTarget | undefined;

  constructor(
    private readonly region: Region,
    private readonly reference: SharedMemoryReference,
    private readonly label: string,
  ) {}

  /** Where a model on the region's device may write this output itself; undefined when the region is not device memory it can address. */
  deviceTarget(): DeviceOutputTarget | undefined {
    if (!this.region.deviceAddressable) return undefined;
    this.target ??= new RegionOutputTarget(this.region, this.reference, this.label);
    return this.target;
  }

  write(bytes: Uint8Array): void {
    const { region, reference, label } = this;
    // The model wrote it on the device already.
    if (this.target?.written) return;
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
  /** Opens CUDA regions; cudaIpcOpenMemHandle through the CUDA addon unless a test gives its own. */
  deviceMemory?: DeviceMemoryOpener;
}

/** Runs one native access, turning the addon's errors into request errors. */
function access(label: string, region: Region, run: () => void): void {
  try {
    run();
  } catch (err) {
    const message = `${label}: shared memory region '${region.name}' (${region.where}): ${(err as Error).message}`;
    // A device copy that fails is the device's fault, not the request's.
    throw new InferenceError((err as DeviceMemoryError).code === 'ERR_COPY' ? 'INTERNAL' : 'INVALID_ARG', message);
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
  private readonly deviceMemory: DeviceMemoryOpener;

  constructor(private readonly options: SharedMemoryOptions) {
    this.deviceMemory = options.deviceMemory ?? cudaIpcMemory;
  }

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
    this.regions.set(name, new Region(name, 'system', `key '${key}'`, key, offset, byteSize, 0, mapping));
  }

  /** As Triton: unregistering a name that is not registered (as this kind) succeeds. */
  unregister(name: string): void {
    this.checkClientAccess();
    if (this.regions.get(name)?.kind === 'system') this.release(name);
  }

  unregisterAll(): void {
    this.checkClientAccess();
    this.releaseKind('system');
  }

  private releaseKind(kind: RegionKind): void {
    for (const region of [...this.regions.values()]) if (region.kind === kind) this.release(region.name);
  }

  /** Unmaps every region whatever `--allow-client-shm` says: the server's own clean-up at stop. */
  releaseAll(): void {
    for (const name of [...this.regions.keys()]) this.release(name);
  }

  private release(name: string): void {
    const region = this.regions.get(name);
    if (!region) return;
    this.regions.delete(name);
    region.release();
  }

  /**
   * Opens the device memory a client exported. Without a GPU (or without the CUDA runtime,
   * or for a device_id this machine lacks) it fails with the reason in Triton's wording;
   * status then lists no CUDA region and unregistering succeeds, which client scripts that
   * clean up first rely on.
   */
  registerCuda(name: string, rawHandle: Uint8Array, deviceId: number, byteSize: number): void {
    this.checkClientAccess();
    if (name === '') throw invalid(`'region name' is necessary to register cuda shared memory region`);
    if (this.regions.has(name)) throw new InferenceError('ALREADY_EXISTS', `shared memory region '${name}' already in manager`);
    const failed = (detail: string) => invalid(`failed to register CUDA shared memory region '${name}': ${detail}`);
    if (rawHandle.length !== CUDA_IPC_HANDLE_BYTES) {
      throw failed(`'raw_handle' must be a cudaIpcMemHandle_t of ${CUDA_IPC_HANDLE_BYTES} bytes, got ${rawHandle.length} bytes`);
    }
    if (!Number.isSafeInteger(deviceId) || deviceId < 0) throw failed(`'device_id' must be a non-negative integer, got ${deviceId}`);
    if (byteSize === 0) throw failed(`'byte_size' must be positive`);
    let memory: DeviceMemory;
    try {
      memory = this.deviceMemory.open(rawHandle, deviceId, byteSize);
    } catch (err) {
      throw failed((err as Error).message);
    }
    this.regions.set(name, new Region(name, 'cuda', `CUDA device ${deviceId}`, '', 0, byteSize, deviceId, memory));
  }

  /** One CUDA region, or all of them when `name` is empty; as Triton, an unknown name succeeds. */
  unregisterCuda(name?: string): void {
    this.checkClientAccess();
    if (name === undefined || name === '') this.releaseKind('cuda');
    else if (this.regions.get(name)?.kind === 'cuda') this.release(name);
  }

  cudaStatus(name?: string): CudaSharedMemoryRegionStatus[] {
    const describe = (r: Region): CudaSharedMemoryRegionStatus => ({ name: r.name, device_id: r.deviceId, byte_size: r.byteSize });
    if (name === undefined || name === '') return [...this.regions.values()].filter((r) => r.kind === 'cuda').map(describe);
    const region = this.regions.get(name);
    if (region?.kind === 'cuda') return [describe(region)];
    if (region) throw new InferenceError('NOT_FOUND', `The region named '${name}' is registered as system shared memory, not CUDA shared memory`);
    throw new InferenceError('NOT_FOUND', `Unable to find cuda shared memory region: '${name}'`);
  }

  /** Every region, or the one named (NOT_FOUND when it is not registered). */
  status(name?: string): SharedMemoryRegionStatus[] {
    const describe = (r: Region): SharedMemoryRegionStatus => ({ name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize });
    if (name === undefined || name === '') return [...this.regions.values()].filter((r) => r.kind === 'system').map(describe);
    const region = this.regions.get(name);
    if (region?.kind === 'cuda') throw new InferenceError('NOT_FOUND', `The region named '${name}' is registered as CUDA shared memory, not system shared memory`);
    if (!region) throw new InferenceError('NOT_FOUND', `Unable to find system shared memory region: '${name}'`);
    return [describe(region)];
  }

  /**
   * An input's values: copied out of its region into fresh storage, or, for a CUDA region
   * the device can address, left there (a placeholder for a DeviceTensorData) for the cuda
   * backend to read in place or for device-path.ts to copy to the host.
   */
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
    if (region.deviceAddressable && expected > 0) {
      const { offset, byteSize } = reference;
      const bytes: DeviceBytes = {
        deviceId: region.deviceId,
        byteSize,
        pin: () => region.pin(),
        use: () => region.use(label, offset, byteSize),
        readHost: (target) => {
          if (region.unmapped) throw unregisteredInFlight(label, region.name);
          access(label, region, () => region.mapping.read(offset, target));
        },
      };
      return deviceTensorPlaceholder(new DeviceTensorData(datatype, count, [bytes]));
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
