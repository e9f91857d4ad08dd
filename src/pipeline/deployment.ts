/** What deploy writes and verify reads: where the canary and its stable version run. */
import type { ServerEndpoints } from './server-process.js';

export interface LocalDeployment {
  target: 'local';
  model: string;
  canaryTrafficPercent: number;
  stable: ServerEndpoints & { repository: string };
  canary: ServerEndpoints & { repository: string };
}

export interface KServeDeployment {
  target: 'kserve';
  model: string;
  canaryTrafficPercent: number;
  name: string;
  namespace: string;
  storageUri: string;
  runtime: string | undefined;
  manifest: string;
  applied: boolean;
  /** The packaged repository the storage location should hold. */
  repository: string;
}

export type Deployment = LocalDeployment | KServeDeployment;
