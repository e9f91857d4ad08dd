/**
 * Runs one autocannon measurement in its own process, so that the load generator
 * never shares an event loop with the server, and prints one JSON line with the
 * figures and the generator's own CPU use.
 */
import autocannon from 'autocannon';

const [url, connections, seconds, method, bodyArg, contentType, headersJson] = process.argv.slice(2);
const body = bodyArg.startsWith('base64:') ? Buffer.from(bodyArg.slice(7), 'base64') : bodyArg;
const extraHeaders = JSON.parse(headersJson || '{}') as Record<string, string>;

const cpuBefore = process.cpuUsage();
const result = await autocannon({
  url,
  connections: Number(connections),
  duration: Number(seconds),
  method: method as 'POST',
  body: body || undefined,
  headers: { ...(contentType ? { 'content-type': contentType } : {}), ...extraHeaders },
});
const cpu = process.cpuUsage(cpuBefore);
const elapsedS = Number(seconds);
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100,
  })}\n`,
);
