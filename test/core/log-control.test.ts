import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, formatLogLine, LogControl, logControlOf, silentLogger } from '../../src/core/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nereid-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function captured(settings: ConstructorParameters<typeof LogControl>[0] = {}) {
  const lines: string[] = [];
  const control = new LogControl(settings, { write: (text: string) => lines.push(text) });
  return { control, logger: control.logger, lines };
}

describe('LogControl', () => {
  it('writes pino JSON lines by default, with the fields given', () => {
    const { logger, lines } = captured();
    logger.info({ model: 'simple', version: '1' }, 'model ready');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 30, model: 'simple', version: '1', msg: 'model ready' });
  });

  it('switches info, warning and error separately, as Triton does', () => {
    const { control, logger, lines } = captured({ info: false });
    const all = () => {
      logger.info('i');
      logger.warn('w');
      logger.error('e');
    };
    all();
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['w', 'e']);
    control.update({ info: true, warning: false });
    lines.length = 0;
    all();
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['i', 'e']);
    control.update({ info: false, warning: false, error: false });
    lines.length = 0;
    all();
    expect(lines).toEqual([]);
  });

  it('logs debug lines from verbose level 1 and trace lines from 2, whatever log_info says', () => {
    const { control, logger, lines } = captured({ info: false });
    const verbose = () => {
      logger.debug('d');
      logger.trace('t');
    };
    verbose();
    expect(lines).toEqual([]);
    control.update({ verboseLevel: 1 });
    verbose();
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['d']);
    control.update({ verboseLevel: 2 });
    lines.length = 0;
    verbose();
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['d', 't']);
  });

  it("writes Triton's default and ISO8601 line formats", () => {
    const { control, logger, lines } = captured({ format: 'default' });
    logger.info({ model: 'simple', version: '1', reason: 'two words' }, 'model ready');
    logger.error('boom');
    control.update({ format: 'ISO8601' });
    logger.warn({ n: 3 }, 'careful');
    expect(lines[0]).toMatch(new RegExp(`^I\\d{4} \\d\\d:\\d\\d:\\d\\d\\.\\d{6} ${process.pid} nereid\\] model ready model=simple version=1 reason="two words"\\n$`));
    expect(lines[1]).toMatch(/^E\d{4} \d\d:\d\d:\d\d\.\d{6} \d+ nereid\] boom\n$/);
    expect(lines[2]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ W ${process.pid} nereid\\] careful n=3\\n$`));
  });

  it('formats the time of the line in UTC', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 10, 28, 9, 5, 7, 42), msg: 'x' });
    expect(formatLogLine(line, 'default')).toBe(`I1128 09:05:07.042000 ${process.pid} nereid] x\n`);
    expect(formatLogLine(line, 'ISO8601')).toBe(`2026-11-28T09:05:07Z I ${process.pid} nereid] x\n`);
  });

  it('appends to a log file, and moves to another when told', () => {
    const first = join(dir, 'first.log');
    const second = join(dir, 'second.log');
    const { control, logger, lines } = captured({ file: first });
    logger.info('one');
    control.update({ file: second });
    logger.info('two');
    control.update({ file: '' });
    logger.info('three');
    control.close();
    expect(readFileSync(first, 'utf8')).toContain('"msg":"one"');
    expect(readFileSync(second, 'utf8')).toContain('"msg":"two"');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['three']);
  });

  it('names a log file it cannot open', () => {
    expect(() => new LogControl({ file: join(dir, 'missing', 'x.log') })).toThrow(/^cannot open log file '.*missing\/x\.log': ENOENT/);
  });

  it('is found from the loggers createLogger and silentLogger make', () => {
    expect(logControlOf(createLogger(1, { write: () => undefined }))?.settings.verboseLevel).toBe(1);
    expect(logControlOf(silentLogger())?.settings).toMatchObject({ info: false, warning: false, error: false });
  });
});
