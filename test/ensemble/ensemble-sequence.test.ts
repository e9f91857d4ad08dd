/**
 * Sequences through an ensemble: as in Triton, the ensemble request's sequence_id,
 * sequence_start and sequence_end go on to every step, so that a step model with
 * sequence_batching sees one sequence per client sequence and keeps its state per
 * sequence. Over HTTP, gRPC and gRPC streaming, two sequences interleaved.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEnsemble } from '../helpers/ensemble-models.js';
import { answersBySequence, grpc, InferenceClient, int32sOf, type Message } from '../helpers/grpc-client.js';
import { EXAMPLE_REPOSITORY, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
let client: InferenceClient;
let repository: ReturnType<typeof scratchRepository>;

beforeAll(async () => {
  repository = scratchRepository();
  for (const model of ['simple_sequence', 'simple_dyna_sequence', 'identity_int32']) {
    cpSync(join(EXAMPLE_REPOSITORY, model), join(repository.root, model), { recursive: true });
  }
  const int32 = (name: string) => ({ name, type: 'TYPE_INT32', dims: [1] });
  // A sequence step followed by a step that is not one.
  addEnsemble(repository.root, 'sequence_then_identity', {
    maxBatchSize: 8,
    inputs: [int32('VALUE')],
    outputs: [int32('RESULT')],
    steps: [
      { model: 'simple_sequence', inputs: { INPUT: 'VALUE' }, outputs: { OUTPUT: 'ACCUMULATED' } },
      { model: 'identity_int32', inputs: { INPUT0: 'ACCUMULATED' }, outputs: { OUTPUT0: 'RESULT' } },
    ],
  });
  // Its answers carry the correlation id (on the END request): proof that the step saw the client's sequence_id.
  addEnsemble(repository.root, 'dyna_ensemble', {
    maxBatchSize: 8,
    inputs: [int32('VALUE')],
    outputs: [int32('RESULT')],
    steps: [{ model: 'simple_dyna_sequence', inputs: { INPUT: 'VALUE' }, outputs: { OUTPUT: 'RESULT' } }],
  });
  t = await startTestServer({ modelRepositories: [repository.root] });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repository?.cleanup();
});

type SequenceId = number | string;

function httpStep(model: string, value: number, parameters: Record<string, unknown>) {
  return postJson(`${t.url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'VALUE', datatype: 'INT32', shape: [1, 1], data: [value] }],
    parameters,
  });
}

function grpcStep(model: string, value: number, id: SequenceId, start: boolean, end: boolean, requestId = ''): Message {
  return {
    model_name: model,
    id: requestId,
    inputs: [{ name: 'VALUE', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [value] } }],
    parameters: {
      sequence_id: typeof id === 'number' ? { int64_param: id } : { string_param: id },
      sequence_start: { bool_param: start },
      sequence_end: { bool_param: end },
    },
  };
}

/** simple_sequence: (INPUT + START) * READY, per request. */
const plain = (values: number[]) => values.map((v, k) => v + (k === 0 ? 1 : 0));
/** simple_dyna_sequence: INPUT + START + END * CORRID. */
const dyna = (values: number[], id: number) => values.map((v, k) => v + (k === 0 ? 1 : 0) + (k === values.length - 1 ? id : 0));

