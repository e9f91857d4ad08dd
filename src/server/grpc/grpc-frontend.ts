/** The KServe v2 / Triton gRPC frontend (inference.GRPCInferenceService) on @grpc/grpc-js. */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { Cancellation, InferenceError, type Logger } from '../../core/index.js';
import { encodeModelConfig, type ModelConfig } from '../../repository/index.js';
import type { DataPlane } from '../data-plane.js';
import type { GrpcTlsFiles } from '../tls-files.js';
import { addForwardedHeaders, forwardsHeader } from '../header-forwarding.js';
import { restrictionFailure, type ApiRestrictions, type RestrictedCategory } from '../restricted-apis.js';
import { decodeMessage, encodeMessage, inferenceService, int64ToNumber, type Int64 } from './grpc-messages.js';
import { repositoryParametersFromWire, type RepositoryParameterMessage } from './repository-parameters.js';
import { grpcStatusOf, notImplemented } from './grpc-status.js';
import { encodeModelInferResponse, inferenceRequestFrom, parseModelInferRequest } from './infer-codec.js';
import { InferStream } from './infer-stream.js';
import {
  logSettingsFromWire,
  logSettingsToWire,
  traceSettingsFromWire,
  traceSettingsToWire,
  type LogSettingValueMessage,
  type TraceSettingValueMessage,
} from './settings-messages.js';

export interface GrpcFrontendOptions {
  address: string;
  /** 0 picks a free port; listen() resolves with the one bound. */
  port: number;
  /** `--grpc-max-message-size`: the largest message received or sent, in bytes. */
  maxMessageSize: number;
  /** `--grpc-keepalive-time`: milliseconds between keepalive pings on an idle connection. */
  keepaliveTimeMs: number;
  /** `--grpc-keepalive-timeout`: milliseconds to wait for a ping's answer before closing the connection. */
  keepaliveTimeoutMs: number;
  /** Absent: plain text. */
  tls?: GrpcTlsFiles;
  logger: Logger;
  /** `--grpc-restricted-protocol`: categories of RPCs that need a metadata header; none by default. */
  restrictedProtocols?: ApiRestrictions;
  /** `--grpc-header-forward-pattern`: metadata whose key matches becomes request parameters. */
  headerForwardPattern?: RegExp;
}

/** Each RPC's restricted-protocol category, as Triton groups them. */
const RPC_CATEGORY: Readonly<Record<string, RestrictedCategory>> = {
  ServerLive: 'health',
  ServerReady: 'health',
  ModelReady: 'health',
  ServerMetadata: 'metadata',
  ModelMetadata: 'metadata',
  ModelInfer: 'inference',
  ModelStreamInfer: 'inference',
  ModelConfig: 'model-config',
  ModelStatistics: 'statistics',
  RepositoryIndex: 'model-repository',
  RepositoryModelLoad: 'model-repository',
  RepositoryModelUnload: 'model-repository',
  SystemSharedMemoryStatus: 'shared-memory',
  SystemSharedMemoryRegister: 'shared-memory',
  SystemSharedMemoryUnregister: 'shared-memory',
  CudaSharedMemoryStatus: 'shared-memory',
  CudaSharedMemoryRegister: 'shared-memory',
  CudaSharedMemoryUnregister: 'shared-memory',
  TraceSetting: 'trace',
  LogSettings: 'logging',
};

/** A metadata value by key, as a string ('' when absent or binary). */
function metadataText(metadata: grpc.Metadata, key: string): string {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : '';
}

/** The metadata entries forwarded as request parameters (string values only; `-bin` keys carry bytes). */
function forwardedMetadata(metadata: grpc.Metadata, pattern: RegExp | undefined): Array<[string, string]> {
  if (!pattern) return [];
  const forwarded: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string' && forwardsHeader(pattern, key)) forwarded.push([key, value]);
  }
  return forwarded;
}

function serverCredentials(tls: GrpcTlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.rootCertificates?.pem ?? null,
    [{ cert_chain: tls.certificate.pem, private_key: tls.key.pem }],
    tls.mutual,
  );
}

type Bytes = Buffer;

/** Triton's refusal of a decoupled model over unary ModelInfer (UNIMPLEMENTED). */
const MODEL_INFER_DECOUPLED = "ModelInfer RPC doesn't support models with decoupled transaction policy";
type UnaryHandler = (request: Bytes) => Bytes | Promise<Bytes>;

