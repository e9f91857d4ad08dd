/**
 * HTTP fuzz cases: a well-formed `…/infer` request (JSON or binary tensor data, maybe
 * compressed), then, for a malformed case, mutations of its path, headers, JSON and
 * binary parts, and finally of its raw bytes. Every case is a pure function of (seed, index).
 */
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { bytesToValues, compareTensor, goodRequest, valuesToBytes, valuesToJson, type FuzzDatatype, type FuzzTensor, type Values } from './fuzz-models.js';
import { DATATYPES, deeplyNested, INTERESTING_SHAPES, interestingValue, jsonWithRawTokens, raw } from './mutation-values.js';
import { caseRandom, type Random } from './random.js';

export interface HttpCase {
  index: number;
  /** What was done to the request, for the failure report. */
  description: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Set for a well-formed request: a difference between its answer and the right one, or undefined. */
  check?: (status: number, headers: Record<string, string | string[] | undefined>, body: Buffer) => string | undefined;
}

type Json = Record<string, any>;

/** A request being built: the JSON header, the binary parts after it, and transport details. */
interface Draft {
  path: string;
  headers: Record<string, string>;
  json: Json;
  binary: Buffer[];
  compression?: 'gzip' | 'deflate';
  /** Replaces the JSON object: a body whose top level is not an object. */
  topLevel?: unknown;
}

function draftOf(random: Random, inputs: FuzzTensor[], model: string, binaryOutput: boolean): Draft {
  const binary: Buffer[] = [];
  const json: Json = {
    inputs: inputs.map((input) => {
      if (random.chance(0.4)) {
        const bytes = valuesToBytes(input.datatype, input.values);
        binary.push(bytes);
        return { name: input.name, datatype: input.datatype, shape: input.shape, parameters: { binary_data_size: bytes.length } };
      }
      const data = input.datatype === 'INT64' ? (input.values as bigint[]).map((v) => raw(v.toString())) : valuesToJson(input.datatype, input.values);
      return { name: input.name, datatype: input.datatype, shape: input.shape, data };
    }),
  };
  if (random.chance(0.3)) json.id = `case-${random.uint32()}`;
  if (binaryOutput) json.parameters = { binary_data_output: true };
  const path = random.chance(0.2) ? `/v2/models/${model}/versions/1/infer` : `/v2/models/${model}/infer`;
  const draft: Draft = { path, headers: { 'content-type': 'application/json' }, json, binary };
  if (random.chance(0.1)) draft.compression = random.pick(['gzip', 'deflate'] as const);
  return draft;
}

function serialize(draft: Draft): { body: Buffer; headers: Record<string, string> } {
  const text = Buffer.from(jsonWithRawTokens(draft.topLevel !== undefined ? draft.topLevel : draft.json));
  const headers = { ...draft.headers };
  if (draft.binary.length > 0 && headers['inference-header-content-length'] === undefined) headers['inference-header-content-length'] = String(text.length);
  let body = Buffer.concat([text, ...draft.binary]);
  if (draft.compression) {
    body = draft.compression === 'gzip' ? gzipSync(body) : deflateSync(body);
    headers['content-encoding'] = draft.compression;
  }
  return { body, headers };
}

/** Output tensors of an answer, from JSON `data` or from the binary part. */
function parseAnswer(headers: Record<string, string | string[] | undefined>, body: Buffer, datatypes: Map<string, FuzzDatatype>): Map<string, { shape: number[]; values: Values }> {
  const headerLength = headers['inference-header-content-length'];
  const jsonLength = headerLength === undefined ? body.length : Number(headerLength);
  const parsed = JSON.parse(body.subarray(0, jsonLength).toString('utf8')) as { outputs: Array<{ name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size?: number } }> };
  let offset = jsonLength;
  const outputs = new Map<string, { shape: number[]; values: Values }>();
  for (const output of parsed.outputs) {
    const datatype = datatypes.get(output.name);
    if (!datatype) throw new Error(`unexpected output '${output.name}'`);
    if (output.datatype !== datatype) throw new Error(`output '${output.name}' has datatype ${output.datatype}, expected ${datatype}`);
    let values: Values;
    const size = output.parameters?.binary_data_size;
    if (size !== undefined) {
      values = bytesToValues(datatype, body.subarray(offset, offset + size));
      offset += size;
    } else if (datatype === 'BYTES') {
      values = (output.data as string[]).map((s) => Buffer.from(s, 'utf8'));
    } else if (datatype === 'INT64') {
      values = (output.data as number[]).map((v) => BigInt(v));
    } else {
      values = output.data as number[];
    }
    outputs.set(output.name, { shape: output.shape, values });
  }
  return outputs;
}

