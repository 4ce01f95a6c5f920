/**
 * Landing pages (data-landing.ts) and a write's data buffer landing in them (data-out-buffer.ts):
 * aligned memory, page-bounded views, pages back only when released and no read targets them,
 * a bounded share per command, and the data byte-exact whatever way it arrives.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isAddressAligned } from '../../../src/block/alignment.js';
import { DataLanding, LANDING_MIN_BYTES, landingPagesInUse } from '../../../src/iscsi/data-landing.js';
import { DataOutBuffer } from '../../../src/iscsi/data-out-buffer.js';

const PAGE = 64 * 1024;
const taken: DataLanding[] = [];
function take(length: number, alignment = 4096): DataLanding {
  const l = DataLanding.take(length, alignment);
  if (!l) throw new Error(`no landing of ${length}`);
  taken.push(l);
  return l;
}
afterEach(() => {
  for (const l of taken.splice(0)) l.release();
  expect(landingPagesInUse()).toBe(0);
});

describe('DataLanding', () => {
  it('is for large writes whose alignment the pages can promise', () => {
    take(1 << 20, 1); // buffered I/O: recycled pages instead of fresh receive buffers
    expect(DataLanding.take(LANDING_MIN_BYTES - 512, 512)).toBeUndefined();
    expect(DataLanding.take(1 << 20, 2 * PAGE)).toBeUndefined(); // pages cannot promise it
    expect(DataLanding.take(64 << 20, 512)).toBeUndefined(); // more than one command's share
  });

  it('hands out aligned, page-bounded views covering exactly the bytes asked for', () => {
    const l = take(3 * PAGE + 1000);
    const views = l.region(PAGE - 10, 2 * PAGE + 20);
    expect(views.map((v) => v.length)).toEqual([10, PAGE, PAGE, 10]);
    const whole = l.region(0, l.length);
    for (const v of whole) expect(isAddressAligned(v, 4096)).toBe(true);
    expect(l.holdsAt(whole[1]!, PAGE)).toBe(true);
    expect(l.holdsAt(whole[1]!.subarray(100), PAGE + 100)).toBe(true);
    expect(l.holdsAt(whole[1]!, PAGE + 1)).toBe(false);
    expect(l.holdsAt(Buffer.alloc(10), 0)).toBe(false);
    expect(() => l.region(l.length - 1, 2)).toThrow(RangeError);
  });

  it('gives pages back only once released and no read targets them any more', () => {
    const before = landingPagesInUse();
    const l = DataLanding.take(2 * PAGE, 512)!;
    expect(landingPagesInUse()).toBe(before + 2);
    const first = l.receive(0, PAGE);
    const second = l.receive(PAGE, PAGE);
    expect(first.segments.map((b) => b.length)).toEqual([PAGE]);
    l.release();
    expect(landingPagesInUse()).toBe(before + 2); // socket reads may still write there
    first.done();
    first.done(); // once only: it must not let go of the other read's pin
    expect(landingPagesInUse()).toBe(before + 2);
    second.done();
    expect(landingPagesInUse()).toBe(before);
    l.release(); // idempotent
    expect(landingPagesInUse()).toBe(before);
  });

  it('runs out rather than waits: a full pool means the usual path', () => {
    const big = 4 * 1024 * 1024;
    for (let k = 0; k < 4; k++) take(big);
    expect(DataLanding.take(big, 512)).toBeUndefined();
    expect(DataLanding.take(PAGE, 512)).toBeUndefined();
  });
});

describe('DataOutBuffer landing', () => {
  it('copies what came before into the landing, keeps pieces read in place without a copy, copies others', () => {
    const data = randomBytes(4 * PAGE);
    const l = take(data.length);
    const b = new DataOutBuffer(data.length);
    b.append(Buffer.from(data.subarray(0, 1000))); // immediate data, in a receive buffer
    b.landIn(l);
    expect(b.hasLanding).toBe(true);
    // The rest of the first page arrives in place, as the framer reads it.
    const inPlace = l.region(1000, PAGE - 1000)[0]!;
    data.copy(inPlace, 0, 1000, PAGE);
    b.append(inPlace);
    // Then a piece that arrived in a receive buffer after all (copied in).
    b.append(Buffer.from(data.subarray(PAGE, 4 * PAGE)));
    expect(b.length).toBe(data.length);
    expect(b.data.toBuffer().equals(data)).toBe(true);
    const pages = l.region(0, l.length);
    for (const seg of b.data.segments) expect(pages.some((p) => p.buffer === seg.buffer)).toBe(true);
    expect(b.landingFor(b.length, 1)).toBeUndefined(); // full
  });

  it('offers the landing only for the next bytes, pinned until done', () => {
    const l = take(2 * PAGE);
    const b = new DataOutBuffer(2 * PAGE);
    b.landIn(l);
    expect(b.landingFor(512, 512)).toBeUndefined(); // not the next bytes
    const target = b.landingFor(0, PAGE + 512)!;
    expect(target.segments.map((s) => s.length)).toEqual([PAGE, 512]);
    b.releaseLanding();
    const inUse = landingPagesInUse();
    expect(inUse).toBeGreaterThanOrEqual(2);
    target.done(); // the read is over: now they go back
    expect(landingPagesInUse()).toBe(inUse - 2);
    taken.pop();
  });

  it('falls back to the usual path when the stream outgrows the landing, losing nothing', () => {
    const data = randomBytes(PAGE + 4096);
    const l = take(PAGE);
    const b = new DataOutBuffer(data.length);
    b.landIn(l);
    b.append(Buffer.from(data.subarray(0, PAGE - 100)));
    b.append(Buffer.from(data.subarray(PAGE - 100)));
    expect(b.data.toBuffer().equals(data)).toBe(true);
    expect(b.landingFor(b.length, 1)).toBeUndefined();
  });

  it('refuses a landing smaller than what is already here, and a second one', () => {
    const b = new DataOutBuffer(3 * PAGE);
    b.append(Buffer.from(randomBytes(2 * PAGE)));
    const before = landingPagesInUse();
    b.landIn(DataLanding.take(PAGE, 512)!); // released at once
    expect(landingPagesInUse()).toBe(before);
    expect(b.hasLanding).toBe(false);
    const first = take(3 * PAGE);
    b.landIn(first);
    b.landIn(DataLanding.take(3 * PAGE, 512)!);
    expect(landingPagesInUse()).toBe(before + 3);
  });

  it('a discarded buffer keeps counting, holds no data, and still releases its landing', () => {
    const l = DataLanding.take(PAGE, 512)!;
    const b = new DataOutBuffer(PAGE);
    b.landIn(l);
    b.discard();
    b.append(Buffer.alloc(100));
    expect(b.length).toBe(100);
    expect(b.data.length).toBe(0);
    expect(b.landingFor(100, 10)).toBeUndefined();
    b.releaseLanding();
  });
});
