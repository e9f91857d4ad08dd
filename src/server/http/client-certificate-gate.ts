/**
 * HTTPS that requires a client certificate (`--http-ssl-ca`). uWebSockets.js 20.30 checks a
 * client certificate against its CA file only when the client sends one, and gives the
 * handlers no way to tell whether one was sent; so node:tls terminates these connections,
 * refusing any client without a certificate from the CA, and hands the plain bytes to the
 * uWebSockets.js app on a Unix socket in a directory only this user can enter.
 */
import { connect, type Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from '../../core/index.js';

export interface GateCredentials {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

export class ClientCertificateGate {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: TLSSocket; app: Socket }>();

  constructor(
    credentials: GateCredentials,
    private readonly appSocketPath: string,
    private readonly logger: Logger,
  ) {
    this.server = createServer({ ...credentials, requestCert: true, rejectUnauthorized: true }, (client) => this.forward(client));
    this.server.on('tlsClientError', (err, socket) => {
      this.logger.debug({ remote: socket.remoteAddress, reason: err.message }, 'HTTPS handshake refused');
      socket.destroy();
    });
  }

  listen(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const reason = err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
        reject(new Error(`cannot listen for HTTPS on ${address}:${port}: ${reason}`));
      };
      this.server.once('error', onError);
      this.server.listen({ host: address, port, exclusive: true }, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  stopAccepting(): void {
    this.server.close();
  }

  /** Half-closes every connection toward the app: answers already written still reach their clients. */
  endConnections(): void {
    for (const { app } of this.pairs) app.end();
  }

  private forward(client: TLSSocket): void {
    const app = connect(this.appSocketPath);
    const pair = { client, app };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      app.destroy();
    };
    client.on('error', drop);
    app.on('error', drop);
    client.on('close', drop);
    app.on('close', () => {
      this.pairs.delete(pair);
      // Let what the app wrote last drain to the client before closing it.
      client.end();
    });
    client.pipe(app);
    app.pipe(client);
  }
}
