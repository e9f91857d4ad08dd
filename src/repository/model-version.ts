import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModelFilenames, gpuAvailability, loadInstance, type ModelInstance, type ModelSignature } from '../backends/index.js';
import { InferenceError, type InferenceRequest, type InferenceResponse, type Logger } from '../core/index.js';
import { EnsembleScheduler, type ModelResolver } from '../ensemble/index.js';
import { ModelStatistics } from '../metrics/index.js';
import {
  CachingScheduler,
  DefaultScheduler,
  DynamicBatcher,
  InstancePool,
  SequenceBatcher,
  type InstanceRateLimit,
  type ModelScheduler,
  type RateLimitedInstance,
  type RateLimiter,
  type ResponseCache,
  type SchedulerContext,
} from '../scheduler/index.js';
import { autoCompleteConfig, validateAgainstModel } from './config-completion.js';
import { normalizeDynamicBatching } from './dynamic-batching.js';
import { normalizeSequenceBatching, resolveSequenceStates, sequenceControls } from './sequence-batching.js';
import { defaultIntraOpThreads, instancePlacements, normalizeInstanceGroups } from './instance-groups.js';
import type { ModelConfig, ModelInstanceGroup } from './model-config.js';
import { warmUp } from './model-warmup.js';
import { loadOutputLabels, type OutputLabels } from './output-labels.js';

export type ModelState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING';

export interface VersionLoadOptions {
  modelName: string;
  version: string;
  modelDir: string;
  backend: string;
  config: ModelConfig;
  /** `--strict-model-config`: the config must be complete, nothing is filled from the model file. */
  strictModelConfig: boolean;
  restartPolicy: InstanceRestartPolicy;
  logger: Logger;
  /** How an ensemble's steps, and a model's own infer() calls, reach the other models of the server. */
  resolveModel: ModelResolver;
  /** `--cache-config`: the server's response cache, used by models with `response_cache { enable: true }`; absent, such models run uncached as in Triton. */
  responseCache?: ResponseCache;
  /** Called when the version stops being READY on its own (its instances keep failing), so that ensembles using it can say so. */
  onUnavailable?: () => void;
  /** `--rate-limit execution_count`: the server's rate limiter, which every instance's executions go through. */
  rateLimiter?: RateLimiter;
}

/** How dead instances come back: `--model-restart-limit`, `--model-restart-backoff-ms`. */
export interface InstanceRestartPolicy {
  /** Failures in a row, without a successful execution between them, before the version is UNAVAILABLE. */
  maxConsecutiveFailures: number;
  /** The first restart's delay; each further failure in a row doubles it. */
  backoffMs: number;
}

/** The most executions a worker may hold at once under the default scheduler (see InstancePool). */
const UNBATCHED_SLOTS_PER_INSTANCE = 64;

/** The version's model file: the one the config names, else the first the backend accepts that exists. */
function modelFile(options: VersionLoadOptions, version: string): string {
  const names = options.config.default_model_filename ? [options.config.default_model_filename] : defaultModelFilenames(options.backend);
  const paths = names.map((name) => join(options.modelDir, version, name));
  const found = paths.find((path) => existsSync(path));
  if (!found) throw new Error(`model file ${paths.map((p) => `'${p}'`).join(' or ')} not found`);
  return found;
}

/**
 * Each instance's rate limiter requirements: its group's `rate_limiter` resources and
 * priority, on the device it runs on (a GPU id; 0 for CPU instances, as in Triton).
 */
function instanceRateLimits(modelName: string, version: string, groups: readonly ModelInstanceGroup[]): InstanceRateLimit[] {
  return groups.flatMap((group) =>
    instancePlacements([group]).map((placement) => ({
      key: `${modelName}/${version}/${placement.name}`,
      instanceName: placement.name,
      device: placement.gpu ?? 0,
      resources: group.rate_limiter?.resources ?? [],
      priority: group.rate_limiter?.priority ?? 0,
    })),
  );
}

