/**
 * BYTES in the JavaScript model API: `data` (one Uint8Array per element, made when read)
 * and `packed` (every element in one buffer) describe the same elements, for each
 * request of a batch; an output may be given packed, and a malformed one is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postBinary, unpackStrings } from '../helpers/binary-http.js';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const CONFIG = `backend: "javascript"
max_batch_size: 8
dynamic_batching { max_queue_delay_microseconds: 20000 }
input [{ name: "TEXT", data_type: TYPE_STRING, dims: [ -1 ] }]
output [
  { name: "SAME", data_type: TYPE_STRING, dims: [ -1 ] },
  { name: "REVERSED", data_type: TYPE_STRING, dims: [ -1 ] },
  { name: "PACKED_BYTES", data_type: TYPE_INT32, dims: [ 1 ] }
]
instance_group [{ count: 1, kind: KIND_CPU }]
`;

// SAME passes `packed` on; REVERSED is built from `data`; PACKED_BYTES is the size of `packed`.
const MODEL = `
export function execute(requests) {
  return requests.map(({ inputs, parameters }) => {
    const text = inputs.TEXT;
    if (parameters.malformed) return { outputs: { SAME: { shape: text.shape, data: { count: 3, bytes: new Uint8Array(5) } } } };
    const rows = text.shape[0];
    return {
      outputs: {
        SAME: { shape: text.shape, data: text.packed },
        REVERSED: { shape: text.shape, data: [...text.data].reverse() },
        PACKED_BYTES: { shape: [rows, 1], data: Int32Array.from({ length: rows }, () => text.packed.bytes.byteLength) },
      },
    };
  });
}
`;

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'packed', CONFIG, { source: MODEL });
  t = await startTestServer({ modelRepositories: [repo.root] });
});

afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

const strings = (k: number) => [`request ${k}`, '', `a\u0000${k}`];

describe('BYTES in the JavaScript model API', () => {
  it('gives each request of a batch its own elements, as data and as packed', async () => {
    const answers = await Promise.all(
      [0, 1, 2, 3].map((k) => postJson(`${t.url}/v2/models/packed/infer`, { inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1, 3], data: strings(k) }] })),
    );
    answers.forEach(({ status, json }, k) => {
      expect(status).toBe(200);
      const out = (name: string) => json.outputs.find((o: { name: string }) => o.name === name);
      expect(out('SAME').data).toEqual(strings(k));
      expect(out('REVERSED').data).toEqual([...strings(k)].reverse());
      expect(out('PACKED_BYTES').data).toEqual([3 * 4 + Buffer.byteLength(strings(k).join(''))]);
    });
  });

  it('passes bytes that are not UTF-8 through packed, exactly', async () => {
    const raw = Buffer.from([2, 0, 0, 0, 0xff, 0x00, 0, 0, 0, 0]);
    const answer = await postBinary(
      `${t.url}/v2/models/packed/infer`,
      { inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1, 2], parameters: { binary_data_size: raw.length } }], outputs: [{ name: 'SAME', parameters: { binary_data: true } }] },
      [raw],
    );
    expect(answer.status).toBe(200);
    expect(unpackStrings(answer.outputs.get('SAME')!)).toEqual([Buffer.from([0xff, 0x00]), Buffer.alloc(0)]);
  });

  it('refuses packed output data whose elements do not match their count', async () => {
    const { status, json } = await postJson(`${t.url}/v2/models/packed/infer`, {
      inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1, 1], data: ['x'] }],
      outputs: [{ name: 'SAME' }],
      parameters: { malformed: true },
    });
    expect(status).toBe(500);
    expect(json.error).toBe("model 'packed' version 1 failed: model.js response 0: output 'SAME': raw BYTES content of 5 bytes cannot hold the 3 elements that shape [3] needs (4 bytes of length each at least)");
  });
});
