import type { ModelVersionPolicy } from './model-config.js';

/** Versions to serve out of those on disk; Triton's default is `latest { num_versions: 1 }`. */
export function selectVersions(policy: ModelVersionPolicy | undefined, available: readonly number[]): number[] {
  const sorted = [...available].sort((a, b) => b - a);
  if (policy?.all) return sorted;
  if (policy?.specific) {
    const wanted = new Set(policy.specific.versions);
    return sorted.filter((v) => wanted.has(v));
  }
  const count = policy?.latest?.num_versions || 1;
  return sorted.slice(0, count);
}
