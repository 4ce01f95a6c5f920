/**
 * Copies of a config file's earlier versions, in `<dir>/<name>.backups/`, named
 * `<name>.<sequence>.<UTC time>` (e.g. `scatter.yaml.000007.2026-12-02T23-59-01.042Z`) so that
 * they sort by age and say when they were replaced. Each is written atomically with mode 0600
 * (configs hold CHAP secrets).
 */
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDirectory, writeFileAtomic } from '../shared/atomic-write.js';

export interface BackupInfo {
  name: string;
  path: string;
  /** When the version it holds was replaced. */
  time: Date;
  size: number;
  sequence: number;
}

export function backupDirOf(configPath: string): string {
  return join(dirname(configPath), `${basename(configPath)}.backups`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function parseName(base: string, name: string): { sequence: number; time: Date } | undefined {
  const match = new RegExp(`^${escapeRegExp(base)}\\.(\\d+)\\.(\\d{4}-\\d\\d-\\d\\dT\\d\\d)-(\\d\\d)-(\\d\\d(?:\\.\\d+)?Z)$`).exec(name);
  if (match === null) return undefined;
  const time = new Date(`${match[2] ?? ''}:${match[3] ?? ''}:${match[4] ?? ''}`);
  return Number.isNaN(time.getTime()) ? undefined : { sequence: Number(match[1]), time };
}

/** The backups of `configPath`, newest first (other files in the directory are ignored). */
export async function listBackups(configPath: string): Promise<BackupInfo[]> {
  const dir = backupDirOf(configPath);
  const base = basename(configPath);
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const found: BackupInfo[] = [];
  for (const name of names) {
    const parsed = parseName(base, name);
    if (parsed === undefined) continue;
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (st?.isFile() === true) found.push({ name, path, size: st.size, ...parsed });
  }
  return found.sort((a, b) => b.sequence - a.sequence);
}

/** Keep `text` (the version being replaced) as the newest backup; returns its path. */
export async function writeBackup(configPath: string, text: string, now = new Date()): Promise<string> {
  const dir = backupDirOf(configPath);
  // A new directory must itself survive a crash: its entry lives in the config file's directory.
  if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) await syncDirectory(dirname(configPath));
  const sequence = ((await listBackups(configPath))[0]?.sequence ?? 0) + 1;
  const stamp = now.toISOString().replace(/:/g, '-');
  const path = join(dir, `${basename(configPath)}.${String(sequence).padStart(6, '0')}.${stamp}`);
  await writeFileAtomic(path, text, 0o600);
  return path;
}

/** Delete all but the `keep` newest backups. */
export async function pruneBackups(configPath: string, keep: number): Promise<void> {
  const old = (await listBackups(configPath)).slice(keep);
  for (const backup of old) await unlink(backup.path).catch(() => undefined);
  if (old.length > 0) await syncDirectory(backupDirOf(configPath));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the temporary files an atomic write of the config or of a backup left behind when its
 * process was killed (`.<name>....<pid>.<random>.tmp`, see shared/atomic-write.ts), so that they
 * do not pile up. Files of processes still running are left alone.
 */
export async function removeStaleTemps(configPath: string): Promise<void> {
  const base = basename(configPath);
  for (const dir of [dirname(configPath), backupDirOf(configPath)]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const match = /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
      if (!name.startsWith(`.${base}.`) || match === null) continue;
      const pid = Number(match[1]);
      if (pid !== process.pid && !processAlive(pid)) await unlink(join(dir, name)).catch(() => undefined);
    }
  }
}
