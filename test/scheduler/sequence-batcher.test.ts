/**
 * The sequence batcher through the bundled sequence models, over HTTP, gRPC and gRPC
 * streaming, as Triton's sequence example clients use them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answersBySequence, grpc, InferenceClient, int32sOf, type Message } from '../helpers/grpc-client.js';
import { exampleModels, postJson, startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  t = await startTestServer(exampleModels('simple_sequence', 'simple_dyna_sequence', 'simple_string_dyna_sequence'));
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
});

/** What Triton's example clients send: [0 | 100 | 20] then these values (negated for the second sequence). */
const VALUES = [11, 7, 5, 3, 2, 0, 1];

type SequenceId = number | string;

function httpInfer(model: string, value: number, id: SequenceId | undefined, start: boolean, end: boolean, extra: object = {}) {
  const parameters: Record<string, unknown> = { sequence_start: start, sequence_end: end };
  if (id !== undefined) parameters.sequence_id = id;
  return postJson(`${t.url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }],
    outputs: [{ name: 'OUTPUT' }],
    parameters,
    ...extra,
  });
}

/** Sends a whole sequence over HTTP, one request after the other; the OUTPUT of each. */
async function httpSequence(model: string, id: SequenceId, values: number[]): Promise<number[]> {
  const outputs: number[] = [];
  for (let k = 0; k < values.length; k++) {
    const { status, json } = await httpInfer(model, values[k], id, k === 0, k === values.length - 1);
    expect(status, JSON.stringify(json)).toBe(200);
    outputs.push(json.outputs[0].data[0]);
  }
  return outputs;
}

function grpcRequest(model: string, value: number, id: SequenceId, start: boolean, end: boolean, requestId = ''): Message {
  return {
    model_name: model,
    id: requestId,
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [value] } }],
    outputs: [{ name: 'OUTPUT' }],
    parameters: {
      sequence_id: typeof id === 'number' ? { int64_param: id } : { string_param: id },
      sequence_start: { bool_param: start },
      sequence_end: { bool_param: end },
    },
  };
}

const outputOf = (response: Message): number => int32sOf(response.raw_output_contents[0])[0];

/** simple_sequence: (INPUT + START) * READY. */
const plain = (values: number[]) => values.map((v, k) => v + (k === 0 ? 1 : 0));
/** simple_dyna_sequence: INPUT + START + END * CORRID. */
const dyna = (values: number[], id: number) => values.map((v, k) => v + (k === 0 ? 1 : 0) + (k === values.length - 1 ? id : 0));
/** simple_string_dyna_sequence: a running sum, plus the correlation ID on the last request. */
const accumulated = (values: number[], id: number) => {
  let sum = 0;
  return values.map((v, k) => (sum += v) + (k === values.length - 1 ? id : 0));
};

describe('sequence batcher over HTTP (Triton simple_http_sequence_sync_infer_client)', () => {
  it('answers simple_sequence for integer and string sequence ids', async () => {
    const first = [0, ...VALUES];
    const second = [100, ...VALUES.map((v) => -v)];
    const third = [20, ...VALUES.map((v) => -v)];
    expect(await httpSequence('simple_sequence', 1000, first)).toEqual(plain(first));
    expect(await httpSequence('simple_sequence', 1001, second)).toEqual(plain(second));
    expect(await httpSequence('simple_sequence', 'a0c4a3e6-5b8e-4f7e-9d61-2f3c0e1b7a55', third)).toEqual(plain(third));
  });

  it('adds the correlation id on the last request of simple_dyna_sequence', async () => {
    const first = [0, ...VALUES];
    expect(await httpSequence('simple_dyna_sequence', 1000, first)).toEqual(dyna(first, 1000));
  });

  it('accumulates per sequence in simple_string_dyna_sequence, with a string correlation id', async () => {
    const values = [20, ...VALUES.map((v) => -v)];
    expect(await httpSequence('simple_string_dyna_sequence', '1002', values)).toEqual(accumulated(values, 1002));
  });

  it('keeps 1002 and "1002" apart: they are different sequences', async () => {
    expect((await httpInfer('simple_sequence', 5, 1002, true, false)).json.outputs[0].data).toEqual([6]);
    const string = await httpInfer('simple_sequence', 5, '1002', false, false);
    expect(string.status).toBe(400);
    expect(string.json.error).toBe(
      "inference request for sequence 1002 to model 'simple_sequence' must specify the START flag on the first request of the sequence",
    );
    expect((await httpInfer('simple_sequence', 5, 1002, false, true)).json.outputs[0].data).toEqual([5]);
  });
});

describe('sequence batcher over gRPC', () => {
  it('runs Triton simple_grpc_sequence_sync_infer_client: unary calls with int64 and string ids', async () => {
    const values = [0, ...VALUES];
    const outputs: number[] = [];
    for (let k = 0; k < values.length; k++) {
      const response = await client.call('ModelInfer', grpcRequest('simple_dyna_sequence', values[k], 2000, k === 0, k === values.length - 1));
      outputs.push(outputOf(response));
    }
    expect(outputs).toEqual(dyna(values, 2000));
    const strings: number[] = [];
    const negated = [20, ...VALUES.map((v) => -v)];
    for (let k = 0; k < negated.length; k++) {
      const response = await client.call('ModelInfer', grpcRequest('simple_string_dyna_sequence', negated[k], '2002', k === 0, k === negated.length - 1));
      strings.push(outputOf(response));
    }
    expect(strings).toEqual(accumulated(negated, 2002));
  });

  it('runs Triton simple_grpc_sequence_stream_infer_client: three sequences interleaved on one stream', async () => {
    const sequences: [string, SequenceId, number[], number[]][] = [
      ['simple_dyna_sequence', 3000, [0, ...VALUES], dyna([0, ...VALUES], 3000)],
      ['simple_dyna_sequence', 3001, [100, ...VALUES.map((v) => -v)], dyna([100, ...VALUES.map((v) => -v)], 3001)],
      ['simple_string_dyna_sequence', '3002', [20, ...VALUES.map((v) => -v)], accumulated([20, ...VALUES.map((v) => -v)], 3002)],
    ];
    const stream = client.stream();
    const { received, done } = answersBySequence(stream, outputOf);
    // As the example client: each sequence is written whole before the next, without waiting for answers.
    for (const [model, id, values] of sequences) {
      values.forEach((value, k) => stream.write(grpcRequest(model, value, id, k === 0, k === values.length - 1, `${id}_${k + 1}`)));
    }
    stream.end();
    expect(await done).toBe(grpc.status.OK);
    for (const [, id, , expected] of sequences) expect(received.get(String(id))).toEqual(expected);
  });

  it('batches many concurrent sequences together without mixing their states', async () => {
    const SEQUENCES = 24;
    const STEPS = 6;
    const stats = t.server.registry.resolve('simple_string_dyna_sequence').statistics;
    const executionsBefore = stats.executionCount;
    const results = await Promise.all(
      Array.from({ length: SEQUENCES }, async (_, s) => {
        const values = Array.from({ length: STEPS }, (_, k) => (s + 1) * 10 + k);
        const outputs: number[] = [];
        for (let k = 0; k < STEPS; k++) {
          const response = await client.call('ModelInfer', grpcRequest('simple_string_dyna_sequence', values[k], String(5000 + s), k === 0, k === STEPS - 1));
          outputs.push(outputOf(response));
        }
        return { outputs, expected: accumulated(values, 5000 + s) };
      }),
    );
    for (const { outputs, expected } of results) expect(outputs).toEqual(expected);
    // 144 requests from 24 clients: sequences share executions (how much depends on the machine's load).
    expect(stats.executionCount - executionsBefore).toBeLessThan(SEQUENCES * STEPS);
    expect(Math.max(...stats.batchStatistics().map((b) => b.batchSize))).toBeGreaterThan(2);
  });
});

describe('sequence request errors', () => {
  it('refuses a request without sequence_id', async () => {
    const { status, json } = await httpInfer('simple_sequence', 1, undefined, true, true);
    expect(status).toBe(400);
    expect(json.error).toBe("inference request to model 'simple_sequence' must specify a non-zero or non-empty correlation ID");
    expect((await httpInfer('simple_sequence', 1, 0, true, true)).json.error).toContain('must specify a non-zero or non-empty correlation ID');
    expect((await httpInfer('simple_sequence', 1, '', true, true)).json.error).toContain('must specify a non-zero or non-empty correlation ID');
  });

  it('refuses a sequence that starts without START, and one that goes on after END', async () => {
    const { status, json } = await httpInfer('simple_sequence', 1, 7777, false, false);
    expect(status).toBe(400);
    expect(json.error).toBe(
      "inference request for sequence 7777 to model 'simple_sequence' must specify the START flag on the first request of the sequence",
    );
    expect((await httpInfer('simple_sequence', 1, 7778, true, true)).status).toBe(200);
    const after = await httpInfer('simple_sequence', 1, 7778, false, false);
    expect(after.json.error).toContain('must specify the START flag');
    const grpcError = await client.fail('ModelInfer', grpcRequest('simple_sequence', 1, 'never-started', false, false));
    expect(grpcError.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(grpcError.details).toContain("inference request for sequence never-started to model 'simple_sequence' must specify the START flag");
  });

  it('refuses malformed sequence parameters, naming them', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ sequence_id: -3, sequence_start: true }, "Unable to parse 'sequence_id'"],
      [{ sequence_id: 1.5, sequence_start: true }, "Unable to parse 'sequence_id'"],
      [{ sequence_id: true, sequence_start: true }, "Unable to parse 'sequence_id'"],
      [{ sequence_id: 9, sequence_start: 'yes' }, "Unable to parse 'sequence_start'"],
      [{ sequence_id: 9, sequence_start: true, sequence_end: 1 }, "Unable to parse 'sequence_end'"],
    ];
    for (const [parameters, message] of cases) {
      const { status, json } = await postJson(`${t.url}/v2/models/simple_sequence/infer`, {
        inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [1] }],
        parameters,
      });
      expect(status, JSON.stringify(parameters)).toBe(400);
      expect(json.error).toContain(message);
    }
  });

  it('refuses a batch of more than one row, control inputs sent by the client, and a string id for an integer CORRID', async () => {
    const batch = await postJson(`${t.url}/v2/models/simple_sequence/infer`, {
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [2, 1], data: [1, 2] }],
      parameters: { sequence_id: 11, sequence_start: true },
    });
    expect(batch.status).toBe(400);
    expect(batch.json.error).toBe("inference request to model 'simple_sequence' must specify batch-size 1 due to requirements of sequence batcher");
    const control = await postJson(`${t.url}/v2/models/simple_sequence/infer`, {
      inputs: [
        { name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [1] },
        { name: 'START', datatype: 'INT32', shape: [1, 1], data: [1] },
      ],
      parameters: { sequence_id: 12, sequence_start: true },
    });
    expect(control.status).toBe(400);
    expect(control.json.error).toContain("unexpected inference input 'START'");
    const stringId = await httpInfer('simple_dyna_sequence', 1, 'abc', true, false);
    expect(stringId.status).toBe(400);
    expect(stringId.json.error).toContain("string sequence_id 'abc'");
    expect(stringId.json.error).toContain("control input 'CORRID'");
  });

  it('answers a bad request on a stream with an error and goes on with the good ones', async () => {
    const stream = client.stream();
    const messages: Message[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (message: Message) => messages.push(message));
      stream.on('status', () => resolve());
      stream.on('error', reject);
    });
    stream.write(grpcRequest('simple_sequence', 4, 8100, true, false, 'a'));
    stream.write(grpcRequest('simple_sequence', 4, 8101, false, false, 'b'));
    stream.write(grpcRequest('simple_sequence', 6, 8100, false, true, 'c'));
    stream.end();
    await done;
    const byId = new Map(messages.map((m) => [m.infer_response?.id || m.error_message, m]));
    expect(messages).toHaveLength(3);
    expect(outputOf(byId.get('a')!.infer_response)).toBe(5);
    expect(outputOf(byId.get('c')!.infer_response)).toBe(6);
    expect(messages.find((m) => m.error_message)!.error_message).toContain('sequence 8101');
  });
});
