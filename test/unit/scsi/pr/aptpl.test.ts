import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../../src/scsi/command.js';
import { reservationFilePath } from '../../../../src/scsi/pr/file-path.js';
import { FileReservationStore } from '../../../../src/scsi/pr/file-store.js';
import { decodeIscsiTransportId, encodeIscsiTransportId } from '../../../../src/scsi/pr/transport-id.js';
import type { PrSnapshot, ReservationStore } from '../../../../src/scsi/pr/types.js';
import { write10 } from '../../../helpers/cdb.js';
import { SA, TYPES } from '../../../helpers/pr.js';
import { run, sense } from '../fixture.js';
import { basic, prSetup, readKeys, readReservation } from './pr-fixture.js';

class MemStore implements ReservationStore {
  saved: (PrSnapshot | undefined)[] = [];
  fail = false;
  load(): PrSnapshot | undefined {
    return this.saved.at(-1);
  }
  async save(s: PrSnapshot | undefined): Promise<void> {
    if (this.fail) throw new Error('disk gone');
    this.saved.push(s === undefined ? undefined : structuredClone(s));
  }
}

describe('APTPL', () => {
  it('persists while APTPL is set, and a new LU over the same store starts from that state', async () => {
    const store = new MemStore();
    const first = await prSetup({ reservationStore: store });
    await basic(first.core, first.a, SA.REGISTER, 0, 0n, 0xabn, { aptpl: true });
    await basic(first.core, first.b, SA.REGISTER, 0, 0n, 0xcdn, { aptpl: true });
    await basic(first.core, first.a, SA.RESERVE, TYPES.EA, 0xabn, 0n);
    expect(store.saved.at(-1)).toEqual({
      generation: 2,
      registrations: [
        { initiatorPort: first.a.initiatorPort, targetPort: first.a.targetPort, relativeTargetPortId: 1, key: '00000000000000ab' },
        { initiatorPort: first.b.initiatorPort, targetPort: first.b.targetPort, relativeTargetPortId: 1, key: '00000000000000cd' },
      ],
      reservation: { holder: 0, type: TYPES.EA },
    });

    // "Restart": a new LU and core; the same initiator ports come back on new nexuses.
    const second = await prSetup({ reservationStore: store });
    expect(await readKeys(second.core, second.a)).toEqual({ generation: 2, keys: [0xabn, 0xcdn] });
    expect(await readReservation(second.core, second.a)).toEqual({ generation: 2, key: 0xabn, type: TYPES.EA });
    const data = Buffer.alloc(512);
    expect((await run(second.core, write10(0, 1), { nexus: second.a, data })).status).toBe(ScsiStatus.GOOD);
    expect((await run(second.core, write10(0, 1), { nexus: second.b, data })).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
  });

  it('a registration without APTPL forgets what was persisted', async () => {
    const store = new MemStore();
    const { core, a } = await prSetup({ reservationStore: store });
    await basic(core, a, SA.REGISTER, 0, 0n, 1n, { aptpl: true });
    expect(store.saved.at(-1)).toBeDefined();
    await basic(core, a, SA.REGISTER, 0, 1n, 2n);
    expect(store.saved.at(-1)).toBeUndefined();
  });

  it('a state that cannot be made durable fails the command', async () => {
    const store = new MemStore();
    store.fail = true;
    const { core, a } = await prSetup({ reservationStore: store });
    const r = await basic(core, a, SA.REGISTER, 0, 0n, 1n, { aptpl: true });
    expect(sense(r)).toMatchObject({ key: 4, asc: 0x44 });
  });
});

describe('FileReservationStore', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'scatter-pr-'));
    dirs.push(d);
    return d;
  };
  const snapshot: PrSnapshot = {
    generation: 7,
    registrations: [{ initiatorPort: 'iqn.x,i,0x000000000001', targetPort: 'iqn.t,t,0x0001', relativeTargetPortId: 1, key: '0123456789abcdef' }],
    reservation: { holder: 0, type: TYPES.WE_RO },
  };

  it('saves next to the backing file, loads it back, and removes it', async () => {
    const path = reservationFilePath(join(tmp(), 'lun0.img'), 'iqn.2026-11.io.Scatter:t/x', 3);
    expect(path.endsWith('/pr/iqn.2026-11.io.scatter:t_x-3.json')).toBe(true);
    const store = new FileReservationStore(path);
    expect(store.load()).toBeUndefined();
    await store.save(snapshot);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(snapshot);
    expect(store.load()).toEqual(snapshot);
    await store.save(undefined);
    expect(existsSync(path)).toBe(false);
    await store.save(undefined); // nothing there: still fine
  });

  it('refuses a corrupt file rather than starting without the reservations', () => {
    const path = join(tmp(), 'bad.json');
    writeFileSync(path, JSON.stringify({ ...snapshot, reservation: { holder: 0, type: 2 } }));
    expect(() => new FileReservationStore(path).load()).toThrow(/not a reservation state file/);
  });
});

describe('iSCSI TransportID', () => {
  it('round-trips an initiator port, padded to a multiple of four and at least 24 bytes', () => {
    const t = encodeIscsiTransportId('iqn.a,i,0x00023d000001');
    expect(t[0]).toBe(0x45);
    expect(t.length % 4).toBe(0);
    expect(t.length).toBeGreaterThanOrEqual(24);
    expect(decodeIscsiTransportId(t)).toEqual({ ok: true, initiatorPort: 'iqn.a,i,0x00023d000001', length: t.length });
  });

  it('refuses other protocols, format 00b, a bad length and a name without an ISID', () => {
    const good = encodeIscsiTransportId('iqn.a,i,0x00023d000001');
    const fc = Buffer.from(good);
    fc[0] = 0x40;
    expect(decodeIscsiTransportId(fc)).toEqual({ ok: false, byte: 0 });
    const f0 = Buffer.from(good);
    f0[0] = 0x05;
    expect(decodeIscsiTransportId(f0)).toEqual({ ok: false, byte: 0 });
    const len = Buffer.from(good);
    len.writeUInt16BE(good.length, 2);
    expect(decodeIscsiTransportId(len)).toEqual({ ok: false, byte: 2 });
    expect(decodeIscsiTransportId(encodeIscsiTransportId('iqn.a'))).toEqual({ ok: false, byte: 4 });
  });
});
