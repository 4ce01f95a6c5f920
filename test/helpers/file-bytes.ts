import { closeSync, openSync, readSync } from 'node:fs';

/** `length` bytes of the file at `path` from `offset`, read past the target (what is really on the medium). */
export function fileBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}
