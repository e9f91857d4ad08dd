/** Triton's classification extension over HTTP (JSON and binary) and gRPC, with labels from label_filename. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteElementStrings, type PackedBytes } from '../../src/core/index.js';
import { classify } from '../../src/server/classification.js';
import { bytesOf, postBinary, unpackStrings } from '../helpers/binary-http.js';
import { grpc, InferenceClient } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;
let t: TestServer;
let client: InferenceClient;
let scratch: ReturnType<typeof scratchRepository>;

const LABELS = ['cat', 'dog', 'owl', 'eel', 'yak'];

/** identity_fp32's model file under a config whose OUTPUT0 names a label file. */
function labelledConfig(name: string, labelFile: string, maxBatchSize = 8): string {
  const dims = maxBatchSize > 0 ? '[ -1 ]' : '[ -1, -1 ]';
  return `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: ${maxBatchSize}
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: ${dims} } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: ${dims} label_filename: "${labelFile}" } ]
`;
}

beforeAll(async () => {
  scratch = scratchRepository();
  addModel(scratch.root, 'classifier', { from: 'identity_fp32', config: labelledConfig('classifier', 'labels.txt') });
  writeFileSync(join(scratch.root, 'classifier', 'labels.txt'), `${LABELS.join('\r\n')}\n`);
  addModel(scratch.root, 'unbatched', { from: 'identity_fp32', config: labelledConfig('unbatched', 'labels.txt', 0) });
  writeFileSync(join(scratch.root, 'unbatched', 'labels.txt'), LABELS.join('\n'));
  addModel(scratch.root, 'no_labels_file', { from: 'identity_fp32', config: labelledConfig('no_labels_file', 'missing.txt') });
  addModel(scratch.root, 'escaping_labels', { from: 'identity_fp32', config: labelledConfig('escaping_labels', '../classifier/labels.txt') });
  for (const name of ['identity_int32', 'identity_bytes']) {
    addModel(scratch.root, name, { from: name, config: readFileSync(join(EXAMPLE_REPOSITORY, name, 'config.pbtxt'), 'utf8') });
  }
  t = await startTestServer({ modelRepositories: [scratch.root] });
  client = new InferenceClient(t.grpcTarget);
});

afterAll(async () => {
  client.close();
  await t.server.stop();
  scratch.cleanup();
});

const scores = Float32Array.from([0.1, 0.7, 0.05, 0.15, 0, /* row 2 */ 3, -1, 2.5, 9, 0.25]);
const fp32Input = { name: 'INPUT0', datatype: 'FP32', shape: [2, 5], data: Array.from(scores) };
const classification = (count: number) => [{ name: 'OUTPUT0', parameters: { classification: count } }];

