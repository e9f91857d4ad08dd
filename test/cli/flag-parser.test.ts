import { describe, expect, it } from 'vitest';
import { parseFlags, UsageError, type FlagSpec } from '../../src/cli/flag-parser.js';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';

const SPECS: Record<string, FlagSpec> = {
  repo: { kind: 'list', help: '' },
  port: { kind: 'int', help: '' },
  strict: { kind: 'bool', help: '' },
  name: { kind: 'string', help: '' },
};

describe('parseFlags', () => {
  it('takes --flag value, --flag=value, bare booleans and repeated lists', () => {
    expect(parseFlags(['--repo', 'a', '--repo=b', '--port=8000', '--strict', '--name', 'x'], SPECS)).toEqual({
      repo: ['a', 'b'],
      port: 8000,
      strict: true,
      name: 'x',
    });
    expect(parseFlags(['--strict', 'false', '--port', '1'], SPECS)).toEqual({ strict: false, port: 1 });
    expect(parseFlags(['--strict=0'], SPECS)).toEqual({ strict: false });
  });

  it('names what is wrong', () => {
    expect(() => parseFlags(['--nope'], SPECS)).toThrow(new UsageError('unknown flag --nope (see --help)'));
    expect(() => parseFlags(['--port', 'abc'], SPECS)).toThrow("--port expects an integer, got 'abc'");
    expect(() => parseFlags(['--strict=maybe'], SPECS)).toThrow("--strict expects true or false, got 'maybe'");
    expect(() => parseFlags(['--name'], SPECS)).toThrow('--name needs a value');
    expect(() => parseFlags(['stray'], SPECS)).toThrow("unexpected argument 'stray'");
  });
});

describe('nereid serve flags', () => {
  it("uses Triton's names and defaults", () => {
    const options = serveOptionsFromArgs(['--model-repository', '/m', '--model-repository=/n']);
    expect(options).toMatchObject({
      help: false,
      modelRepositories: ['/m', '/n'],
      httpPort: 8000,
      httpAddress: '0.0.0.0',
      strictModelConfig: false,
      strictReadiness: true,
      exitOnError: true,
      httpMaxInputSize: 64 * 1024 * 1024,
    });
    expect(
      serveOptionsFromArgs(['--model-repository=/m', '--http-port=0', '--strict-model-config=true', '--exit-on-error=false', '--log-verbose=1']),
    ).toMatchObject({ httpPort: 0, strictModelConfig: true, exitOnError: false });
  });

  it('refuses a missing repository and impossible values', () => {
    expect(() => serveOptionsFromArgs([])).toThrow('--model-repository is required');
    expect(() => serveOptionsFromArgs(['--model-repository=/m', '--http-port=70000'])).toThrow('--http-port must be between 0 and 65535, got 70000');
    expect(() => serveOptionsFromArgs(['--model-repository=/m', '--max-batch=3'])).toThrow('unknown flag --max-batch');
  });
});
