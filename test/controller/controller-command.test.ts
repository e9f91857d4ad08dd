import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerOptionsFromArgs } from '../../src/cli/controller-command.js';
import { UsageError } from '../../src/cli/flag-parser.js';
import { FakeKubeApi } from './fake-kube-api.js';
import { isvc } from './inference-services.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'nereid-controller-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `nereid controller ARGS` with no credentials in its environment unless given. */
function run(args: string[], env: Record<string, string> = {}, onStderr?: (text: string) => void) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'KUBECONFIG' && k !== 'KUBERNETES_SERVICE_HOST'));
  const child = spawn(process.execPath, [MAIN, 'controller', ...args], { env: { ...clean, HOME: scratch, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr?.(stderr);
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, exited };
}

// Each run starts a Node process: side by side, they cost one start-up.
describe.concurrent('nereid controller', () => {
  it('exits non-zero, saying so, without a kubeconfig or an in-cluster service account', async () => {
    const { code, stderr } = await run([]).exited;
    expect(code).toBe(1);
    expect(stderr).toContain('nereid controller: no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, create');
    expect(stderr).toContain('KUBERNETES_SERVICE_HOST set and /var/run/secrets/kubernetes.io/serviceaccount/token present');
  });

  it('names a KUBECONFIG file that does not exist', async () => {
    const missing = join(scratch, 'nowhere.yaml');
    const { code, stderr } = await run([], { KUBECONFIG: missing }).exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`nereid controller: KUBECONFIG=${missing} names ${missing}, which does not exist`);
  });

  it('checks its flags', () => {
    expect(() => controllerOptionsFromArgs(['--gateway', 'just-a-name'])).toThrow(new UsageError("--gateway expects NAMESPACE/NAME or 'none', got 'just-a-name'"));
    expect(() => controllerOptionsFromArgs(['--resync-secs', '0'])).toThrow('--resync-secs must be at least 1, got 0');
    expect(() => controllerOptionsFromArgs(['--image='])).toThrow('--image must not be empty');
    expect(() => controllerOptionsFromArgs(['--replicas', '3'])).toThrow('unknown flag --replicas');
    const parsed = controllerOptionsFromArgs(['--gateway', 'none', '--namespace', 'models', '--image', 'registry/nereid:1']);
    if (parsed.help) throw new Error('not help');
    expect(parsed.options.reconcile.gateway).toBeNull();
    expect(parsed.options.namespace).toBe('models');
    expect(parsed.options.reconcile.image).toBe('registry/nereid:1');
  });

  it('runs against the API server its kubeconfig names and stops on SIGTERM', async () => {
    const api = new FakeKubeApi();
    await api.start();
    try {
      api.create(isvc());
      const kubeconfig = join(scratch, 'config.yaml');
      writeFileSync(
        kubeconfig,
        `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${api.url}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\ncurrent-context: fake\nusers:\n- name: tester\n  user:\n    token: t\n`,
      );
      let announced!: () => void;
      const statusWritten = new Promise<void>((resolve) => (announced = resolve));
      const { child, exited } = run(['--kubeconfig', kubeconfig, '--namespace', 'models'], {}, (text) => {
        if (text.includes('models/densenet: IngressReady=False PredictorReady=False Ready=False')) announced();
      });
      await Promise.race([statusWritten, exited.then(({ stderr }) => Promise.reject(new Error(`exited early: ${stderr}`)))]);
      expect(api.list('Deployment', 'models')).toHaveLength(1);
      expect(api.requests.some((r) => r.path === '/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices' && r.query.get('watch') === 'true')).toBe(true);
      child.kill('SIGTERM');
      const { code, stderr } = await exited;
      expect(code).toBe(0);
      expect(stderr).toContain(`using --kubeconfig ${kubeconfig}: ${api.url}`);
      expect(stderr).toContain('stopped');
    } finally {
      await api.stop();
    }
  });
});
