/**
 * A keep-alive HTTP/1.1 connection on a raw socket that sends pre-encoded
 * requests. node:http costs about twice the CPU per request (measured on the
 * add_sub request), and a load generator that shares the machine with the server
 * takes that CPU from the server.
 */
import { connect, type Socket } from 'node:net';
import { InferenceError } from '../core/index.js';
import type { Endpoint } from './endpoint.js';
import { HttpResponseParser, type HttpResponse } from './http-response-parser.js';
import type { ChannelFactory, InferChannel, RequestOutcome } from './infer-channel.js';

/** A 200 answer is a JSON document (or, with binary outputs, starts with its JSON header). */
const OPEN_BRACE = 0x7b;

/** The error text of a failed answer: the server's `error` field when it sent one. */
function httpErrorText(response: HttpResponse): string {
  const text = response.body.toString('utf8');
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof error === 'string') return `HTTP ${response.status}: ${error}`;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

interface Pending {
  done: (outcome: RequestOutcome) => void;
  sendUs: number;
  firstByteAt: number;
}

export class HttpChannel implements InferChannel {
  private socket: Socket | undefined;
  private readonly parser = new HttpResponseParser();
  private pending: Pending | undefined;
  private closed = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly requests: readonly Buffer[],
  ) {}

  send(index: number, done: (outcome: RequestOutcome) => void): void {
    if (this.closed) return queueMicrotask(() => done({ error: 'the load generator closed the connection', sendUs: 0, recvUs: 0 }));
    if (this.pending) throw new InferenceError('INTERNAL', 'HttpChannel.send while a request is in flight');
    const socket = this.socket ?? this.open();
    const before = performance.now();
    this.pending = { done, sendUs: 0, firstByteAt: 0 };
    socket.write(this.requests[index]);
    this.pending.sendUs = (performance.now() - before) * 1000;
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const socket = connect({ host: this.endpoint.host, port: this.endpoint.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('end', () => this.onEnd(socket));
    socket.on('error', (err) => this.fail(socket, `connection error: ${err.message}`));
    socket.on('close', () => this.fail(socket, 'the server closed the connection before answering'));
    this.socket = socket;
    return socket;
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    const pending = this.pending;
    if (!pending) return this.fail(socket, 'the server sent data without a request');
    if (pending.firstByteAt === 0) pending.firstByteAt = performance.now();
    let response;
    try {
      response = this.parser.feed(chunk);
    } catch (err) {
      return this.fail(socket, (err as Error).message);
    }
    if (response) this.finish(socket, response);
  }

  private onEnd(socket: Socket): void {
    if (socket !== this.socket) return;
    const response = this.parser.end();
    if (response) this.finish(socket, response);
    else this.fail(socket, 'the server closed the connection before answering');
  }

  private finish(socket: Socket, response: HttpResponse): void {
    const pending = this.pending!;
    this.pending = undefined;
    if (response.close) this.drop(socket);
    const ok = response.status === 200 && response.body[0] === OPEN_BRACE;
    const error = ok ? undefined : response.status === 200 ? 'HTTP 200 with a body that is not a JSON document' : httpErrorText(response);
    pending.done({ error, sendUs: pending.sendUs, recvUs: (performance.now() - pending.firstByteAt) * 1000 });
  }

  /** Fails the request in flight, if any, and forgets the socket so that the next send reconnects. */
  private fail(socket: Socket, reason: string): void {
    // Events of a socket already given up (closed after a `Connection: close` answer) concern no request.
    if (socket !== this.socket) return;
    this.drop(socket);
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    pending.done({ error: reason, sendUs: pending.sendUs, recvUs: 0 });
  }

  private drop(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.parser.reset();
    socket.destroy();
  }
}

export function httpChannelFactory(endpoint: Endpoint, requests: readonly Buffer[]): ChannelFactory {
  return {
    open: () => new HttpChannel(endpoint, requests),
    close: () => {},
  };
}
