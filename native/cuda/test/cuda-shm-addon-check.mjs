// The Node side of CUDA shared memory on a GPU: the addon's CudaSharedMemory (what the
// server's registry opens) imports a region that cuda-ipc-test --export allocated in
// another process, reads its pattern, is refused an access past the region, writes a
// pattern back, and closes; the exporter then checks that pattern. Run by check-gpu.sh
// when a node binary and the built addon are there:
//
//   node cuda-shm-addon-check.mjs CUDA_IPC_TEST KERNELS.fatbin ADDON.node
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const [exporterPath, kernelsPath, addonPath] = process.argv.slice(2);
const addon = createRequire(import.meta.url)(resolve(addonPath));
const exporter = spawn(exporterPath, [kernelsPath, '--export'], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: exporter.stdout });
const exited = new Promise((resolve) => exporter.on('exit', (code) => resolve(code)));
let failures = 0;
const expect = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} node: ${what}`);
  if (!ok) failures += 1;
};

for await (const line of lines) {
  if (!line.startsWith('HANDLE ')) {
    console.log(line);
    continue;
  }
  const [, hex, regionBytes, patternOffset] = line.split(' ');
  const region = new addon.CudaSharedMemory(Buffer.from(hex, 'hex'), 0, Number(regionBytes));
  const pattern = new Uint8Array(4096);
  region.read(0, pattern);
  expect(pattern.every((byte, i) => byte === ((i * 131 + 1) & 0xff)), "reads the exporter's pattern through CudaSharedMemory.read");
  try {
    region.read(Number(regionBytes) - 8, new Uint8Array(16));
    expect(false, 'a read past the region is refused');
  } catch (err) {
    expect(err.code === 'ERR_OUT_OF_RANGE', `a read past the region is refused (${err.code}: ${err.message})`);
  }
  try {
    new addon.CudaSharedMemory(Buffer.from(hex, 'hex'), 0, Number(regionBytes) * 1024);
    expect(false, 'a byte_size past the allocation is refused');
  } catch (err) {
    expect(err.code === 'ERR_OUT_OF_RANGE', `a byte_size past the allocation is refused (${err.code}: ${err.message})`);
  }
  region.write(Number(patternOffset), Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff));
  region.close();
  exporter.stdin.end('done\n');
}
const code = await exited;
expect(code === 0, `the exporter's checks passed (exit ${code})`);
console.log(failures === 0 ? 'PASS' : `FAIL: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
