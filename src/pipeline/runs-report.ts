/** `nereid pipeline runs`: past runs and, step by step, which inputs produced which outputs. */
import { shortHash, type Artifact } from './artifacts.js';
import type { RunRecord, StepRecord } from './run-store.js';

function artifactText(name: string, a: Artifact, runId: string): string {
  const from = a.producer.run === runId ? a.producer.step : `${a.producer.step}@${a.producer.run}`;
  return `${name}=${shortHash(a.hash)} (${from})`;
}

function stepLines(step: StepRecord, runId: string): string[] {
  const status = step.status === 'cached' ? `cached from ${step.cachedFrom}` : step.status;
  const lines = [`  ${step.name} (${step.kind}): ${status}${step.durationMs ? `, ${(step.durationMs / 1000).toFixed(1)} s` : ''}`];
  const inputs = Object.entries(step.inputs).map(([n, a]) => artifactText(n, a, runId));
  const outputs = Object.entries(step.outputs).map(([n, a]) => `${n}=${shortHash(a.hash)} ${a.path}`);
  if (inputs.length) lines.push(`      in:  ${inputs.join(', ')}`);
  for (const output of outputs) lines.push(`      out: ${output}`);
  if (step.error) lines.push(`      error: ${step.error}`);
  else if (step.summary) lines.push(`      ${step.summary}`);
  return lines;
}

export function formatRuns(runs: readonly RunRecord[], detail: 'summary' | 'full'): string {
  if (runs.length === 0) return 'No pipeline runs recorded.\n';
  const lines: string[] = [];
  for (const run of runs) {
    const seconds = run.finishedAt ? ` in ${((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s` : '';
    const counts = ['ran', 'cached', 'skipped', 'failed', 'not-run']
      .map((s) => [s, run.steps.filter((step) => step.status === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`)
      .join(', ');
    lines.push(`${run.id}  ${run.pipeline.name} (model ${run.pipeline.model})  ${run.status}${seconds}  steps: ${counts || 'none'}`);
    if (detail === 'full') {
      lines.push(`  file ${run.pipeline.file} ${shortHash(run.pipeline.fileHash)}`);
      for (const step of run.steps) lines.push(...stepLines(step, run.id));
    }
  }
  return `${lines.join('\n')}\n`;
}
