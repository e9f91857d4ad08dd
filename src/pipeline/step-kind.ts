/**
 * What every kind of pipeline step declares: its typed inputs and outputs, its
 * parameters, whether its result may be reused when its inputs are unchanged, and how
 * it runs.
 */
import type { Artifact, ArtifactType } from './artifacts.js';
import type { ServerHandle } from './server-process.js';
import type { ParameterSpecs, ParameterValues } from './step-parameters.js';

export interface InputSpec {
  type: ArtifactType;
  optional?: boolean;
  help: string;
}

export interface StepContext {
  pipelineName: string;
  model: string;
  /** The model repository the pipeline starts from (absolute). */
  sourceRepository: string;
  step: string;
  params: ParameterValues;
  inputs: Record<string, Artifact>;
  /** An empty folder for this step's outputs. */
  outDir: string;
  /** The server the pipeline measures and tunes on (started on first use, explicit model control). */
  staging(): Promise<ServerHandle>;
  /** A server of `repository` serving the model, stopped when the run ends. */
  startServer(role: string, repository: string): Promise<ServerHandle>;
  /** A path from the pipeline file, resolved against the file's folder. */
  resolvePath(path: string): string;
  log(line: string): void;
  signal: AbortSignal;
  /** The environment of the tools a step runs (kubectl reads KUBECONFIG from it). */
  env: NodeJS.ProcessEnv;
}

export interface StepOutcome {
  /** Output name → the path written (inside outDir). */
  outputs: Record<string, string>;
  /** One line for the console and the run record. */
  summary: string;
  /** The step could not do its work here (e.g. no cluster to verify on) and says why in the summary. */
  skipped?: boolean;
  /** Whether this result may be reused by a later run with the same inputs; default: the kind's `cacheable`. */
  cacheable?: boolean;
  /** verify's verdict: a roll-back makes the run end as rolled back. */
  verdict?: 'promote' | 'rollback';
}

export interface StepKind {
  kind: string;
  help: string;
  inputs: Readonly<Record<string, InputSpec>>;
  outputs: Readonly<Record<string, ArtifactType>>;
  parameters: ParameterSpecs;
  /** False for steps whose result lives only as long as the run (a local deployment, live traffic). */
  cacheable: boolean;
  /** Further checks of the parameters together, as [field, message]. */
  check?(params: ParameterValues): Array<[string, string]>;
  run(ctx: StepContext): Promise<StepOutcome>;
}
