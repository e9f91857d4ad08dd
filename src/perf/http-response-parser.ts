/**
 * An incremental parser for one HTTP/1.1 response at a time on a keep-alive
 * connection: Content-Length and chunked bodies, and bodies that end with the
 * connection. The load generator never pipelines, so bytes beyond the response
 * are a protocol error.
 */
import { InferenceError } from '../core/index.js';

export interface HttpResponse {
  status: number;
  body: Buffer;
  /** The server will close the connection after this response. */
  close: boolean;
}

interface Head {
  status: number;
  contentLength: number;
  chunked: boolean;
  close: boolean;
}

const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** The server broke HTTP/1.1: the connection cannot be trusted any more. */
const protocolError = (message: string) => new InferenceError('INTERNAL', `invalid HTTP response: ${message}`);

/** The value of header `name` (lower case) in a lower-cased head, or undefined. */
function headerValue(head: string, name: string): string | undefined {
  const at = head.indexOf(`\r\n${name}:`);
  if (at < 0) return undefined;
  const from = at + name.length + 3;
  const to = head.indexOf('\r\n', from);
  return head.slice(from, to < 0 ? head.length : to).trim();
}

// Runs once per response: lower-casing the head once and looking up the three
// headers that matter costs less than splitting it into lines.
function parseHead(text: string): Head {
  const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(text);
  if (!statusLine) throw protocolError(`malformed status line '${text.split('\r\n')[0].slice(0, 80)}'`);
  const head = text.toLowerCase();
  const length = headerValue(head, 'content-length');
  const encoding = headerValue(head, 'transfer-encoding');
  const connection = headerValue(head, 'connection');
  const parsed: Head = {
    status: Number(statusLine[2]),
    contentLength: length === undefined ? -1 : Number(length),
    chunked: encoding !== undefined && encoding.split(',').some((v) => v.trim() === 'chunked'),
    close: connection?.includes('close') || (statusLine[1] === '0' && !connection?.includes('keep-alive')),
  };
  if (!parsed.chunked && length !== undefined && !(/^\d+$/.test(length) && Number.isSafeInteger(parsed.contentLength))) {
    throw protocolError('malformed Content-Length');
  }
  return parsed;
}

export class HttpResponseParser {
  private buffer: Buffer | undefined;
  private head: Head | undefined;
  private bodyStart = 0;

  /** Adds bytes; returns the response once it is complete. */
  feed(chunk: Buffer): HttpResponse | undefined {
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (!this.head) {
      const end = this.buffer.indexOf(CRLFCRLF);
      if (end < 0) {
        if (this.buffer.length > MAX_HEAD_BYTES) throw protocolError(`response head exceeds ${MAX_HEAD_BYTES} bytes`);
        return undefined;
      }
      const head = parseHead(this.buffer.toString('latin1', 0, end));
      // An interim 1xx answer precedes the real one.
      if (head.status >= 100 && head.status < 200) {
        this.buffer = this.buffer.subarray(end + 4);
        continue;
      }
      this.head = head;
      this.bodyStart = end + 4;
    }
    const head = this.head;
    if (head.chunked) return this.chunkedBody(head);
    if (head.contentLength >= 0) {
      const end = this.bodyStart + head.contentLength;
      if (this.buffer.length < end) return undefined;
      if (this.buffer.length > end) throw protocolError(`${this.buffer.length - end} unexpected bytes after the response`);
      return this.complete(head, this.buffer.subarray(this.bodyStart, end));
    }
    return undefined;
  }

  /** The connection ended: a response delimited by the close is complete now. */
  end(): HttpResponse | undefined {
    if (!this.head || this.head.chunked || this.head.contentLength >= 0) return undefined;
    return this.complete({ ...this.head, close: true }, this.buffer!.subarray(this.bodyStart));
  }

  reset(): void {
    this.buffer = undefined;
    this.head = undefined;
    this.bodyStart = 0;
  }

  private complete(head: Head, body: Buffer): HttpResponse {
    this.reset();
    return { status: head.status, body, close: head.close };
  }

  private chunkedBody(head: Head): HttpResponse | undefined {
    const buffer = this.buffer!;
    const parts: Buffer[] = [];
    let at = this.bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf(CRLF, at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.toString('latin1', at, lineEnd).split(';')[0], 16);
      if (!Number.isInteger(size) || size < 0) throw protocolError('malformed chunk size');
      at = lineEnd + 2;
      if (size === 0) {
        // Trailer lines, if any, end with an empty line.
        for (;;) {
          const end = buffer.indexOf(CRLF, at);
          if (end < 0) return undefined;
          if (end === at) {
            if (end + 2 !== buffer.length) throw protocolError(`${buffer.length - end - 2} unexpected bytes after the response`);
            return this.complete(head, Buffer.concat(parts));
          }
          at = end + 2;
        }
      }
      if (buffer.length < at + size + 2) return undefined;
      parts.push(buffer.subarray(at, at + size));
      at += size + 2;
    }
  }
}
