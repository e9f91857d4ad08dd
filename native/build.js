// Builds the native addons (npm ci runs this as the root package's install script).
// node-gyp compiles against the headers of the running Node when they are installed
// next to it (Linux packages, nvm and the official tarballs all ship them), so the
// build needs no download; otherwise node-gyp fetches the headers itself.
// Both addons build with the C++ compiler alone. When nvcc is found (PATH, CUDA_HOME or
// /usr/local/cuda) the CUDA kernels of native/cuda/kernels are compiled too; without it
// the CUDA addon still builds and loads, and its backend says the kernels are missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = dirname(fileURLToPath(import.meta.url));
const prefix = resolve(dirname(process.execPath), '..');
const args = ['rebuild', `--directory=${nativeDir}`, '--jobs=max'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

// npm puts its own node-gyp on PATH for scripts and names it in npm_config_node_gyp.
const gyp = process.env.npm_config_node_gyp;
const result = gyp ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' }) : spawnSync('node-gyp', args, { stdio: 'inherit', shell: true });
if (result.error) throw result.error;
if (result.status !== 0) process.exit(result.status ?? 1);

const kernels = spawnSync(process.execPath, [join(nativeDir, 'cuda', 'build-kernels.js')], { stdio: 'inherit' });
process.exit(kernels.status ?? 1);
