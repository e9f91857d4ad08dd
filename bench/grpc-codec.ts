/**
 * bench/grpc-codec: the main-thread cost of decoding a ModelInferRequest, the
 * field-by-field reader (src/server/grpc/infer-wire.ts) against protobufjs's reflection
 * decoder of the same .proto (what the frontend used before), interleaved in one process
 * so that machine load affects both alike. add_sub-sized requests (two FP32 [1,16]
 * tensors) and mlp-sized ones ([1,256]).
 *   npx tsx bench/grpc-codec.ts [--rounds 5] [--count 20000]
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { messageType, modelInferRequestWithoutBytesContents } from '../src/server/grpc/grpc-messages.js';
import { parseModelInferRequest } from '../src/server/grpc/infer-codec.js';
import { formatRow, median } from './load-generator.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const rounds = option('--rounds', 5);
const count = option('--count', 20000);

const floats = (n: number) => Buffer.from(Float32Array.from({ length: n }, (_, i) => i * 0.5).buffer);
const cases = [
  {
    name: 'add_sub',
    request: { model_name: 'add_sub', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'FP32', shape: [1, 16] })), raw_input_contents: [floats(16), floats(16)] },
  },
  {
    name: 'mlp',
    request: { model_name: 'mlp', id: 'r1', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256] }], raw_input_contents: [floats(256)] },
  },
];

let sink = 0;
function timeNs(work: () => void): number {
  for (let i = 0; i < 1000; i++) work();
  const start = performance.now();
  for (let i = 0; i < count; i++) work();
  return ((performance.now() - start) * 1e6) / count;
}

console.log(`grpc-codec: ns per ModelInferRequest decoded, reflection (protobufjs) vs field by field, ${rounds} interleaved rounds of ${count}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
const widths = [8, 26, 14, 14, 8];
console.log(formatRow(['model', 'operation', 'reflection ns', 'by field ns', 'ratio'], widths));
for (const { name, request } of cases) {
  const requestBytes = messageType('ModelInferRequest').encode(messageType('ModelInferRequest').fromObject(request)).finish();
  const operations: Array<[string, () => void, () => void]> = [
    [
      'decode ModelInferRequest',
      // What parseModelInferRequest did before: protobufjs without bytes_contents, then the scan for packed BYTES elements.
      () => (sink += (modelInferRequestWithoutBytesContents().decode(requestBytes) as unknown as { inputs: unknown[] }).inputs.length),
      () => (sink += parseModelInferRequest(requestBytes).inputs.length),
    ],
  ];
  for (const [operation, before, after] of operations) {
    const a: number[] = [];
    const b: number[] = [];
    for (let round = 0; round < rounds; round++) {
      a.push(timeNs(before));
      b.push(timeNs(after));
    }
    console.log(formatRow([name, operation, median(a).toFixed(0), median(b).toFixed(0), (median(b) / median(a)).toFixed(2)], widths));
  }
}
if (sink === 0) console.log('');
