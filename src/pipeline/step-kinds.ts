/** Every kind of step a pipeline file may name. */
import type { StepKind } from './step-kind.js';
import { deployStep } from './steps/deploy-step.js';
import { packageStep } from './steps/package-step.js';
import { perfStep } from './steps/perf-step.js';
import { tuneStep } from './steps/tune-step.js';
import { validateStep } from './steps/validate-step.js';
import { verifyStep } from './steps/verify-step.js';
import { warmupStep } from './steps/warmup-step.js';

export const STEP_KINDS: Readonly<Record<string, StepKind>> = Object.fromEntries(
  [validateStep, warmupStep, perfStep, tuneStep, packageStep, deployStep, verifyStep].map((kind) => [kind.kind, kind]),
);
