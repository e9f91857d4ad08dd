/**
 * The gRPC TraceSetting and LogSettings maps, to and from the JSON shape the data
 * plane shares with the HTTP frontend, so that both frontends validate alike.
 */
import { InferenceError } from '../../core/index.js';
import type { TraceSettingsJson } from '../../metrics/index.js';
import type { LogSettingsJson } from '../log-settings-json.js';

export interface TraceSettingValueMessage {
  value: string[];
}

export interface LogSettingValueMessage {
  parameter_choice?: 'bool_param' | 'uint32_param' | 'string_param';
  bool_param?: boolean;
  uint32_param?: number;
  string_param?: string;
}

/** A setting without values clears it (Triton's gRPC form of JSON null); trace_level is a list, the others one value each. */
export function traceSettingsFromWire(settings: Record<string, TraceSettingValueMessage>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings)) {
    // A map entry with only its key decodes as null: no values, like an empty list.
    const value = setting?.value ?? [];
    if (value.length === 0) body[key] = null;
    else if (key === 'trace_level') body[key] = value;
    else if (value.length === 1) body[key] = value[0];
    else throw new InferenceError('INVALID_ARG', `trace setting '${key}' takes one value, got ${value.length}: ${value.join(', ')}`);
  }
  return body;
}

export function traceSettingsToWire(json: TraceSettingsJson): Record<string, TraceSettingValueMessage> {
  return Object.fromEntries(Object.entries(json).map(([key, value]) => [key, { value: Array.isArray(value) ? value : [value] }]));
}

export function logSettingsFromWire(settings: Record<string, LogSettingValueMessage>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings)) body[key] = setting?.parameter_choice ? setting[setting.parameter_choice] : null;
  return body;
}

export function logSettingsToWire(json: LogSettingsJson): Record<string, LogSettingValueMessage> {
  return Object.fromEntries(
    Object.entries(json).map(([key, value]) => [
      key,
      typeof value === 'boolean' ? { bool_param: value } : typeof value === 'number' ? { uint32_param: value } : { string_param: value },
    ]),
  );
}
