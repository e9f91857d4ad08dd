/**
 * A pipeline file (YAML), read and checked before anything runs:
 *
 *   name: mlp-canary
 *   model: mlp
 *   repository: ../model_repository      # relative to this file
 *   server: { url: 127.0.0.1:8000 }      # optional: measure on a running server (explicit model control)
 *   steps:
 *     - { name: check, kind: validate }
 *     - name: tuned
 *       kind: tune
 *       with: { strategy: asha, window_ms: 500 }
 *       inputs: { config: check.config }  # optional: by default the latest earlier output of the input's type
 *
 * Every problem is reported at once, each with its line and the step and field it is
 * about.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { InferenceError } from '../core/index.js';
import { valueHash } from './artifacts.js';
import type { ArtifactType } from './artifacts.js';
import { STEP_KINDS } from './step-kinds.js';
import { checkParameters, type ParameterValues } from './step-parameters.js';

/** The pseudo-step whose one output, `model`, is the model folder in the source repository. */
export const SOURCE_STEP = 'source';

export interface InputBinding {
  step: string;
  output: string;
  type: ArtifactType;
}

export interface PipelineStep {
  name: string;
  kind: string;
  params: ParameterValues;
  inputs: Record<string, InputBinding>;
}

export interface Pipeline {
  file: string;
  /** Content hash of the file. */
  fileHash: string;
  name: string;
  model: string;
  /** Absolute path of the source model repository. */
  repository: string;
  /** HOST:PORT of a running server to use instead of starting a staging server. */
  serverUrl: string | undefined;
  steps: PipelineStep[];
}

const TOP_LEVEL = ['name', 'model', 'repository', 'server', 'steps'];
const STEP_FIELDS = ['name', 'kind', 'with', 'inputs'];
const NAME = /^[A-Za-z0-9_-]+$/;

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

