/**
 * The control-plane calls the load generator makes besides inference: which
 * extensions the server offers, what the model looks like, and its statistics.
 * One implementation per protocol, so that `-i grpc` needs no HTTP endpoint.
 */
import type { ModelInfo } from './model-info.js';
import type { StatsSnapshot } from './server-stats.js';

export interface ServerControl {
  /** How messages name the server: `http://127.0.0.1:8000`, `grpc://127.0.0.1:8001`. */
  readonly endpoint: string;
  /** The Triton extensions of the server metadata (`statistics`, `system_shared_memory`, …). */
  extensions(): Promise<string[]>;
  /** Fails with the server's own message for an unknown or unready model. */
  modelInfo(model: string, version: string): Promise<ModelInfo>;
  modelStats(model: string, version: string): Promise<StatsSnapshot>;
  /** Maps `byteSize` bytes of the shared-memory object `key` as region `region` (system shared memory extension). */
  registerSystemSharedMemory(region: string, key: string, byteSize: number): Promise<void>;
  unregisterSystemSharedMemory(region: string): Promise<void>;
  close(): void;
}
