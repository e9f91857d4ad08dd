/** The part of autocannon's API the benchmarks use (the package ships no types). */
declare module 'autocannon' {
  /** One request of a sequence each connection repeats; `context` lives for one pass of the sequence. */
  interface SequenceRequest {
    method?: 'GET' | 'POST';
    path?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    /** Returns the request to send, or a falsy value to start the sequence over. */
    setupRequest?: (request: SequenceRequest, context: any) => SequenceRequest | undefined | null;
    onResponse?: (status: number, body: string, context: any) => void;
  }
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    method?: 'GET' | 'POST';
    body?: string | Buffer;
    headers?: Record<string, string>;
    requests?: SequenceRequest[];
  }
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
  }
  interface Result {
    requests: Histogram;
    latency: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
