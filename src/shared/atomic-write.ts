import { randomBytes } from 'node:crypto';
import { open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replace `file` with `data` so that a crash leaves either the old or the new
 * content, never a mix: write a temporary file in the same directory (rename is
 * only atomic within one filesystem), fsync it, rename it over the target, then
 * fsync the directory so the rename itself is durable.
 *
 * A symlink is followed, so the file it points to is replaced, not the link.
 * The file keeps its permissions; a new one gets `defaultMode` (0600 by
 * default: configs hold CHAP secrets).
 */
export async function writeFileAtomic(file: string, data: string | Buffer, defaultMode = 0o600): Promise<void> {
  const target = await realpath(file).catch(() => file);
  const dir = dirname(target);
  const mode = await stat(target).then(
    (st) => st.mode & 0o7777,
    () => defaultMode,
  );
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);

  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data);
      await handle.chmod(mode); // the umask may have narrowed the mode given to open
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** fsync a directory, so that an entry created or renamed in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
