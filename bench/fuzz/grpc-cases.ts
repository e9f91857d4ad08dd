/**
 * gRPC fuzz cases: a well-formed ModelInferRequest (typed contents or raw_input_contents),
 * then, for a malformed case, mutations of its fields (datatypes, shapes, contents,
 * raw contents, parameters, outputs, names) and of its wire bytes. Every case is a pure
 * function of (seed, index).
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { bytesToValues, compareTensor, goodRequest, valuesToBytes, type FuzzDatatype, type FuzzTensor } from './fuzz-models.js';
import { DATATYPES, interestingValue } from './mutation-values.js';
import { caseRandom, type Random } from './random.js';

const root = new protobuf.Root().loadSync(fileURLToPath(new URL('../../proto/grpc_service.proto', import.meta.url)), { keepCase: true });
const requestType = root.lookupType('inference.ModelInferRequest');
const responseType = root.lookupType('inference.ModelInferResponse');

export interface GrpcCase {
  index: number;
  description: string;
  /** ModelInferRequest wire bytes (possibly not a valid message). */
  bytes: Buffer;
  /** Set for a well-formed request: a difference between its answer and the right one, or undefined. */
  check?: (response: Buffer) => string | undefined;
}

type Message = Record<string, any>;

function typedContents(input: FuzzTensor): Message | undefined {
  switch (input.datatype) {
    case 'INT32':
      return { int_contents: input.values };
    case 'INT64':
      return { int64_contents: (input.values as bigint[]).map((v) => v.toString()) };
    case 'BYTES':
      return { bytes_contents: input.values };
    case 'FP16':
      return undefined; // FP16 has no typed field: raw only, as in Triton.
  }
}

function messageOf(random: Random, model: string, inputs: FuzzTensor[]): Message {
  const raw: Buffer[] = [];
  // Raw contents for every input or for none, as Triton requires; FP16 has no typed field.
  const typed = random.chance(0.5) && inputs.every((input) => typedContents(input) !== undefined);
  const message: Message = {
    model_name: model,
    model_version: random.chance(0.2) ? '1' : '',
    inputs: inputs.map((input) => {
      const contents = typed ? typedContents(input) : undefined;
      if (!contents) raw.push(valuesToBytes(input.datatype, input.values));
      return { name: input.name, datatype: input.datatype, shape: input.shape, ...(contents ? { contents } : {}) };
    }),
    raw_input_contents: raw,
  };
  if (random.chance(0.3)) message.id = `case-${random.uint32()}`;
  return message;
}

function encode(message: Message): Buffer {
  return Buffer.from(requestType.encode(message).finish());
}

function goodCase(random: Random, index: number): GrpcCase {
  const { model, inputs, expected } = goodRequest(random, { exactInJson: false });
  const message = messageOf(random, model.name, inputs);
  return {
    index,
    description: `good request for ${model.name}, shapes ${inputs.map((i) => JSON.stringify(i.shape)).join(' ')}`,
    bytes: encode(message),
    check(bytes) {
      let response: Message;
      try {
        response = responseType.toObject(responseType.decode(bytes), { longs: String, bytes: Buffer }) as Message;
      } catch (err) {
        return `answer does not parse: ${(err as Error).message}`;
      }
      const outputs = (response.outputs ?? []) as Array<{ name: string; datatype: string; shape: string[] }>;
      for (const tensor of expected) {
        const at = outputs.findIndex((o) => o.name === tensor.name);
        if (at === -1) return `output '${tensor.name}' missing`;
        const output = outputs[at]!;
        if (output.datatype !== tensor.datatype) return `output '${tensor.name}' has datatype ${output.datatype}`;
        const rawBytes = (response.raw_output_contents ?? [])[at] as Buffer | undefined;
        if (!rawBytes) return `output '${tensor.name}' has no raw_output_contents`;
        let values;
        try {
          values = bytesToValues(output.datatype as FuzzDatatype, rawBytes);
        } catch (err) {
          return `output '${tensor.name}': ${(err as Error).message}`;
        }
        const difference = compareTensor(tensor, { shape: output.shape.map(Number), values });
        if (difference) return difference;
      }
      return undefined;
    },
  };
}

const INT64_TEXTS = ['0', '-1', '1', '16', '2147483648', '4294967296', '9007199254740993', '9223372036854775807', '-9223372036854775808', '1099511627776'];

