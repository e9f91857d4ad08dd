/**
 * wrk (the Debian package, `apt-get install wrk`) for the benches that need a load
 * generator faster than the server: a Lua script that posts one fixed body, and one run
 * of wrk parsed into its figures, with wrk's own CPU time.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const WRK = process.env.WRK ?? 'wrk';

/** Writes a wrk Lua script into `dir` that posts `body` as JSON with every request; returns its path. */
export function writePostScript(dir: string, name: string, body: string): string {
  const script = join(dir, `${name}.lua`);
  writeFileSync(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[${body}]==]\n`);
  return script;
}

export interface WrkRun {
  requestsPerSecond: number;
  /** Requests completed in the run. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers and socket errors. */
  errors: number;
  /** wrk's own CPU time (user + system), in seconds. */
  cpuSeconds: number;
}

const durationMs = (text: string): number => {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : value * 1000;
};

/** One wrk run; its CPU comes from the shell's `times` (user and system time of its children). */
export function runWrk(options: { url: string; script: string; seconds: number; threads: number; connections: number }): Promise<WrkRun> {
  const command = `"$0" -t${options.threads} -c${options.connections} -d${options.seconds}s --latency -s "$1" "$2"; times`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command, WRK, options.script, options.url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk failed (exit ${code}):\n${out}`));
      const percentile = (p: string) => durationMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrorCount = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
      // `times` prints the shell's own times, then its children's: "XmY.YYYs XmY.YYYs".
      const childTimes = out.trim().split('\n').pop()!.split(/\s+/).map((t) => {
        const m = /^(\d+)m([\d.]+)s$/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
      });
      resolve({
        requestsPerSecond: Number(rps[1]),
        requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
        p50Ms: percentile('50'),
        p99Ms: percentile('99'),
        errors: non2xx + socketErrorCount,
        cpuSeconds: childTimes[0] + childTimes[1],
      });
    });
  });
}
