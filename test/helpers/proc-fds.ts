import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** open(2) flags of this process's fds on `path`, from /proc/self/fdinfo (the target runs in this process). */
export function openFlags(path: string): number[] {
  const flags: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== path) continue;
    const m = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    if (m) flags.push(Number.parseInt(m[1]!, 8));
  }
  return flags;
}
