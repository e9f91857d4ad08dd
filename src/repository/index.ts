export { ModelRegistry, type IndexEntry, type ModelControlMode, type RegistryOptions } from './registry.js';
export { ModelVersion, type InstanceRestartPolicy, type ModelState } from './model-version.js';
export type { ModelConfig, ModelInput, ModelOutput } from './model-config.js';
export { encodeModelConfig } from './model-config.js';
export { defaultIntraOpThreads } from './instance-groups.js';
export type { OutputLabels } from './output-labels.js';
export { parseModelConfig } from './model-config.js';
export { versionFolders } from './repository-scan.js';