interface SharedMemoryRegisterRequest {
  name: string;
  key: string;
  offset: Int64;
  byte_size: Int64;
}

interface NameAndVersion {
  name: string;
  version: string;
}

/**
 * Messages cross grpc-js as raw bytes: the codecs decode and encode them, so that a
 * request that does not parse is answered INVALID_ARGUMENT with a precise message
 * rather than grpc-js's generic INTERNAL.
 */
function serviceDefinition(): grpc.ServiceDefinition {
  const identity = (bytes: Bytes) => bytes;
  const definition: Record<string, grpc.MethodDefinition<Bytes, Bytes>> = {};
  const service = inferenceService();
  for (const method of service.methodsArray) {
    definition[method.name] = {
      path: `/inference.${service.name}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
  }
  return definition;
}

/** ModelConfigResponse { ModelConfig config = 1 }, around the bytes the repository encodes as Triton does. */
function encodeModelConfigResponse(config: ModelConfig): Bytes {
  return protobuf.Writer.create().uint32((1 << 3) | 2).bytes(encodeModelConfig(config)).finish() as Bytes;
}

interface RepositoryModelRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, RepositoryParameterMessage>;
}

/** Naming one repository among several is a Triton option Nereid does not have: models are found in all of them. */
function refuseRepositoryName(rpc: string, request: { repository_name: string }): void {
  if (request.repository_name !== '') {
    throw notImplemented(rpc, `'repository_name' (addressing one repository of several; leave it empty)`);
  }
}

/** IPv6 literals need brackets in a gRPC target. */
function bindTarget(address: string, port: number): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]:${port}` : `${address}:${port}`;
}

export class GrpcFrontend {
  private readonly server: grpc.Server;
  private readonly streams = new Set<InferStream>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly dataPlane: DataPlane,
    private readonly options: GrpcFrontendOptions,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxMessageSize,
      'grpc.max_send_message_length': options.maxMessageSize,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
      // Channelz bookkeeping costs every call some main-thread time and nothing here reads it.
      'grpc.enable_channelz': 0,
    });
    const definition = serviceDefinition();
    const implementation = this.implementation();
    const missing = Object.keys(definition).filter((name) => !(name in implementation));
    if (missing.length > 0) throw new Error(`GRPCInferenceService RPCs without a handler: ${missing.join(', ')}`);
    const uncategorized = Object.keys(definition).filter((name) => !(name in RPC_CATEGORY));
    if (uncategorized.length > 0) throw new Error(`GRPCInferenceService RPCs without a restricted-protocol category: ${uncategorized.join(', ')}`);
    if (options.restrictedProtocols && Object.keys(options.restrictedProtocols).length > 0) {
      for (const name of Object.keys(implementation)) implementation[name] = this.restricted(RPC_CATEGORY[name], implementation[name]);
    }
    this.server.addService(definition, implementation);
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    const { address, port } = this.options;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(bindTarget(address, port), serverCredentials(this.options.tls), (err, bound) => {
        if (err) reject(new Error(`cannot listen for gRPC on ${bindTarget(address, port)}: ${err.message}`));
        else resolve(bound);
      });
    });
  }

  /**
   * Stops accepting calls and resolves once every call in progress has been answered:
   * open inference streams end as soon as their requests in flight are answered.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const stream of this.streams) stream.shutdown();
      this.server.tryShutdown(() => resolve());
    });
    return this.closing;
  }

  /** Refuses a call without the category's metadata header before the handler sees it. */
  private restricted(category: RestrictedCategory, handler: grpc.UntypedHandleCall): grpc.UntypedHandleCall {
    const restrictions = this.options.restrictedProtocols!;
    if (!restrictions[category]) return handler;
    return ((call: grpc.ServerUnaryCall<Bytes, Bytes> | grpc.ServerDuplexStream<Bytes, Bytes>, callback?: grpc.sendUnaryData<Bytes>) => {
      const refusal = restrictionFailure(restrictions, category, (key) => metadataText(call.metadata, key), 'protocol');
      if (!refusal) return (handler as (...args: unknown[]) => void)(call, callback);
      const status = grpcStatusOf(refusal);
      if (callback) callback(status);
      else (call as grpc.ServerDuplexStream<Bytes, Bytes>).emit('error', status);
    }) as grpc.UntypedHandleCall;
  }

  private unary(handle: UnaryHandler): grpc.handleUnaryCall<Bytes, Bytes> {
    return (call, callback) => {
      let result: Bytes | Promise<Bytes>;
      try {
        result = handle(call.request);
      } catch (err) {
        callback(grpcStatusOf(err));
        return;
      }
      if (result instanceof Promise) result.then((bytes) => callback(null, bytes), (err) => callback(grpcStatusOf(err)));
      else callback(null, result);
    };
  }

  private implementation(): grpc.UntypedServiceImplementation {
    const dp = this.dataPlane;
    const nameAndVersion = (type: string, bytes: Bytes): [string, string | undefined] => {
      const { name, version } = decodeMessage<NameAndVersion>(type, bytes);
      return [name, version === '' ? undefined : version];
    };
    return {
      ServerLive: this.unary(() => encodeMessage('ServerLiveResponse', { live: dp.isLive() })),
      ServerReady: this.unary(() => encodeMessage('ServerReadyResponse', { ready: dp.isReady() })),
      ModelReady: this.unary((bytes) => {
        const [name, version] = nameAndVersion('ModelReadyRequest', bytes);
        let ready = false;
        try {
          ready = dp.isModelReady(name, version).ready;
        } catch {
          // As Triton: an unknown model or version is simply not ready.
        }
        return encodeMessage('ModelReadyResponse', { ready });
      }),
      ServerMetadata: this.unary(() => encodeMessage('ServerMetadataResponse', dp.serverMetadata())),
      ModelMetadata: this.unary((bytes) =>
        encodeMessage('ModelMetadataResponse', dp.modelMetadata(...nameAndVersion('ModelMetadataRequest', bytes))),
      ),
      ModelConfig: this.unary((bytes) => encodeModelConfigResponse(dp.modelConfig(...nameAndVersion('ModelConfigRequest', bytes)))),
      ModelInfer: (call: grpc.ServerUnaryCall<Bytes, Bytes>, callback: grpc.sendUnaryData<Bytes>) => this.infer(call, callback),
      ModelStreamInfer: (call: grpc.ServerDuplexStream<Bytes, Bytes>) => {
        const stream = new InferStream(call, dp, this.options.logger, (done) => this.streams.delete(done), forwardedMetadata(call.metadata, this.options.headerForwardPattern));
        this.streams.add(stream);
        if (this.closing) stream.shutdown();
      },
      RepositoryIndex: this.unary((bytes) => {
        const request = decodeMessage<{ repository_name: string; ready: boolean }>('RepositoryIndexRequest', bytes);
        refuseRepositoryName('RepositoryIndex', request);
        return encodeMessage('RepositoryIndexResponse', { models: dp.repositoryIndex(request.ready) });
      }),
      ModelStatistics: this.unary((bytes) => {
        const [name, version] = nameAndVersion('ModelStatisticsRequest', bytes);
        return encodeMessage('ModelStatisticsResponse', dp.modelStatistics(name || undefined, version));
      }),
      RepositoryModelLoad: this.unary(async (bytes) => {
        const request = decodeMessage<RepositoryModelRequest>('RepositoryModelLoadRequest', bytes);
        refuseRepositoryName('RepositoryModelLoad', request);
        await dp.loadModel(request.model_name, repositoryParametersFromWire(request.parameters));
        return encodeMessage('RepositoryModelLoadResponse', {});
      }),
      RepositoryModelUnload: this.unary(async (bytes) => {
        const request = decodeMessage<RepositoryModelRequest>('RepositoryModelUnloadRequest', bytes);
        refuseRepositoryName('RepositoryModelUnload', request);
        await dp.unloadModel(request.model_name, repositoryParametersFromWire(request.parameters));
        return encodeMessage('RepositoryModelUnloadResponse', {});
      }),
      SystemSharedMemoryStatus: this.unary((bytes) => {
        const { name } = decodeMessage<{ name: string }>('SystemSharedMemoryStatusRequest', bytes);
        const regions = Object.fromEntries(dp.sharedMemory.status(name).map((region) => [region.name, region]));
        return encodeMessage('SystemSharedMemoryStatusResponse', { regions });
      }),
      SystemSharedMemoryRegister: this.unary((bytes) => {
        const request = decodeMessage<SharedMemoryRegisterRequest>('SystemSharedMemoryRegisterRequest', bytes);
        dp.sharedMemory.register(request.name, request.key, int64ToNumber(request.offset), int64ToNumber(request.byte_size));
        return encodeMessage('SystemSharedMemoryRegisterResponse', {});
      }),
      SystemSharedMemoryUnregister: this.unary((bytes) => {
        const { name } = decodeMessage<{ name: string }>('SystemSharedMemoryUnregisterRequest', bytes);
        if (name === '') dp.sharedMemory.unregisterAll();
        else dp.sharedMemory.unregister(name);
        return encodeMessage('SystemSharedMemoryUnregisterResponse', {});
      }),
      CudaSharedMemoryStatus: this.unary((bytes) => {
        const { name } = decodeMessage<{ name: string }>('CudaSharedMemoryStatusRequest', bytes);
        const regions = Object.fromEntries(dp.sharedMemory.cudaStatus(name).map((region) => [region.name, region]));
        return encodeMessage('CudaSharedMemoryStatusResponse', { regions });
      }),
      CudaSharedMemoryRegister: this.unary((bytes) => {
        const request = decodeMessage<{ name: string; raw_handle: Uint8Array; device_id: Int64; byte_size: Int64 }>('CudaSharedMemoryRegisterRequest', bytes);
        dp.sharedMemory.registerCuda(request.name, request.raw_handle, int64ToNumber(request.device_id), int64ToNumber(request.byte_size));
        return encodeMessage('CudaSharedMemoryRegisterResponse', {});
      }),
      CudaSharedMemoryUnregister: this.unary((bytes) => {
        const { name } = decodeMessage<{ name: string }>('CudaSharedMemoryUnregisterRequest', bytes);
        dp.sharedMemory.unregisterCuda(name);
        return encodeMessage('CudaSharedMemoryUnregisterResponse', {});
      }),
      TraceSetting: this.unary((bytes) => {
        const request = decodeMessage<{ settings: Record<string, TraceSettingValueMessage>; model_name: string }>('TraceSettingRequest', bytes);
        const model = request.model_name || undefined;
        const settings =
          Object.keys(request.settings).length === 0 ? dp.traceSettings(model) : dp.updateTraceSettings(model, traceSettingsFromWire(request.settings));
        return encodeMessage('TraceSettingResponse', { settings: traceSettingsToWire(settings) });
      }),
      LogSettings: this.unary((bytes) => {
        const request = decodeMessage<{ settings: Record<string, LogSettingValueMessage> }>('LogSettingsRequest', bytes);
        const settings = Object.keys(request.settings).length === 0 ? dp.logSettings() : dp.updateLogSettings(logSettingsFromWire(request.settings));
        return encodeMessage('LogSettingsResponse', { settings: logSettingsToWire(settings) });
      }),
    };
  }

  /** Whether the model is decoupled; false for a model infer() will refuse for its own reason. */
  private isDecoupled(model: string, version: string): boolean {
    try {
      return this.dataPlane.isDecoupled(model, version === '' ? undefined : version);
    } catch {
      return false;
    }
  }

  /** A client that cancels, disconnects or passes its deadline cancels the request, so a queued one is dropped. */
  private infer(call: grpc.ServerUnaryCall<Bytes, Bytes>, callback: grpc.sendUnaryData<Bytes>): void {
    let request;
    try {
      const message = parseModelInferRequest(call.request);
      // As in Triton, a decoupled model is refused before its inputs are looked at.
      if (this.isDecoupled(message.model_name, message.model_version)) throw new InferenceError('UNSUPPORTED', MODEL_INFER_DECOUPLED);
      request = inferenceRequestFrom(message, this.dataPlane.sharedMemory);
    } catch (err) {
      callback(grpcStatusOf(err));
      return;
    }
    addForwardedHeaders(request, forwardedMetadata(call.metadata, this.options.headerForwardPattern));
    const cancellation = new Cancellation();
    request.cancellation = cancellation;
    let answered = false;
    // grpc-js also reports 'cancelled' once a finished call's stream closes; only an unanswered call is cancelled.
    call.once('cancelled', () => {
      if (!answered) cancellation.cancel();
    });
    this.dataPlane.infer(request, MODEL_INFER_DECOUPLED).then(
      (response) => {
        answered = true;
        let bytes: Bytes;
        try {
          bytes = encodeModelInferResponse(response, request);
        } catch (err) {
          callback(grpcStatusOf(err));
          return;
        }
        callback(null, bytes);
      },
      (err) => {
        answered = true;
        callback(grpcStatusOf(err));
      },
    );
  }
}
