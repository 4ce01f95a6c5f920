import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Label values of one series. */
export type Labels = Readonly<Record<string, string>>;
export type Sample = readonly [Labels, number];

interface LiveMetricOptions {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Every series with its current value, read at scrape time. */
  readonly read: () => Iterable<Sample>;
}

/**
 * A counter whose series are copied from live plain counters at each scrape
 * (reset first, so a removed LUN or target disappears from the output).
 */
export function liveCounter(registry: Registry, o: LiveMetricOptions): Counter<string> {
  return new Counter({
    name: o.name,
    help: o.help,
    labelNames: o.labelNames,
    registers: [registry],
    collect(this: Counter<string>) {
      this.reset();
      // A broken counter must not take the whole scrape down with it (inc() throws on negatives).
      for (const [labels, value] of o.read()) if (value >= 0 && Number.isFinite(value)) this.inc(labels, value);
    },
  });
}

/** A gauge set from live state at each scrape. */
export function liveGauge(registry: Registry, o: LiveMetricOptions): Gauge<string> {
  return new Gauge({
    name: o.name,
    help: o.help,
    labelNames: o.labelNames,
    registers: [registry],
    collect(this: Gauge<string>) {
      this.reset();
      for (const [labels, value] of o.read()) this.set(labels, value);
    },
  });
}

/** A histogram already counted elsewhere: per-bucket (not cumulative) counts, the last one for +Inf. */
export interface HistogramSeries {
  readonly labels: Labels;
  readonly bucketCounts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

type HistogramObject = Awaited<ReturnType<Histogram<string>['get']>>;

/**
 * A real Prometheus histogram (`_bucket{le}`, `_sum`, `_count`) whose data
 * comes from counts the data path keeps itself: prom-client's Histogram can
 * only observe one value at a time, so this one replaces what it reports.
 * The registry renders text from getForPromString() and JSON from get().
 */
export class PrecountedHistogram extends Histogram<string> {
  readonly #bounds: readonly number[];
  readonly #read: () => Iterable<HistogramSeries>;
  /** Unregistered twin that supplies name, help, type and aggregator in prom-client's own shape. */
  readonly #shape: Histogram<string>;

  constructor(
    registry: Registry,
    o: { name: string; help: string; labelNames: readonly string[]; buckets: readonly number[]; read: () => Iterable<HistogramSeries> },
  ) {
    const config = { name: o.name, help: o.help, labelNames: o.labelNames, buckets: [...o.buckets] };
    super({ ...config, registers: [registry] });
    this.#shape = new Histogram({ ...config, registers: [] });
    this.#bounds = o.buckets;
    this.#read = o.read;
  }

  override async get(): Promise<HistogramObject> {
    return this.render();
  }

  async getForPromString(): Promise<HistogramObject> {
    return this.render();
  }

  private async render(): Promise<HistogramObject> {
    const base = await this.#shape.get();
    const name = base.name;
    const values: HistogramObject['values'] = [];
    for (const s of this.#read()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.bucketCounts[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { ...base, values };
  }
}