function goodCase(random: Random, index: number): HttpCase {
  const binaryOutput = random.chance(0.5);
  const { model, inputs, expected } = goodRequest(random, { exactInJson: !binaryOutput });
  const draft = draftOf(random, inputs, model.name, binaryOutput);
  if (random.chance(0.2)) draft.headers['accept-encoding'] = random.pick(['gzip', 'deflate']);
  const { body, headers } = serialize(draft);
  const datatypes = new Map(expected.map((t) => [t.name, t.datatype]));
  return {
    index,
    description: `good request for ${model.name}, shapes ${inputs.map((i) => JSON.stringify(i.shape)).join(' ')}`,
    method: 'POST',
    path: draft.path,
    headers,
    body,
    check(status, answerHeaders, answerBody) {
      if (status !== 200) return `status ${status}: ${answerBody.toString('utf8').slice(0, 300)}`;
      let outputs;
      try {
        const coding = answerHeaders['content-encoding'];
        const body = coding === 'gzip' ? gunzipSync(answerBody) : coding === 'deflate' ? inflateSync(answerBody) : answerBody;
        if (coding !== undefined && coding !== 'gzip' && coding !== 'deflate') return `answer came with content-encoding ${coding}, which was not asked for`;
        outputs = parseAnswer(answerHeaders, body, datatypes);
      } catch (err) {
        return `answer does not parse: ${(err as Error).message}`;
      }
      for (const tensor of expected) {
        const actual = outputs.get(tensor.name);
        if (!actual) return `output '${tensor.name}' missing`;
        const difference = compareTensor(tensor, actual);
        if (difference) return difference;
      }
      return undefined;
    },
  };
}

type Mutation = (random: Random, draft: Draft) => string;

const someInput = (random: Random, draft: Draft): Json => {
  const inputs = Array.isArray(draft.json.inputs) && draft.json.inputs.length > 0 ? draft.json.inputs : [{}];
  const input = random.pick(inputs);
  return typeof input === 'object' && input !== null ? input : {};
};

