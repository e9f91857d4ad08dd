/** `nereid serve`'s GPU memory flags, with Triton's names and defaults. */
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../server/index.js';
import { UsageError, type FlagSpec, type FlagValues } from './flag-parser.js';

export const GPU_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'pinned-memory-pool-byte-size': {
    kind: 'int',
    help: 'Pinned host memory for staging GPU inputs and outputs; beyond it they are staged through pageable memory.',
    defaultText: String(DEFAULT_SERVER_OPTIONS.pinnedMemoryPoolBytes),
  },
  'cuda-memory-pool-byte-size': {
    kind: 'list',
    help: "'<gpu>:<bytes>': device memory that GPU's pool keeps for model activations; repeat for several GPUs.",
    defaultText: '64 MiB per GPU',
  },
};

export function gpuOptions(flags: FlagValues): Pick<ServerOptions, 'pinnedMemoryPoolBytes' | 'cudaMemoryPoolBytes'> {
  const pinned = (flags['pinned-memory-pool-byte-size'] as number | undefined) ?? DEFAULT_SERVER_OPTIONS.pinnedMemoryPoolBytes;
  if (pinned < 0) throw new UsageError(`--pinned-memory-pool-byte-size must be 0 or more, got ${pinned}`);
  const pools = ((flags['cuda-memory-pool-byte-size'] as string[] | undefined) ?? []).map((entry): [number, number] => {
    const match = /^(\d+):(\d+)$/.exec(entry);
    if (!match || !Number.isSafeInteger(Number(match[2]))) {
      throw new UsageError(`--cuda-memory-pool-byte-size must be '<gpu>:<bytes>' with whole numbers, got '${entry}'`);
    }
    return [Number(match[1]), Number(match[2])];
  });
  return { pinnedMemoryPoolBytes: pinned, cudaMemoryPoolBytes: pools };
}
