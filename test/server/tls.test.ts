import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, Agent, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { startServer, type ServerOptions } from '../../src/server/index.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { exampleModels, startTestServer, type TestServer } from '../helpers/test-server.js';

const TLS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const file = (name: string) => join(TLS_DIR, name);
const pem = (name: string) => readFileSync(file(name));

const SERVER = { cert: file('server.crt'), key: file('server.key') };
const INPUT0 = Array.from({ length: 16 }, (_, i) => i);
const INPUT1 = Array.from({ length: 16 }, (_, i) => 2 * i + 1);
const SIMPLE_BODY = JSON.stringify({
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: INPUT0 },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: INPUT1 },
  ],
});

interface Answer {
  status: number;
  body: string;
}

/** One request with node:https; rejects when the TLS handshake or the connection fails. */
function httpsRequest(port: number, path: string, options: RequestOptions & { body?: string } = {}): Promise<Answer> {
  const { body, ...rest } = options;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', servername: 'localhost', ca: pem('ca.crt'), ...rest },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function expectSimpleSums(answer: Answer): void {
  expect(answer.status).toBe(200);
  const outputs = JSON.parse(answer.body).outputs as Array<{ name: string; data: number[] }>;
  expect(outputs.find((o) => o.name === 'OUTPUT0')!.data).toEqual(INPUT0.map((a, i) => a + INPUT1[i]!));
  expect(outputs.find((o) => o.name === 'OUTPUT1')!.data).toEqual(INPUT0.map((a, i) => a - INPUT1[i]!));
}

const GRPC_SIMPLE_REQUEST = {
  model_name: 'simple',
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: INPUT0 } },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: INPUT1 } },
  ],
};

async function grpcSums(client: InferenceClient): Promise<number[]> {
  const response = await client.call('ModelInfer', GRPC_SIMPLE_REQUEST);
  const index = response.outputs.findIndex((o: { name: string }) => o.name === 'OUTPUT0');
  const raw = response.raw_output_contents[index] as Buffer;
  return Array.from(new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)));
}

const SUMS = INPUT0.map((a, i) => a + INPUT1[i]!);
const channelOptions = { 'grpc.ssl_target_name_override': 'localhost' };

/** A gRPC call that must fail; resolves with its status code. */
async function grpcFailure(client: InferenceClient): Promise<number> {
  try {
    return (await client.fail('ServerLive', {}, { deadlineMs: 5000 })).code;
  } finally {
    client.close();
  }
}

