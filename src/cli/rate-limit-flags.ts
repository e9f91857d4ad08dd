/** `nereid serve`'s rate limiter flags, with Triton's names and syntax. */
import type { RateLimitResource } from '../scheduler/index.js';
import type { ServerOptions } from '../server/index.js';
import { UsageError, type FlagSpec, type FlagValues } from './flag-parser.js';

export const RATE_LIMIT_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'rate-limit': {
    kind: 'string',
    help: "execution_count: an execution starts only when its instance group's rate_limiter resources are free (priority weighs the turns); off: instance groups' rate_limiter settings are ignored.",
    defaultText: 'off',
  },
  'rate-limit-resource': {
    kind: 'list',
    help: "'<name>:<count>' (every device) or '<name>:<count>:<device>': the copies of a rate limiter resource, instead of the most any instance asks for; repeat for several.",
  },
};

type RateLimitOptions = Pick<ServerOptions, 'rateLimit' | 'rateLimitResources'>;

/** Triton's wording for a malformed --rate-limit-resource. */
function parseResource(value: string): RateLimitResource {
  const format = `--rate-limit-resource option format is '<resource_name>:<count>:<device>' or '<resource_name>:<count>'. Got ${value}`;
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '') throw new UsageError(format);
  const [name, countText, deviceText] = parts;
  if (!/^\d+$/.test(countText)) throw new UsageError(`${format} (the count must be a whole number)`);
  const resource: RateLimitResource = { name, count: Number(countText) };
  if (deviceText !== undefined) {
    if (!/^\d+$/.test(deviceText)) throw new UsageError(`${format} (the device must be a device id)`);
    resource.device = Number(deviceText);
  }
  return resource;
}

export function rateLimitOptions(flags: FlagValues): RateLimitOptions {
  const mode = ((flags['rate-limit'] as string | undefined) ?? 'off').toLowerCase();
  if (mode !== 'execution_count' && mode !== 'off') throw new UsageError(`--rate-limit must be execution_count or off, got '${flags['rate-limit'] as string}'`);
  const resources = ((flags['rate-limit-resource'] as string[] | undefined) ?? []).map(parseResource);
  return { rateLimit: mode, rateLimitResources: resources };
}
