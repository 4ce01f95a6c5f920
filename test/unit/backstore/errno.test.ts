/**
 * Errno to backstore error: not-found and permission are their own causes (ENOTDIR was an I/O
 * error, EACCES an invalid argument), and a start-up error says the errno's text once, also
 * through pino's error serializer (which appends the messages of causes).
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { BlockBackstore } from '../../../src/backstore/block.js';
import { FileBackstore } from '../../../src/backstore/file.js';
import { codeForErrno, describeErrno, fromErrno } from '../../../src/backstore/file-io.js';
import { faultCauseOf } from '../../../src/block/health.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-errno-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What `log.fatal({ err }, 'start-up failed')` writes, parsed. */
function logged(err: unknown): { err: { message: string; code: string; errno?: string } } {
  let line = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      line += chunk.toString();
      done();
    },
  });
  pino({ level: 'info' }, sink).fatal({ err }, 'start-up failed');
  return JSON.parse(line) as { err: { message: string; code: string; errno?: string } };
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('errno mapping', () => {
  it.each([
    ['ENOENT', 'ENOENT', 'not_found'],
    ['ENOTDIR', 'ENOENT', 'not_found'],
    ['ENXIO', 'ENOENT', 'not_found'],
    ['EACCES', 'EACCES', 'permission'],
    ['EPERM', 'EACCES', 'permission'],
    ['EBUSY', 'EBUSY', 'busy'],
    ['ENOSPC', 'ENOSPC', 'enospc'],
    ['EDQUOT', 'ENOSPC', 'enospc'],
    ['EROFS', 'EROFS', 'erofs'],
    ['EISDIR', 'EINVAL', 'invalid'],
    ['EIO', 'EIO', 'eio'],
    ['ETIMEDOUT', 'EIO', 'eio'],
  ])('%s is %s (cause %s)', (errno, code, cause) => {
    expect(codeForErrno(errno)).toBe(code);
    const err = fromErrno(Object.assign(new Error(`${errno}: something, open '/x'`), { code: errno }), '/x: open');
    expect(err).toMatchObject({ code, errno });
    expect(faultCauseOf(err)).toBe(cause);
  });

  it('a Node errno error is described once: its text and name, without the repeated syscall and path', () => {
    const node = Object.assign(new Error("EACCES: permission denied, open '/srv/a.img'"), { code: 'EACCES', errno: -13, syscall: 'open' });
    expect(describeErrno(node)).toBe('permission denied (EACCES)');
    expect(fromErrno(node, '/srv/a.img: open').message).toBe('/srv/a.img: open: permission denied (EACCES)');
  });
});

describe('start-up errors say the errno once', () => {
  it('a backing file under a regular file (ENOTDIR): not found, the text once, also in the log line', async () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'x');
    const path = join(blocker, 'lun0.img');
    const err = await FileBackstore.open({ path, size: 1 << 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackstoreError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 'ENOTDIR' });
    const line = logged(err);
    expect(occurrences(line.err.message, 'not a directory')).toBe(1);
    expect(occurrences(line.err.message, path)).toBe(1);
    expect(line.err).toMatchObject({ code: 'ENOENT', errno: 'ENOTDIR' });
  });

  it('a missing block device (ENOENT): not found, the text once', async () => {
    const path = join(dir, 'no-such-device');
    const err = await BlockBackstore.open({ path }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 'ENOENT' });
    const line = logged(err);
    expect(line.err.message).toBe(`${path}: open (O_DIRECT | O_EXCL): no such file or directory (ENOENT)`);
  });
});
