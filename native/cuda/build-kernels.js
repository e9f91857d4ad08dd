// Compiles native/cuda/kernels/*.cu into build/Release/nereid_cuda_kernels.fatbin when
// nvcc exists, and says so plainly when it does not (the build still succeeds: the CUDA
// addon loads without kernels and the CUDA backend refuses models with that reason).
// Machine code for Ampere (sm_80, also run by sm_86/sm_89) and Hopper (sm_90), plus
// compute_90 PTX that newer GPUs compile when they load it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cudaDir = dirname(fileURLToPath(import.meta.url));
const output = join(cudaDir, '..', 'build', 'Release', 'nereid_cuda_kernels.fatbin');
const ARCHITECTURES = ['-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90,code=sm_90', '-gencode', 'arch=compute_90,code=compute_90'];

function findNvcc() {
  const candidates = [process.env.NVCC, process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc'];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

rmSync(output, { force: true });
if (process.env.NEREID_SKIP_CUDA_KERNELS === '1') {
  console.log('nereid: NEREID_SKIP_CUDA_KERNELS=1: the CUDA kernels are not built');
  process.exit(0);
}
const nvcc = findNvcc();
if (!nvcc) {
  console.log('nereid: nvcc not found (PATH, $NVCC, $CUDA_HOME/bin, /usr/local/cuda/bin): the CUDA kernels are not built; the CUDA backend will refuse models until they are');
  process.exit(0);
}
mkdirSync(dirname(output), { recursive: true });
const compile = spawnSync(nvcc, ['--fatbin', ...ARCHITECTURES, '-O3', '-o', output, join(cudaDir, 'kernels', 'dense-kernels.cu')], { stdio: 'inherit' });
if (compile.error || compile.status !== 0) {
  console.log(`nereid: ${nvcc} failed (${compile.error?.message ?? `exit ${compile.status}`}): the CUDA kernels are not built`);
  rmSync(output, { force: true });
  process.exit(0);
}
console.log(`nereid: CUDA kernels built with ${nvcc}: ${output}`);
