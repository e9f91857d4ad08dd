/**
 * Artifacts are the typed values that flow between pipeline steps: files and folders
 * on disk, each named by the SHA-256 of its content so that lineage and the step cache
 * can tell whether anything changed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { InferenceError } from '../core/index.js';

/**
 * - model: a model folder (config.pbtxt and numeric version folders)
 * - model-config: a JSON file, the configuration in the repository API's JSON form
 * - report: a JSON file a step wrote about what it measured or checked
 * - repository: a model repository folder
 * - deployment: a JSON file describing where a canary and its stable version run
 * - decision: a JSON file, verify's promote or roll-back verdict
 */
export const ARTIFACT_TYPES = ['model', 'model-config', 'report', 'repository', 'deployment', 'decision'] as const;
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];

export interface ArtifactProducer {
  run: string;
  step: string;
}

export interface Artifact {
  type: ArtifactType;
  path: string;
  /** `sha256:<hex>` of the content (a folder: of its files' relative paths and contents). */
  hash: string;
  producer: ArtifactProducer;
}

function filesOf(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesOf(root, path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The content hash of a file, or of a folder's files (relative path and bytes, in sorted order). */
export function contentHash(path: string): string {
  if (!existsSync(path)) throw new InferenceError('NOT_FOUND', `artifact '${path}' does not exist`);
  const hash = createHash('sha256');
  if (statSync(path).isDirectory()) {
    const files = filesOf(path)
      .map((file) => relative(path, file).split('\\').join('/'))
      .sort();
    for (const file of files) {
      const fileHash = createHash('sha256').update(readFileSync(join(path, file))).digest('hex');
      hash.update(`${file}\0${fileHash}\n`);
    }
  } else {
    hash.update(readFileSync(path));
  }
  return `sha256:${hash.digest('hex')}`;
}

/** JSON with object keys sorted, so that equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function valueHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/** `sha256:0123456789ab` for tables. */
export function shortHash(hash: string): string {
  return hash.slice(0, 'sha256:'.length + 12);
}
