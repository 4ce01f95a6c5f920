/** Loop devices for block-backstore tests: a sparse file in a temp dir behind /dev/loopN. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from './tools.js';

export interface LoopDevice {
  /** /dev/loopN */
  readonly dev: string;
  /** The backing file. */
  readonly file: string;
  /** losetup -d and remove the temp dir; safe to call twice. */
  detach(): void;
}

/**
 * Whether loop devices can be made here (losetup and root). Under CI=true their absence is an
 * error, so the suite fails instead of quietly skipping.
 */
export function loopAvailable(): boolean {
  const ok = findTool('losetup') !== undefined && process.getuid?.() === 0;
  if (!ok && process.env.CI) throw new Error('CI requires losetup and root for the block backstore tests');
  if (!ok) process.stderr.write('block tests: skipping, need losetup (util-linux) and root\n');
  return ok;
}

/** A loop device of `bytes` (sparse, or holding `content`) with the given logical sector size. */
export function createLoop(bytes: number, sectorSize = 512, content?: Buffer): LoopDevice {
  const dir = mkdtempSync(join(tmpdir(), 'scatter-loop-'));
  const file = join(dir, 'backing.img');
  writeFileSync(file, content ?? Buffer.alloc(0));
  truncateSync(file, bytes);
  let dev: string;
  try {
    dev = execFileSync(findTool('losetup')!, ['-f', '--show', '--sector-size', String(sectorSize), file], { encoding: 'utf8' }).trim();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let attached = true;
  return {
    dev,
    file,
    detach() {
      if (attached) {
        attached = false;
        execFileSync(findTool('losetup')!, ['-d', dev]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
