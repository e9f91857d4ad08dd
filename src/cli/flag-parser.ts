/**
 * A small getopt_long-alike: `--name value`, `--name=value`, bare boolean flags,
 * repeatable lists, and single-letter aliases (`-m value`, `-mvalue`) for the
 * commands whose reference tool has them (perf_analyzer's `-m`, `-u`, …).
 */

export type FlagKind = 'string' | 'int' | 'bool' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  help: string;
  /** Shown in help; the caller applies defaults. */
  defaultText?: string;
  /** A one-letter alias: `-m value` or `-mvalue`. */
  short?: string;
}

export type FlagValues = Record<string, string | number | boolean | string[]>;

export class UsageError extends Error {}

const TRUE = new Set(['true', '1', 'on', 'yes']);
const FALSE = new Set(['false', '0', 'off', 'no']);

function parseBool(name: string, text: string): boolean {
  const lower = text.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw new UsageError(`--${name} expects true or false, got '${text}'`);
}

function parseInt10(name: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--${name} expects an integer, got '${text}'`);
  return Number(text);
}

export function parseFlags(args: readonly string[], specs: Readonly<Record<string, FlagSpec>>): FlagValues {
  const values: FlagValues = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let name: string;
    let text: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      text = eq >= 0 ? arg.slice(eq + 1) : undefined;
      if (!specs[name]) throw new UsageError(`unknown flag --${name} (see --help)`);
    } else if (/^-[A-Za-z]/.test(arg)) {
      const letter = arg[1];
      const found = Object.entries(specs).find(([, s]) => s.short === letter);
      if (!found) throw new UsageError(`unknown flag -${letter} (see --help)`);
      name = found[0];
      if (arg.length > 2) text = arg.slice(2);
    } else {
      throw new UsageError(`unexpected argument '${arg}'`);
    }
    const spec = specs[name];
    if (text === undefined) {
      const next = args[i + 1];
      const nextIsValue = next !== undefined && !next.startsWith('--');
      if (spec.kind === 'bool' && !(nextIsValue && (TRUE.has(next.toLowerCase()) || FALSE.has(next.toLowerCase())))) {
        values[name] = true;
        continue;
      }
      if (!nextIsValue) throw new UsageError(`--${name} needs a value`);
      text = next;
      i++;
    }
    switch (spec.kind) {
      case 'bool':
        values[name] = parseBool(name, text);
        break;
      case 'int':
        values[name] = parseInt10(name, text);
        break;
      case 'list':
        values[name] = [...((values[name] as string[] | undefined) ?? []), text];
        break;
      default:
        values[name] = text;
    }
  }
  return values;
}

export function formatHelp(specs: Readonly<Record<string, FlagSpec>>): string {
  return Object.entries(specs)
    .map(([name, spec]) => {
      const value = spec.kind === 'bool' ? '[=<bool>]' : spec.kind === 'int' ? ' <integer>' : ' <string>';
      const def = spec.defaultText ? ` (default ${spec.defaultText})` : '';
      const alias = spec.short ? `-${spec.short}, ` : '';
      return `  ${alias}--${name}${value}\n      ${spec.help}${def}`;
    })
    .join('\n');
}