function int64Value(random: Random): string | number {
  if (random.chance(0.6)) return random.pick(INT64_TEXTS);
  const value = interestingValue(random);
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : random.int(100);
}

function parameterValue(random: Random): Message {
  switch (random.int(5)) {
    case 0:
      return { bool_param: random.chance(0.5) };
    case 1:
      return { int64_param: int64Value(random) };
    case 2:
      return { string_param: random.pick(['', 'x', 'region', 'nope', '-1', '5', 'a'.repeat(2000)]) };
    case 3:
      return { double_param: random.pick([0, -1, 0.5, 1e300, NaN, Infinity, -Infinity, 2 ** 64]) };
    default:
      return { uint64_param: random.pick(INT64_TEXTS.filter((t) => !t.startsWith('-'))) };
  }
}

const PARAMETER_KEYS = [
  'priority', 'timeout', 'sequence_id', 'sequence_start', 'sequence_end', 'binary_data_size', 'binary_data_output', 'binary_data',
  'shared_memory_region', 'shared_memory_byte_size', 'shared_memory_offset', 'classification', 'headers', 'random_key',
];

type Mutation = (random: Random, message: Message) => string;

const someInput = (random: Random, message: Message): Message => {
  if (message.inputs.length === 0) message.inputs.push({ name: 'INPUT0' });
  return random.pick(message.inputs as Message[]);
};

const MUTATIONS: Array<[string, Mutation]> = [
  ['datatype', (r, m) => { const i = someInput(r, m); const d = r.pick(DATATYPES); i.datatype = typeof d === 'string' ? d : 'x'; return `datatype='${i.datatype}'`; }],
  ['shape', (r, m) => {
    const i = someInput(r, m);
    i.shape = r.chance(0.3) ? r.pick([[], [0], Array(70).fill(1), Array(40).fill('2')]) : Array.from({ length: r.between(1, 4) }, () => int64Value(r));
    return `shape=[${i.shape.join(',')}]`;
  }],
  ['contents', (r, m) => {
    const i = someInput(r, m);
    const field = r.pick(['bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents']);
    const count = r.pick([0, 1, 15, 16, 17, 32, 100]);
    const value = field === 'bool_contents' ? true : field === 'bytes_contents' ? Buffer.from('x') : field.includes('64') && !field.startsWith('fp') ? '7' : 1;
    i.contents = { ...(r.chance(0.5) ? i.contents ?? {} : {}), [field]: Array(count).fill(value) };
    return `contents.${field} × ${count}`;
  }],
  ['raw contents', (r, m) => {
    const raw = m.raw_input_contents as Buffer[];
    const choice = r.int(5);
    if (choice === 0) raw.push(r.bytes(r.int(70)));
    else if (choice === 1) raw.pop();
    else if (choice === 2 && raw.length > 0) raw[0] = raw[0]!.subarray(0, r.int(raw[0]!.length));
    else if (choice === 3) m.raw_input_contents = raw.map((b) => Buffer.concat([b, r.bytes(r.between(1, 9))]));
    else m.raw_input_contents = [Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2])];
    return `raw_input_contents mutated (${choice})`;
  }],
  ['name', (r, m) => { const i = someInput(r, m); i.name = r.pick(['', 'INPUT9', 'OUTPUT0', 'INPUT0', 'INPUT1', 'a'.repeat(3000)]); return `name='${i.name.slice(0, 20)}'`; }],
  ['input parameter', (r, m) => {
    const i = someInput(r, m);
    const key = r.pick(PARAMETER_KEYS);
    i.parameters = { ...(i.parameters ?? {}), [key]: parameterValue(r) };
    return `input parameter ${key}=${JSON.stringify(i.parameters[key])}`;
  }],
  ['request parameter', (r, m) => {
    const key = r.pick(PARAMETER_KEYS);
    m.parameters = { ...(m.parameters ?? {}), [key]: parameterValue(r) };
    return `request parameter ${key}=${JSON.stringify(m.parameters[key])}`;
  }],
  ['outputs', (r, m) => {
    const name = r.pick(['OUTPUT0', 'OUTPUT1', 'OUTPUT9', '', 'INPUT0']);
    const parameters = r.chance(0.6) ? { [r.pick(['classification', 'binary_data', 'shared_memory_region', 'shared_memory_byte_size'])]: parameterValue(r) } : {};
    m.outputs = Array.from({ length: r.between(1, 3) }, () => ({ name, parameters }));
    return `outputs ${JSON.stringify(m.outputs)}`;
  }],
  ['inputs', (r, m) => {
    const choice = r.int(4);
    if (choice === 0) m.inputs = [];
    else if (choice === 1) m.inputs.push(structuredClone(m.inputs[0] ?? {}));
    else if (choice === 2) m.inputs.pop();
    else m.inputs = Array.from({ length: 300 }, (_, k) => ({ name: `I${k}`, datatype: 'INT32', shape: [1], contents: { int_contents: [k] } }));
    return `inputs mutated (${choice})`;
  }],
  ['model', (r, m) => {
    m.model_name = r.pick(['', 'nope', 'simple', 'identity_bytes', 'a'.repeat(3000), '../simple', 'simple\u0000']);
    m.model_version = r.pick(['', '1', '0', '-1', 'abc', '99999999999999999999', '1.5']);
    return `model '${m.model_name.slice(0, 20)}' version '${m.model_version}'`;
  }],
  ['id', (r, m) => { m.id = r.pick(['', 'x'.repeat(10000), '\u0000']); return `id length ${m.id.length}`; }],
];

