/**
 * Kernel module dependency resolution without depmod: each .ko carries its
 * dependencies as a `depends=a,b` string in its .modinfo section.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Module name as the kernel spells it ('-' and '_' are equivalent). */
export function moduleName(file: string): string {
  return file.replace(/\.ko$/, '').replace(/-/g, '_');
}

/** Every .ko under `dir`, by module name. */
export function indexModules(dir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ko')) index.set(moduleName(name), p);
    }
  };
  walk(dir);
  return index;
}

/** The `depends=` list of one module file. */
export function moduleDepends(koPath: string): string[] {
  const bytes = readFileSync(koPath);
  const marker = Buffer.from('\0depends=');
  const at = bytes.indexOf(marker);
  if (at < 0) return [];
  const start = at + marker.length;
  const end = bytes.indexOf(0, start);
  const list = bytes.subarray(start, end).toString('ascii');
  return list === '' ? [] : list.split(',').map(moduleName);
}

/** The wanted modules and their dependencies, each after everything it depends on. */
export function loadOrder(index: Map<string, string>, wanted: readonly string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    if (seen.has(name)) return;
    const path = index.get(name);
    if (path === undefined) throw new Error(`kernel module ${name} not found (needed by ${chain.join(' <- ') || 'recipe'})`);
    seen.add(name);
    for (const dep of moduleDepends(path)) visit(dep, [name, ...chain]);
    order.push(name);
  };
  for (const name of wanted) visit(moduleName(name), []);
  return order;
}
