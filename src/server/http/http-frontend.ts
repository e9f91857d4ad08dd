/** The KServe v2 HTTP/REST frontend on uWebSockets.js. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import uWS from 'uWebSockets.js';
import { Cancellation, ERROR_STATUS, InferenceError, toInferenceError, type Logger } from '../../core/index.js';
import type { DataPlane } from '../data-plane.js';
import { addForwardedHeaders, forwardsHeader } from '../header-forwarding.js';
import { restrictionFailure, type ApiRestrictions } from '../restricted-apis.js';
import { INFERENCE_HEADER_CONTENT_LENGTH } from './binary-infer-codec.js';
import { decodeBody, encodeBody, requestCoding, responseCoding } from './content-coding.js';
import { decodeInferRequest } from './infer-request-decoder.js';
import { decodeGenerate, serveGenerate, serveGenerateStream } from './generate-endpoint.js';
import { encodeInferResponse } from './infer-response-encoder.js';
import { readBody } from './request-body.js';
import { httpRestrictedCategory } from './restricted-routes.js';
import { parseCudaRegisterRequest, parseRegisterRequest } from './shared-memory-register.js';
import { statusLine } from './status-line.js';
import { pathParameter } from './path-parameter.js';
import { ClientCertificateGate } from './client-certificate-gate.js';
import type { HttpsFiles, PemFile } from '../tls-files.js';

export interface HttpFrontendOptions {
  address: string;
  port: number;
  /** `--http-max-input-size`: the largest request body accepted, in bytes. */
  maxInputSize: number;
  /** Absent: plain HTTP. */
  https?: HttpsFiles;
  logger: Logger;
  /** `--http-restricted-api`: categories of endpoints that need a header; none by default. */
  restrictedApis?: ApiRestrictions;
  /** `--http-header-forward-pattern`: headers whose name matches become request parameters. */
  headerForwardPattern?: RegExp;
}

/** One HTTP exchange: knows whether the client is still there and answers at most once. */
class Exchange {
  aborted = false;
  answered = false;
  /** beginStream() wrote the status: the body follows in chunks. */
  private streaming = false;
  private cancellation: Cancellation | undefined;

  constructor(
    readonly res: uWS.HttpResponse,
    private readonly onDone: () => void,
  ) {
    res.onAborted(() => {
      this.aborted = true;
      this.cancellation?.cancel();
      this.finish();
    });
  }

  /** Cancelled when the client disconnects before its answer. */
  get clientCancellation(): Cancellation {
    return (this.cancellation ??= new Cancellation());
  }

  send(
    status: number,
    body: string | Uint8Array,
    contentType = 'application/json',
    closeConnection = false,
    headers: ReadonlyArray<readonly [string, string]> = [],
  ): void {
    if (this.aborted || this.answered || this.streaming) return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      if (body.length > 0) this.res.writeHeader('Content-Type', contentType);
      for (const [name, value] of headers) this.res.writeHeader(name, value);
      this.res.end(body, closeConnection);
    });
    this.finish();
  }

  sendJson(value: unknown): void {
    this.send(200, JSON.stringify(value));
  }

  sendError(err: unknown, closeConnection = false): void {
    const error = toInferenceError(err);
    this.send(ERROR_STATUS[error.code].http, JSON.stringify({ error: error.message }), 'application/json', closeConnection);
  }

  /** Begins an answer whose body follows in chunks (Server-Sent Events); endStream() ends it. */
  beginStream(status: number, contentType: string): void {
    if (this.aborted || this.answered || this.streaming) return;
    this.streaming = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      this.res.writeHeader('Content-Type', contentType);
      this.res.writeHeader('Cache-Control', 'no-cache');
    });
  }

  writeChunk(text: string): void {
    if (this.aborted || this.answered || !this.streaming) return;
    this.res.cork(() => this.res.write(text));
  }

  endStream(): void {
    if (this.aborted || this.answered || !this.streaming) return;
    this.res.cork(() => this.res.end());
    this.finish();
  }

  private finish(): void {
    if (this.answered) return;
    this.answered = true;
    this.onDone();
  }
}

