/**
 * Certificates and keys named by the TLS flags, read and checked at start-up so that a
 * wrong file stops the server with the flag's name instead of failing every handshake later.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** The PEM text of one file, with the flag that named it for error messages. */
export interface PemFile {
  flag: string;
  path: string;
  pem: Buffer;
}

/** A server's certificate chain and private key, checked to belong together. */
export interface KeyCertificatePair {
  certificate: PemFile;
  key: PemFile;
}

const CERTIFICATE_BEGIN = '-----BEGIN CERTIFICATE-----';

function readPem(flag: string, path: string): PemFile {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : message;
    throw new Error(`--${flag}: cannot read '${path}': ${reason}`);
  }
  if (pem.length === 0) throw new Error(`--${flag}: '${path}' is empty`);
  return { flag, path, pem };
}

/** Every certificate in a PEM file (a chain or a CA bundle); at least one. */
function parseCertificates(file: PemFile): X509Certificate[] {
  const text = file.pem.toString('latin1');
  const blocks = text.split(CERTIFICATE_BEGIN).slice(1).map((rest) => CERTIFICATE_BEGIN + rest);
  if (blocks.length === 0) throw new Error(`--${file.flag}: '${file.path}' holds no PEM certificate ('${CERTIFICATE_BEGIN}')`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new Error(`--${file.flag}: certificate ${index + 1} in '${file.path}' does not parse: ${(err as Error).message}`);
    }
  });
}

function parsePrivateKey(file: PemFile): KeyObject {
  try {
    return createPrivateKey(file.pem);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    if (code === 'ERR_MISSING_PASSPHRASE') throw new Error(`--${file.flag}: the key in '${file.path}' is encrypted; give an unencrypted PEM key`);
    throw new Error(`--${file.flag}: '${file.path}' holds no PEM private key: ${message}`);
  }
}

/** Reads a certificate chain and its key; throws naming the flag when either is unreadable or they do not match. */
export function loadKeyCertificatePair(certificateFlag: string, certificatePath: string, keyFlag: string, keyPath: string): KeyCertificatePair {
  const certificate = readPem(certificateFlag, certificatePath);
  const key = readPem(keyFlag, keyPath);
  const [leaf] = parseCertificates(certificate);
  const privateKey = parsePrivateKey(key);
  if (!leaf!.checkPrivateKey(privateKey)) {
    throw new Error(`--${keyFlag}: the key in '${keyPath}' does not belong to the certificate in '${certificatePath}' (--${certificateFlag})`);
  }
  return { certificate, key };
}

/** Reads the CA certificates that client certificates must chain to. */
export function loadCertificateAuthorities(flag: string, path: string): PemFile {
  const file = readPem(flag, path);
  parseCertificates(file);
  return file;
}

/** `--grpc-use-ssl` / `--grpc-use-ssl-mutual` and the files they use, as paths. */
export interface GrpcTlsOptions {
  /** `--grpc-server-cert`. */
  serverCert: string;
  /** `--grpc-server-key`. */
  serverKey: string;
  /** `--grpc-root-cert`: the CAs that sign client certificates; required when `mutual`. */
  rootCert?: string;
  /** `--grpc-use-ssl-mutual`: refuse clients without a certificate signed by `rootCert`. */
  mutual: boolean;
}

/** `--http-ssl-cert`, `--http-ssl-key` and optionally `--http-ssl-ca`, as paths. */
export interface HttpTlsOptions {
  cert: string;
  key: string;
  /** Present: every client must show a certificate signed by one of these CAs. */
  ca?: string;
}

/** gRPC TLS with its files read and checked. */
export interface GrpcTlsFiles {
  certificate: PemFile;
  key: PemFile;
  rootCertificates?: PemFile;
  mutual: boolean;
}

/** HTTPS with its files read and checked. */
export interface HttpsFiles {
  certificate: PemFile;
  key: PemFile;
  /** Present: every client must show a certificate signed by one of these. */
  clientCertificateAuthorities?: PemFile;
}

export function loadGrpcTls(options: GrpcTlsOptions): GrpcTlsFiles {
  if (options.mutual && options.rootCert === undefined) {
    throw new Error('--grpc-use-ssl-mutual needs --grpc-root-cert: the CA certificate(s) that client certificates must be signed by');
  }
  const { certificate, key } = loadKeyCertificatePair('grpc-server-cert', options.serverCert, 'grpc-server-key', options.serverKey);
  const rootCertificates = options.rootCert !== undefined ? loadCertificateAuthorities('grpc-root-cert', options.rootCert) : undefined;
  return { certificate, key, rootCertificates, mutual: options.mutual };
}

export function loadHttpsFiles(options: HttpTlsOptions): HttpsFiles {
  const { certificate, key } = loadKeyCertificatePair('http-ssl-cert', options.cert, 'http-ssl-key', options.key);
  const clientCertificateAuthorities = options.ca !== undefined ? loadCertificateAuthorities('http-ssl-ca', options.ca) : undefined;
  return { certificate, key, clientCertificateAuthorities };
}
