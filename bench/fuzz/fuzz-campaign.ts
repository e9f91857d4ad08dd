/**
 * Sends fuzz cases to a running server over HTTP and gRPC, a few at a time so that good
 * requests run alongside malformed ones, and collects every answer that breaks the rules:
 * a 5xx (or gRPC INTERNAL / UNKNOWN / UNAVAILABLE / DATA_LOSS), no answer, or a good
 * request answered wrongly. Each failure names its seed and case index.
 */
import { Agent, request } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { grpcCase, type GrpcCase } from './grpc-cases.js';
import { httpCase, type HttpCase } from './http-cases.js';

export interface FuzzOptions {
  httpPort: number;
  grpcTarget: string;
  seed: number;
  /** Cases [firstCase, firstCase + count) of each protocol. */
  httpCases: number;
  grpcCases: number;
  firstCase?: number;
  /** Every goodEvery-th case is a well-formed request whose answer is checked. */
  goodEvery: number;
  /** Requests in flight per protocol. */
  concurrency: number;
  /** A case without an answer after this long is a failure. */
  timeoutMs: number;
}

export interface FuzzFailure {
  protocol: 'http' | 'grpc';
  seed: number;
  index: number;
  description: string;
  problem: string;
}

export interface ProtocolTally {
  sent: number;
  good: number;
  /** Answers to the malformed cases by HTTP status or gRPC code name. */
  answers: Record<string, number>;
}

export interface FuzzReport {
  seed: number;
  http: ProtocolTally;
  grpc: ProtocolTally;
  failures: FuzzFailure[];
}

const FAILING_GRPC_CODES = new Set([grpc.status.UNKNOWN, grpc.status.INTERNAL, grpc.status.UNAVAILABLE, grpc.status.DATA_LOSS, grpc.status.DEADLINE_EXCEEDED]);

/** The command that replays one case against a fresh server. */
export function reproduceCommand(failure: Pick<FuzzFailure, 'protocol' | 'seed' | 'index'>): string {
  return `npx tsx bench/fuzz/run.ts --seed ${failure.seed} --protocol ${failure.protocol} --case ${failure.index}`;
}

export function formatFailure(failure: FuzzFailure): string {
  return `${failure.protocol} case ${failure.index} (seed ${failure.seed}): ${failure.problem}\n    request: ${failure.description.slice(0, 300)}\n    replay: ${reproduceCommand(failure)}`;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function sendHttp(agent: Agent, port: number, fuzzCase: HttpCase, timeoutMs: number, retried = false): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: fuzzCase.method, path: fuzzCase.path, agent, headers: { ...fuzzCase.headers, 'content-length': String(fuzzCase.body.length) }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed after its last answer: Node's documented retry case, not a server fault.
      if (req.reusedSocket && !retried && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        sendHttp(agent, port, fuzzCase, timeoutMs, true).then(resolve, reject);
      } else {
        reject(err);
      }
    });
    req.end(fuzzCase.body);
  });
}

export function sendGrpc(client: grpc.Client, fuzzCase: GrpcCase, timeoutMs: number): Promise<{ error: grpc.ServiceError | null; response?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/inference.GRPCInferenceService/ModelInfer',
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      fuzzCase.bytes,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => resolve({ error: error ?? null, response }),
    );
  });
}

/** Runs `count` jobs with at most `concurrency` at once. */
async function pool(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

const grpcCodeName = (code: number) => grpc.status[code] ?? String(code);

/** Sends one HTTP case and judges its answer: what is wrong with it, or undefined. Counts it in `tally`. */
export async function tryHttpCase(agent: Agent, port: number, fuzzCase: HttpCase, timeoutMs: number, tally: ProtocolTally): Promise<string | undefined> {
  let answer: HttpAnswer;
  try {
    answer = await sendHttp(agent, port, fuzzCase, timeoutMs);
  } catch (err) {
    return `no answer: ${(err as Error).message}`;
  }
  if (fuzzCase.check) {
    tally.good++;
    const problem = fuzzCase.check(answer.status, answer.headers, answer.body);
    return problem && `good request answered wrongly: ${problem}`;
  }
  tally.answers[answer.status] = (tally.answers[answer.status] ?? 0) + 1;
  return answer.status >= 500 ? `status ${answer.status}: ${answer.body.toString('utf8').slice(0, 300)}` : undefined;
}

/** Sends one gRPC case and judges its answer: what is wrong with it, or undefined. Counts it in `tally`. */
export async function tryGrpcCase(client: grpc.Client, fuzzCase: GrpcCase, timeoutMs: number, tally: ProtocolTally): Promise<string | undefined> {
  const { error, response } = await sendGrpc(client, fuzzCase, timeoutMs);
  if (fuzzCase.check) {
    tally.good++;
    if (error) return `good request failed: ${grpcCodeName(error.code)} ${error.details}`;
    const problem = fuzzCase.check(response!);
    return problem && `good request answered wrongly: ${problem}`;
  }
  const name = error ? grpcCodeName(error.code) : 'OK';
  tally.answers[name] = (tally.answers[name] ?? 0) + 1;
  return error && FAILING_GRPC_CODES.has(error.code) ? `${name}: ${error.details}` : undefined;
}

export async function runFuzzCampaign(options: FuzzOptions): Promise<FuzzReport> {
  const { seed, goodEvery, timeoutMs } = options;
  const first = options.firstCase ?? 0;
  const failures: FuzzFailure[] = [];
  const http: ProtocolTally = { sent: 0, good: 0, answers: {} };
  const grpcTally: ProtocolTally = { sent: 0, good: 0, answers: {} };
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const client = new grpc.Client(options.grpcTarget, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });

  const httpRun = pool(options.httpCases, options.concurrency, async (i) => {
    const fuzzCase = httpCase(seed, first + i, goodEvery);
    http.sent++;
    const problem = await tryHttpCase(agent, options.httpPort, fuzzCase, timeoutMs, http);
    if (problem) failures.push({ protocol: 'http', seed, index: fuzzCase.index, description: fuzzCase.description, problem });
  });

  const grpcRun = pool(options.grpcCases, options.concurrency, async (i) => {
    const fuzzCase = grpcCase(seed, first + i, goodEvery);
    grpcTally.sent++;
    const problem = await tryGrpcCase(client, fuzzCase, timeoutMs, grpcTally);
    if (problem) failures.push({ protocol: 'grpc', seed, index: fuzzCase.index, description: fuzzCase.description, problem });
  });

  try {
    await Promise.all([httpRun, grpcRun]);
  } finally {
    agent.destroy();
    client.close();
  }
  failures.sort((a, b) => a.protocol.localeCompare(b.protocol) || a.index - b.index);
  return { seed, http, grpc: grpcTally, failures };
}
