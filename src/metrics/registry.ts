import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerBackstoreHealthMetrics, registerBlockMetrics, registerPoolMetrics } from './block-metrics.js';
import { registerClusterMetrics } from './cluster-metrics.js';
import { registerIscsiMetrics } from './iscsi-metrics.js';
import { registerScsiMetrics } from './scsi-metrics.js';
import type { MetricsSources } from './sources.js';

/**
 * Scatter's own registry (never prom-client's global one, so two targets in
 * one process — the tests — do not share series): every scatter_* family
 * plus Node's process metrics.
 */
export function createMetricsRegistry(src: MetricsSources, opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registerScsiMetrics(registry, src);
  registerBlockMetrics(registry, src);
  registerBackstoreHealthMetrics(registry, src);
  registerPoolMetrics(registry, src);
  registerIscsiMetrics(registry, src);
  if (src.cluster) registerClusterMetrics(registry, src.cluster);
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
