import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ModelLocation {
  name: string;
  /** The model's folder, or undefined when the name is ambiguous. */
  dir?: string;
  /** Why the model cannot be loaded from what is on disk. */
  error?: string;
}

function subdirectories(path: string): string[] {
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() || (entry.isSymbolicLink() && statSync(join(path, entry.name)).isDirectory()))
    .map((entry) => entry.name)
    .filter((name) => !name.startsWith('.'));
}

/** Every model folder under the repository roots; a name found in two roots is an error for that name only. */
export function scanRepositories(roots: readonly string[]): Map<string, ModelLocation> {
  const found = new Map<string, string[]>();
  for (const root of roots) {
    for (const name of subdirectories(root)) {
      const dirs = found.get(name) ?? [];
      dirs.push(join(root, name));
      found.set(name, dirs);
    }
  }
  const models = new Map<string, ModelLocation>();
  for (const [name, dirs] of found) {
    models.set(
      name,
      dirs.length === 1
        ? { name, dir: dirs[0] }
        : { name, error: `model '${name}' appears in more than one model repository: ${dirs.join(', ')}` },
    );
  }
  return models;
}

/** Numeric version folders of a model; other folders are ignored, as Triton does. */
export function versionFolders(modelDir: string): number[] {
  return subdirectories(modelDir)
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}
