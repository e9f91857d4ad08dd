/**
 * The seam between the load loops and the wire: a channel carries one request at
 * a time (a keep-alive HTTP connection, a gRPC stream or a slot on a shared gRPC
 * connection) and reports how it ended. Latency is measured by the load loop.
 */

export interface RequestOutcome {
  /** Undefined on success; otherwise what went wrong, as the user should read it. */
  error: string | undefined;
  /** Microseconds spent handing the request to the socket / library. */
  sendUs: number;
  /** Microseconds from the first byte of the answer to its end. */
  recvUs: number;
}

export interface InferChannel {
  /** Sends planned request `index`; `done` is called exactly once. */
  send(index: number, done: (outcome: RequestOutcome) => void): void;
  close(): void;
}

export interface ChannelFactory {
  open(): InferChannel;
  /** Closes what the channels share (a gRPC client). */
  close(): void;
}