describe('classification over HTTP', () => {
  it('answers the top N of each batch row as "<score>:<index>:<label>"', async () => {
    const { status: httpStatus, json } = await postJson(`${t.url}/v2/models/classifier/infer`, { inputs: [fp32Input], outputs: classification(3) });
    expect(httpStatus).toBe(200);
    expect(json.outputs).toEqual([
      {
        name: 'OUTPUT0',
        datatype: 'BYTES',
        shape: [2, 3],
        data: ['0.700000:1:dog', '0.150000:3:eel', '0.100000:0:cat', '9.000000:3:eel', '3.000000:0:cat', '2.500000:2:owl'],
      },
    ]);
  });

  it('answers in binary when asked, and caps N at the number of classes', async () => {
    const answer = await postBinary(
      `${t.url}/v2/models/classifier/infer`,
      {
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 5], parameters: { binary_data_size: 20 } }],
        outputs: [{ name: 'OUTPUT0', parameters: { classification: 99, binary_data: true } }],
      },
      [bytesOf(scores.subarray(0, 5))],
    );
    expect(answer.status).toBe(200);
    expect(answer.json.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [1, 5] });
    expect(unpackStrings(answer.outputs.get('OUTPUT0')!).map(String)).toEqual([
      '0.700000:1:dog', '0.150000:3:eel', '0.100000:0:cat', '0.050000:2:owl', '0.000000:4:yak',
    ]);
  });

  it('ranks a model without batching over the whole tensor, without labels when there is no file', async () => {
    const unbatched = await postJson(`${t.url}/v2/models/unbatched/infer`, { inputs: [fp32Input], outputs: classification(2) });
    expect(unbatched.json.outputs[0]).toEqual({ name: 'OUTPUT0', datatype: 'BYTES', shape: [2], data: ['9.000000:8', '3.000000:5'] });
    const ints = await postJson(`${t.url}/v2/models/identity_int32/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 4], data: [5, -2, 7, 5] }],
      outputs: classification(3),
    });
    expect(ints.json.outputs[0].data).toEqual(['7:2', '5:0', '5:3']);
  });

  it('leaves the output alone with classification 0', async () => {
    const { json } = await postJson(`${t.url}/v2/models/classifier/infer`, { inputs: [fp32Input], outputs: classification(0) });
    expect(json.outputs[0]).toMatchObject({ datatype: 'FP32', shape: [2, 5] });
  });

  it('refuses what cannot be classified', async () => {
    const bytes = await postJson(`${t.url}/v2/models/identity_bytes/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data: ['x'] }],
      outputs: classification(1),
    });
    expect(bytes.status).toBe(400);
    expect(bytes.json.error).toBe("output 'OUTPUT0': class result not available for output due to unsupported type 'BYTES'");
    const negative = await postJson(`${t.url}/v2/models/classifier/infer`, { inputs: [fp32Input], outputs: classification(-1) });
    expect(negative.json.error).toBe("output 'OUTPUT0': parameter 'classification' must be a non-negative integer (the number of classes), got -1");
    const both = await postJson(`${t.url}/v2/models/classifier/infer`, {
      inputs: [fp32Input],
      outputs: [{ name: 'OUTPUT0', parameters: { classification: 2, shared_memory_region: 'r', shared_memory_byte_size: 8 } }],
    });
    expect(both.json.error).toBe("output 'OUTPUT0': Output can't set both 'shared_memory_region' and 'classification'");
  });
});

describe('classification over gRPC', () => {
  it('answers BYTES in raw_output_contents', async () => {
    const response = await client.call('ModelInfer', {
      model_name: 'classifier',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, 5], contents: { fp32_contents: Array.from(scores) } }],
      outputs: [{ name: 'OUTPUT0', parameters: { classification: { int64_param: 1 } } }],
    });
    expect(response.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'BYTES', shape: [2, 1] });
    expect(unpackStrings(Buffer.from(response.raw_output_contents[0])).map(String)).toEqual(['0.700000:1:dog', '9.000000:3:eel']);
    const error = await client.fail('ModelInfer', {
      model_name: 'classifier',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, 5], contents: { fp32_contents: Array.from(scores) } }],
      outputs: [{ name: 'OUTPUT0', parameters: { classification: { string_param: 'three' } } }],
    });
    expect(error.code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('label files', () => {
  it('fail the load when missing or outside the model folder', async () => {
    const missing = await getJson(`${t.url}/v2/models/no_labels_file/ready`);
    expect(missing.status).toBe(400);
    expect(missing.json.error).toContain("output 'OUTPUT0': cannot read label_filename 'missing.txt': ENOENT");
    const escaping = await getJson(`${t.url}/v2/models/escaping_labels/ready`);
    expect(escaping.json.error).toContain("output 'OUTPUT0': label_filename '../classifier/labels.txt' must name a file inside the model folder");
  });
});

describe('ranking', () => {
  it('orders equal scores by index, NaN last, and formats each datatype as Triton does', () => {
    const strings = (datatype: 'FP64' | 'INT64' | 'UINT8' | 'FP16', data: ArrayLike<unknown>) =>
      byteElementStrings(classify({ name: 'Y', datatype, shape: [data.length], data: data as never }, 3, false, undefined).data as PackedBytes);
    expect(strings('FP64', Float64Array.from([NaN, 1, 1, -Infinity]))).toEqual(['1.000000:1', '1.000000:2', '-inf:3']);
    expect(strings('INT64', BigInt64Array.from([9007199254740993n, -1n]))).toEqual(['9007199254740993:0', '-1:1']);
    expect(strings('UINT8', Uint8Array.from([200, 255, 0]))).toEqual(['255:1', '200:0', '0:2']);
    expect(strings('FP16', Uint16Array.from([0x3c00, 0xbc00, 0x3555]))).toEqual(['1.000000:0', '0.333252:2', '-1.000000:1']);
  });
});
