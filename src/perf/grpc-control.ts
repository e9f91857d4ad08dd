/** ServerControl over inference.GRPCInferenceService, so that `-i grpc` needs no HTTP endpoint. */
import * as grpc from '@grpc/grpc-js';
import { InferenceError, type ErrorCode } from '../core/index.js';
import type { Endpoint } from './endpoint.js';
import { CHANNEL_OPTIONS, grpcErrorText, inferenceMethod, type MethodName } from './grpc-proto.js';
import { modelInfoFromConfig, modelInfoFromMetadata, type ModelInfo } from './model-info.js';
import type { ServerControl } from './server-control.js';
import { parseModelStats, type StatsSnapshot } from './server-stats.js';

const CONTROL_TIMEOUT_MS = 10_000;

const CODE: Partial<Record<grpc.status, ErrorCode>> = {
  [grpc.status.NOT_FOUND]: 'NOT_FOUND',
  [grpc.status.UNAVAILABLE]: 'UNAVAILABLE',
  [grpc.status.UNIMPLEMENTED]: 'UNSUPPORTED',
  [grpc.status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
};

/** grpc-js's "No connection established. Last error: Error: connect ECONNREFUSED …. Resolution note: " → the socket error. */
function connectionError(details: string): string {
  const last = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(details);
  return last ? last[1] : details;
}

export class GrpcControl implements ServerControl {
  readonly endpoint: string;
  private readonly client: grpc.Client;

  constructor(endpoint: Endpoint) {
    this.endpoint = `grpc://${endpoint.authority}`;
    this.client = new grpc.Client(endpoint.authority, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /** One unary call; fails with the server's own status and text. */
  call<T>(name: MethodName, request: object, what: string): Promise<T> {
    const method = inferenceMethod(name);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        { deadline: Date.now() + CONTROL_TIMEOUT_MS },
        (err: grpc.ServiceError | null, response?: object) => {
          if (!err) return resolve(response as T);
          const unreachable = err.code === grpc.status.UNAVAILABLE && name === 'ServerMetadata';
          reject(
            new InferenceError(
              CODE[err.code] ?? 'INVALID_ARG',
              unreachable ? `cannot reach the server at ${this.endpoint} (${name}: ${connectionError(err.details)})` : `${what} (${name} at ${this.endpoint}): ${grpcErrorText(err)}`,
            ),
          );
        },
      );
    });
  }

  async extensions(): Promise<string[]> {
    const metadata = await this.call<{ extensions?: string[] }>('ServerMetadata', {}, 'cannot read the server metadata');
    return metadata.extensions ?? [];
  }

  async modelInfo(model: string, version: string): Promise<ModelInfo> {
    const request = { name: model, version };
    const metadata = await this.call<object>('ModelMetadata', request, `cannot profile model '${model}'`);
    const { ready } = await this.call<{ ready: boolean }>('ModelReady', request, `cannot profile model '${model}'`);
    if (!ready) throw new InferenceError('UNAVAILABLE', `model '${model}' is not ready at ${this.endpoint}`);
    try {
      const { config } = await this.call<{ config: object }>('ModelConfig', request, `cannot read the configuration of model '${model}'`);
      return modelInfoFromConfig(model, version, config, metadata);
    } catch (err) {
      if (err instanceof InferenceError && err.code === 'UNSUPPORTED') return modelInfoFromMetadata(model, version, metadata);
      throw err;
    }
  }

  async modelStats(model: string, version: string): Promise<StatsSnapshot> {
    const answer = await this.call<object>('ModelStatistics', { name: model, version }, `cannot read the statistics of model '${model}'`);
    return parseModelStats(answer, model, version);
  }

  async registerSystemSharedMemory(region: string, key: string, byteSize: number): Promise<void> {
    await this.call('SystemSharedMemoryRegister', { name: region, key, offset: 0, byte_size: byteSize }, `cannot register shared-memory region '${region}'`);
  }

  async unregisterSystemSharedMemory(region: string): Promise<void> {
    await this.call('SystemSharedMemoryUnregister', { name: region }, `cannot unregister shared-memory region '${region}'`);
  }

  close(): void {
    this.client.close();
  }
}
