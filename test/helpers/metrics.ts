/** Scrapes an admin listener and parses the Prometheus text exposition (version 0.0.4). */

export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly series: readonly Series[];
  /** `# TYPE` of each family. */
  readonly types: ReadonlyMap<string, string>;
  /** The one series of `name` whose labels include all of `labels`; throws if none or several. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every series of `name` whose labels include all of `labels`. */
  select(name: string, labels?: Record<string, string>): Series[];
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(text)) !== null) {
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    consumed = re.lastIndex;
  }
  if (consumed !== text.length) throw new Error(`bad label set {${text}}`);
  return labels;
}

function parseValue(v: string): number {
  if (v === '+Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  // prom-client writes NaN as "Nan"; Prometheus reads NaN in any case.
  if (v.toLowerCase() === 'nan') return Number.NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`bad sample value ${v}`);
  return n;
}

export function parseExposition(text: string): Exposition {
  const series: Series[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t) types.set(t[1]!, t[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`bad exposition line: ${line}`);
    series.push({ name: m[1]!, labels: parseLabels(m[2] ?? ''), value: parseValue(m[3]!) });
  }
  const select = (name: string, labels: Record<string, string> = {}): Series[] =>
    series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    series,
    types,
    select,
    value(name, labels = {}) {
      const found = select(name, labels);
      if (found.length !== 1) throw new Error(`${found.length} series of ${name} match ${JSON.stringify(labels)}`);
      return found[0]!.value;
    },
  };
}

export async function scrape(port: number, host = '127.0.0.1'): Promise<{ contentType: string | null; exposition: Exposition }> {
  const res = await fetch(`http://${host}:${port}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return { contentType: res.headers.get('content-type'), exposition: parseExposition(await res.text()) };
}
