import type { ModelSignature } from '../backend.js';
import type { InitializeArgs } from './model-api.js';

/** What a JavaScript model's worker is started with. */
export interface ModelWorkerData {
  modelPath: string;
  initializeArgs: InitializeArgs;
  signature: ModelSignature;
  /** max_batch_size > 0: every tensor has the request's batch dimension first. */
  batching: boolean;
  /** model_transaction_policy { decoupled: true }: execute() sends responses through each request's responseSender. */
  decoupled: boolean;
}
