/**
 * The shipped Grafana dashboard as the tests read it: its panels' queries with Grafana's variables
 * replaced the way Grafana would for "All" targets and jobs, and the labels each legend names.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_PATH = fileURLToPath(new URL('../../docker/grafana/scatter-dashboard.json', import.meta.url));

interface DashboardTarget {
  readonly expr: string;
  readonly legendFormat?: string;
  readonly refId: string;
}

export interface Dashboard {
  readonly id?: number | null;
  readonly templating: { list: { name: string; type: string; query: string }[] };
  readonly panels: { id: number; type: string; title: string; datasource?: { uid: string }; targets?: (DashboardTarget & { datasource?: { uid: string } })[] }[];
}

export interface PanelQuery {
  readonly panel: string;
  readonly refId: string;
  /** As written in the dashboard. */
  readonly expr: string;
  /** Labels the legend shows (`{{label}}`): every series of the result must carry them. */
  readonly legendLabels: readonly string[];
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

export function panelQueries(d: Dashboard): PanelQuery[] {
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      refId: t.refId,
      expr: t.expr,
      legendLabels: [...(t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!),
    })),
  );
}

/**
 * `expr` as Grafana sends it with every target and job selected ("All" is a regex matching all
 * values) and `rateInterval` for $__rate_interval. A variable the dashboard gains later that this
 * does not know fails here rather than reaching Prometheus as a syntax error.
 */
export function grafanaExpr(expr: string, rateInterval: string): string {
  const out = expr
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$target', '.*')
    .replaceAll('$job', '.*');
  const unknown = /\$\{?\w+/.exec(out);
  if (unknown) throw new Error(`unknown dashboard variable ${unknown[0]} in ${expr}`);
  return out;
}