const MUTATIONS: Array<[string, Mutation]> = [
  ['datatype', (r, d) => { const i = someInput(r, d); i.datatype = r.pick(DATATYPES); return `datatype=${JSON.stringify(i.datatype)}`; }],
  ['shape', (r, d) => { const i = someInput(r, d); i.shape = r.pick(INTERESTING_SHAPES); return `shape=${jsonWithRawTokens(i.shape)}`; }],
  ['shape dimension', (r, d) => {
    const i = someInput(r, d);
    if (!Array.isArray(i.shape) || i.shape.length === 0) i.shape = [1];
    const at = r.int(i.shape.length);
    i.shape[at] = interestingValue(r);
    return `shape[${at}]=${jsonWithRawTokens(i.shape[at])}`;
  }],
  ['data length', (r, d) => {
    const i = someInput(r, d);
    if (!Array.isArray(i.data)) i.data = [];
    if (r.chance(0.5) && i.data.length > 0) i.data.splice(r.int(i.data.length), r.between(1, 3));
    else i.data.push(...Array.from({ length: r.between(1, 3) }, () => i.data[0] ?? 1));
    return `data length ${i.data.length}`;
  }],
  ['data value', (r, d) => {
    const i = someInput(r, d);
    if (!Array.isArray(i.data) || i.data.length === 0) i.data = [0];
    const at = r.int(i.data.length);
    i.data[at] = r.chance(0.2) ? r.pick(['x', 'é', '\ud800', '']) : interestingValue(r);
    return `data[${at}]=${jsonWithRawTokens(i.data[at])}`;
  }],
  ['data shape', (r, d) => {
    const i = someInput(r, d);
    i.data = r.pick([null, 'abc', 5, {}, [[1, 2], [3]], [[[]]], deeplyNested(r.pick([3, 64, 5000])), [null, null], [true, false], [[1], 2]]);
    return `data=${jsonWithRawTokens(i.data)?.slice(0, 40)}`;
  }],
  ['name', (r, d) => { const i = someInput(r, d); i.name = r.pick(['', 'INPUT9', 'OUTPUT0', 'INPUT0', 'INPUT1', 5, null, 'a'.repeat(3000)]); return `name=${JSON.stringify(i.name).slice(0, 20)}`; }],
  ['drop input field', (r, d) => { const i = someInput(r, d); const field = r.pick(['name', 'datatype', 'shape', 'data', 'parameters']); delete i[field]; return `no ${field}`; }],
  ['input parameters', (r, d) => {
    const i = someInput(r, d);
    const key = r.pick(['binary_data_size', 'shared_memory_region', 'shared_memory_byte_size', 'shared_memory_offset', 'binary_data', 'unknown']);
    i.parameters = r.chance(0.1) ? r.pick([null, 5, 'x', []]) : { ...(i.parameters ?? {}), [key]: r.chance(0.3) ? r.pick(['region', 'nope', {}, [1]]) : interestingValue(r) };
    return `input parameters ${jsonWithRawTokens(i.parameters)}`;
  }],
  ['request parameters', (r, d) => {
    const key = r.pick(['priority', 'timeout', 'sequence_id', 'sequence_start', 'sequence_end', 'binary_data_output', 'headers', 'nested']);
    d.json.parameters = r.chance(0.1) ? r.pick([null, 7, 'x', []]) : { ...(d.json.parameters ?? {}), [key]: r.chance(0.2) ? { deep: [1] } : interestingValue(r) };
    return `request parameters ${jsonWithRawTokens(d.json.parameters)}`;
  }],
  ['outputs', (r, d) => {
    d.json.outputs = r.pick([
      [{ name: 'OUTPUT9' }], [{}], 'x', {}, [null], [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }],
      [{ name: 'OUTPUT0', parameters: { classification: interestingValue(r) } }],
      [{ name: 'OUTPUT0', parameters: { binary_data: interestingValue(r) } }],
      [{ name: 'OUTPUT0', parameters: { binary_data: true, shared_memory_region: 'r' } }],
      [{ name: 'OUTPUT0', parameters: { shared_memory_region: 'nope', shared_memory_byte_size: 64 } }],
    ]);
    return `outputs=${JSON.stringify(d.json.outputs)}`;
  }],
  ['inputs', (r, d) => {
    if (!Array.isArray(d.json.inputs)) d.json.inputs = [];
    const inputs = d.json.inputs as Json[];
    const choice = r.int(6);
    if (choice === 0) d.json.inputs = r.pick([[], {}, null, 'x', [1], [[]]]);
    else if (choice === 1) inputs.push(structuredClone(inputs[0] ?? {}));
    else if (choice === 2) inputs.push({ name: 'EXTRA', datatype: 'INT32', shape: [1], data: [1] });
    else if (choice === 3) inputs.pop();
    else if (choice === 4) delete d.json.inputs;
    else d.json.inputs = Array.from({ length: 300 }, (_, k) => ({ name: `I${k}`, datatype: 'INT32', shape: [1], data: [k] }));
    return `inputs mutated (${choice})`;
  }],
  ['id', (r, d) => { d.json.id = r.pick([5, null, {}, [], 'x'.repeat(10000), '\ud800']); return `id=${JSON.stringify(d.json.id).slice(0, 20)}`; }],
  ['top level', (r, d) => { d.topLevel = r.pick([[], 'str', 5, true, deeplyNested(20000)]); return 'top-level value not an object'; }],
  ['binary size', (r, d) => {
    const i = someInput(r, d);
    i.parameters = { binary_data_size: interestingValue(r) };
    delete i.data;
    if (d.binary.length === 0) d.binary.push(r.bytes(r.int(70)));
    return `binary_data_size=${jsonWithRawTokens(i.parameters.binary_data_size)}`;
  }],
  ['binary parts', (r, d) => {
    const choice = r.int(4);
    if (choice === 0 && d.binary.length > 0) d.binary[0] = d.binary[0]!.subarray(0, r.int(d.binary[0]!.length));
    else if (choice === 1) d.binary.push(r.bytes(r.between(1, 40)));
    else if (choice === 2) d.binary = [];
    else d.binary = d.binary.map((part) => Buffer.concat([part, r.bytes(r.between(1, 8))]));
    return `binary parts mutated (${choice})`;
  }],
  ['header length', (r, d) => {
    const value = r.pick(['-1', '0', 'abc', '99999999999', '1e3', ' 12', '0x10', '', '1.5', '18446744073709551617', '+5', String(r.int(400))]);
    d.headers['inference-header-content-length'] = value;
    return `Inference-Header-Content-Length: '${value}'`;
  }],
  ['content encoding', (r, d) => {
    const value = r.pick(['gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, deflate', 'GZIP', '']);
    d.headers['content-encoding'] = value;
    d.compression = undefined;
    return `Content-Encoding: '${value}' on an uncompressed body`;
  }],
  ['accept encoding', (r, d) => { const value = r.pick(['gzip', 'deflate', '*', 'br;q=0', 'gzip;q=abc', 'identity;q=0', ',,,']); d.headers['accept-encoding'] = value; return `Accept-Encoding: '${value}'`; }],
  ['content type', (r, d) => { const value = r.pick(['text/plain', 'application/octet-stream', '', 'application/json; charset=latin1', 'multipart/form-data']); d.headers['content-type'] = value; return `Content-Type: '${value}'`; }],
  ['model path', (r, d) => {
    const name = r.pick(['nope', '%', '%E0%A4%A', '%00', 'simple%2F..', 'a'.repeat(5000), '%ZZ', '..', 'simple%20', 'identity_bytes%00']);
    const version = r.pick(['', '/versions/0', '/versions/-1', '/versions/abc', '/versions/99999999999999999999', '/versions/1.5', '/versions/%', '/versions/']);
    d.path = `/v2/models/${name}${version}/infer`;
    return `path ${d.path.slice(0, 60)}`;
  }],
];