function parseJsonObject(raw: Uint8Array): Record<string, unknown> {
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8'));
  } catch (err) {
    throw new InferenceError('INVALID_ARG', `failed to parse the request JSON buffer: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InferenceError('INVALID_ARG', 'the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function parametersOf(body: Record<string, unknown>): Record<string, unknown> | undefined {
  const { parameters } = body;
  if (parameters === undefined) return undefined;
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    throw new InferenceError('INVALID_ARG', "'parameters' must be a JSON object");
  }
  return parameters as Record<string, unknown>;
}

/** The native listen(host, port, options, callback); the published typings omit this overload. */
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  callback: (socket: uWS.us_listen_socket | false) => void,
) => uWS.TemplatedApp;

/** uWebSockets.js's ListenOptions value (a type-only enum in its typings, so the number is written here). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/** Triton's refusal of a decoupled model over HTTP infer (501). */
const HTTP_DECOUPLED = "HTTP end point doesn't support models with decoupled transaction policy";

/**
 * uWebSockets.js reports a failed bind as `false` without the cause, so the same bind is
 * tried with node:net to name it (address in use, permission denied, no such address).
 */
function bindFailureReason(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EACCES' ? 'permission denied' : err.message);
    });
    probe.listen({ host: address, port, exclusive: true }, () => {
      probe.close(() => resolve('the address could not be bound'));
    });
  });
}

export class HttpFrontend {
  private readonly app: uWS.TemplatedApp;
  private listenSocket: uWS.us_listen_socket | undefined;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  /** With client certificates required: the TLS front and the private directory of the app's Unix socket. */
  private gate: { front: ClientCertificateGate; socketDirectory: string } | undefined;
  /**
   * The restrictions in force, undefined when there are none (`nereid serve` passes an
   * empty set): every request then skips working out its category (a path split per request).
   */
  private readonly restrictions: ApiRestrictions | undefined;

  constructor(
    private readonly dataPlane: DataPlane,
    private readonly options: HttpFrontendOptions,
  ) {
    const restrictions = options.restrictedApis;
    this.restrictions = restrictions && Object.keys(restrictions).length > 0 ? restrictions : undefined;
    this.app = this.createApp();
    this.routes();
  }

  private createApp(): uWS.TemplatedApp {
    const { https } = this.options;
    if (!https || https.clientCertificateAuthorities) return uWS.App();
    try {
      return uWS.SSLApp({ cert_file_name: https.certificate.path, key_file_name: https.key.path });
    } catch {
      // The files were checked already; this is the TLS library refusing them (an unsupported key type, say).
      throw new Error(`--${https.certificate.flag}, --${https.key.flag}: uWebSockets.js cannot use '${https.certificate.path}' with '${https.key.path}'`);
    }
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    const ca = this.options.https?.clientCertificateAuthorities;
    return ca ? this.listenBehindGate(ca) : this.listenDirectly();
  }

  private async listenBehindGate(ca: PemFile): Promise<number> {
    const { address, port, https, logger } = this.options;
    const socketDirectory = mkdtempSync(join(tmpdir(), 'nereid-https-'));
    const socketPath = join(socketDirectory, 'http.sock');
    const front = new ClientCertificateGate({ cert: https!.certificate.pem, key: https!.key.pem, ca: ca.pem }, socketPath, logger);
    this.gate = { front, socketDirectory };
    try {
      await new Promise<void>((resolve, reject) => {
        this.app.listen_unix((socket) => {
          if (!socket) return reject(new Error(`cannot listen for HTTP on the Unix socket ${socketPath}`));
          this.listenSocket = socket;
          resolve();
        }, socketPath);
      });
      return await front.listen(address, port);
    } catch (err) {
      if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
      rmSync(socketDirectory, { recursive: true, force: true });
      this.gate = undefined;
      throw err;
    }
  }

  private listenDirectly(): Promise<number> {
    const { address, port } = this.options;
    return new Promise((resolve, reject) => {
      // uWebSockets.js sets SO_REUSEPORT unless told otherwise, and the kernel would then split
      // connections between this server and an old one still bound to the port.
      (this.app.listen as unknown as ListenWithOptions).call(this.app, address, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (socket) {
          this.listenSocket = socket;
          return resolve(uWS.us_socket_local_port(socket));
        }
        void bindFailureReason(address, port).then((reason) => reject(new Error(`cannot listen for ${this.options.https ? 'HTTPS' : 'HTTP'} on ${address}:${port}: ${reason}`)));
      });
    });
  }

  /** Stops accepting connections; resolves once every exchange in progress has been answered. */
  async close(): Promise<void> {
    this.gate?.front.stopAccepting();
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    if (this.inflight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.gate) {
      this.gate.front.endConnections();
      rmSync(this.gate.socketDirectory, { recursive: true, force: true });
      this.gate = undefined;
    }
  }

  private exchange(res: uWS.HttpResponse): Exchange {
    this.inflight++;
    return new Exchange(res, () => {
      if (--this.inflight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /**
   * Wraps a synchronous handler so that any throw becomes an error answer. A restricted
   * endpoint called without its header is refused here, before its body is read.
   */
  private handle(handler: (exchange: Exchange, req: uWS.HttpRequest) => void) {
    return (res: uWS.HttpResponse, req: uWS.HttpRequest) => {
      const exchange = this.exchange(res);
      try {
        this.checkRestriction(req);
        handler(exchange, req);
      } catch (err) {
        exchange.sendError(err);
      }
    };
  }

  private checkRestriction(req: uWS.HttpRequest): void {
    const { restrictions } = this;
    if (!restrictions) return;
    const category = httpRestrictedCategory(req.getUrl());
    if (!category) return;
    const refusal = restrictionFailure(restrictions, category, (name) => req.getHeader(name), 'API');
    if (refusal) throw refusal;
  }

  private routes(): void {
    const dp = this.dataPlane;
    const app = this.app;
    const health = (ok: () => boolean) => this.handle((ex) => ex.send(ok() ? 200 : 400, ''));
    app.get('/v2/health/live', health(() => dp.isLive()));
    app.get('/v2/health/ready', health(() => dp.isReady()));
    app.get('/v2', this.handle((ex) => ex.sendJson(dp.serverMetadata())));

    // Each model route exists with and without `/versions/:version`.
    const modelRoute = (suffix: string, register: (path: string, withVersion: boolean) => void) => {
      register(`/v2/models/:model${suffix}`, false);
      register(`/v2/models/:model/versions/:version${suffix}`, true);
    };
    const params = (req: uWS.HttpRequest, withVersion: boolean): [string, string | undefined] => [
      pathParameter(req, 0, 'model name'),
      withVersion ? pathParameter(req, 1, 'model version') : undefined,
    ];

    modelRoute('', (path, v) =>
      app.get(path, this.handle((ex, req) => ex.sendJson(dp.modelMetadata(...params(req, v))))),
    );
    modelRoute('/ready', (path, v) =>
      app.get(
        path,
        this.handle((ex, req) => {
          const { ready, reason } = dp.isModelReady(...params(req, v));
          if (ready) ex.send(200, '');
          else ex.send(400, JSON.stringify({ error: reason }));
        }),
      ),
    );
    modelRoute('/config', (path, v) =>
      app.get(path, this.handle((ex, req) => ex.sendJson(dp.modelConfig(...params(req, v))))),
    );
    modelRoute('/infer', (path, v) =>
      app.post(path, this.handle((ex, req) => this.infer(ex, req, ...params(req, v)))),
    );
    // The generate extension; a failure before the first event is a plain JSON error.
    const generateRoute = (suffix: string, serve: typeof serveGenerate) =>
      modelRoute(suffix, (path, v) =>
        app.post(path, this.handle((ex, req) => {
          const [model, version] = params(req, v);
          this.withJsonBody(ex, req, (body, raw) => void serve(ex, dp, decodeGenerate(ex, dp, model, version, body, raw)).catch((err) => ex.sendError(err)));
        })),
      );
    generateRoute('/generate', serveGenerate);
    generateRoute('/generate_stream', serveGenerateStream);

    // Statistics, logging and trace extensions. uWS matches the fixed `/v2/models/stats`
    // before `/v2/models/:model`, as Triton does (a model named "stats" has no metadata route).
    app.get('/v2/models/stats', this.handle((ex) => ex.sendJson(dp.modelStatistics())));
    modelRoute('/stats', (path, v) =>
      app.get(path, this.handle((ex, req) => ex.sendJson(dp.modelStatistics(...params(req, v))))),
    );
    app.get('/v2/logging', this.handle((ex) => ex.sendJson(dp.logSettings())));
    app.post('/v2/logging', this.handle((ex, req) => this.withJsonBody(ex, req, (body) => ex.sendJson(dp.updateLogSettings(body)))));
    app.get('/v2/trace/setting', this.handle((ex) => ex.sendJson(dp.traceSettings())));
    app.post('/v2/trace/setting', this.handle((ex, req) => this.withJsonBody(ex, req, (body) => ex.sendJson(dp.updateTraceSettings(undefined, body)))));
    app.get('/v2/models/:model/trace/setting', this.handle((ex, req) => ex.sendJson(dp.traceSettings(params(req, false)[0]))));
    app.post('/v2/models/:model/trace/setting', this.handle((ex, req) => {
      const [model] = params(req, false);
      this.withJsonBody(ex, req, (body) => ex.sendJson(dp.updateTraceSettings(model, body)));
    }));

    app.post('/v2/repository/index', this.handle((ex, req) => this.withJsonBody(ex, req, (body) => {
      const ready = body.ready;
      if (ready !== undefined && typeof ready !== 'boolean') throw new InferenceError('INVALID_ARG', "Invalid value for 'ready': expected a boolean");
      ex.sendJson(dp.repositoryIndex(ready === true));
    })));
    app.post('/v2/repository/models/:model/load', this.handle((ex, req) => {
      const model = pathParameter(req, 0, 'model name');
      this.withJsonBody(ex, req, (body) => {
        dp.loadModel(model, parametersOf(body)).then(() => ex.send(200, ''), (err) => ex.sendError(err));
      });
    }));
    app.post('/v2/repository/models/:model/unload', this.handle((ex, req) => {
      const model = pathParameter(req, 0, 'model name');
      this.withJsonBody(ex, req, (body) => {
        dp.unloadModel(model, parametersOf(body)).then(() => ex.send(200, ''), (err) => ex.sendError(err));
      });
    }));

    // Triton's system shared memory extension; see ../shared-memory/.
    const regions = dp.sharedMemory;
    const region = (req: uWS.HttpRequest) => pathParameter(req, 0, 'region name');
    app.get('/v2/systemsharedmemory/status', this.handle((ex) => ex.sendJson(regions.status())));
    app.get('/v2/systemsharedmemory/region/:region/status', this.handle((ex, req) => ex.sendJson(regions.status(region(req)))));
    app.post('/v2/systemsharedmemory/region/:region/register', this.handle((ex, req) => {
      const name = region(req);
      this.withJsonBody(ex, req, (body) => {
        const { key, offset, byteSize } = parseRegisterRequest(body);
        regions.register(name, key, offset, byteSize);
        ex.send(200, '');
      });
    }));
    app.post('/v2/systemsharedmemory/region/:region/unregister', this.handle((ex, req) => {
      const name = region(req);
      this.withJsonBody(ex, req, () => {
        regions.unregister(name);
        ex.send(200, '');
      });
    }));
    app.post('/v2/systemsharedmemory/unregister', this.handle((ex, req) => this.withJsonBody(ex, req, () => {
      regions.unregisterAll();
      ex.send(200, '');
    })));
    app.get('/v2/cudasharedmemory/status', this.handle((ex) => ex.sendJson(regions.cudaStatus())));
    app.get('/v2/cudasharedmemory/region/:region/status', this.handle((ex, req) => ex.sendJson(regions.cudaStatus(region(req)))));
    app.post('/v2/cudasharedmemory/region/:region/register', this.handle((ex, req) => {
      const name = region(req);
      this.withJsonBody(ex, req, (body) => {
        const { rawHandle, deviceId, byteSize } = parseCudaRegisterRequest(body);
        regions.registerCuda(name, rawHandle, deviceId, byteSize);
        ex.send(200, '');
      });
    }));
    app.post('/v2/cudasharedmemory/region/:region/unregister', this.handle((ex, req) => {
      const name = region(req);
      this.withJsonBody(ex, req, () => {
        regions.unregisterCuda(name);
        ex.send(200, '');
      });
    }));
    app.post('/v2/cudasharedmemory/unregister', this.handle((ex, req) => this.withJsonBody(ex, req, () => {
      regions.unregisterCuda();
      ex.send(200, '');
    })));

    app.any(
      '/*',
      this.handle((ex, req) => {
        throw new InferenceError('NOT_FOUND', `no such endpoint: ${req.getCaseSensitiveMethod()} ${req.getUrl()}`);
      }),
    );
  }

  /** Reads a small JSON object body (an empty body reads as `{}`) and hands it over, with its bytes. */
  private withJsonBody(ex: Exchange, req: uWS.HttpRequest, use: (body: Record<string, unknown>, raw: Uint8Array) => void): void {
    readBody(ex.res, req, this.options.maxInputSize, (err, raw) => {
      if (err) return ex.sendError(err, true);
      try {
        use(parseJsonObject(raw!), raw!);
      } catch (parseError) {
        ex.sendError(parseError);
      }
    });
  }

  private infer(ex: Exchange, req: uWS.HttpRequest, model: string, version: string | undefined): void {
    // uWS.HttpRequest is valid only until this handler returns: take the headers now.
    const headers = {
      headerLength: req.getHeader(INFERENCE_HEADER_CONTENT_LENGTH),
      contentEncoding: req.getHeader('content-encoding'),
      acceptEncoding: req.getHeader('accept-encoding'),
      forwarded: this.forwardedHeaders(req),
    };
    readBody(ex.res, req, this.options.maxInputSize, (err, body) => {
      if (err) return ex.sendError(err, true);
      if (ex.aborted) return;
      this.inferBody(ex, model, version, body!, headers).catch((inferError) => ex.sendError(inferError));
    });
  }

  private forwardedHeaders(req: uWS.HttpRequest): Array<[string, string]> {
    const pattern = this.options.headerForwardPattern;
    const forwarded: Array<[string, string]> = [];
    if (pattern) req.forEach((name, value) => forwardsHeader(pattern, name) && forwarded.push([name, value]));
    return forwarded;
  }

  private async inferBody(
    ex: Exchange,
    model: string,
    version: string | undefined,
    raw: Uint8Array,
    headers: { headerLength: string; contentEncoding: string; acceptEncoding: string; forwarded: Array<[string, string]> },
  ): Promise<void> {
    // A model that cannot serve answers 503 (404 when unknown) whatever the body holds.
    const serving = this.dataPlane.servingVersion(model, version);
    const { config } = serving;
    // As in Triton, a decoupled model is refused before the body is looked at.
    if (config.model_transaction_policy?.decoupled) throw new InferenceError('UNSUPPORTED', HTTP_DECOUPLED);
    const coding = requestCoding(headers.contentEncoding);
    // An uncompressed body (the usual case) is used as it is, without a turn of the microtask queue.
    const bytes = coding === 'identity' ? raw : await decodeBody(coding, raw, this.options.maxInputSize);
    if (ex.aborted) return;
    const request = decodeInferRequest(
      { bytes, headerLength: headers.headerLength, inflated: coding !== 'identity' },
      model,
      version,
      config,
      this.dataPlane.sharedMemory,
    );
    addForwardedHeaders(request, headers.forwarded);
    request.cancellation = ex.clientCancellation;
    const response = await this.dataPlane.infer(request, HTTP_DECOUPLED, serving);
    const encoded = encodeInferResponse(response, request);
    const answerCoding = responseCoding(headers.acceptEncoding);
    const replyHeaders: Array<[string, string]> = [];
    if (encoded.headerLength !== undefined) replyHeaders.push(['Inference-Header-Content-Length', String(encoded.headerLength)]);
    let body = encoded.body;
    if (answerCoding !== 'identity') {
      body = await encodeBody(answerCoding, typeof body === 'string' ? Buffer.from(body) : body);
      replyHeaders.push(['Content-Encoding', answerCoding]);
    }
    const contentType = encoded.headerLength !== undefined ? 'application/octet-stream' : 'application/json';
    ex.send(200, body, contentType, false, replyHeaders);
  }
}
