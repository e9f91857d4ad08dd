/**
 * The `with:` parameters of a step: each kind declares its own, with a type, a default
 * and limits; a pipeline file's values are checked against them and every problem
 * names the field.
 */
export type ParameterSpec =
  | { type: 'int'; default?: number; min?: number; max?: number; help: string }
  | { type: 'number'; default?: number; min?: number; max?: number; help: string }
  | { type: 'string'; default?: string; oneOf?: readonly string[]; help: string }
  | { type: 'bool'; default?: boolean; help: string }
  | { type: 'int-list'; default?: number[]; min?: number; help: string };

export type ParameterSpecs = Readonly<Record<string, ParameterSpec>>;
export type ParameterValues = Record<string, number | string | boolean | number[]>;

const describe = (value: unknown) => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value));

/** The checked value of one field, or a message saying what is wrong with it (without the field's name). */
function checkValue(spec: ParameterSpec, value: unknown): { value: number | string | boolean | number[] } | { problem: string } {
  const limits = (n: number, min?: number, max?: number): string | undefined =>
    min !== undefined && n < min ? `must be at least ${min}, got ${n}` : max !== undefined && n > max ? `must be at most ${max}, got ${n}` : undefined;
  switch (spec.type) {
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value) || (spec.type === 'int' && !Number.isInteger(value))) {
        return { problem: `must be ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${describe(value)}` };
      }
      const problem = limits(value, spec.min, spec.max);
      return problem ? { problem } : { value };
    }
    case 'string':
      if (typeof value !== 'string') return { problem: `must be a string, got ${describe(value)}` };
      if (spec.oneOf && !spec.oneOf.includes(value)) return { problem: `must be one of ${spec.oneOf.join(', ')}, got '${value}'` };
      return { value };
    case 'bool':
      return typeof value === 'boolean' ? { value } : { problem: `must be true or false, got ${describe(value)}` };
    case 'int-list': {
      const list = Array.isArray(value) ? value : [value];
      if (list.length === 0 || list.some((n) => typeof n !== 'number' || !Number.isInteger(n))) return { problem: `must be an integer or a list of integers, got ${describe(value)}` };
      const bad = list.find((n) => spec.min !== undefined && (n as number) < spec.min);
      if (bad !== undefined) return { problem: `values must be at least ${spec.min}, got ${bad}` };
      return { value: list as number[] };
    }
  }
}

/** Checks `given` against `specs`; returns the values with defaults filled in, and the problems as [field, message]. */
export function checkParameters(specs: ParameterSpecs, given: Record<string, unknown>): { values: ParameterValues; problems: Array<[string, string]> } {
  const values: ParameterValues = {};
  const problems: Array<[string, string]> = [];
  for (const key of Object.keys(given)) {
    if (!(key in specs)) problems.push([key, `unknown parameter; expected one of ${Object.keys(specs).join(', ') || '(none)'}`]);
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (given[key] === undefined || given[key] === null) {
      if (spec.default !== undefined) values[key] = spec.default;
      continue;
    }
    const checked = checkValue(spec, given[key]);
    if ('problem' in checked) problems.push([key, checked.problem]);
    else values[key] = checked.value;
  }
  return { values, problems };
}
