// The Node side of CUDA shared memory on a GPU: the addon's CudaSharedMemory (what the
// server's registry opens) imports a region that cuda-ipc-test --export allocated in
// another process, reads its pattern, is refused an access past the region, writes a
// pattern back, and closes; the exporter then checks that pattern. In between, the direct
// device path as the server's cuda backend drives it: CudaSharedMemory.pointer() gives
// device addresses in the region and DenseModel.runDevice() gathers three requests' rows
// from it and scatters their outputs back into it, checked against the plan in plain
// JavaScript, and is refused spans of another device or short of the batch. Run by check-gpu.sh
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
  try {
    region.pointer(Number(regionBytes) - 8, 16);
    expect(false, 'a pointer past the region is refused');
  } catch (err) {
    expect(err.code === 'ERR_OUT_OF_RANGE', `a pointer past the region is refused (${err.code}: ${err.message})`);
  }
  await checkRunDevice(region);
  region.write(Number(patternOffset), Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff));
  region.close();
  exporter.stdin.end('done\n');
}
/** One dense layer 4 → 3 (weights [out, in]) over a batch of requests with 2, 1 and 3 rows, all in the region. */
async function checkRunDevice(region) {
  const weights = Float32Array.from({ length: 12 }, (_, i) => (i % 5) * 0.25 - 0.5);
  const bias = Float32Array.from([0.1, -0.2, 0.3]);
  const plan = {
    precision: 'FP32',
    widths: [4, 3],
    inputs: [0],
    outputs: [1],
    weights: [{ values: weights, rows: 3, cols: 4 }, { values: bias, rows: 1, cols: 3 }],
    steps: [{ op: 'MatMul', input: 0, weight: 0, transposeWeight: true, alpha: 1, bias: 1, relu: false, output: 1 }],
  };
  const model = new addon.DenseModel(plan, 0);
  const rows = [2, 1, 3];
  const inputs = rows.map((n, k) => Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i + 10 * k)));
  const inputAt = [4096, 4096 + 256, 4096 + 512];
  const outputAt = [8192 + 512, 8192, 8192 + 256];
  inputs.forEach((values, k) => region.write(inputAt[k], new Uint8Array(values.buffer)));
  const span = (offset, byteSize) => ({ deviceId: 0, pointer: region.pointer(offset, byteSize), byteSize });
  let rowStart = 0;
  const scatter = rows.map((n, k) => {
    const entry = { rowStart, rows: n, span: span(outputAt[k], n * 12) };
    rowStart += n;
    return entry;
  });
  const [hostCopy] = await model.runDevice(6, [rows.map((n, k) => span(inputAt[k], n * 16))], [{ host: true, scatter }]);
  let worst = 0;
  rows.forEach((n, k) => {
    const got = new Float32Array(n * 3);
    region.read(outputAt[k], new Uint8Array(got.buffer));
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < 3; o++) {
        let expected = bias[o];
        for (let i = 0; i < 4; i++) expected += weights[o * 4 + i] * inputs[k][r * 4 + i];
        worst = Math.max(worst, Math.abs(got[r * 3 + o] - expected), Math.abs(hostCopy[(scatter[k].rowStart + r) * 3 + o] - expected));
      }
    }
  });
  expect(worst <= 1e-5, `runDevice gathered 3 requests from the region and scattered their outputs into it (largest error ${worst})`);
  const refused = async (what, inputsArg, needle) => {
    try {
      await model.runDevice(6, inputsArg, [{ host: true, scatter: [] }]);
      expect(false, `runDevice refuses ${what}`);
    } catch (err) {
      expect(String(err.message).includes(needle), `runDevice refuses ${what}: ${err.message}`);
    }
  };
  await refused('a span of another device', [[{ ...span(inputAt[0], 96), deviceId: 1 }]], 'is memory of CUDA device 1');
  await refused('spans short of the batch', [[span(inputAt[0], 92)]], 'device spans hold 92 bytes, the batch of 6 rows needs 96');
  model.close();
}

const code = await exited;
expect(code === 0, `the exporter's checks passed (exit ${code})`);
console.log(failures === 0 ? 'PASS' : `FAIL: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
