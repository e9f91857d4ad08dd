import { InferenceError } from '../core/index.js';

export interface UnloadOptions {
  /** Also unload the ensembles that use the model. */
  unloadDependents: boolean;
}

/**
 * Reads an unload request's parameters as Triton accepts them: `unload_dependents`, a
 * boolean. Anything else is refused so that a typo does not pass silently.
 */
export function unloadOptionsFromParameters(modelName: string, parameters: Record<string, unknown> | undefined): UnloadOptions {
  const options: UnloadOptions = { unloadDependents: false };
  for (const [key, value] of Object.entries(parameters ?? {})) {
    const where = `failed to unload '${modelName}': parameter '${key}'`;
    if (key !== 'unload_dependents') throw new InferenceError('INVALID_ARG', `${where} is not an unload parameter (expected 'unload_dependents')`);
    if (typeof value !== 'boolean') throw new InferenceError('INVALID_ARG', `${where} must be a boolean, got ${JSON.stringify(value)}`);
    options.unloadDependents = value;
  }
  return options;
}
