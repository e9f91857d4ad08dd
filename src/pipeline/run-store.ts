/**
 * The run store (default `.nereid/pipeline-runs/`): one folder per run with its
 * record (`run.json`: every step's parameters, inputs and outputs with their content
 * hashes and producers) and the files its steps wrote, and a cache index
 * (`cache/<key>.json`) from a step's cache key (kind, parameters and input hashes) to
 * the outputs that step produced.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { contentHash, type Artifact } from './artifacts.js';

export type StepStatus = 'ran' | 'cached' | 'skipped' | 'failed' | 'not-run';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'rolled-back' | 'interrupted';

export interface StepRecord {
  name: string;
  kind: string;
  status: StepStatus;
  cacheKey: string;
  params: Record<string, unknown>;
  inputs: Record<string, Artifact>;
  outputs: Record<string, Artifact>;
  summary: string;
  error?: string;
  /** For a cached step: the run that produced its outputs. */
  cachedFrom?: string;
  startedAt: string;
  durationMs: number;
}

export interface RunRecord {
  id: string;
  pipeline: { name: string; file: string; fileHash: string; model: string; repository: string };
  startedAt: string;
  finishedAt?: string;
  status: RunStatus;
  steps: StepRecord[];
}

export interface CacheEntry {
  key: string;
  run: string;
  step: string;
  outputs: Record<string, Artifact>;
  summary: string;
}

function writeJson(path: string, value: unknown): void {
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(partial, path);
}

export class RunStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  newRunId(): string {
    return `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
  }

  runDir(id: string): string {
    return join(this.root, id);
  }

  /** An empty folder for one step's outputs in one run. */
  stepDir(run: string, step: string): string {
    const dir = join(this.root, run, 'steps', step);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  save(record: RunRecord): void {
    mkdirSync(this.runDir(record.id), { recursive: true });
    writeJson(join(this.runDir(record.id), 'run.json'), record);
  }

  /** Past runs, oldest first; unreadable records are left out. */
  runs(): RunRecord[] {
    if (!existsSync(this.root)) return [];
    const records: RunRecord[] = [];
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      const file = join(this.root, entry.name, 'run.json');
      if (!entry.isDirectory() || !existsSync(file)) continue;
      try {
        records.push(JSON.parse(readFileSync(file, 'utf8')) as RunRecord);
      } catch {
        // A record cut short by a crash is not a run to list.
      }
    }
    return records.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id.localeCompare(b.id)));
  }

  private cacheFile(key: string): string {
    return join(this.root, 'cache', `${key.replace(/^sha256:/, '')}.json`);
  }

  /** The outputs a step with this key produced before, if they are all still there with the same content. */
  cached(key: string): CacheEntry | undefined {
    const file = this.cacheFile(key);
    if (!existsSync(file)) return undefined;
    let entry: CacheEntry;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as CacheEntry;
    } catch {
      return undefined;
    }
    for (const artifact of Object.values(entry.outputs)) {
      if (!existsSync(artifact.path) || contentHash(artifact.path) !== artifact.hash) return undefined;
    }
    return entry;
  }

  remember(entry: CacheEntry): void {
    mkdirSync(join(this.root, 'cache'), { recursive: true });
    writeJson(this.cacheFile(entry.key), entry);
  }
}
