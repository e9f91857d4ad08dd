/**
 * Triton's restricted API groups (`--http-restricted-api`, `--grpc-restricted-protocol`):
 * each category of endpoints may require one request header with one exact value.
 * Both frontends check the same table, so an endpoint belongs to the same category
 * over HTTP and gRPC.
 */
import { InferenceError } from '../core/index.js';

/** Triton's category names, in Triton's order. */
export const RESTRICTED_CATEGORIES = [
  'health',
  'metadata',
  'inference',
  'shared-memory',
  'model-config',
  'model-repository',
  'statistics',
  'trace',
  'logging',
] as const;

export type RestrictedCategory = (typeof RESTRICTED_CATEGORIES)[number];

/** The header (lower case, as both HTTP stacks hand headers over) and the value it must carry. */
export interface Restriction {
  header: string;
  value: string;
}

export type ApiRestrictions = Partial<Record<RestrictedCategory, Restriction>>;

/** gRPC metadata keys get this prefix in front of the configured key, as in Triton. */
export const GRPC_RESTRICTED_HEADER_PREFIX = 'triton-grpc-protocol-';

export function isRestrictedCategory(name: string): name is RestrictedCategory {
  return (RESTRICTED_CATEGORIES as readonly string[]).includes(name);
}

/**
 * Parses the values of one repeatable flag, `<category>[,<category>…]:<key>=<value>`, in
 * Triton's wording for its errors; `feature` is 'api' (HTTP) or 'protocol' (gRPC).
 * Throws an Error naming the flag and what is wrong.
 */
export function parseApiRestrictions(values: readonly string[], flag: string, feature: 'api' | 'protocol', headerPrefix = ''): ApiRestrictions {
  const restrictions: ApiRestrictions = {};
  for (const value of values) {
    const colon = value.indexOf(':');
    const equals = colon < 0 ? -1 : value.indexOf('=', colon + 1);
    const categories = colon < 0 ? '' : value.slice(0, colon);
    const key = equals < 0 ? '' : value.slice(colon + 1, equals);
    const expected = equals < 0 ? '' : value.slice(equals + 1);
    if (categories === '' || key === '' || expected === '') {
      throw new Error(`--${flag} option format is '<${feature} list>:<key>=<value>'. Got ${value}`);
    }
    for (const name of categories.split(',')) {
      if (!isRestrictedCategory(name)) {
        throw new Error(`--${flag}: unknown restricted ${feature} '${name}' (known: ${RESTRICTED_CATEGORIES.join(', ')})`);
      }
      if (restrictions[name]) throw new Error(`--${flag}: restricted ${feature} '${name}' can not be specified in multiple config groups`);
      restrictions[name] = { header: (headerPrefix + key).toLowerCase(), value: expected };
    }
  }
  return restrictions;
}

/**
 * Undefined when the request may go on; otherwise the PERMISSION_DENIED error to answer with.
 * `readHeader` gives a header's value by its lower-case name (undefined or '' when absent).
 */
export function restrictionFailure(
  restrictions: ApiRestrictions,
  category: RestrictedCategory,
  readHeader: (name: string) => string | undefined,
  what: 'API' | 'protocol',
): InferenceError | undefined {
  const restriction = restrictions[category];
  if (!restriction) return undefined;
  if (readHeader(restriction.header) === restriction.value) return undefined;
  return new InferenceError('PERMISSION_DENIED', `This ${what} is restricted, expecting header '${restriction.header}'`);
}
