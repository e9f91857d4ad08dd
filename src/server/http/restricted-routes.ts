import type { RestrictedCategory } from '../restricted-apis.js';

/**
 * The restricted-API category of an HTTP path, as Triton groups its endpoints; undefined
 * for a path that is no endpoint (it gets its 404 whatever the restrictions).
 */
export function httpRestrictedCategory(path: string): RestrictedCategory | undefined {
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments[0] !== 'v2') return undefined;
  if (segments.length === 1) return 'metadata';
  switch (segments[1]) {
    case 'health':
      return 'health';
    case 'logging':
      return 'logging';
    case 'trace':
      return 'trace';
    case 'repository':
      return 'model-repository';
    case 'systemsharedmemory':
    case 'cudasharedmemory':
      return 'shared-memory';
    case 'models':
      break;
    default:
      return undefined;
  }
  if (segments.length === 2) return undefined;
  if (segments.length === 3 && segments[2] === 'stats') return 'statistics';
  const rest = segments[3] === 'versions' ? segments.slice(5) : segments.slice(3);
  switch (rest.join('/')) {
    case '':
      return 'metadata';
    case 'ready':
      return 'health';
    case 'infer':
    case 'generate':
    case 'generate_stream':
      return 'inference';
    case 'config':
      return 'model-config';
    case 'stats':
      return 'statistics';
    case 'trace/setting':
      return 'trace';
    default:
      return undefined;
  }
}
