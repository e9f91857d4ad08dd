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
