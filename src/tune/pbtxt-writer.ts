/**
 * Writes a model configuration (the repository API's JSON form) as config.pbtxt text.
 * Enum fields are written bare; every other string is quoted.
 */
const ENUM_FIELDS = new Set(['data_type', 'kind', 'format', 'priority_level_type', 'timeout_action', 'control_kind']);

function scalar(key: string, value: unknown): string {
  if (typeof value === 'string') return ENUM_FIELDS.has(key) ? value : JSON.stringify(value);
  return String(value);
}

function fields(object: Record<string, unknown>, indent: string): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined || value === null) continue;
    if (key === 'parameters' && typeof value === 'object' && !Array.isArray(value)) {
      // A protobuf map is written as repeated { key value } entries.
      for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
        lines.push(`${indent}parameters {`, `${indent}  key: ${JSON.stringify(name)}`, `${indent}  value {`, ...fields(entry as Record<string, unknown>, `${indent}    `), `${indent}  }`, `${indent}}`);
      }
    } else if (Array.isArray(value)) {
      if (value.length === 0) continue;
      if (typeof value[0] === 'object') {
        lines.push(`${indent}${key} [`);
        value.forEach((item, i) => {
          lines.push(`${indent}  {`, ...fields(item as Record<string, unknown>, `${indent}    `), `${indent}  }${i < value.length - 1 ? ',' : ''}`);
        });
        lines.push(`${indent}]`);
      } else {
        lines.push(`${indent}${key}: [ ${value.map((v) => scalar(key, v)).join(', ')} ]`);
      }
    } else if (typeof value === 'object') {
      lines.push(`${indent}${key} {`, ...fields(value as Record<string, unknown>, `${indent}  `), `${indent}}`);
    } else {
      lines.push(`${indent}${key}: ${scalar(key, value)}`);
    }
  }
  return lines;
}

export function toPbtxt(config: Record<string, unknown>): string {
  return `${fields(config, '').join('\n')}\n`;
}
