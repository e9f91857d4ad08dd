/**
 * The CUDA addon (native/cuda) on the machine the tests run on. Where the NVIDIA driver is
 * absent (development machines and CI), the probe must report no device with the exact
 * reason and every entry point must answer without crashing; plans are checked before any
 * device is touched, so malformed plans are refused here too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaAddon, cudaProbe, type CudaAddon } from '../../src/backends/cuda/cuda-addon.js';

/** Where the dynamic loader would find a library: LD_LIBRARY_PATH, then the ld.so cache. */
function loaderFinds(library: string): boolean {
  for (const dir of (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) if (existsSync(join(dir, library))) return true;
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes(library);
  } catch {
    return ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib'].some((dir) => existsSync(join(dir, library)));
  }
}

const noDriver = !loaderFinds('libcuda.so.1');
const noNvml = !loaderFinds('libnvidia-ml.so.1');
const missing = (library: string) => `${library}: cannot open shared object file: No such file or directory`;

function addon(): CudaAddon {
  const { addon: loaded, error } = cudaAddon();
  if (!loaded) throw new Error(error);
  return loaded;
}

const relu = (precision = 'FP32') => ({ precision, widths: [2, 2], inputs: [0], outputs: [1], weights: [], steps: [{ op: 'Relu', input: 0, output: 1 }] });

describe('the CUDA addon', () => {
  it('loads and probes the same answer every time', () => {
    expect(cudaAddon().error).toBeUndefined();
    expect(addon().probe()).toEqual(addon().probe());
  });

  it.runIf(noDriver)('reports no device, with the missing driver as the reason', () => {
    expect(cudaProbe()).toEqual({
      devices: [],
      reason: `no NVIDIA driver: libcuda.so.1 could not be opened (${missing('libcuda.so.1')})`,
      runtimeVersion: 0,
      driverVersion: 0,
    });
    expect(addon().libraries().driver).toEqual({ loaded: false, error: `no NVIDIA driver: libcuda.so.1 could not be opened (${missing('libcuda.so.1')})` });
  });

  it.runIf(noNvml)('says NVML is missing, for the libraries and for a reading', () => {
    const error = `NVML (libnvidia-ml.so.1) could not be opened (${missing('libnvidia-ml.so.1')})`;
    expect(addon().libraries().nvml).toEqual({ loaded: false, error });
    expect(addon().readNvml('GPU-00000000-0000-0000-0000-000000000000')).toEqual({ error });
  });

  it('names each library it opened, or why it could not', () => {
    const libraries = addon().libraries();
    for (const [name, status] of Object.entries(libraries)) {
      if (name === 'kernels') continue;
      const library = status as { loaded: boolean; path?: string; error?: string };
      if (library.loaded) expect(library.path).toMatch(/lib(cuda|cudart|cublasLt|nvidia-ml)\.so/);
      else expect(library.error).toMatch(/could not be opened|lacks/);
    }
    expect(libraries.kernels.path).toMatch(/native\/build\/Release\/nereid_cuda_kernels\.fatbin$/);
    expect(libraries.kernels.built).toBe(existsSync(libraries.kernels.path));
  });

  it.runIf(noDriver)('refuses a model without a device, with the probe reason', () => {
    expect(() => new (addon().DenseModel)(relu(), 0)).toThrow(
      `no CUDA device: no NVIDIA driver: libcuda.so.1 could not be opened (${missing('libcuda.so.1')})`,
    );
  });

  it('refuses malformed plans naming what is wrong, before touching a device', () => {
    const { DenseModel } = addon();
    const refused = (plan: object) => () => new DenseModel(plan, 0);
    expect(refused({ ...relu(), precision: 'FP8' })).toThrow('plan: precision must be FP32, FP16 or BF16');
    expect(refused({ ...relu(), widths: 'x' })).toThrow('plan: widths must be an array');
    expect(refused({ ...relu(), steps: [{ op: 'Conv', input: 0, output: 1 }] })).toThrow("plan: steps[0].op 'Conv' is unknown");
    expect(refused({ ...relu(), steps: [{ op: 'Relu', input: 0, output: 7 }] })).toThrow('plan: step 0: value index out of range');
    expect(refused({ ...relu(), outputs: [3] })).toThrow('plan: output value 3 does not exist');
    expect(refused({ ...relu(), weights: [{ values: [1, 2], rows: 1, cols: 2 }] })).toThrow('plan: weights[0].values must be a Float32Array');
    const matmul = {
      precision: 'FP16',
      widths: [3, 2],
      inputs: [0],
      outputs: [1],
      weights: [{ values: new Float32Array(6), rows: 2, cols: 2 }],
      steps: [{ op: 'MatMul', input: 0, weight: 0, output: 1 }],
    };
    expect(refused(matmul)).toThrow("plan: a weight's values do not match its shape");
    expect(refused({ ...matmul, weights: [{ values: new Float32Array(4), rows: 2, cols: 2 }] })).toThrow(
      'plan: step 0: weight shape does not match the widths',
    );
    expect(() => new DenseModel(relu(), undefined as unknown as number)).toThrow('new DenseModel(plan, device)');
  });

  it('answers bad arguments with TypeErrors', () => {
    expect(() => addon().readNvml(7 as unknown as string)).toThrow(TypeError);
    expect(() => addon().configureMemory(undefined as never)).toThrow(TypeError);
  });
});
