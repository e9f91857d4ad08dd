/**
 * One autocannon run against the `sentiment` pipeline, in its own process so that the
 * load generator never shares an event loop with the server. Either mode answers the
 * same question, "what is the label of this text?":
 *   ensemble: one request to the `sentiment` ensemble per answer;
 *   client:   the client runs the three steps itself, each request built from the
 *             previous answer (tokenizer → sentiment_onnx → postprocessor).
 * autocannon times single requests, so the latency of a whole answer is timed here,
 * from building its first request to the response of its last. Prints one JSON line.
 *
 *   node --import tsx bench/sentiment-load-child.ts <base url> <ensemble|client> <connections> <seconds>
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

const [baseUrl, mode, connections, seconds] = process.argv.slice(2);

const TEXTS = [
  'I love this wonderful movie, the acting was excellent',
  'This is a terrible product and I hate it',
  'The train leaves at noon from platform four',
  'The food was not good',
];

interface Context {
  start?: number;
  ids?: number[];
  probabilities?: number[];
}

const latenciesMs: number[] = [];
let answers = 0;
let errors = 0;
let next = 0;

const json = (body: unknown) => JSON.stringify(body);
const bytes = (name: string, text: string) => ({ name, datatype: 'BYTES', shape: [1, 1], data: [text] });
const headers = { 'content-type': 'application/json' };

function begin(context: Context): void {
  context.start = performance.now();
}

function finish(status: number, context: Context): void {
  if (status !== 200) {
    errors++;
    return;
  }
  answers++;
  latenciesMs.push(performance.now() - context.start!);
}

type Step = NonNullable<Parameters<typeof autocannon>[0]['requests']>[number];

function ensembleSteps(): Step[] {
  return [
    {
      method: 'POST',
      path: '/v2/models/sentiment/infer',
      headers,
      setupRequest: (request, context: Context) => {
        begin(context);
        return { ...request, body: json({ inputs: [bytes('text', TEXTS[next++ % TEXTS.length])] }) };
      },
      onResponse: (status, _body, context: Context) => finish(status, context),
    },
  ];
}

function clientSteps(): Step[] {
  // A step whose predecessor failed returns nothing, which makes autocannon start over.
  const failed = (status: number) => {
    if (status !== 200) errors++;
    return status !== 200;
  };
  return [
    {
      method: 'POST',
      path: '/v2/models/tokenizer/infer',
      headers,
      setupRequest: (request, context: Context) => {
        begin(context);
        return { ...request, body: json({ inputs: [bytes('TEXT', TEXTS[next++ % TEXTS.length])] }) };
      },
      onResponse: (status, body, context: Context) => {
        if (!failed(status)) context.ids = JSON.parse(body).outputs[0].data;
      },
    },
    {
      method: 'POST',
      path: '/v2/models/sentiment_onnx/infer',
      headers,
      setupRequest: (request, context: Context) =>
        context.ids && { ...request, body: json({ inputs: [{ name: 'TOKEN_IDS', datatype: 'INT32', shape: [1, context.ids.length], data: context.ids }] }) },
      onResponse: (status, body, context: Context) => {
        if (!failed(status)) context.probabilities = JSON.parse(body).outputs[0].data;
      },
    },
    {
      method: 'POST',
      path: '/v2/models/postprocessor/infer',
      headers,
      setupRequest: (request, context: Context) =>
        context.probabilities && { ...request, body: json({ inputs: [{ name: 'PROBABILITIES', datatype: 'FP32', shape: [1, 3], data: context.probabilities }] }) },
      onResponse: (status, _body, context: Context) => finish(status, context),
    },
  ];
}

const cpuBefore = process.cpuUsage();
await autocannon({
  url: baseUrl,
  connections: Number(connections),
  duration: Number(seconds),
  requests: mode === 'ensemble' ? ensembleSteps() : clientSteps(),
});
const cpu = process.cpuUsage(cpuBefore);
latenciesMs.sort((a, b) => a - b);
const at = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: answers / Number(seconds),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1e6 / Number(seconds)) * 100,
  })}\n`,
);
