/**
 * The soak's server: `startServer` in a process of its own, reporting its RSS, heap and
 * event-loop delay to the driver (bench/soak/run.ts) over IPC every interval.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startServer } from '../../src/server/index.js';

export interface SoakSample {
  type: 'sample';
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  /** Event-loop delay over the interval, in milliseconds. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface SoakServerReady {
  type: 'listening';
  httpPort: number;
  grpcPort: number;
}

const [repository, intervalText, ...models] = process.argv.slice(2);
const server = await startServer({
  modelRepositories: [repository!],
  modelControlMode: 'explicit',
  loadModels: models,
  httpAddress: '127.0.0.1',
  httpPort: 0,
  grpcAddress: '127.0.0.1',
  grpcPort: 0,
  allowMetrics: false,
});
process.send!({ type: 'listening', httpPort: server.httpPort!, grpcPort: server.grpcPort! } satisfies SoakServerReady);

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const timer = setInterval(() => {
  const memory = process.memoryUsage();
  process.send!({
    type: 'sample',
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    loopDelayP50Ms: delay.percentile(50) / 1e6,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
  } satisfies SoakSample);
  delay.reset();
}, Number(intervalText));

process.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  delay.disable();
  void server.stop().then(() => process.exit(0), () => process.exit(1));
});
