/**
 * The native addon of native/ (built by `npm ci` with node-gyp), loaded on first
 * use so that a server without it still starts and only shared memory is refused.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { InferenceError } from '../../core/index.js';

/** One mapped region of a POSIX shared-memory object; see native/src/system-shared-memory.h. */
export interface NativeSystemSharedMemory {
  read(offset: number, target: Uint8Array): void;
  write(offset: number, source: Uint8Array): void;
  close(): void;
}

/** What the addon throws: an Error with a `code` saying what went wrong. */
export interface NativeError extends Error {
  code: 'ERR_INVALID_ARG' | 'ERR_SHM_OPEN' | 'ERR_SHM_MAP' | 'ERR_SHM_STAT' | 'ERR_OUT_OF_RANGE' | 'ERR_OBJECT_SHRUNK' | 'ERR_CLOSED';
  errno?: number;
}

interface NativeAddon {
  SystemSharedMemory: new (key: string, offset: number, byteSize: number) => NativeSystemSharedMemory;
}

// Three levels below the package root both as src/server/shared-memory/*.ts and as dist/server/shared-memory/*.js.
const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/nereid_native.node', import.meta.url));

let addon: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
    } catch (err) {
      throw new InferenceError(
        'UNSUPPORTED',
        `shared memory needs Nereid's native addon, which could not be loaded from ${ADDON_PATH} ` +
          `(build it with 'npm ci' or 'node native/build.js'): ${(err as Error).message}`,
      );
    }
  }
  return addon;
}
