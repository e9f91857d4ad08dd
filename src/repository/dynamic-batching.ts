import type { ModelConfig } from './model-config.js';

/**
 * Checks a config's dynamic_batching as Triton does when it loads a model, with
 * Triton's messages, and fills in what Triton fills in: no preferred_batch_size means
 * max_batch_size. Returns a new config.
 */
export function normalizeDynamicBatching(config: ModelConfig): ModelConfig {
  const batching = config.dynamic_batching;
  if (!batching) return config;
  const name = config.name;
  for (const size of batching.preferred_batch_size) {
    if (size <= 0) throw new Error(`dynamic batching preferred size must be positive for ${name}`);
    if (size > config.max_batch_size) throw new Error(`dynamic batching preferred size must be <= max batch size for ${name}`);
  }
  const levels = batching.priority_levels;
  if (levels !== 0) {
    if (batching.default_priority_level === 0 || batching.default_priority_level > levels) {
      throw new Error(`default priority level must be in range [1, ${levels}] for ${name}`);
    }
    for (const key of Object.keys(batching.priority_queue_policy)) {
      const level = Number(key);
      if (level === 0 || level > levels) throw new Error(`priority queue policy must have priority level in range [1, ${levels}] for ${name}`);
    }
  }
  if (batching.preserve_ordering) {
    if (levels > 1) throw new Error(`Only one priority level is allowed when 'preserve_ordering' is true for ${name}`);
    const policies = [batching.default_queue_policy, ...Object.values(batching.priority_queue_policy)];
    if (policies.some((p) => p && p.default_timeout_microseconds !== 0 && p.timeout_action === 'DELAY')) {
      throw new Error(`Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for ${name}`);
    }
  }
  if (batching.preferred_batch_size.length > 0 || config.max_batch_size === 0) return config;
  return { ...config, dynamic_batching: { ...batching, preferred_batch_size: [config.max_batch_size] } };
}
