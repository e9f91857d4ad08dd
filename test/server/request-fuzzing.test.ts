import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFailure, runFuzzCampaign } from '../../bench/fuzz/fuzz-campaign.js';
import { FUZZ_MODEL_NAMES } from '../../bench/fuzz/fuzz-models.js';
import { grpcCase } from '../../bench/fuzz/grpc-cases.js';
import { httpCase } from '../../bench/fuzz/http-cases.js';
import { exampleModels, getJson, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * A bounded fuzz run of the HTTP and gRPC inference decoders (bench/fuzz/run.ts is the long
 * one). NEREID_FUZZ_SEED picks another seed; a failure prints the command that replays it.
 */
const SEED = Number(process.env.NEREID_FUZZ_SEED ?? 20261204);
const CASES = 300;

describe('request fuzzing', () => {
  let running: TestServer;
  beforeAll(async () => {
    running = await startTestServer({ ...exampleModels(...FUZZ_MODEL_NAMES), allowMetrics: false });
  });
  afterAll(async () => {
    await running.server.stop();
  });

  it(`answers ${CASES} HTTP and ${CASES} gRPC fuzz cases (seed ${SEED}) with no 5xx, and the well-formed fifth of them right`, async () => {
    const report = await runFuzzCampaign({
      httpPort: running.server.httpPort!,
      grpcTarget: running.grpcTarget,
      seed: SEED,
      httpCases: CASES,
      grpcCases: CASES,
      goodEvery: 5,
      concurrency: 4,
      timeoutMs: 20_000,
    });
    expect(report.failures.map(formatFailure)).toEqual([]);
    expect(report.http.sent).toBe(CASES);
    expect(report.grpc.sent).toBe(CASES);
    expect(report.http.good).toBe(CASES / 5);
    // Most mutations must reach the decoders and be refused there, not slip through as valid.
    expect(report.http.answers['400']).toBeGreaterThan(CASES / 2);
    expect(report.grpc.answers['INVALID_ARGUMENT']).toBeGreaterThan(CASES / 2);
    expect((await getJson(`${running.url}/v2/health/ready`)).status).toBe(200);
  });

  it('answers bad percent-encoding in the path with 400 naming the part', async () => {
    const metadata = await getJson(`${running.url}/v2/models/%E0%A4%A`);
    expect(metadata.status).toBe(400);
    expect(metadata.json.error).toBe("the model name in the request path is not valid percent-encoded UTF-8: '%E0%A4%A'");
    const infer = await fetch(`${running.url}/v2/models/simple/versions/%ZZ/infer`, { method: 'POST', body: '{}' });
    expect(infer.status).toBe(400);
    expect((await infer.json()).error).toContain('the model version in the request path');
  });
});

/** A message whose map field `field` holds one entry with a key and no value. */
function keyOnlyMapEntry(field: number, prefix: Uint8Array = new Uint8Array()): Buffer {
  const entry = protobuf.Writer.create().uint32((field << 3) | 2).fork().uint32((1 << 3) | 2).string('k').ldelim().finish();
  return Buffer.concat([prefix, entry]);
}

describe('gRPC map entries without a value (found by the fuzzer: they answered INTERNAL)', () => {
  let running: TestServer;
  let client: grpc.Client;
  beforeAll(async () => {
    running = await startTestServer({ ...exampleModels('simple'), allowMetrics: false, modelControlMode: 'explicit' });
    client = new grpc.Client(running.grpcTarget, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await running.server.stop();
  });

  const call = (method: string, bytes: Buffer) =>
    new Promise<{ code: number; details: string }>((resolve) => {
      client.makeUnaryRequest(`/inference.GRPCInferenceService/${method}`, (b: Buffer) => b, (b: Buffer) => b, bytes, (err) =>
        resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? '' }),
      );
    });
  const name = (field: number, text: string) => protobuf.Writer.create().uint32((field << 3) | 2).string(text).finish();

  it('ModelInfer: a request parameter without a value is INVALID_ARGUMENT naming it', async () => {
    const answer = await call('ModelInfer', keyOnlyMapEntry(4, name(1, 'simple')));
    expect(answer.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(answer.details).toContain("parameter 'k' has no value");
  });

  it('RepositoryModelLoad, LogSettings and TraceSetting read such an entry as an empty value', async () => {
    const load = await call('RepositoryModelLoad', keyOnlyMapEntry(3, name(2, 'simple')));
    expect(load).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining("parameter 'k' has no value") });
    expect((await call('LogSettings', keyOnlyMapEntry(1))).code).not.toBe(grpc.status.INTERNAL);
    expect((await call('TraceSetting', keyOnlyMapEntry(1))).code).not.toBe(grpc.status.INTERNAL);
  });
});

describe('fuzz cases', () => {
  it('are a function of seed and index alone, so that a failure replays', () => {
    for (const index of [0, 1, 7, 123]) {
      expect(httpCase(SEED, index, 5).body).toEqual(httpCase(SEED, index, 5).body);
      expect(httpCase(SEED, index, 5).description).toBe(httpCase(SEED, index, 5).description);
      expect(grpcCase(SEED, index, 5).bytes).toEqual(grpcCase(SEED, index, 5).bytes);
    }
    expect(httpCase(SEED, 1, 5).body).not.toEqual(httpCase(SEED + 1, 1, 5).body);
  });
});