export function parsePipeline(text: string, file: string): Pipeline {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const line = lineCounter.linePos(err.pos[0]).line;
    throw new InferenceError('INVALID_ARG', `${file}${line ? `:${line}` : ''}: not valid YAML: ${err.message.split('\n')[0]}`);
  }
  const problems: string[] = [];
  /** `file:line` of the deepest node along `path` that exists. */
  const at = (path: Array<string | number>): string => {
    for (let n = path.length; n >= 0; n--) {
      const node = (doc as Document).getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) return `${file}:${lineCounter.linePos(node.range[0]).line}`;
    }
    return file;
  };
  const problem = (path: Array<string | number>, message: string) => problems.push(`${at(path)}: ${message}`);

  const root = doc.toJS() as unknown;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new InferenceError('INVALID_ARG', `${file}: a pipeline file is a mapping with name, model, repository and steps`);
  }
  const top = root as Json;
  for (const key of Object.keys(top)) if (!TOP_LEVEL.includes(key)) problem([key], `unknown field '${key}'; expected ${TOP_LEVEL.join(', ')}`);
  const text1 = (key: string): string => {
    const value = top[key];
    if (typeof value !== 'string' || value === '') {
      problem([key], value === undefined ? `field '${key}' is required` : `field '${key}' must be a non-empty string, got ${describe(value)}`);
      return '';
    }
    return value;
  };
  const name = text1('name');
  const model = text1('model');
  const repositoryText = text1('repository');
  const repository = repositoryText ? resolve(dirname(file), repositoryText) : '';
  if (repository && model) {
    if (!existsSync(repository) || !statSync(repository).isDirectory()) problem(['repository'], `field 'repository': ${repository} is not a folder`);
    else if (!existsSync(join(repository, model)) || !statSync(join(repository, model)).isDirectory()) problem(['model'], `field 'model': no folder '${model}' in ${repository}`);
  }
  let serverUrl: string | undefined;
  if (top.server !== undefined) {
    const server = top.server as Json;
    if (server === null || typeof server !== 'object' || Array.isArray(server)) problem(['server'], `field 'server' must be a mapping with url, got ${describe(top.server)}`);
    else {
      for (const key of Object.keys(server)) if (key !== 'url') problem(['server', key], `unknown field 'server.${key}'; expected url`);
      if (typeof server.url !== 'string' || !/^[^:\s]+:\d+$/.test(server.url)) problem(['server', 'url'], `field 'server.url' must be HOST:PORT, got ${describe(server.url)}`);
      else serverUrl = server.url;
    }
  }

  const steps: PipelineStep[] = [];
  /** Step name → its kind's outputs, for steps declared so far. */
  const produced = new Map<string, Readonly<Record<string, ArtifactType>>>([[SOURCE_STEP, { model: 'model' }]]);
  const rawSteps = top.steps;
  if (!Array.isArray(rawSteps) || rawSteps.length === 0 || !isSeq(doc.get('steps', true))) {
    problem(['steps'], rawSteps === undefined ? "field 'steps' is required" : "field 'steps' must be a non-empty list of steps");
  } else {
    const laterNames = new Set(rawSteps.map((s) => (s && typeof s === 'object' ? (s as Json).name : undefined)).filter((n): n is string => typeof n === 'string'));
    rawSteps.forEach((raw, index) => {
      const path = ['steps', index];
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !isMap(doc.getIn(path, true))) {
        problem(path, `steps[${index}] must be a mapping with name and kind, got ${describe(raw)}`);
        return;
      }
      const step = raw as Json;
      const stepName = typeof step.name === 'string' ? step.name : '';
      const label = `step '${stepName || `#${index + 1}`}'${typeof step.kind === 'string' ? ` (${step.kind})` : ''}`;
      for (const key of Object.keys(step)) if (!STEP_FIELDS.includes(key)) problem([...path, key], `${label}: unknown field '${key}'; expected ${STEP_FIELDS.join(', ')}`);
      if (!stepName || !NAME.test(stepName)) {
        problem([...path, 'name'], `${label}: field 'name' must be letters, digits, '-' or '_', got ${describe(step.name)}`);
      } else if (stepName === SOURCE_STEP || produced.has(stepName)) {
        problem([...path, 'name'], `${label}: the name '${stepName}' is ${stepName === SOURCE_STEP ? 'reserved for the source model' : 'used by an earlier step'}`);
      }
      const kind = typeof step.kind === 'string' ? STEP_KINDS[step.kind] : undefined;
      if (!kind) {
        problem([...path, 'kind'], `${label}: field 'kind' must be one of ${Object.keys(STEP_KINDS).join(', ')}, got ${describe(step.kind)}`);
        return;
      }
      let params: ParameterValues = {};
      const given = step.with ?? {};
      if (given === null || typeof given !== 'object' || Array.isArray(given)) problem([...path, 'with'], `${label}: field 'with' must be a mapping of parameters, got ${describe(given)}`);
      else {
        const checked = checkParameters(kind.parameters, given as Json);
        for (const [field, message] of checked.problems) problem([...path, 'with', field], `${label}: field 'with.${field}' ${message}`);
        for (const [field, message] of kind.check?.(checked.values) ?? []) problem([...path, 'with', field], `${label}: field 'with.${field}' ${message}`);
        params = checked.values;
      }
      const inputs: Record<string, InputBinding> = {};
      const bindings = step.inputs ?? {};
      if (bindings === null || typeof bindings !== 'object' || Array.isArray(bindings)) {
        problem([...path, 'inputs'], `${label}: field 'inputs' must be a mapping of input name to STEP.OUTPUT, got ${describe(bindings)}`);
      } else {
        for (const [input, ref] of Object.entries(bindings as Json)) {
          const where = [...path, 'inputs', input];
          const spec = kind.inputs[input];
          if (!spec) {
            problem(where, `${label}: unknown input '${input}'; ${kind.kind} takes ${Object.keys(kind.inputs).join(', ')}`);
            continue;
          }
          const match = typeof ref === 'string' ? /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(ref) : null;
          if (!match) {
            problem(where, `${label}: input '${input}' must be STEP.OUTPUT (e.g. ${SOURCE_STEP}.model), got ${describe(ref)}`);
            continue;
          }
          const [, producer, output] = match;
          const outputs = produced.get(producer);
          if (!outputs) {
            problem(where, `${label}: input '${input}' refers to step '${producer}', ${laterNames.has(producer) && producer !== stepName ? 'which runs after it' : producer === stepName ? 'itself' : 'which does not exist'}`);
            continue;
          }
          if (!(output in outputs)) {
            problem(where, `${label}: input '${input}': step '${producer}' has no output '${output}'; it has ${Object.keys(outputs).join(', ')}`);
            continue;
          }
          if (outputs[output] !== spec.type) {
            problem(where, `${label}: input '${input}' expects a ${spec.type}, but ${producer}.${output} is a ${outputs[output]}`);
            continue;
          }
          inputs[input] = { step: producer, output, type: spec.type };
        }
        for (const [input, spec] of Object.entries(kind.inputs)) {
          if (inputs[input] || (bindings as Json)[input] !== undefined) continue;
          const latest = [...produced.entries()].reverse().find(([, outputs]) => Object.values(outputs).includes(spec.type));
          if (latest) {
            const output = Object.entries(latest[1]).find(([, type]) => type === spec.type)![0];
            inputs[input] = { step: latest[0], output, type: spec.type };
          } else if (!spec.optional) {
            problem(path, `${label}: input '${input}' (a ${spec.type}) has no producer before it; add an earlier step that outputs one or set inputs.${input}`);
          }
        }
      }
      if (stepName && !produced.has(stepName) && stepName !== SOURCE_STEP) produced.set(stepName, kind.outputs);
      steps.push({ name: stepName, kind: kind.kind, params, inputs });
    });
  }
  if (problems.length > 0) throw new InferenceError('INVALID_ARG', problems.join('\n'));
  return { file, fileHash: valueHash(text), name, model, repository, serverUrl, steps };
}

export function readPipeline(path: string): Pipeline {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InferenceError('NOT_FOUND', `cannot read pipeline file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parsePipeline(text, file);
}
