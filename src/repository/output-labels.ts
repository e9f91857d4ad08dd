/**
 * Classification labels: an output's `label_filename` names a text file in the model
 * folder with one label per line, line k labelling class index k. They are read when
 * the model loads, so that a missing file fails the load rather than a request.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ModelConfig } from './model-config.js';

/** Labels by output name, for the outputs that have a label file. */
export type OutputLabels = ReadonlyMap<string, readonly string[]>;

export function loadOutputLabels(modelDir: string, config: ModelConfig): OutputLabels {
  const labels = new Map<string, readonly string[]>();
  for (const output of config.output) {
    if (!output.label_filename) continue;
    const path = resolve(modelDir, output.label_filename);
    const inside = relative(resolve(modelDir), path);
    // A config may come from a load request; it must not read files outside its model.
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw new Error(`output '${output.name}': label_filename '${output.label_filename}' must name a file inside the model folder ${modelDir}`);
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`output '${output.name}': cannot read label_filename '${output.label_filename}': ${(err as Error).message}`);
    }
    const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    labels.set(output.name, lines);
  }
  return labels;
}