/**
 * The sequence batcher or the dynamic batcher when the config asks for one (as Triton,
 * also for max_batch_size 0: priorities and queue policies still apply), else the
 * default scheduler.
 */
function createScheduler(context: SchedulerContext, signature: ModelSignature, modelDir: string): ModelScheduler {
  if (context.config.sequence_batching) {
    return new SequenceBatcher(context, sequenceControls(context.config), resolveSequenceStates(context.config, signature, modelDir));
  }
  const batching = context.config.dynamic_batching;
  return batching ? new DynamicBatcher(context, batching) : new DefaultScheduler(context);
}

/** One version of one model: its state, its completed config and, once READY, its scheduler. */
/** Numbers each load, so that a reloaded version's cache entries never match the earlier load's. */
let loadCount = 0;

export class ModelVersion {
  state: ModelState = 'LOADING';
  reason = '';
  config: ModelConfig;
  signature: ModelSignature | undefined;
  /** Classification labels by output name, read from each output's label_filename at load. */
  labels: OutputLabels = new Map();
  private scheduler: ModelScheduler | undefined;
  private pool: InstancePool | undefined;
  private logger: Logger | undefined;
  /** The response cache's scope of this load, whose entries are dropped when the version unloads. */
  private cacheScope: string | undefined;
  private responseCache: ResponseCache | undefined;
  /** This version's instances in the server's rate limiter, while loaded with --rate-limit. */
  private rateLimits: RateLimitedInstance[] = [];
  private rateLimiter: RateLimiter | undefined;

  constructor(
    readonly modelName: string,
    readonly version: string,
    config: ModelConfig,
    /** Counts and durations of this version's requests and executions, kept across its whole life (a reload starts afresh, as in Triton). */
    readonly statistics: ModelStatistics = new ModelStatistics(),
  ) {
    this.config = config;
  }

  get isReady(): boolean {
    return this.state === 'READY';
  }

  /** The scheduler of a READY version. */
  get requestScheduler(): ModelScheduler {
    if (!this.scheduler) throw new InferenceError('UNAVAILABLE', `model '${this.modelName}' version ${this.version} is not ready`);
    return this.scheduler;
  }

