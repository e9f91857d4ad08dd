/** `nereid serve`'s flags for restricted APIs and header forwarding, with Triton's names and syntax. */
import { compileHeaderForwardPattern, parseApiRestrictions, GRPC_RESTRICTED_HEADER_PREFIX, RESTRICTED_CATEGORIES } from '../server/index.js';
import type { ServerOptions } from '../server/index.js';
import { UsageError, type FlagSpec, type FlagValues } from './flag-parser.js';

const CATEGORIES = RESTRICTED_CATEGORIES.join(', ');

export const ACCESS_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'http-restricted-api': {
    kind: 'list',
    help: `'<api>[,<api>…]:<header>=<value>': those HTTP endpoints answer 403 unless the request has the header with that value; repeat for several groups. APIs: ${CATEGORIES}.`,
  },
  'grpc-restricted-protocol': {
    kind: 'list',
    help: `'<protocol>[,<protocol>…]:<key>=<value>': those RPCs answer PERMISSION_DENIED unless the call has metadata 'triton-grpc-protocol-<key>' with that value; repeat for several groups. Protocols: ${CATEGORIES}.`,
  },
  'http-header-forward-pattern': {
    kind: 'string',
    help: "Regular expression: HTTP request headers whose name matches reach the model as string request parameters (case-insensitive; start with '(?-i)' for case-sensitive).",
  },
  'grpc-header-forward-pattern': {
    kind: 'string',
    help: "Regular expression: gRPC request metadata whose key matches reaches the model as string request parameters (case-insensitive; start with '(?-i)' for case-sensitive).",
  },
};

type AccessOptions = Pick<ServerOptions, 'httpRestrictedApis' | 'grpcRestrictedProtocols' | 'httpHeaderForwardPattern' | 'grpcHeaderForwardPattern'>;

/** Errors of the parsers become usage errors (exit 2 with the reason). */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function accessOptions(flags: FlagValues): AccessOptions {
  const list = (name: string) => (flags[name] as string[] | undefined) ?? [];
  const pattern = (name: string) => {
    const text = flags[name] as string | undefined;
    return text === undefined ? undefined : usage(() => compileHeaderForwardPattern(text, name));
  };
  return {
    httpRestrictedApis: usage(() => parseApiRestrictions(list('http-restricted-api'), 'http-restricted-api', 'api')),
    grpcRestrictedProtocols: usage(() =>
      parseApiRestrictions(list('grpc-restricted-protocol'), 'grpc-restricted-protocol', 'protocol', GRPC_RESTRICTED_HEADER_PREFIX),
    ),
    httpHeaderForwardPattern: pattern('http-header-forward-pattern'),
    grpcHeaderForwardPattern: pattern('grpc-header-forward-pattern'),
  };
}
