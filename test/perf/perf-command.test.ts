import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/flag-parser.js';
import { perfArgs, parseRange, parseShape } from '../../src/cli/perf-command.js';

function options(args: string[]) {
  const parsed = perfArgs(args);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed;
}

describe('nereid perf flags', () => {
  it("takes perf_analyzer's short and long flags with its defaults", () => {
    const { options: o, outputs } = options(['-m', 'add_sub', '-x2', '-u', 'host:9000', '-i', 'HTTP', '-b', '4', '--concurrency-range', '2:8:2', '-p', '500', '-s', '25', '-r', '7', '-l', '40', '-f', 'out.csv']);
    expect(o).toMatchObject({
      model: 'add_sub',
      version: '2',
      url: 'host:9000',
      protocol: 'http',
      batchSize: 4,
      load: { kind: 'concurrency', range: { start: 2, end: 8, step: 2 } },
      measurementIntervalMs: 500,
      stabilityFraction: 0.25,
      maxTrials: 7,
      latencyThresholdMs: 40,
      inputData: { kind: 'random' },
      maxThreads: 1,
    });
    expect(outputs).toEqual({ csvFile: 'out.csv', verboseCsv: false, jsonFile: undefined, htmlFile: undefined });
    expect(options(['-m', 'm'])).toMatchObject({ options: { url: 'localhost:8000', measurementIntervalMs: 5000, stabilityFraction: 0.1, maxTrials: 10, load: { range: { start: 1, end: 1, step: 1 } } } });
    expect(options(['-m', 'm', '-i', 'grpc']).options.url).toBe('localhost:8001');
  });

  it('takes request rates, distributions, shapes, input files and headers', () => {
    const { options: o } = options([
      '--model-name=m',
      '--request-rate-range', '0.5:2.5:0.5',
      '--request-distribution', 'poisson',
      '--shape', 'INPUT0:3,4',
      '--shape', 'ns:name:7',
      '--input-data', 'a.json',
      '--input-data', 'b.json',
      '-H', 'X-Tenant: blue',
      '--percentile=95',
      '--max-threads', '3',
      '--input-tensor-format', 'json',
    ]);
    expect(o).toMatchObject({
      load: { kind: 'request-rate', range: { start: 0.5, end: 2.5, step: 0.5 }, distribution: 'poisson' },
      shapes: { INPUT0: [3, 4], 'ns:name': [7] },
      inputData: { kind: 'files', paths: ['a.json', 'b.json'] },
      headers: ['X-Tenant: blue'],
      percentile: 95,
      maxThreads: 3,
      inputTensorFormat: 'json',
      outputTensorFormat: undefined,
    });
    expect(parseRange('concurrency-range', '4')).toEqual({ start: 4, end: 4, step: 1 });
    expect(options(['-m', 'm']).options).toMatchObject({ measurementMode: 'time_windows', measurementRequestCount: 50, requestParameters: {} });
    const withParameters = ['-m', 'm', '--request-parameter', 'priority:2:int', '--request-parameter', 'fast:true:bool', '--request-parameter', 'tag:a:b:string', '--sync'];
    expect(options(withParameters).options.requestParameters).toEqual({ priority: 2, fast: true, tag: 'a:b' });
    expect(options(['-m', 'm', '--measurement-mode', 'count_windows', '--measurement-request-count', '200']).options).toMatchObject({
      measurementMode: 'count_windows',
      measurementRequestCount: 200,
    });
    expect(parseShape('x:0')).toEqual(['x', [0]]);
  });

  it('names what is wrong', () => {
    const fails = (args: string[], message: string) => expect(() => perfArgs(args)).toThrow(new UsageError(message));
    fails([], '-m MODEL is required');
    fails(['-m', 'm', '-q'], 'unknown flag -q (see --help)');
    fails(['-m', 'm', '-i', 'udp'], "-i expects http or grpc, got 'udp'");
    fails(['-m', 'm', '--concurrency-range', '1:2', '--request-rate-range', '5'], 'give --concurrency-range or --request-rate-range, not both');
    fails(['-m', 'm', '--concurrency-range', '1:x'], "--concurrency-range expects a number, got 'x'");
    fails(['-m', 'm', '--concurrency-range', '1.5'], "concurrency range: 'start' must be a non-negative integer, got 1.5");
    fails(['-m', 'm', '--concurrency-range', '4:2'], 'concurrency range: end 2 is below start 4');
    fails(['-m', 'm', '--concurrency-range', '1:0'], 'concurrency range: an end of 0 ("until the latency threshold") needs --latency-threshold');
    fails(['-m', 'm', '--request-distribution', 'uniform'], "--request-distribution expects constant or poisson, got 'uniform'");
    fails(['-m', 'm', '--shape', 'INPUT0'], "--shape expects NAME:D1,D2,… with non-negative integer dims, got 'INPUT0'");
    fails(['-m', 'm', '--input-data', 'zero', '--input-data', 'a.json'], '--input-data zero or random cannot be combined with files');
    fails(['-m', 'm', '--streaming'], '--streaming needs the gRPC protocol (-i grpc)');
    fails(['-m', 'm', '-b', '0'], 'batch size must be a positive integer, got 0');
    fails(['-m', 'm', '--request-parameter', 'priority:2'], "--request-parameter expects NAME:VALUE:TYPE with TYPE bool, int or string, got 'priority:2'");
    fails(['-m', 'm', '--request-parameter', 'priority:2:float'], "--request-parameter expects NAME:VALUE:TYPE with TYPE bool, int or string, got 'priority:2:float'");
    fails(['-m', 'm', '--request-parameter', 'priority:high:int'], "--request-parameter priority: 'high' is not an integer");
    fails(['-m', 'm', '--request-parameter', 'fast:yes:bool'], "--request-parameter fast: 'yes' is not true or false");
    fails(['-m', 'm', '--measurement-mode', 'sliding'], "--measurement-mode expects time_windows or count_windows, got 'sliding'");
    fails(['-m', 'm', '--measurement-request-count', '0'], 'measurement request count (--measurement-request-count) must be a positive integer, got 0');
    fails(['-m', 'm', '--percentile', '100'], 'percentile must be between 0 and 100 (exclusive), got 100');
    fails(['-m', 'm', '-H', 'no colon'], "header 'no colon' is not of the form 'Name: value'");
    fails(['-m', 'm', '--shared-memory', 'cuda'], "--shared-memory expects none or system, got 'cuda'");
    fails(['-m', 'm', '--input-tensor-format', 'text'], "--input-tensor-format expects json or binary, got 'text'");
    fails(['-m', 'm', '-i', 'grpc', '--output-tensor-format', 'json'], '--input-tensor-format and --output-tensor-format apply to HTTP only (gRPC always sends raw tensors)');
  });

  it('answers --help', () => {
    expect(perfArgs(['--help'])).toEqual({ help: true });
  });
});
