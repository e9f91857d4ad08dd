/**
 * `GET /metrics` on `--metrics-port`: Prometheus scrapes it every few seconds, far
 * from the inference path, so node:http serves it on its own listener and nothing
 * here touches the HTTP or gRPC frontends.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/index.js';
import type { PrometheusMetrics } from '../metrics/index.js';

export interface MetricsEndpointOptions {
  address: string;
  port: number;
  logger: Logger;
}

export class MetricsEndpoint {
  private readonly server: Server;

  constructor(
    private readonly metrics: PrometheusMetrics,
    private readonly options: MetricsEndpointOptions,
  ) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?', 1)[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such endpoint: ${req.method} ${path} (metrics are at GET /metrics)\n`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end(`${req.method} /metrics is not allowed: use GET\n`);
        return;
      }
      this.metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': this.metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (err: Error) => {
          this.options.logger.error({ reason: err.message }, 'cannot collect metrics');
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect metrics: ${err.message}\n`);
        },
      );
    });
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    const { address, port } = this.options;
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(new Error(`cannot listen for metrics on ${address}:${port}: ${err.message}`));
      this.server.once('error', failed);
      this.server.listen(port, address, () => {
        this.server.off('error', failed);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops listening and drops idle keep-alive connections (a scrape in progress finishes). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
