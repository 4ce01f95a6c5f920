/**
 * Receive buffers read into again (framer.ts recycle, owned-reads.ts): headers always come out as
 * copies, and while no data segment went out as a view the framer moves what it still buffers to
 * the buffer's start, so the socket can read on there. Every PDU must come out exactly as sent.
 */
import { describe, expect, it } from 'vitest';
import { PduFramer, type PayloadLanding } from '../../../src/iscsi/framer.js';
import type { InPdu } from '../../../src/iscsi/pdu.js';
import { framingBhs, wireBytes, type WirePdu } from '../../helpers/wire.js';

const SLAB = 128 * 1024;
const MIN_READ = 32 * 1024;
const digests = { headerDigest: true, dataDigest: true };

function writeCmd(k: number, length: number): WirePdu {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (i * 7 + k) & 0xff;
  return { bhs: framingBhs(0x01, 0, length, Buffer.alloc(48, k & 0xff)), data };
}
const NOP_OUT: WirePdu = { bhs: framingBhs(0x00, 0, 6, Buffer.alloc(48, 3)), data: Buffer.from('pinged') };

/** A framer whose sink lands every write payload (copies), as a buffered LU's session does. */
function rig(land: boolean) {
  const pdus: InPdu[] = [];
  const framer = new PduFramer(
    { ...digests, maxDataSegmentLength: 1 << 20 },
    {
      onPdu: (p) => pdus.push(p),
      onFault: (f) => expect.fail(`fault ${f.kind}`),
      landing: (_bhs, length): PayloadLanding | undefined => (land ? { segments: [Buffer.alloc(length)], done: () => undefined } : undefined),
    },
  );
  return { framer, pdus };
}

/** Feed `stream` as owned-reads.ts does: reads into one slab, recycled (or replaced) when nearly full. */
function feed(framer: PduFramer, stream: Buffer, readSize: number): { recycled: number; fresh: number; slabs: Set<ArrayBufferLike> } {
  let slab = Buffer.alloc(SLAB);
  let used = 0;
  let recycled = 0;
  let fresh = 0;
  const slabs = new Set<ArrayBufferLike>([slab.buffer]);
  for (let at = 0; at < stream.length; ) {
    const target = framer.readTarget();
    if (target) {
      const n = Math.min(target.length, stream.length - at);
      stream.copy(target, 0, at, at + n);
      framer.push(target.subarray(0, n));
      at += n;
      continue;
    }
    if (SLAB - used < MIN_READ) {
      const kept = framer.recycle(slab);
      if (kept === undefined) {
        slab = Buffer.alloc(SLAB);
        slabs.add(slab.buffer);
        fresh++;
      } else {
        recycled++;
      }
      used = kept ?? 0;
    }
    const n = Math.min(readSize, SLAB - used, stream.length - at);
    stream.copy(slab, used, at, at + n);
    const chunk = slab.subarray(used, used + n);
    used += n;
    framer.push(chunk);
    at += n;
  }
  return { recycled, fresh, slabs };
}

describe('PduFramer recycle', () => {
  it('hands out headers as copies, never views of the receive chunk', () => {
    const { framer, pdus } = rig(true);
    const wire = wireBytes(writeCmd(1, 100), digests);
    const stream = Buffer.alloc(wire.length); // an ArrayBuffer of its own, as a receive slab is
    wire.copy(stream);
    framer.push(stream);
    expect(pdus[0]!.bhs.buffer).not.toBe(stream.buffer);
    const before = Buffer.from(pdus[0]!.bhs);
    stream.fill(0); // the receive buffer is read into again
    expect(pdus[0]!.bhs.equals(before)).toBe(true);
  });

  for (const readSize of [4096, 10_000, 65_536]) {
    it(`reads thousands of small writes through one slab, every payload intact (reads of ${readSize} B)`, () => {
      const { framer, pdus } = rig(true);
      const sent = Array.from({ length: 3000 }, (_, k) => writeCmd(k, [512, 4096, 8192, 100][k % 4]!));
      const { recycled, fresh } = feed(framer, Buffer.concat(sent.map((p) => wireBytes(p, digests))), readSize);
      expect(pdus).toHaveLength(sent.length);
      for (const [k, p] of pdus.entries()) {
        expect(p.bhs.equals(sent[k]!.bhs)).toBe(true);
        expect(p.data.toBuffer().equals(sent[k]!.data!)).toBe(true);
      }
      expect(fresh).toBe(0);
      expect(recycled).toBeGreaterThan(50); // ~9.7 MB through 96 KiB of each slab
    });
  }

  it('does not recycle a slab a data segment was handed out from, and recycles again once none was', () => {
    const { framer, pdus } = rig(true);
    const slab = Buffer.alloc(SLAB);
    const nop = wireBytes(NOP_OUT, digests);
    nop.copy(slab, 0);
    framer.push(slab.subarray(0, nop.length));
    expect(pdus[0]!.data.segments[0]!.buffer).toBe(slab.buffer); // a view: the slab must not be reused
    expect(framer.recycle(slab)).toBeUndefined();
    // The socket took a fresh slab; only landed writes since: that one may be reused.
    const next = Buffer.alloc(SLAB);
    const w = wireBytes(writeCmd(2, 4096), digests);
    w.copy(next, 0);
    framer.push(next.subarray(0, w.length - 10)); // the payload's last 6 bytes and its digest still to come
    expect(framer.recycle(next)).toBe(0); // what came of the payload is in its landing already
    framer.push(Buffer.from(w.subarray(w.length - 10)));
    expect(pdus).toHaveLength(2);
    expect(pdus[1]!.data.toBuffer().equals(writeCmd(2, 4096).data!)).toBe(true);
  });

  it('without a landing, write payloads are views and no slab is ever recycled', () => {
    const { framer, pdus } = rig(false);
    const sent = Array.from({ length: 200 }, (_, k) => writeCmd(k, 4096));
    const { recycled, slabs } = feed(framer, Buffer.concat(sent.map((p) => wireBytes(p, digests))), 65_536);
    expect(recycled).toBe(0);
    expect(slabs.size).toBeGreaterThan(5);
    for (const [k, p] of pdus.entries()) expect(p.data.toBuffer().equals(sent[k]!.data!)).toBe(true);
  });

  it('keeps a partly received large payload when it recycles: the rest arrives and frames intact', () => {
    const { framer, pdus } = rig(false);
    const big = writeCmd(9, 20_000); // not landed here (no landing), so its bytes sit in the framer
    const w = wireBytes(big, digests);
    const slab = Buffer.alloc(SLAB);
    w.copy(slab, 100_000, 0, 20_000);
    framer.push(slab.subarray(100_000, 120_000));
    const kept = framer.recycle(slab) ?? -1;
    expect(kept).toBe(20_000 - 52); // all but the header (and its digest), which is framed already
    expect(slab.subarray(0, kept).equals(w.subarray(52, 20_000))).toBe(true);
    slab.fill(0xee, kept); // the socket reads on after the kept bytes
    w.copy(slab, kept, 20_000);
    framer.push(slab.subarray(kept, kept + w.length - 20_000));
    expect(pdus).toHaveLength(1);
    expect(pdus[0]!.data.toBuffer().equals(big.data!)).toBe(true);
  });
});
