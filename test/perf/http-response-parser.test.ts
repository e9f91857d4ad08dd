import { describe, expect, it } from 'vitest';
import { HttpResponseParser } from '../../src/perf/http-response-parser.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('HttpResponseParser', () => {
  it('completes a Content-Length response only once every byte has arrived, in any split', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":[1,2]}';
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new HttpResponseParser();
      expect(parser.feed(bytes(text.slice(0, cut)))).toBeUndefined();
      const response = parser.feed(bytes(text.slice(cut)));
      expect(response?.status).toBe(200);
      expect(response?.body.toString()).toBe('{"a":[1,2]}');
      expect(response?.close).toBe(false);
    }
  });

  it('reassembles a chunked body with extensions and trailers', () => {
    const parser = new HttpResponseParser();
    expect(parser.feed(bytes('HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{"er\r\n'))).toBeUndefined();
    expect(parser.feed(bytes('6\r\nror":1\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n'))).toBeUndefined();
    const response = parser.feed(bytes('\r\n'));
    expect(response).toMatchObject({ status: 400, close: false });
    expect(response?.body.toString()).toBe('{"error":1}');
  });

  it('skips an interim 100 Continue and honours Connection: close and HTTP/1.0', () => {
    const parser = new HttpResponseParser();
    const response = parser.feed(bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    expect(response).toMatchObject({ status: 503, close: true });
    expect(new HttpResponseParser().feed(bytes('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}'))?.close).toBe(true);
  });

  it('ends a response without a length when the connection ends', () => {
    const parser = new HttpResponseParser();
    expect(parser.feed(bytes('HTTP/1.1 200 OK\r\n\r\n{"x"'))).toBeUndefined();
    expect(parser.feed(bytes(':1}'))).toBeUndefined();
    expect(parser.end()?.body.toString()).toBe('{"x":1}');
  });

  it('names what is wrong with a broken response', () => {
    expect(() => new HttpResponseParser().feed(bytes('SMTP ready\r\n\r\n'))).toThrow("invalid HTTP response: malformed status line 'SMTP ready'");
    expect(() => new HttpResponseParser().feed(bytes('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab'))).toThrow('invalid HTTP response: 1 unexpected bytes after the response');
    expect(() => new HttpResponseParser().feed(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'))).toThrow('invalid HTTP response: malformed chunk size');
  });
});
