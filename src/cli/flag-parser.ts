/** A small getopt_long-alike: `--name value`, `--name=value`, bare boolean flags, repeatable lists. */

export type FlagKind = 'string' | 'int' | 'bool' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  help: string;
  /** Shown in help; the caller applies defaults. */
  defaultText?: string;
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
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag --${name} (see --help)`);
    let text: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
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
      return `  --${name}${value}\n      ${spec.help}${def}`;
    })
    .join('\n');
}
