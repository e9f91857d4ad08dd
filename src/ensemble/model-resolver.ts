import type { ModelConfig } from '../repository/index.js';
import type { ModelScheduler } from '../scheduler/index.js';

/** A READY version of a model, as an ensemble step (or a model calling another) reaches it. */
export interface ResolvedModel {
  /** Its completed configuration. */
  config: ModelConfig;
  scheduler: ModelScheduler;
}

/**
 * Finds the READY version of `model` (the highest ready one when `version` is
 * undefined), or throws an InferenceError that says why there is none. The registry
 * provides it, so that an ensemble reaches its steps without knowing the registry.
 */
export type ModelResolver = (model: string, version?: string) => ResolvedModel;
