/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), enough to
 * read what a scrape returns: `# TYPE` lines, and samples with quoted, escaped labels.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  /** Metric family name → counter, gauge, summary, histogram or untyped. */
  types: Map<string, string>;
}

function unescape(text: string): string {
  return text.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1], type[2]);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (match[3]) {
      const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
      let found: RegExpExecArray | null;
      let consumed = 0;
      while ((found = pair.exec(match[3])) !== null) {
        labels[found[1]] = unescape(found[2]);
        consumed = pair.lastIndex;
      }
      if (consumed !== match[3].length) throw new Error(`cannot read the labels of: ${line}`);
    }
    samples.push({ name: match[1], labels, value: parseValue(match[4]) });
  }
  return { samples, types };
}

/** The one sample of `name` whose labels include `labels`; throws when there is none or several. */
export function sampleValue(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const found = scrape.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0].value;
}

/** Fetches and parses a scrape. */
export async function scrape(metricsUrl: string): Promise<Scrape> {
  const res = await fetch(metricsUrl);
  if (res.status !== 200) throw new Error(`GET ${metricsUrl} answered ${res.status}`);
  return parsePrometheusText(await res.text());
}
