/**
 * Runs inside one worker thread per instance of a JavaScript model: imports the
 * model's module, calls its initialize(), then execute() once per batch, and
 * finalize() when the model is unloaded.
 */
import { pathToFileURL } from 'node:url';
import { workerData } from 'node:worker_threads';
import { steadyNowNs as nowNs } from '../../core/index.js';
import type { ExecutionBatch, ExecutionTiming } from '../backend.js';
import { hostInstance, toMainThread, type HostedInstance } from '../worker-host.js';
import { transferList } from '../worker-protocol.js';
import type { ExecuteContext, ModelRequest, ModelResponse } from './model-api.js';
import { ModelCalls } from './model-calls.js';
import { modelRequests } from './model-requests.js';
import { modelResponses, type ResponseContext } from './model-responses.js';
import { ExecutionResponses } from './response-senders.js';
import type { ModelWorkerData } from './model-worker-data.js';

interface ModelModule {
  initialize?: (args: unknown) => unknown;
  execute: (requests: ModelRequest[], context: ExecuteContext) => ModelResponse[] | void | Promise<ModelResponse[] | void>;
  finalize?: () => unknown;
}

const init = workerData as ModelWorkerData;
const calls = new ModelCalls(toMainThread());
const context: ExecuteContext = { infer: calls.infer };

async function load(): Promise<HostedInstance> {
  let module: Partial<ModelModule>;
  try {
    module = (await import(pathToFileURL(init.modelPath).href)) as Partial<ModelModule>;
  } catch (err) {
    throw new Error(`${init.modelPath}: cannot load the module: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof module.execute !== 'function') throw new Error(`${init.modelPath} does not export an execute(requests) function`);
  const model = module as ModelModule;
  try {
    await model.initialize?.(init.initializeArgs);
  } catch (err) {
    throw new Error(`${init.modelPath}: initialize() failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    signature: init.signature,
    async execute(batch: ExecutionBatch, executionId: number) {
      const start = nowNs();
      const requests = modelRequests(batch, init.batching);
      const responseContext: ResponseContext = {
        outputs: init.signature.outputs,
        rows: batch.requests.map((r) => (init.batching ? r.rows : undefined)),
        requestedOutputs: batch.requests.map((r) => r.outputNames),
      };
      const decoupled = init.decoupled
        ? new ExecutionResponses(executionId, responseContext, toMainThread(), requests.map((request) => () => request.isCancelled()))
        : undefined;
      if (decoupled) requests.forEach((request, k) => (request.responseSender = decoupled.senders[k]));
      const executeStart = nowNs();
      let returned: unknown;
      try {
        returned = await model.execute(requests, context);
      } catch (err) {
        decoupled?.endAll();
        throw new Error(`model.js execute() failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      const executeEnd = nowNs();
      const timing = (): ExecutionTiming => ({ startNs: start, inputNs: executeStart - start, inferNs: executeEnd - executeStart, outputNs: nowNs() - executeEnd });
      if (decoupled) {
        if (returned !== undefined && returned !== null) {
          decoupled.failOpen(
            `model.js execute() of a decoupled model returned ${Array.isArray(returned) ? 'an array' : typeof returned}; ` +
              'it must send responses with request.responseSender.send() and return nothing',
          );
        }
        return { result: { kind: 'decoupled', timing: timing() }, transfer: [] };
      }
      const responses = modelResponses(returned, responseContext);
      const transfer = new Set<ArrayBuffer>();
      for (const response of responses) if ('outputs' in response) transferList(response.outputs, transfer);
      return { result: { kind: 'per-request', responses, timing: timing() }, transfer: [...transfer] };
    },
    async close() {
      await model.finalize?.();
    },
    callResult(id, outcome) {
      calls.settle(id, outcome);
    },
  };
}

void hostInstance(load);
