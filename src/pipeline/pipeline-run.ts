/**
 * Runs a pipeline's steps in order. Each step's cache key is the hash of its kind, its
 * parameters, the model name and the content hashes of its inputs; a cacheable step
 * whose key the store has seen, with outputs still intact, is not run again and its
 * earlier outputs are used. Every step's inputs and outputs (hashes, paths, producers)
 * go into the run record. Servers the run started (staging, local deployments) are
 * stopped when it ends, however it ends.
 */
import { join, resolve } from 'node:path';
import { dirname } from 'node:path';
import { InferenceError } from '../core/index.js';
import { contentHash, valueHash, type Artifact } from './artifacts.js';
import { SOURCE_STEP, type Pipeline } from './pipeline-file.js';
import { RunStore, type RunRecord, type StepRecord } from './run-store.js';
import { startServerProcess, type ServerHandle } from './server-process.js';
import { STEP_KINDS } from './step-kinds.js';

/** Bump when a step kind changes what it produces, so that old cache entries are not reused. */
const CACHE_VERSION = 1;

export interface PipelineRunOptions {
  store: RunStore;
  /** Run every step even when its inputs are unchanged. */
  noCache?: boolean;
  signal?: AbortSignal;
  log?(line: string): void;
  /** The environment of the tools steps run; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export async function runPipeline(pipeline: Pipeline, options: PipelineRunOptions): Promise<RunRecord> {
  const { store } = options;
  const log = options.log ?? (() => undefined);
  const signal = options.signal ?? new AbortController().signal;
  const record: RunRecord = {
    id: store.newRunId(),
    pipeline: { name: pipeline.name, file: pipeline.file, fileHash: pipeline.fileHash, model: pipeline.model, repository: pipeline.repository },
    startedAt: new Date().toISOString(),
    status: 'running',
    steps: [],
  };
  store.save(record);
  const servers: ServerHandle[] = [];
  let staging: Promise<ServerHandle> | undefined;
  const startServer = async (role: string, repository: string): Promise<ServerHandle> => {
    const server = await startServerProcess({ role, repository, models: [pipeline.model], controlMode: 'explicit' });
    servers.push(server);
    log(`  started the ${role} server (pid ${server.pid}) at ${server.http} on ${repository}`);
    return server;
  };
  const stagingServer = (): Promise<ServerHandle> => {
    if (pipeline.serverUrl) {
      const url = pipeline.serverUrl;
      return Promise.resolve({ role: 'staging', repository: pipeline.repository, pid: undefined, http: url, grpc: '', metricsUrl: '', stop: async () => undefined });
    }
    staging ??= startServer('staging', pipeline.repository);
    return staging;
  };

  const modelDir = join(pipeline.repository, pipeline.model);
  const artifacts = new Map<string, Artifact>([[`${SOURCE_STEP}.model`, { type: 'model', path: modelDir, hash: contentHash(modelDir), producer: { run: record.id, step: SOURCE_STEP } }]]);
  let rolledBack = false;
  try {
    for (const [index, step] of pipeline.steps.entries()) {
      const kind = STEP_KINDS[step.kind];
      const startedAt = new Date();
      const inputs: Record<string, Artifact> = {};
      for (const [name, binding] of Object.entries(step.inputs)) {
        const artifact = artifacts.get(`${binding.step}.${binding.output}`);
        if (!artifact) throw new InferenceError('INTERNAL', `step '${step.name}': input '${name}' (${binding.step}.${binding.output}) was not produced`);
        inputs[name] = artifact;
      }
      const cacheKey = valueHash({ version: CACHE_VERSION, kind: step.kind, model: pipeline.model, params: step.params, inputs: Object.fromEntries(Object.entries(inputs).map(([n, a]) => [n, a.hash])) });
      const entry: StepRecord = { name: step.name, kind: step.kind, status: 'ran', cacheKey, params: step.params, inputs, outputs: {}, summary: '', startedAt: startedAt.toISOString(), durationMs: 0 };
      record.steps.push(entry);
      const publish = (outputs: Record<string, Artifact>) => {
        entry.outputs = outputs;
        for (const [name, artifact] of Object.entries(outputs)) artifacts.set(`${step.name}.${name}`, artifact);
      };
      const hit = kind.cacheable && !options.noCache ? store.cached(cacheKey) : undefined;
      if (hit) {
        entry.status = 'cached';
        entry.cachedFrom = hit.run;
        entry.summary = hit.summary;
        publish(hit.outputs);
        log(`[${index + 1}/${pipeline.steps.length}] ${step.name} (${step.kind}): cached, inputs unchanged since run ${hit.run}: ${hit.summary}`);
        store.save(record);
        continue;
      }
      log(`[${index + 1}/${pipeline.steps.length}] ${step.name} (${step.kind}): running`);
      try {
        if (signal.aborted) throw new InferenceError('UNAVAILABLE', 'interrupted');
        const outDir = store.stepDir(record.id, step.name);
        const outcome = await kind.run({
          pipelineName: pipeline.name,
          model: pipeline.model,
          sourceRepository: pipeline.repository,
          step: step.name,
          params: step.params,
          inputs,
          outDir,
          staging: stagingServer,
          startServer,
          resolvePath: (path) => resolve(dirname(pipeline.file), path),
          log: (line) => log(`  ${line}`),
          signal,
          env: options.env ?? process.env,
        });
        const outputs: Record<string, Artifact> = {};
        for (const [name, type] of Object.entries(kind.outputs)) {
          const path = outcome.outputs[name];
          if (path === undefined) throw new InferenceError('INTERNAL', `step '${step.name}' (${step.kind}) did not write its output '${name}'`);
          outputs[name] = { type, path, hash: contentHash(path), producer: { run: record.id, step: step.name } };
        }
        publish(outputs);
        entry.summary = outcome.summary;
        entry.status = outcome.skipped ? 'skipped' : 'ran';
        entry.durationMs = Date.now() - startedAt.getTime();
        if (outcome.verdict === 'rollback') rolledBack = true;
        if (!outcome.skipped && (outcome.cacheable ?? kind.cacheable)) store.remember({ key: cacheKey, run: record.id, step: step.name, outputs, summary: outcome.summary });
        log(`  ${entry.status === 'skipped' ? 'skipped' : 'done'} in ${(entry.durationMs / 1000).toFixed(1)} s: ${outcome.summary}`);
        store.save(record);
      } catch (err) {
        entry.status = 'failed';
        entry.error = (err as Error).message;
        entry.durationMs = Date.now() - startedAt.getTime();
        record.status = signal.aborted ? 'interrupted' : 'failed';
        log(`  failed: ${entry.error}`);
        for (const rest of pipeline.steps.slice(index + 1)) {
          record.steps.push({ name: rest.name, kind: rest.kind, status: 'not-run', cacheKey: '', params: rest.params, inputs: {}, outputs: {}, summary: '', startedAt: '', durationMs: 0 });
        }
        break;
      }
    }
    if (record.status === 'running') record.status = rolledBack ? 'rolled-back' : 'succeeded';
  } finally {
    if (record.status === 'running') record.status = 'failed';
    await Promise.all(servers.map((s) => s.stop()));
    record.finishedAt = new Date().toISOString();
    store.save(record);
  }
  return record;
}