  async load(options: VersionLoadOptions): Promise<void> {
    this.logger = options.logger;
    this.responseCache = options.responseCache;
    options.logger.info({ model: this.modelName, version: this.version }, 'loading model');
    if (options.backend === 'ensemble') return this.loadEnsemble(options);
    const { logger } = options;
    const instances: ModelInstance[] = [];
    try {
      const modelPath = modelFile(options, this.version);
      const gpus = options.config.instance_group.some((g) => g.kind !== 'KIND_CPU') || options.config.instance_group.length === 0 ? gpuAvailability(options.backend) : { gpus: [] };
      const groups = normalizeInstanceGroups(options.config, options.backend, gpus.gpus, gpus.reason);
      groups.forEach((group, index) => {
        const listed = options.config.instance_group[index];
        if ((listed?.kind ?? 'KIND_AUTO') === 'KIND_AUTO' && group.kind === 'KIND_CPU' && gpus.reason && options.backend !== 'javascript') {
          // A group the config names is worth a line; the implicit one of every model without
          // instance_group would repeat it for each model on a machine without GPUs.
          const log = listed ? logger.info.bind(logger) : logger.debug.bind(logger);
          log({ model: this.modelName, version: this.version, group: group.name, reason: gpus.reason }, `instance group '${group.name}' (KIND_AUTO) runs on the CPU: ${gpus.reason}`);
        }
      });
      // Fail a bad dynamic_batching before starting any instance, unless completion from
      // the model file may still set max_batch_size; it is checked again after completion.
      const given = options.config;
      if (given.max_batch_size > 0 || given.input.length > 0 || given.output.length > 0) normalizeDynamicBatching(given);
      const placements = instancePlacements(groups);
      const names = placements.map((p) => p.name);
      const deviceOf = new Map(placements.map((p) => [p.name, p.gpu]));
      // A group asking for more of a resource than --rate-limit-resource gives fails the load
      // before any instance starts.
      if (options.rateLimiter) {
        this.rateLimiter = options.rateLimiter;
        this.rateLimits = options.rateLimiter.register(instanceRateLimits(this.modelName, this.version, groups));
      }
      const parameters = Object.fromEntries(
        Object.entries(options.config.parameters).map(([key, value]) => [key, value.string_value]),
      );
      const threads = defaultIntraOpThreads(names.length);
      const infer = (request: InferenceRequest): Promise<InferenceResponse> => {
        try {
          return options.resolveModel(request.model, request.version).scheduler.enqueue(request);
        } catch (err) {
          return Promise.reject(err);
        }
      };
      const load = (instanceName: string) =>
        loadInstance(options.backend, {
          modelName: this.modelName,
          version: this.version,
          instanceName,
          modelPath,
          config: options.config,
          parameters,
          defaultIntraOpThreads: threads,
          graphOptimizationLevel: options.config.optimization?.graph?.level ?? 0,
          gpuDevice: deviceOf.get(instanceName),
          infer,
        });

      const first = await load(names[0]);
      instances.push(first);
      let config = options.config;
      if (!options.strictModelConfig) config = autoCompleteConfig(config, first.signature, this.modelName);
      validateAgainstModel(config, first.signature, this.modelName);
      const labels = loadOutputLabels(options.modelDir, config);
      config = normalizeSequenceBatching(normalizeDynamicBatching({ ...config, instance_group: groups }));
      resolveSequenceStates(config, first.signature, options.modelDir);
      const rest = await Promise.allSettled(names.slice(1).map(load));
      for (const result of rest) if (result.status === 'fulfilled') instances.push(result.value);
      const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const completed = config;
      await Promise.all(instances.map((instance) => warmUp(instance, completed, options.modelDir)));
      const restart = async (instanceName: string) => {
        const fresh = await load(instanceName);
        try {
          await warmUp(fresh, completed, options.modelDir);
        } catch (err) {
          await fresh.close();
          throw err;
        }
        return fresh;
      };

      this.config = config;
      this.labels = labels;
      this.signature = first.signature;
      // Without batching an instance may hold several executions, so that its worker never
      // waits on the main thread; a batcher gives an instance its next batch only when it is
      // idle, so that the batch holds everything that queued meanwhile.
      const slots = config.dynamic_batching || config.sequence_batching ? 1 : UNBATCHED_SLOTS_PER_INSTANCE;
      this.pool = new InstancePool(
        instances,
        {
          restart,
          ...options.restartPolicy,
          onDeath: (instance, error) =>
            logger.error({ model: this.modelName, version: this.version, instance, reason: error.message }, 'model instance died; restarting it'),
          onRestart: (instance, attempt) => logger.info({ model: this.modelName, version: this.version, instance, attempt }, 'model instance restarted'),
          onGiveUp: (error, failures) => {
            this.giveUp(error, failures, logger);
            options.onUnavailable?.();
          },
        },
        slots,
      );
      const scheduler = createScheduler({
        modelName: this.modelName,
        version: this.version,
        config,
        pool: this.pool,
        statistics: this.statistics,
        rateLimits: this.rateLimiter ? new Map(this.rateLimits.map((entry) => [entry.limit.instanceName, entry])) : undefined,
      }, first.signature, options.modelDir);
      const cache = options.responseCache;
      // The cache holds one answer per request; a decoupled model's may be any number of responses.
      const decoupled = config.model_transaction_policy?.decoupled === true;
      if (cache && config.response_cache?.enable && decoupled) {
        logger.warn({ model: this.modelName, version: this.version }, 'response_cache is not used for a decoupled model: its answers are any number of responses');
      }
      if (cache && config.response_cache?.enable && !decoupled) {
        const scope = `${this.modelName}\0${this.version}\0${++loadCount}`;
        this.scheduler = new CachingScheduler(scheduler, cache, scope, this.statistics);
        this.cacheScope = scope;
      } else {
        this.scheduler = scheduler;
      }
      this.state = 'READY';
      this.reason = '';
      logger.info({ model: this.modelName, version: this.version, instances: instances.length }, 'model ready');
    } catch (err) {
      await Promise.all(instances.map((instance) => instance.close()));
      this.leaveRateLimiter();
      this.markUnavailable(err instanceof Error ? err.message : String(err));
      logger.error({ model: this.modelName, version: this.version, reason: this.reason }, 'model failed to load');
    }
  }

