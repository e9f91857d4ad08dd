/**
 * bench/grpc-codec: the main-thread cost of decoding a ModelInferRequest, the
 * field-by-field reader (src/server/grpc/infer-wire.ts) against protobufjs's reflection
 * decoder of the same .proto (what the frontend used before), and of encoding a streamed
 * answer, the field-by-field writer (infer-response-writer.ts) against protobufjs's
 * objects and encoder, interleaved in one process so that machine load affects both
 * alike. add_sub-sized requests (two FP32 [1,16] tensors), mlp-sized ones ([1,256]) and
 * silero_vad sequence requests (480 samples, sequence_id/start/end parameters).
 *   npx tsx bench/grpc-codec.ts [--rounds 5] [--count 20000]
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { messageType, modelInferRequestWithoutBytesContents } from '../src/server/grpc/grpc-messages.js';
import { parseModelInferRequest } from '../src/server/grpc/infer-codec.js';
import { parametersToWire } from '../src/server/grpc/infer-parameters.js';
import { writeInferResponse } from '../src/server/grpc/infer-response-writer.js';
import type { InferenceResponse } from '../src/core/index.js';
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
    response: {
      model: 'add_sub',
      version: '1',
      outputs: ['OUTPUT0', 'OUTPUT1'].map((name) => ({ name, datatype: 'FP32' as const, shape: [1, 16], data: new Float32Array(16) })),
    },
  },
  {
    name: 'mlp',
    request: { model_name: 'mlp', id: 'r1', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256] }], raw_input_contents: [floats(256)] },
    response: { model: 'mlp', version: '1', id: 'r1', outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 10], data: new Float32Array(10) }] },
  },
  {
    name: 'silero_vad',
    request: {
      model_name: 'silero_vad',
      parameters: { sequence_id: { uint64_param: 12345 }, sequence_start: { bool_param: false }, sequence_end: { bool_param: false } },
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 480] }],
      raw_input_contents: [floats(480)],
    },
    response: { model: 'silero_vad', version: '1', outputs: [{ name: 'output', datatype: 'FP32', shape: [1, 1], data: new Float32Array(1) }] },
  },
];

/** What the stream frontend did before the writer: a plain object for protobufjs, the final flag spread into the parameters. */
function protobufjsStreamAnswer(response: InferenceResponse): Uint8Array {
  const parameters = { ...response.parameters, triton_final_response: true };
  const message: Record<string, unknown> = {
    model_name: response.model,
    model_version: response.version,
    outputs: response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
    raw_output_contents: response.outputs.map((o) => new Uint8Array((o.data as Float32Array).buffer)),
    parameters: parametersToWire(parameters),
  };
  if (response.id) message.id = response.id;
  return messageType('ModelStreamInferResponse').encode({ infer_response: message }).finish();
}

let sink = 0;
function timeNs(work: () => void): number {
  for (let i = 0; i < 1000; i++) work();
  const start = performance.now();
  for (let i = 0; i < count; i++) work();
  return ((performance.now() - start) * 1e6) / count;
}

console.log(`grpc-codec: ns per ModelInferRequest decoded / streamed answer encoded, protobufjs vs field by field, ${rounds} interleaved rounds of ${count}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
const widths = [8, 26, 14, 14, 8];
console.log(formatRow(['model', 'operation', 'protobufjs ns', 'by field ns', 'ratio'], widths));
for (const { name, request, response } of cases) {
  const requestBytes = messageType('ModelInferRequest').encode(messageType('ModelInferRequest').fromObject(request)).finish();
  const operations: Array<[string, () => void, () => void]> = [
    [
      'decode ModelInferRequest',
      // What parseModelInferRequest did before: protobufjs without bytes_contents, then the scan for packed BYTES elements.
      () => (sink += (modelInferRequestWithoutBytesContents().decode(requestBytes) as unknown as { inputs: unknown[] }).inputs.length),
      () => (sink += parseModelInferRequest(requestBytes).inputs.length),
    ],
    [
      'encode stream answer',
      () => (sink += protobufjsStreamAnswer(response as InferenceResponse).length),
      () => (sink += writeInferResponse(response as InferenceResponse, { model: name, inputs: [] }, true, true).length),
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