describe('TLS with a server certificate only', () => {
  let running: TestServer;
  beforeAll(async () => {
    running = await startTestServer({
      ...exampleModels('simple'),
      allowMetrics: false,
      httpTls: SERVER,
      grpcTls: { serverCert: SERVER.cert, serverKey: SERVER.key, mutual: false },
    });
  });
  afterAll(async () => {
    await running.server.stop();
  });

  it('serves inference over HTTPS to a client that trusts the CA; no client certificate is asked for', async () => {
    expectSimpleSums(await httpsRequest(running.server.httpPort!, '/v2/models/simple/infer', { body: SIMPLE_BODY }));
    const ready = await httpsRequest(running.server.httpPort!, '/v2/health/ready');
    expect(ready.status).toBe(200);
  });

  it('answers a malformed request over HTTPS with 400 naming the field', async () => {
    const answer = await httpsRequest(running.server.httpPort!, '/v2/models/simple/infer', {
      body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: [1, 2] }] }),
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toContain('INPUT0');
  });

  it('refuses plain HTTP and clients that do not trust the server certificate', async () => {
    await expect(fetch(`http://127.0.0.1:${running.server.httpPort}/v2/health/live`)).rejects.toThrow();
    await expect(httpsRequest(running.server.httpPort!, '/v2/health/live', { ca: pem('other-ca.crt') })).rejects.toThrow(/certificate/);
  });

  it('serves gRPC over TLS to a client with the CA', async () => {
    const client = new InferenceClient(running.grpcTarget, channelOptions, grpc.credentials.createSsl(pem('ca.crt')));
    try {
      expect(await grpcSums(client)).toEqual(SUMS);
    } finally {
      client.close();
    }
  });

  it('refuses plain-text gRPC clients', async () => {
    expect(await grpcFailure(new InferenceClient(running.grpcTarget))).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('mutual TLS', () => {
  let running: TestServer;
  beforeAll(async () => {
    running = await startTestServer({
      ...exampleModels('simple'),
      allowMetrics: false,
      httpTls: { ...SERVER, ca: file('ca.crt') },
      grpcTls: { serverCert: SERVER.cert, serverKey: SERVER.key, rootCert: file('ca.crt'), mutual: true },
    });
  });
  afterAll(async () => {
    await running.server.stop();
  });

  const clientCertificate = { cert: pem('client.crt'), key: pem('client.key') };

  it('serves HTTPS to a client with a certificate signed by --http-ssl-ca, several requests on one connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ...clientCertificate, ca: pem('ca.crt') });
    try {
      for (let i = 0; i < 3; i++) {
        expectSimpleSums(await httpsRequest(running.server.httpPort!, '/v2/models/simple/infer', { body: SIMPLE_BODY, agent }));
      }
      const bad = await httpsRequest(running.server.httpPort!, '/v2/models/simple/infer', { body: '{"inputs": 7}', agent });
      expect(bad.status).toBe(400);
      const missing = await httpsRequest(running.server.httpPort!, '/v2/models/nope', { agent });
      expect(missing.status).toBe(400);
      expect(JSON.parse(missing.body).error).toContain("'nope'");
    } finally {
      agent.destroy();
    }
  });

  it('refuses an HTTPS client without a certificate, and one whose certificate another CA signed', async () => {
    await expect(httpsRequest(running.server.httpPort!, '/v2/health/live', { agent: false })).rejects.toThrow();
    await expect(
      httpsRequest(running.server.httpPort!, '/v2/health/live', { agent: false, cert: pem('rogue-client.crt'), key: pem('rogue-client.key') }),
    ).rejects.toThrow();
    // The refused handshakes leave the server serving.
    expect((await httpsRequest(running.server.httpPort!, '/v2/health/live', { agent: false, ...clientCertificate })).status).toBe(200);
  });

  it('serves gRPC to a client with a certificate signed by --grpc-root-cert', async () => {
    const credentials = grpc.credentials.createSsl(pem('ca.crt'), pem('client.key'), pem('client.crt'));
    const client = new InferenceClient(running.grpcTarget, channelOptions, credentials);
    try {
      expect(await grpcSums(client)).toEqual(SUMS);
    } finally {
      client.close();
    }
  });

  it('refuses gRPC clients without a certificate or with one from another CA', async () => {
    expect(await grpcFailure(new InferenceClient(running.grpcTarget, channelOptions, grpc.credentials.createSsl(pem('ca.crt'))))).toBe(grpc.status.UNAVAILABLE);
    const rogue = grpc.credentials.createSsl(pem('ca.crt'), pem('rogue-client.key'), pem('rogue-client.crt'));
    expect(await grpcFailure(new InferenceClient(running.grpcTarget, channelOptions, rogue))).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('start-up refuses TLS files it cannot use, naming the flag', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'nereid-tls-'));
    writeFileSync(join(scratch, 'not-pem.crt'), 'hello, I am not a certificate\n');
    writeFileSync(join(scratch, 'broken.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    writeFileSync(join(scratch, 'empty.key'), '');
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const start = (options: Partial<ServerOptions>) =>
    startServer({ ...exampleModels(), httpAddress: '127.0.0.1', httpPort: 0, grpcAddress: '127.0.0.1', grpcPort: 0, allowMetrics: false, ...options });
  const grpcTls = (overrides: Partial<NonNullable<ServerOptions['grpcTls']>>) => ({
    grpcTls: { serverCert: SERVER.cert, serverKey: SERVER.key, mutual: false, ...overrides },
  });

  it.each([
    ['a missing certificate', { httpTls: { ...SERVER, cert: '/nonexistent/server.crt' } }, "--http-ssl-cert: cannot read '/nonexistent/server.crt': no such file"],
    ['a directory as key', { httpTls: { ...SERVER, key: TLS_DIR } }, `--http-ssl-key: cannot read '${TLS_DIR}': it is a directory`],
    ['a file that is not PEM', { httpTls: { ...SERVER, cert: '<scratch>/not-pem.crt' } }, '--http-ssl-cert: \'<scratch>/not-pem.crt\' holds no PEM certificate'],
    ['a certificate that does not parse', { httpTls: { ...SERVER, ca: '<scratch>/broken.crt' } }, "--http-ssl-ca: certificate 1 in '<scratch>/broken.crt' does not parse"],
    ['an empty key', grpcTls({ serverKey: '<scratch>/empty.key' }), "--grpc-server-key: '<scratch>/empty.key' is empty"],
    ['a certificate as key', grpcTls({ serverKey: SERVER.cert }), `--grpc-server-key: '${SERVER.cert}' holds no PEM private key`],
    ['a key of another certificate', grpcTls({ serverKey: file('client.key') }), `--grpc-server-key: the key in '${file('client.key')}' does not belong to the certificate in '${SERVER.cert}' (--grpc-server-cert)`],
    ['mutual TLS without a root certificate', grpcTls({ mutual: true }), '--grpc-use-ssl-mutual needs --grpc-root-cert'],
    ['a missing root certificate', grpcTls({ mutual: true, rootCert: '/nonexistent/ca.crt' }), "--grpc-root-cert: cannot read '/nonexistent/ca.crt': no such file"],
  ] as Array<[string, Partial<ServerOptions>, string]>)('%s', async (_, options, message) => {
    const withScratch = JSON.parse(JSON.stringify(options).replaceAll('<scratch>', scratch)) as Partial<ServerOptions>;
    await expect(start(withScratch)).rejects.toThrow(message.replaceAll('<scratch>', scratch));
  });
});

describe('TLS flags', () => {
  const parse = (...flags: string[]) => serveOptionsFromArgs(['--model-repository', '/models', ...flags]) as ServerOptions;

  it("takes Triton's gRPC flags; --grpc-use-ssl-mutual implies --grpc-use-ssl", () => {
    expect(parse('--grpc-use-ssl', '--grpc-server-cert', 'c.pem', '--grpc-server-key', 'k.pem').grpcTls).toEqual({
      serverCert: 'c.pem',
      serverKey: 'k.pem',
      rootCert: undefined,
      mutual: false,
    });
    expect(parse('--grpc-use-ssl-mutual=true', '--grpc-server-cert=c.pem', '--grpc-server-key=k.pem', '--grpc-root-cert=ca.pem').grpcTls).toEqual({
      serverCert: 'c.pem',
      serverKey: 'k.pem',
      rootCert: 'ca.pem',
      mutual: true,
    });
    // As in Triton, the file flags alone do not turn TLS on.
    expect(parse('--grpc-server-cert', 'c.pem', '--grpc-server-key', 'k.pem').grpcTls).toBeUndefined();
  });

  it('turns HTTPS on when both --http-ssl-cert and --http-ssl-key are given', () => {
    expect(parse('--http-ssl-cert', 'c.pem', '--http-ssl-key', 'k.pem').httpTls).toEqual({ cert: 'c.pem', key: 'k.pem', ca: undefined });
    expect(parse('--http-ssl-cert', 'c.pem', '--http-ssl-key', 'k.pem', '--http-ssl-ca', 'ca.pem').httpTls).toEqual({ cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' });
    expect(parse().httpTls).toBeUndefined();
  });

  it.each([
    [['--grpc-use-ssl'], '--grpc-use-ssl needs --grpc-server-cert and --grpc-server-key'],
    [['--grpc-use-ssl-mutual', '--grpc-server-key', 'k.pem'], '--grpc-use-ssl-mutual needs --grpc-server-cert and --grpc-server-key'],
    [['--grpc-use-ssl-mutual', '--grpc-server-cert', 'c.pem', '--grpc-server-key', 'k.pem'], '--grpc-use-ssl-mutual needs --grpc-root-cert'],
    [['--http-ssl-cert', 'c.pem'], '--http-ssl-cert needs --http-ssl-key'],
    [['--http-ssl-key', 'k.pem'], '--http-ssl-key needs --http-ssl-cert'],
    [['--http-ssl-ca', 'ca.pem'], '--http-ssl-ca needs --http-ssl-cert and --http-ssl-key'],
  ])('%j is a usage error', (flags, message) => {
    expect(() => parse(...flags)).toThrow(message);
  });
});