describe('a sequence model as an ensemble step', () => {
  it('gets the sequence parameters of HTTP requests; two sequences interleaved keep apart', async () => {
    const a = [0, 11, 7, 5, 3];
    const b = [100, -11, -7, -5, -3];
    const outA: number[] = [];
    const outB: number[] = [];
    for (let k = 0; k < a.length; k++) {
      const flags = { sequence_start: k === 0, sequence_end: k === a.length - 1 };
      const [ra, rb] = await Promise.all([
        httpStep('dyna_ensemble', a[k], { sequence_id: 41, ...flags }),
        httpStep('dyna_ensemble', b[k], { sequence_id: 42, ...flags }),
      ]);
      expect(ra.status, JSON.stringify(ra.json)).toBe(200);
      expect(rb.status, JSON.stringify(rb.json)).toBe(200);
      outA.push(ra.json.outputs[0].data[0]);
      outB.push(rb.json.outputs[0].data[0]);
    }
    expect(outA).toEqual(dyna(a, 41));
    expect(outB).toEqual(dyna(b, 42));
  });

  it('runs the steps after the sequence step, with string sequence ids', async () => {
    const values = [3, 4, 5];
    const outputs: number[] = [];
    for (let k = 0; k < values.length; k++) {
      const { status, json } = await httpStep('sequence_then_identity', values[k], {
        sequence_id: 'client-7',
        sequence_start: k === 0,
        sequence_end: k === values.length - 1,
      });
      expect(status, JSON.stringify(json)).toBe(200);
      expect(json.outputs[0].name).toBe('RESULT');
      outputs.push(json.outputs[0].data[0]);
    }
    expect(outputs).toEqual(plain(values));
  });

  it('streams two interleaved sequences through the ensemble over one gRPC stream', async () => {
    const a = [0, 11, 7, 5];
    const b = [100, -11, -7, -5];
    const stream = client.stream();
    const { received, done } = answersBySequence(stream, (response) => int32sOf(response.raw_output_contents[0])[0]);
    for (let k = 0; k < a.length; k++) {
      const last = k === a.length - 1;
      stream.write(grpcStep('dyna_ensemble', a[k], 51, k === 0, last, `51_${k}`));
      stream.write(grpcStep('dyna_ensemble', b[k], 52, k === 0, last, `52_${k}`));
    }
    stream.end();
    expect(await done).toBe(grpc.status.OK);
    expect(received.get('51')).toEqual(dyna(a, 51));
    expect(received.get('52')).toEqual(dyna(b, 52));
  });

  it('answers unary gRPC calls through the ensemble', async () => {
    const values = [9, 8];
    const outputs: number[] = [];
    for (let k = 0; k < values.length; k++) {
      const response = await client.call('ModelInfer', grpcStep('sequence_then_identity', values[k], 61, k === 0, k === values.length - 1));
      outputs.push(int32sOf(response.raw_output_contents[0])[0]);
    }
    expect(outputs).toEqual(plain(values));
  });
});

describe('sequence errors through an ensemble', () => {
  it("refuses a request without sequence_id with Triton's message, naming the step", async () => {
    const { status, json } = await httpStep('sequence_then_identity', 1, {});
    expect(status).toBe(400);
    expect(json.error).toContain("inference request to model 'simple_sequence' must specify a non-zero or non-empty correlation ID");
    expect(json.error).toContain("step 1 (model 'simple_sequence')");
    const grpcError = await client.fail('ModelInfer', { model_name: 'dyna_ensemble', inputs: [{ name: 'VALUE', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [1] } }] });
    expect(grpcError.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(grpcError.details).toContain("inference request to model 'simple_dyna_sequence' must specify a non-zero or non-empty correlation ID");
  });

  it('refuses a sequence that does not start with START, and malformed sequence parameters', async () => {
    const unstarted = await httpStep('dyna_ensemble', 1, { sequence_id: 9191 });
    expect(unstarted.status).toBe(400);
    expect(unstarted.json.error).toContain(
      "inference request for sequence 9191 to model 'simple_dyna_sequence' must specify the START flag on the first request of the sequence",
    );
    const malformed = await httpStep('dyna_ensemble', 1, { sequence_id: -4, sequence_start: true });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toContain("Unable to parse 'sequence_id'");
    const batched = await postJson(`${t.url}/v2/models/dyna_ensemble/infer`, {
      inputs: [{ name: 'VALUE', datatype: 'INT32', shape: [2, 1], data: [1, 2] }],
      parameters: { sequence_id: 77, sequence_start: true },
    });
    expect(batched.status).toBe(400);
    expect(batched.json.error).toContain("must specify batch-size 1 due to requirements of sequence batcher");
    // The failures left nothing behind: a sequence still runs.
    expect((await httpStep('dyna_ensemble', 2, { sequence_id: 9191, sequence_start: true, sequence_end: true })).json.outputs[0].data).toEqual([2 + 1 + 9191]);
  });
});