/** Wire-level damage: cut, flipped bits, inserted bytes, fields of a wrong wire type or a huge length. */
function mutateWire(random: Random, bytes: Buffer): { bytes: Buffer; description: string } {
  const at = random.int(bytes.length + 1);
  const writer = () => protobuf.Writer.create();
  switch (random.int(7)) {
    case 0:
      return { bytes: bytes.subarray(0, at), description: `cut at ${at}` };
    case 1: {
      const copy = Buffer.from(bytes);
      for (let k = random.between(1, 4); k > 0 && copy.length > 0; k--) copy[random.int(copy.length)] ^= 1 << random.int(8);
      return { bytes: copy, description: 'bits flipped' };
    }
    case 2:
      return { bytes: Buffer.concat([bytes.subarray(0, at), random.bytes(random.between(1, 16)), bytes.subarray(at)]), description: `bytes inserted at ${at}` };
    case 3: {
      // A known field with the wrong wire type: model_name (1) or inputs (5) as a varint.
      const field = random.pick([1, 2, 3, 4, 5, 6, 7]);
      const extra = Buffer.from(writer().uint32((field << 3) | 0).uint64(random.uint32()).finish());
      return { bytes: Buffer.concat([bytes, extra]), description: `field ${field} as a varint` };
    }
    case 4: {
      // A length-delimited field claiming far more bytes than follow.
      const field = random.pick([5, 6, 7, 99]);
      const extra = Buffer.from(writer().uint32((field << 3) | 2).uint32(random.pick([0x7fffffff, 0xffffffff, 1 << 20])).finish());
      return { bytes: Buffer.concat([bytes, extra, random.bytes(4)]), description: `field ${field} with a huge length` };
    }
    case 5: {
      // A parameters map entry (field 4) with a key and no value, or a value without a key.
      const entry = writer().uint32((4 << 3) | 2).fork();
      if (random.chance(0.7)) entry.uint32((1 << 3) | 2).string(random.pick(['priority', 'timeout', 'k', '']));
      else entry.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 0).bool(true).ldelim();
      return { bytes: Buffer.concat([bytes, Buffer.from(entry.ldelim().finish())]), description: 'parameters entry without a key or value' };
    }
    default:
      return { bytes: random.bytes(random.int(200)), description: 'random bytes' };
  }
}

function badCase(random: Random, index: number): GrpcCase {
  const { model, inputs } = goodRequest(random, { exactInJson: false });
  const message = messageOf(random, model.name, inputs);
  const done: string[] = [];
  for (let k = random.between(1, 3); k > 0; k--) {
    const [, mutate] = random.pick(MUTATIONS);
    done.push(mutate(random, message));
  }
  let bytes = encode(message);
  if (random.chance(0.25)) {
    const mutated = mutateWire(random, bytes);
    bytes = mutated.bytes;
    done.push(mutated.description);
  }
  return { index, description: `${model.name}: ${done.join('; ')}`, bytes };
}

/** Case `index` of the run with `seed`: every `goodEvery`-th a well-formed request, the rest malformed. */
export function grpcCase(seed: number, index: number, goodEvery: number): GrpcCase {
  const random = caseRandom(seed, index, 'grpc');
  return index % goodEvery === 0 ? goodCase(random, index) : badCase(random, index);
}
