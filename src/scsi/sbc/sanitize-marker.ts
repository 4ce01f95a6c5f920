import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ScsiError } from '../errors.js';

/**
 * A file that exists while a sanitize operation runs, so that one cut short by a crash or a
 * restart of Scatter is not forgotten: at the next start the LU comes up in the "sanitize failed"
 * condition (SBC-4 4.11.4) instead of serving a half-overwritten medium as if nothing happened.
 * It holds the AUSE bit of the operation, which decides how the condition may be left.
 * Written synchronously (a sanitize is rare) and made durable before the first block is touched.
 */
export class SanitizeMarker {
  constructor(readonly path: string) {}

  /** The interrupted operation's AUSE, or undefined when none was interrupted. */
  read(): { ause: boolean } | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = JSON.parse(text) as { ause?: unknown };
      return { ause: parsed.ause === true };
    } catch {
      // Torn while being written: the operation had not touched the medium yet, but treat it as
      // interrupted all the same (restricted: only a completed sanitize clears it).
      return { ause: false };
    }
  }

  /**
   * An operation starts: durable before it writes anything. Throws when it cannot be made so, and
   * then leaves no partial marker behind (the operation does not start; a torn marker would leave
   * the LU "sanitize failed" at the next start for a sanitize that never ran).
   */
  set(ause: boolean): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const fd = openSync(this.path, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify({ ause, startedAt: new Date().toISOString() }) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      fsyncDir(dirname(this.path));
    } catch (err) {
      try {
        rmSync(this.path, { force: true });
      } catch {
        // Nothing was created, or nothing can be removed either: the caller reports the failure.
      }
      throw new ScsiError('SANITIZE_MARKER', `${this.path}: the sanitize marker cannot be written: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** The operation completed, or the failed condition was left. Throws when the marker stays. */
  clear(): void {
    try {
      rmSync(this.path, { force: true });
    } catch (err) {
      throw new ScsiError('SANITIZE_MARKER', `${this.path}: the sanitize marker cannot be removed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    fsyncDir(dirname(this.path));
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: some file systems cannot fsync a directory.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
