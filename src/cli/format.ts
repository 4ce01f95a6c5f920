/**
 * What `scatter` prints: human tables by default, JSON or YAML for scripts. No colours
 * anywhere (output is read by people and parsed by scripts alike).
 */
import Table from 'cli-table3';
import { stringify } from 'yaml';
import type { Problem } from './api-client.js';

export type OutputMode = 'table' | 'json' | 'yaml';

/** `10G`, `512M`, `4K`, `512B`; a size with no exact unit gets one decimal (`1.5G`). JSON/YAML keep bytes. */
export function humanSize(bytes: unknown): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return bytes === undefined ? '-' : String(bytes);
  const units: [string, number][] = [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ];
  if (bytes > 0) {
    for (const [name, size] of units) if (bytes % size === 0) return `${bytes / size}${name}`;
    for (const [name, size] of units) if (bytes >= size) return `${(bytes / size).toFixed(1)}${name}`;
  }
  return `${bytes}B`;
}

/** A borderless table with a header row, columns two spaces apart (like `ps`, `ip`), no trailing blanks. */
export function table(head: string[], rows: (string | number | undefined)[][]): string {
  const t = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '  ',
    },
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] },
  });
  for (const r of rows) t.push(r.map((c) => (c === undefined || c === '' ? '-' : String(c))));
  return `${t.toString().split('\n').map((l) => l.trimEnd()).join('\n')}\n`;
}

/** `key: value` lines for one resource, aligned. */
export function fields(pairs: [string, string | number | boolean | undefined][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v === undefined || v === '' ? '-' : String(v)}\n`).join('');
}

/** A tree drawn like `targetcli ls`: `o- name [info]`, children indented under `| `. */
export interface TreeNode {
  label: string;
  info?: string | undefined;
  children?: TreeNode[];
}

export function tree(nodes: TreeNode[]): string {
  const lines: string[] = [];
  const walk = (list: TreeNode[], prefix: string): void => {
    list.forEach((n, i) => {
      const last = i === list.length - 1;
      lines.push(`${prefix}o- ${n.label}${n.info ? ` [${n.info}]` : ''}`);
      walk(n.children ?? [], `${prefix}${last ? '  ' : '| '}`);
    });
  };
  walk(nodes, '');
  return `${lines.join('\n')}\n`;
}

/** The data as the script asked for it. */
export function serialise(data: unknown, mode: 'json' | 'yaml'): string {
  return mode === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data);
}

/** problem+json as the API gave it: title, detail, step, then each `errors[]` as `path: message (rule)`. */
export function formatProblem(status: number, p: Problem): string {
  const lines = [`scatter: ${p.title ?? `HTTP ${status}`} (HTTP ${p.status ?? status})`];
  if (p.detail) lines.push(`  ${p.detail}`);
  if (p.step) lines.push(`  failed step: ${p.step}`);
  for (const e of Array.isArray(p.errors) ? p.errors : []) {
    lines.push(`  ${e.path ?? '(body)'}: ${e.message ?? ''}${e.rule ? ` (${e.rule})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The `change` summary of a write, for people: what was done, what waits for a restart, warnings. */
export interface ChangeSummary {
  revision?: string | number;
  changed?: boolean;
  steps?: string[];
  needsRestart?: string[];
  warnings?: string[];
  dryRun?: boolean;
}

export function formatChange(c: ChangeSummary | undefined): { out: string; err: string } {
  if (c === undefined) return { out: '', err: '' };
  let out = '';
  for (const s of c.steps ?? []) out += `  ${c.dryRun ? 'would ' : ''}${s}\n`;
  for (const s of c.needsRestart ?? []) out += `  needs a restart: ${s}\n`;
  if (c.revision !== undefined && !c.dryRun) out += `  revision ${c.revision}\n`;
  const err = (c.warnings ?? []).map((w) => `scatter: warning: ${w}\n`).join('');
  return { out, err };
}
