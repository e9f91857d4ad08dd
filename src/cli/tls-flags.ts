/** `nereid serve`'s TLS flags: Triton's for gRPC, and HTTPS, which Triton lacks. */
import type { ServerOptions } from '../server/index.js';
import { UsageError, type FlagSpec, type FlagValues } from './flag-parser.js';

export const TLS_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'grpc-use-ssl': { kind: 'bool', help: 'Serve gRPC over TLS with --grpc-server-cert and --grpc-server-key.', defaultText: 'false' },
  'grpc-use-ssl-mutual': { kind: 'bool', help: 'Serve gRPC over TLS and require a client certificate signed by --grpc-root-cert; implies --grpc-use-ssl.', defaultText: 'false' },
  'grpc-server-cert': { kind: 'string', help: 'PEM file with the gRPC server certificate (chain). Ignored unless --grpc-use-ssl.' },
  'grpc-server-key': { kind: 'string', help: 'PEM file with the gRPC server private key. Ignored unless --grpc-use-ssl.' },
  'grpc-root-cert': { kind: 'string', help: 'PEM file with the CA certificate(s) that client certificates must be signed by (--grpc-use-ssl-mutual).' },
  'http-ssl-cert': { kind: 'string', help: 'PEM file with the HTTPS server certificate (chain); with --http-ssl-key, HTTP is served as HTTPS.' },
  'http-ssl-key': { kind: 'string', help: 'PEM file with the HTTPS server private key.' },
  'http-ssl-ca': { kind: 'string', help: 'PEM file with CA certificate(s): HTTPS clients must show a certificate signed by one of them.' },
};

export function tlsOptions(flags: FlagValues): Pick<ServerOptions, 'grpcTls' | 'httpTls'> {
  const text = (name: string) => flags[name] as string | undefined;
  const mutual = (flags['grpc-use-ssl-mutual'] as boolean | undefined) ?? false;
  const useSsl = mutual || ((flags['grpc-use-ssl'] as boolean | undefined) ?? false);
  let grpcTls: ServerOptions['grpcTls'];
  if (useSsl) {
    const flag = mutual ? '--grpc-use-ssl-mutual' : '--grpc-use-ssl';
    const serverCert = text('grpc-server-cert');
    const serverKey = text('grpc-server-key');
    if (serverCert === undefined || serverKey === undefined) throw new UsageError(`${flag} needs --grpc-server-cert and --grpc-server-key`);
    const rootCert = text('grpc-root-cert');
    if (mutual && rootCert === undefined) throw new UsageError('--grpc-use-ssl-mutual needs --grpc-root-cert: the CA certificate(s) that client certificates must be signed by');
    grpcTls = { serverCert, serverKey, rootCert, mutual };
  }
  const cert = text('http-ssl-cert');
  const key = text('http-ssl-key');
  const ca = text('http-ssl-ca');
  let httpTls: ServerOptions['httpTls'];
  if (cert !== undefined || key !== undefined) {
    if (cert === undefined) throw new UsageError('--http-ssl-key needs --http-ssl-cert');
    if (key === undefined) throw new UsageError('--http-ssl-cert needs --http-ssl-key');
    httpTls = { cert, key, ca };
  } else if (ca !== undefined) {
    throw new UsageError('--http-ssl-ca needs --http-ssl-cert and --http-ssl-key');
  }
  return { grpcTls, httpTls };
}
