/**
 * Triton's generate extension over HTTP. `/generate` answers one JSON object: a decoupled
 * model must send exactly one response to it. `/generate_stream` answers Server-Sent
 * Events, one `data:` event per response (an error as `{"error": …}`), as the model sends
 * them; its status is the first event's. A request that fails before any response is
 * answered as a plain JSON error. A client that disconnects cancels its request: the
 * model sees it through isCancelled().
 */
import { ERROR_STATUS, InferenceError, toInferenceError, type Cancellation, type InferenceRequest, type InferenceResponse, type StreamedResponse } from '../../core/index.js';
import type { ModelConfig } from '../../repository/index.js';
import type { DataPlane } from '../data-plane.js';
import { decodeGenerateRequest, encodeGenerateResponse } from './generate-codec.js';
import { repeatedJsonKeys } from './repeated-json-keys.js';

/** What the generate endpoints need of an HTTP exchange. */
export interface GenerateExchange {
  readonly clientCancellation: Cancellation;
  send(status: number, body: string): void;
  sendError(err: unknown): void;
  /** Writes the status and the event-stream header; later chunks follow as they come. */
  beginStream(status: number, contentType: string): void;
  writeChunk(text: string): void;
  endStream(): void;
}

/** Triton's refusal when /generate meets a decoupled model's zero or many responses. */
export const GENERATE_ONE_RESPONSE = 'generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses';

const EVENT_STREAM = 'text/event-stream; charset=utf-8';

const errorJson = (error: InferenceError) => JSON.stringify({ error: error.message });

/** A generate request decoded for the serving version of its model. */
export interface DecodedGenerate {
  config: ModelConfig;
  request: InferenceRequest;
}

/** The serving version's config and the decoded request, cancelled with the client's connection. */
export function decodeGenerate(
  ex: GenerateExchange,
  dataPlane: DataPlane,
  model: string,
  version: string | undefined,
  body: Record<string, unknown>,
  rawBody: Uint8Array,
): DecodedGenerate {
  const config = dataPlane.servingConfig(model, version);
  const request = decodeGenerateRequest(body, model, version, config, repeatedJsonKeys(rawBody));
  request.cancellation = ex.clientCancellation;
  return { config, request };
}

export async function serveGenerate(ex: GenerateExchange, dataPlane: DataPlane, { config, request }: DecodedGenerate): Promise<void> {
  if (config.model_transaction_policy?.decoupled !== true) {
    ex.send(200, encodeGenerateResponse(await dataPlane.infer(request)));
    return;
  }
  const responses: InferenceResponse[] = [];
  let error: InferenceError | undefined;
  request.onResponse = (part) => {
    if (part.error) error ??= part.error;
    else if (part.response) responses.push(part.response);
  };
  await dataPlane.infer(request);
  if (error) throw error;
  if (responses.length !== 1) throw new InferenceError('INVALID_ARG', GENERATE_ONE_RESPONSE);
  ex.send(200, encodeGenerateResponse(responses[0]));
}

export async function serveGenerateStream(ex: GenerateExchange, dataPlane: DataPlane, { config, request }: DecodedGenerate): Promise<void> {
  let started = false;
  const event = (status: number, json: string) => {
    if (!started) ex.beginStream(status, EVENT_STREAM);
    started = true;
    ex.writeChunk(`data: ${json}\n\n`);
  };
  const part = ({ response, error }: StreamedResponse) => {
    if (error) event(ERROR_STATUS[error.code].http, errorJson(error));
    else if (response) event(200, encodeGenerateResponse(response));
  };
  const decoupled = config.model_transaction_policy?.decoupled === true;
  if (decoupled) request.onResponse = part;
  try {
    const response = await dataPlane.infer(request);
    if (!decoupled) part({ response, final: true });
  } catch (err) {
    if (!started) throw err;
    part({ error: toInferenceError(err), final: true });
  }
  // A model that sent nothing at all (only its final flag) answers an empty stream.
  if (!started) ex.beginStream(200, EVENT_STREAM);
  ex.endStream();
}
