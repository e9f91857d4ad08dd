import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/index.js';
import { exampleModels, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * A port that was free a moment ago. The first server must bind a port by number: the kernel
 * never shares a port handed out for port 0, so an ephemeral port would hide the bug.
 */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('HTTP listens on its port exclusively', () => {
  let first: TestServer;
  beforeAll(async () => {
    first = await startTestServer({ ...exampleModels(), httpPort: await freePort() });
  });
  afterAll(async () => {
    await first.server.stop();
  });

  it('refuses to start a second server on a port another server holds, and the first keeps answering', async () => {
    const port = first.server.httpPort!;
    await expect(
      startServer({
        ...exampleModels(),
        httpAddress: '127.0.0.1',
        httpPort: port,
        grpcAddress: '127.0.0.1',
        grpcPort: 0,
        allowMetrics: false,
        exitOnError: false,
      }),
    ).rejects.toThrow(`cannot listen for HTTP on 127.0.0.1:${port}: address in use`);
    const live = await fetch(`${first.url}/v2/health/live`);
    expect(live.status).toBe(200);
  });

  it('refuses a port that a process outside Nereid holds', async () => {
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as { port: number }).port;
    try {
      await expect(
        startServer({ ...exampleModels(), httpAddress: '127.0.0.1', httpPort: port, allowGrpc: false, allowMetrics: false, exitOnError: false }),
      ).rejects.toThrow(`cannot listen for HTTP on 127.0.0.1:${port}: address in use`);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});