/** Mutations of the bytes on the wire, after serialization. */
function mutateBytes(random: Random, body: Buffer): { body: Buffer; description: string } {
  const choice = random.int(5);
  const at = random.int(body.length + 1);
  switch (choice) {
    case 0:
      return { body: body.subarray(0, at), description: `cut at ${at}` };
    case 1: {
      const copy = Buffer.from(body);
      for (let k = random.between(1, 4); k > 0 && copy.length > 0; k--) copy[random.int(copy.length)] ^= 1 << random.int(8);
      return { body: copy, description: 'bits flipped' };
    }
    case 2:
      return { body: Buffer.concat([body.subarray(0, at), random.bytes(random.between(1, 16)), body.subarray(at)]), description: `bytes inserted at ${at}` };
    case 3:
      return { body: Buffer.concat([body.subarray(0, at), Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]), body.subarray(at)]), description: `invalid UTF-8 at ${at}` };
    default:
      return { body: random.bytes(random.int(200)), description: 'random bytes' };
  }
}

function badCase(random: Random, index: number): HttpCase {
  const { model, inputs } = goodRequest(random, { exactInJson: false });
  const draft = draftOf(random, inputs, model.name, random.chance(0.5));
  const done: string[] = [];
  for (let k = random.between(1, 3); k > 0; k--) {
    const [, mutate] = random.pick(MUTATIONS);
    done.push(mutate(random, draft));
  }
  let { body, headers } = serialize(draft);
  if (random.chance(0.2)) {
    const mutated = mutateBytes(random, body);
    body = mutated.body;
    done.push(mutated.description);
  }
  return { index, description: `${model.name}: ${done.join('; ')}`, method: 'POST', path: draft.path, headers, body };
}

/** Non-inference requests with fuzzed names: metadata, readiness, configuration, statistics, repository index. */
function otherEndpointCase(random: Random, index: number): HttpCase {
  const name = random.pick(['simple', 'nope', '%', '%E0%A4%A', '', 'a'.repeat(4000), 'identity_bytes', '%2e%2e']);
  const version = random.pick(['', '/versions/1', '/versions/-1', '/versions/x', '/versions/%ff', '/versions/99999999999999999999']);
  const suffix = random.pick(['', '/ready', '/config', '/stats']);
  if (random.chance(0.2)) {
    const body = Buffer.from(random.pick(['{"ready": 5}', '{"ready": true}', '[]', '{', 'null', '{"ready": "yes"}', '']));
    return { index, description: `repository index ${body.toString()}`, method: 'POST', path: '/v2/repository/index', headers: { 'content-type': 'application/json' }, body };
  }
  const path = `/v2/models/${name}${version}${suffix}`;
  return { index, description: `GET ${path.slice(0, 60)}`, method: 'GET', path, headers: {}, body: Buffer.alloc(0) };
}

/** Case `index` of the run with `seed`: every `goodEvery`-th a well-formed request, the rest malformed. */
export function httpCase(seed: number, index: number, goodEvery: number): HttpCase {
  const random = caseRandom(seed, index, 'http');
  if (index % goodEvery === 0) return goodCase(random, index);
  return random.chance(0.08) ? otherEndpointCase(random, index) : badCase(random, index);
}
