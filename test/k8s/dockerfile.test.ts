import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  base: string;
  name: string;
  instructions: Instruction[];
}

/** The stages of a Dockerfile, with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of logical) {
    const [, keyword, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!keyword) throw new Error(`cannot read Dockerfile line: ${line}`);
    if (keyword.toUpperCase() === 'FROM') {
      const [, base, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ base, name: name ?? String(stages.length), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`${keyword} before FROM`);
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

interface Copy {
  from?: string;
  sources: string[];
  destination: string;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
    });
}

/** The files a COPY source names in the build: itself, or what its `*` in the last segment matches. */
function expand(source: string): string[] {
  if (!posix.basename(source).includes('*')) return existsSync(join(ROOT, source)) ? [source] : [];
  const dir = posix.dirname(source);
  if (!existsSync(join(ROOT, dir))) return [];
  const pattern = new RegExp(`^${posix.basename(source).split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return readdirSync(join(ROOT, dir)).filter((f) => pattern.test(f)).map((f) => posix.join(dir, f));
}

function workdir(stage: Stage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
}

/** Whether .dockerignore keeps `path` (relative to the context) out of the build context. */
function ignored(path: string, patterns: string[]): boolean {
  const clean = normalize(path).replace(/^\.\//, '');
  return patterns.some((p) => {
    if (p.startsWith('*.')) return clean.endsWith(p.slice(1)) && !clean.includes('/');
    return clean === p || clean.startsWith(`${p}/`);
  });
}

describe('Dockerfile', () => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const build = stages[0];
  const runtime = stages.at(-1)!;

  it('builds with the full Node 20 toolchain and runs on a slim Node 20 base', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build.base).toMatch(/^node:20(-bookworm)?$/);
    expect(runtime.base).toMatch(/^node:20[-.\w]*-slim$/);
  });

  it('runs as the non-root user 1000 with nereid as its entrypoint', () => {
    const users = runtime.instructions.filter((i) => i.keyword === 'USER');
    expect(users.at(-1)?.args).toMatch(/^1000(:1000)?$/);
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    expect(JSON.parse(entrypoint!.args)).toEqual(['nereid']);
    const cmd = JSON.parse(runtime.instructions.find((i) => i.keyword === 'CMD')!.args) as string[];
    expect(cmd[0]).toBe('serve');
    expect(() => serveOptionsFromArgs(cmd.slice(1))).not.toThrow();
    expect(cmd).toContain('--model-repository=/mnt/models');
    // The `nereid` on PATH is the package's own bin.
    const link = runtime.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('/usr/local/bin/nereid'))!;
    const target = /ln -s (\S+) \/usr\/local\/bin\/nereid/.exec(link.args)![1];
    const bin = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { nereid: string } }).bin.nereid;
    expect(posix.relative(workdir(runtime), target)).toBe(bin);
    expect(readFileSync(join(ROOT, bin), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });

  it('puts no build tools in the runtime stage', () => {
    for (const run of runtime.instructions.filter((i) => i.keyword === 'RUN')) {
      expect(run.args).not.toMatch(/apt-get|apk |npm (ci|install)|node-gyp|python|make|g\+\+|gcc/);
    }
    for (const copy of copies(runtime)) expect(copy.from, `${copy.sources.join(' ')} comes from the build stage`).toBe(build.name);
  });

  it('copies into the build stage only files that exist and that .dockerignore lets through', () => {
    const fromContext = copies(build).filter((c) => c.from === undefined);
    expect(fromContext.length).toBeGreaterThan(0);
    for (const copy of fromContext) {
      for (const source of copy.sources) {
        expect(existsSync(join(ROOT, source)), source).toBe(true);
        expect(ignored(source, ignore), `${source} is not in .dockerignore`).toBe(false);
      }
    }
    // What the host builds must not leak into the image's build.
    for (const hostBuilt of ['node_modules', 'dist', 'native/build', 'native/build/Release/nereid_native.node']) expect(ignored(hostBuilt, ignore), hostBuilt).toBe(true);
  });

  it('copies into the runtime stage only what the build produces', () => {
    const buildDir = workdir(build);
    const fromBuild = copies(runtime).filter((c) => c.from === build.name);
    for (const want of ['node_modules', 'dist', 'proto', 'package.json']) expect(fromBuild.some((c) => c.sources.some((s) => s.endsWith(`/${want}`)))).toBe(true);
    const copied: string[] = [];
    for (const copy of fromBuild) {
      for (const source of copy.sources) {
        const inBuild = posix.relative(buildDir, source);
        expect(inBuild.startsWith('..'), `${source} is inside ${buildDir}`).toBe(false);
        // `npm ci` produced this checkout's node_modules, dist/ and native/build the same way.
        const found = expand(inBuild);
        expect(found, inBuild).not.toEqual([]);
        copied.push(...found);
      }
    }
    // Every native addon the server loads at run time is in the image.
    const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const addons = new Set(sources.flatMap((f) => [...readFileSync(join(ROOT, 'src', f), 'utf8').matchAll(/native\/build\/Release\/(\w+\.node)/g)].map((m) => `native/build/Release/${m[1]}`)));
    expect(addons.size).toBeGreaterThan(0);
    for (const addon of addons) expect(copied, addon).toContain(addon);
    const buildRun = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' ');
    expect(buildRun).toContain('npm ci');
    expect(buildRun).toContain('npm prune --omit=dev');
  });

  it('reads a Dockerfile the way the checks above rely on', () => {
    const parsed = parseDockerfile('FROM a AS one\nRUN x \\\n  y\n# c\nFROM b\nCOPY --from=one /w/p ./p\n');
    expect(parsed.map((s) => [s.base, s.name])).toEqual([['a', 'one'], ['b', '1']]);
    expect(parsed[0].instructions).toEqual([{ keyword: 'RUN', args: 'x    y' }]);
    expect(copies(parsed[1])).toEqual([{ from: 'one', sources: ['/w/p'], destination: './p' }]);
    expect(() => parseDockerfile('RUN x')).toThrow('RUN before FROM');
    expect(ignored('native/build/x', ['native/build'])).toBe(true);
    expect(ignored('native/src', ['native/build'])).toBe(false);
    expect(expand('native/build/Release/nereid_*')).toContain('native/build/Release/nereid_native.node');
    expect(expand('native/build/Release/nothing_*')).toEqual([]);
  });
});
