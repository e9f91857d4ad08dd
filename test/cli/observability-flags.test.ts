import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/flag-parser.js';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { logControlOf } from '../../src/core/index.js';
import { DEFAULT_METRICS_CONFIG, DEFAULT_TRACE_SETTINGS } from '../../src/metrics/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nereid-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serve = (...args: string[]) => {
  const options = serveOptionsFromArgs(['--model-repository', '/m', ...args]);
  if (options.help) throw new Error('help');
  return options;
};

describe('metrics, logging and trace flags', () => {
  it("have Triton's defaults", () => {
    const options = serve('--http-address', '10.0.0.1');
    expect(options).toMatchObject({
      allowMetrics: true,
      allowCpuMetrics: true,
      allowGpuMetrics: true,
      metricsAddress: '10.0.0.1',
      metricsPort: 8002,
      metricsIntervalMs: 2000,
      metricsConfig: DEFAULT_METRICS_CONFIG,
      trace: DEFAULT_TRACE_SETTINGS,
    });
    expect(logControlOf(options.logger)?.settings).toEqual({ file: '', info: true, warning: true, error: true, verboseLevel: 0, format: 'json' });
  });

  it('take the metrics settings', () => {
    const options = serve(
      '--allow-metrics=false',
      '--allow-cpu-metrics=false',
      '--allow-gpu-metrics=false',
      '--metrics-address=127.0.0.1',
      '--metrics-port=9000',
      '--metrics-interval-ms=500',
      '--metrics-config',
      'summary_latencies=true',
      '--metrics-config=summary_quantiles=0.5:0.05,0.99:0.001',
      '--metrics-config=histogram_latencies=true',
      '--metrics-config=counter_latencies=false',
    );
    expect(options).toMatchObject({ allowMetrics: false, allowCpuMetrics: false, allowGpuMetrics: false, metricsAddress: '127.0.0.1', metricsPort: 9000, metricsIntervalMs: 500 });
    expect(options.metricsConfig).toEqual({ counterLatencies: false, summaryLatencies: true, summaryQuantiles: [0.5, 0.99], histogramLatencies: true });
  });

  it('take the logging settings', () => {
    const file = join(dir, 'server.log');
    const options = serve('--log-verbose=2', '--log-info=false', '--log-warning', 'false', '--log-error=true', '--log-format=ISO8601', `--log-file=${file}`);
    expect(logControlOf(options.logger)?.settings).toEqual({ file, info: false, warning: false, error: true, verboseLevel: 2, format: 'ISO8601' });
    logControlOf(options.logger)?.close();
  });

  it('take --trace-config and the deprecated trace flags', () => {
    expect(serve('--trace-config', 'triton,file=/t.json', '--trace-config=level=TIMESTAMPS', '--trace-config=rate=10', '--trace-config=count=5', '--trace-config=triton,log-frequency=50', '--trace-config=mode=triton').trace).toEqual({
      file: '/t.json',
      level: 'TIMESTAMPS',
      rate: 10,
      count: 5,
      logFrequency: 50,
    });
    expect(serve('--trace-file=/d.json', '--trace-level=TIMESTAMPS', '--trace-rate=1', '--trace-count=-1', '--trace-log-frequency=3').trace).toEqual({
      file: '/d.json',
      level: 'TIMESTAMPS',
      rate: 1,
      count: -1,
      logFrequency: 3,
    });
  });

  it('name what is wrong', () => {
    const refused = (args: string[], message: string) => expect(() => serve(...args)).toThrow(new UsageError(message));
    refused(['--metrics-port=70000'], '--metrics-port must be between 0 and 65535, got 70000');
    refused(['--metrics-interval-ms=0'], '--metrics-interval-ms must be positive, got 0');
    refused(['--metrics-config=summary_latencies=yes'], "--metrics-config summary_latencies expects true or false, got 'yes'");
    refused(['--metrics-config=quantiles=0.5'], "--metrics-config: unknown setting 'quantiles' (known: counter_latencies, summary_latencies, summary_quantiles, histogram_latencies)");
    refused(['--metrics-config=summary_quantiles=0.5'], "--metrics-config summary_quantiles expects <quantile>:<error> pairs with both in (0, 1) separated by commas, got '0.5'");
    refused(['--log-format=xml'], "--log-format must be default, ISO8601, json, got 'xml'");
    refused([`--log-file=${join(dir, 'no', 'such.log')}`], `cannot open log file '${join(dir, 'no', 'such.log')}': ENOENT: no such file or directory, open '${join(dir, 'no', 'such.log')}'`);
    refused(['--trace-config=level=TENSORS'], '--trace-config level=TENSORS: the level must be OFF or TIMESTAMPS');
    refused(['--trace-config=mode=opentelemetry'], "--trace-config mode=opentelemetry: only the 'triton' trace mode (JSON trace files) is supported; OpenTelemetry export is not");
    refused(['--trace-config=rate=-1'], '--trace-config rate=-1: expected an integer >= 0');
    refused(['--trace-config=colour=blue'], "--trace-config: unknown setting 'colour' (known: level, rate, count, mode, triton,file, triton,log-frequency)");
  });
});
