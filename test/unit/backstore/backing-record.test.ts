/**
 * A backing file Scatter served before is never silently created anew or grown back: its record
 * in the state directory makes a missing or shorter file an error naming the path, unless the
 * operator asks (`create: always`). A newcomer (no record, no file) still gets a sparse file, and
 * raising the size still grows it.
 */
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackingRecords } from '../../../src/backstore/backing-record.js';
import { FileBackstore } from '../../../src/backstore/file.js';

const MiB = 1024 * 1024;
let dir: string;
let records: BackingRecords;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-record-'));
  records = new BackingRecords(join(dir, 'state', 'backing'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = (): string => join(dir, `lun${n++}.img`);

describe('backing file records', () => {
  it('first start: no record, no file: the file is created sparse and recorded with its size', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 4 * MiB, records });
    expect(b.report).toEqual({ created: true, grownFrom: undefined, recordedSize: undefined });
    await b.close();
    expect(statSync(path).size).toBe(4 * MiB);
    expect(await records.read(path)).toEqual({ path, size: 4 * MiB });
    expect(JSON.parse(readFileSync(records.fileFor(path), 'utf8'))).toEqual({ path, size: 4 * MiB });
  });

  it('a recorded file that is gone is refused, naming the path and the way out; nothing is created', async () => {
    const path = fresh();
    await (await FileBackstore.open({ path, size: 4 * MiB, records })).close();
    await unlink(path);
    const err = await FileBackstore.open({ path, size: 4 * MiB, records }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 'ENOENT' });
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain('create: always');
    expect(existsSync(path)).toBe(false);
    // The operator accepts the loss: an empty file again, recorded anew.
    const b = await FileBackstore.open({ path, size: 4 * MiB, records, create: 'always' });
    expect(b.report.created).toBe(true);
    await b.close();
    expect(statSync(path).size).toBe(4 * MiB);
  });

  it('a recorded file found shorter than recorded is refused, not grown back', async () => {
    const path = fresh();
    await (await FileBackstore.open({ path, size: 4 * MiB, records })).close();
    truncateSync(path, MiB);
    await expect(FileBackstore.open({ path, size: 4 * MiB, records })).rejects.toMatchObject({ code: 'EIO', fault: 'truncated' });
    expect(statSync(path).size).toBe(MiB);
    const b = await FileBackstore.open({ path, size: 4 * MiB, records, create: 'always' });
    expect(b.report).toMatchObject({ created: false, grownFrom: MiB, recordedSize: 4 * MiB });
    await b.close();
    expect(statSync(path).size).toBe(4 * MiB);
  });

  it('a larger configured size grows the recorded file, and the record follows; online resizes too', async () => {
    const path = fresh();
    await (await FileBackstore.open({ path, size: 4 * MiB, records })).close();
    const b = await FileBackstore.open({ path, size: 8 * MiB, records });
    expect(b.report).toEqual({ created: false, grownFrom: 4 * MiB, recordedSize: 4 * MiB });
    expect(await records.read(path)).toEqual({ path, size: 8 * MiB });
    await b.resize({ size: 12 * MiB });
    expect(await records.read(path)).toEqual({ path, size: 12 * MiB });
    await b.resize({ size: 10 * MiB, allowShrink: true });
    expect(await records.read(path)).toEqual({ path, size: 10 * MiB });
    await b.close();
    // Served again at the shrunk size: not "shorter than recorded".
    await (await FileBackstore.open({ path, size: 10 * MiB, records })).close();
  });

  it('an existing file Scatter never served is taken as it is (and recorded); a shorter one is grown', async () => {
    const path = fresh();
    writeFileSync(path, Buffer.alloc(MiB, 5));
    const b = await FileBackstore.open({ path, size: 2 * MiB, records });
    expect(b.report).toEqual({ created: false, grownFrom: MiB, recordedSize: undefined });
    await b.close();
    expect(await records.read(path)).toEqual({ path, size: 2 * MiB });
  });

  it('create: never refuses a missing file even without a record; read-only LUs keep no record', async () => {
    const path = fresh();
    await expect(FileBackstore.open({ path, size: MiB, records, create: 'never' })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, Buffer.alloc(MiB));
    await (await FileBackstore.open({ path, readOnly: true, records })).close();
    expect(await records.read(path)).toBeUndefined();
  });

  it('a corrupt record is an error, not "never served"', async () => {
    const path = fresh();
    await (await FileBackstore.open({ path, size: MiB, records })).close();
    writeFileSync(records.fileFor(path), '{"path": 3');
    await unlink(path);
    await expect(FileBackstore.open({ path, size: MiB, records })).rejects.toThrow(/not a backing file record/);
    expect(existsSync(path)).toBe(false);
  });

  it('a state directory that cannot hold the record fails the open (the safety net would be missing)', async () => {
    const path = fresh();
    const blocked = new BackingRecords(join(dir, 'not-a-dir', 'backing'));
    writeFileSync(join(dir, 'not-a-dir'), 'a file where the state directory should be');
    await expect(FileBackstore.open({ path, size: MiB, records: blocked })).rejects.toMatchObject({ code: 'ENOENT', errno: 'ENOTDIR' });
  });
});