  /**
   * An ensemble has no instances: it is READY while its step models fit it
   * (refreshEnsemble), and a configuration that is wrong in itself fails the load.
   */
  private loadEnsemble(options: VersionLoadOptions): void {
    try {
      this.scheduler = new EnsembleScheduler({
        modelName: this.modelName,
        version: this.version,
        config: options.config,
        statistics: this.statistics,
        resolve: options.resolveModel,
      });
    } catch (err) {
      this.markUnavailable(err instanceof Error ? err.message : String(err));
      options.logger.error({ model: this.modelName, version: this.version, reason: this.reason }, 'model failed to load');
      return;
    }
    this.refreshEnsemble();
    if (this.isReady) options.logger.info({ model: this.modelName, version: this.version }, 'model ready');
    else options.logger.error({ model: this.modelName, version: this.version, reason: this.reason }, 'model failed to load');
  }

  /**
   * An ensemble checks its step models again (one of them was loaded, reloaded, unloaded
   * or gave up): READY when they fit, UNAVAILABLE with the reason when they do not.
   * Nothing changes for a version being unloaded or already unloaded.
   */
  refreshEnsemble(): void {
    if (!(this.scheduler instanceof EnsembleScheduler) || this.state === 'UNLOADING') return;
    const problem = this.scheduler.stepProblem();
    if (problem) {
      this.markUnavailable(problem);
    } else {
      this.state = 'READY';
      this.reason = '';
    }
  }

  markUnavailable(reason: string): void {
    this.state = 'UNAVAILABLE';
    this.reason = reason;
  }

  /** Waits for accepted requests to finish, then stops the instances. */
  async unload(): Promise<void> {
    const serving = this.state === 'READY';
    if (serving) {
      this.state = 'UNLOADING';
      this.logger?.info({ model: this.modelName, version: this.version }, 'unloading model');
    }
    await this.scheduler?.drain();
    await this.pool?.close();
    this.leaveRateLimiter();
    this.scheduler = undefined;
    this.pool = undefined;
    if (this.cacheScope !== undefined) this.responseCache?.invalidate(this.cacheScope);
    this.cacheScope = undefined;
    this.state = 'UNAVAILABLE';
    this.reason = 'unloaded';
    if (serving) this.logger?.info({ model: this.modelName, version: this.version }, 'model unloaded');
  }

  private leaveRateLimiter(): void {
    this.rateLimiter?.unregister(this.rateLimits);
    this.rateLimits = [];
    this.rateLimiter = undefined;
  }

  /** The instances keep dying: the version cannot answer, and says so everywhere an operator looks. */
  private giveUp(error: Error, failures: number, logger: Logger): void {
    this.markUnavailable(`instances failed ${failures} times in a row without a successful execution; last failure: ${error.message}`);
    logger.error({ model: this.modelName, version: this.version, reason: this.reason }, 'model is unavailable');
    this.scheduler?.failQueued(new InferenceError('UNAVAILABLE', `model '${this.modelName}' version ${this.version} is unavailable: ${this.reason}`));
  }
}
