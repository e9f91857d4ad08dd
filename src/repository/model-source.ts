/**
 * Where a model's files come from (a repository folder, or the files of a load
 * request) and the config they imply, before any version loads.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { backendNameFor, defaultModelFilename } from '../backends/index.js';
import { InferenceError } from '../core/index.js';
import { emptyModelConfig, modelConfigFromJson, parseModelConfig, type ModelConfig } from './model-config.js';
import { versionFolders } from './repository-scan.js';

/** What a load request may replace, as Triton's load API accepts it. */
export interface LoadOverrides {
  /** A JSON model config that replaces config.pbtxt. */
  configJson?: string;
  /** Files of the model, by path relative to the model folder (`1/model.onnx`). */
  files?: Map<string, Uint8Array>;
}

export interface PreparedModel {
  config: ModelConfig;
  backend: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Reads a load request's parameters: `config` (JSON text) and `file:<version>/<name>`
 * (base64 content). Anything else is refused so that typos do not pass silently.
 */
export function loadOverridesFromParameters(modelName: string, parameters: Record<string, unknown> | undefined): LoadOverrides {
  const overrides: LoadOverrides = {};
  for (const [key, value] of Object.entries(parameters ?? {})) {
    const where = `failed to load '${modelName}': parameter '${key}'`;
    if (key === 'config') {
      if (typeof value !== 'string') throw new InferenceError('INVALID_ARG', `${where} must be a string holding the model config as JSON`);
      overrides.configJson = value;
    } else if (key.startsWith('file:')) {
      const path = normalize(key.slice(5));
      if (!/^\d+$/.test(path.split(sep)[0]) || path.split(sep).includes('..') || path.endsWith(sep)) {
        throw new InferenceError('INVALID_ARG', `${where}: the path must be '<version>/<file>' inside the model folder`);
      }
      if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) {
        throw new InferenceError('INVALID_ARG', `${where}: the content is not valid base64`);
      }
      (overrides.files ??= new Map()).set(path, Buffer.from(value, 'base64'));
    } else if (key !== 'unload_dependents') {
      throw new InferenceError('INVALID_ARG', `${where} is not a load parameter (expected 'config' or 'file:<version>/<file>')`);
    }
  }
  if (overrides.files && overrides.configJson === undefined) {
    throw new InferenceError('INVALID_ARG', `failed to load '${modelName}': file overrides need the 'config' parameter too`);
  }
  return overrides;
}

/** Writes override files into a fresh folder laid out as a model folder. */
export function materializeOverrideFiles(modelName: string, files: Map<string, Uint8Array>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'nereid-override-')), modelName);
  for (const [path, bytes] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  return dir;
}

function readConfig(modelName: string, dir: string, strict: boolean, configJson: string | undefined): ModelConfig {
  if (configJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(configJson);
    } catch (err) {
      throw new Error(`parameter 'config' is not valid JSON: ${(err as Error).message}`);
    }
    return modelConfigFromJson(parsed, `load request config for '${modelName}'`);
  }
  const configPath = join(dir, 'config.pbtxt');
  if (existsSync(configPath)) return parseModelConfig(readFileSync(configPath, 'utf8'), configPath);
  if (strict) throw new Error(`${configPath} not found, and --strict-model-config=true requires one`);
  return emptyModelConfig();
}

/** The config as written (or overridden), named after the folder, with its backend found. */
export function prepareModel(modelName: string, dir: string, strict: boolean, configJson?: string): PreparedModel {
  let config = readConfig(modelName, dir, strict, configJson);
  if (config.name && config.name !== modelName) {
    throw new Error(`config name '${config.name}' does not match the model folder '${modelName}'`);
  }
  config = { ...config, name: modelName };
  // An ensemble has no model file and no backend: its steps are other models.
  if (config.platform === 'ensemble') return { config, backend: 'ensemble' };

  let backend = backendNameFor(config.platform, config.backend);
  if (!backend && !strict) {
    const hasOnnx = versionFolders(dir).some((v) => existsSync(join(dir, String(v), config.default_model_filename || 'model.onnx')));
    if (hasOnnx) backend = 'onnxruntime';
  }
  if (!backend || !defaultModelFilename(backend)) {
    const named = config.backend || config.platform;
    throw new Error(named ? `model '${modelName}': unknown backend or platform '${named}'` : `model '${modelName}': config gives no platform or backend and no model.onnx was found`);
  }
  if (backend === 'onnxruntime') config = { ...config, platform: 'onnxruntime_onnx', backend: 'onnxruntime' };
  return { config, backend };
}

function fingerprintInto(path: string, parts: string[]): void {
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) {
      fingerprintInto(full, parts);
    } else {
      const stat = statSync(full);
      parts.push(`${full}:${stat.size}:${stat.mtimeMs}`);
    }
  }
}

/** Changes whenever a file of this version is added, removed, resized or rewritten. */
export function versionFingerprint(modelDir: string, version: string): string {
  const parts: string[] = [];
  fingerprintInto(join(modelDir, version), parts);
  return parts.join('|');
}

/** The same for everything of the model outside its version folders: config.pbtxt, label files. */
export function modelFingerprint(modelDir: string): string {
  const parts: string[] = [];
  for (const entry of readdirSync(modelDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(modelDir, entry.name);
    if (entry.isDirectory()) {
      if (!/^\d+$/.test(entry.name)) fingerprintInto(full, parts);
    } else {
      const stat = statSync(full);
      parts.push(`${full}:${stat.size}:${stat.mtimeMs}`);
    }
  }
  return parts.join('|');
}

/** Everything poll mode compares: the model's own files and every version folder. */
export function treeFingerprint(modelDir: string): string {
  const versions = versionFolders(modelDir).sort((a, b) => a - b);
  return [modelFingerprint(modelDir), ...versions.map((v) => `${v}=${versionFingerprint(modelDir, String(v))}`)].join('#');
}
