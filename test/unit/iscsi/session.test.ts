/**
 * A Session in full feature phase over a FakeConnection (no socket) and a real SCSI core over an
 * in-memory LU: R2T / Data-Out assembly, task management across sessions, the Data-Out deadline on
 * the connection's clock, and session-level sense in the LU's format (D_SENSE).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../../src/iscsi/byte-budget.js';
import { Op, RESERVED_TAG, TmfFunction, TmfResponse } from '../../../src/iscsi/opcodes.js';
import { Session, type SessionContext } from '../../../src/iscsi/session.js';
import { rfcDefaultSessionParams, type SessionParams } from '../../../src/iscsi/session-params.js';
import type { IscsiTarget } from '../../../src/iscsi/target.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { parseSense, SenseKey, type SenseData } from '../../../src/scsi/sense.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { read10, testUnitReady, write10 } from '../../helpers/cdb.js';
import * as P from '../../helpers/initiator-pdus.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { makeLu, TARGET } from '../scsi/fixture.js';
import { FakeConnection, type SentPdu } from './fake-connection.js';

const BLOCK = 512;
const SOLICITED: Partial<SessionParams> = { initialR2T: true, immediateData: false, maxBurstLength: 4096 };

interface World {
  dev: MemDevice;
  core: ScsiTargetCore;
  ctx: SessionContext;
  sessions: Session[];
  open(params?: Partial<SessionParams>): Promise<Peer>;
}

function world(): World {
  const dev = new MemDevice(256, BLOCK);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [makeLu(dev)] });
  const target: IscsiTarget = { iqn: TARGET, portalGroupTag: 1, portals: [], scsi: core };
  const sessions: Session[] = [];
  let nexusId = 0;
  const ctx: SessionContext = {
    log: pino({ level: 'silent' }),
    sendTargets: () => [],
    onClosed: (s) => sessions.splice(sessions.indexOf(s), 1),
    sessionsOf: () => [...sessions],
    maxCmdWindow: 16,
    nexusIds: { next: () => ++nexusId },
    writeBudget: new ByteBudget(1 << 24, 1 << 22),
    readBudget: new ByteBudget(1 << 24),
    maxImmediateCommands: 16,
    dataOutTimeoutMs: 1000,
  };
  return {
    dev,
    core,
    ctx,
    sessions,
    async open(params = {}) {
      const conn = new FakeConnection();
      const isid = Buffer.from([0x80, 0, 0, 0, 0, sessions.length + 1]);
      const session = new Session(
        sessions.length + 1,
        {
          initiatorName: 'iqn.2026-11.io.scatter.test:unit',
          isid,
          requestedTsih: 0,
          cid: 0,
          sessionType: 'Normal',
          target,
          params: { ...rfcDefaultSessionParams, ...params },
          cmdSN: 1,
        },
        conn,
        ctx,
      );
      conn.setHandler(session);
      sessions.push(session);
      const peer = new Peer(conn, session);
      // The power-on unit attention every new nexus gets first.
      expect((await peer.command(testUnitReady())).bhs[3]).toBe(ScsiStatus.CHECK_CONDITION);
      return peer;
    },
  };
}

/** The initiator side of one session: numbers, PDUs in, responses out. */
class Peer {
  private nextItt = 1;
  cmdSN = 1;

  constructor(
    readonly conn: FakeConnection,
    readonly session: Session,
  ) {}

  /** Send a SCSI command (no data with it) and return its ITT. */
  send(cdb: Buffer, o: { write?: number; read?: number; final?: boolean; cmdSN?: number } = {}): number {
    const itt = this.nextItt++;
    const { bhs } = P.scsiCommand({
      final: o.final ?? true,
      read: o.read !== undefined,
      write: o.write !== undefined,
      lun: 0,
      itt,
      edtl: o.write ?? o.read ?? 0,
      cmdSN: o.cmdSN ?? this.cmdSN++,
      expStatSN: 0,
      cdb,
      dataLength: 0,
    });
    this.conn.receive(bhs);
    return itt;
  }

  dataOut(itt: number, f: { ttt: number; dataSN: number; offset: number; data: Buffer; final: boolean }): void {
    const bhs = P.dataOut({ final: f.final, lun: 0, itt, ttt: f.ttt, expStatSN: 0, dataSN: f.dataSN, bufferOffset: f.offset, dataLength: f.data.length });
    this.conn.receive(bhs, f.data);
  }

  /** The PDU that carries the command's status. */
  status(itt: number): Promise<SentPdu> {
    return this.conn.next((p) => p.bhs.readUInt32BE(16) === itt && (p.opcode === Op.SCSI_RSP || (p.opcode === Op.DATA_IN && (p.bhs[1]! & 0x01) !== 0)));
  }

  async command(cdb: Buffer, o: { write?: Buffer; read?: number } = {}): Promise<SentPdu> {
    const itt = this.send(cdb, { write: o.write?.length, read: o.read });
    if (o.write) {
      for (let n = 0; ; n++) {
        const r2t = await this.nextR2t(itt, n);
        if (!r2t) break;
        const offset = r2t.bhs.readUInt32BE(40);
        const length = r2t.bhs.readUInt32BE(44);
        this.dataOut(itt, { ttt: r2t.bhs.readUInt32BE(20), dataSN: 0, offset, data: o.write.subarray(offset, offset + length), final: true });
      }
    }
    return this.status(itt);
  }

  tmf(fn: number, o: { refItt?: number; refCmdSN?: number } = {}): Promise<SentPdu> {
    const itt = this.nextItt++;
    this.conn.receive(P.tmfRequest({ immediate: true, fn, lun: 0, itt, refItt: o.refItt ?? RESERVED_TAG, cmdSN: this.cmdSN, expStatSN: 0, refCmdSN: o.refCmdSN ?? 0 }));
    return this.conn.next((p) => p.opcode === Op.TMF_RSP && p.bhs.readUInt32BE(16) === itt);
  }

  /** R2T number `n` (R2TSN) for `itt`, or undefined once the command answered instead. */
  nextR2t(itt: number, n: number): Promise<SentPdu | undefined> {
    return Promise.race([
      this.conn.next((p) => p.opcode === Op.R2T && p.bhs.readUInt32BE(16) === itt && p.bhs.readUInt32BE(36) === n),
      this.status(itt).then(() => undefined),
    ]);
  }

  r2ts(itt: number): SentPdu[] {
    return this.conn.sentOf(Op.R2T).filter((p) => p.bhs.readUInt32BE(16) === itt);
  }
}

function senseOf(rsp: SentPdu): { format: number; sense: SenseData | undefined } {
  const length = rsp.data.readUInt16BE(0);
  const sense = rsp.data.subarray(2, 2 + length);
  return { format: sense[0]!, sense: parseSense(sense) };
}

/** MODE SELECT(6) of the control mode page (0Ah) with D_SENSE set: sense in descriptor format from now on. */
const D_SENSE_ON = Buffer.from([0, 0, 0, 0, 0x0a, 0x0a, 0x04, 0x10, 0x00, 0x40, 0, 0, 0xff, 0xff, 0, 0]);
const modeSelect6 = (length: number): Buffer => Buffer.from([0x15, 0x10, 0, 0, length, 0]);

describe('Session over a fake connection', () => {
  it('a WRITE gets one R2T per MaxBurstLength, in order, and its Data-Out lands on the LU', async () => {
    const w = world();
    const peer = await w.open(SOLICITED);
    const data = Buffer.alloc(16 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const rsp = await peer.command(write10(8, data.length / BLOCK), { write: data });
    expect(rsp.bhs[3]).toBe(ScsiStatus.GOOD);
    const r2ts = peer.r2ts(rsp.bhs.readUInt32BE(16));
    expect(r2ts.map((p) => [p.bhs.readUInt32BE(36), p.bhs.readUInt32BE(40), p.bhs.readUInt32BE(44)])).toEqual([
      [0, 0, 4096],
      [1, 4096, 4096],
      [2, 8192, 4096],
      [3, 12288, 4096],
    ]);
    expect(rsp.bhs.readUInt32BE(36)).toBe(4); // ExpDataSN counts the R2Ts
    expect(w.dev.buffer.subarray(8 * BLOCK, 8 * BLOCK + data.length).equals(data)).toBe(true);
    expect(w.ctx.writeBudget.inUse).toBe(0);
    // And back through Data-In.
    const read = await peer.command(read10(8, data.length / BLOCK), { read: data.length });
    expect(read.opcode).toBe(Op.DATA_IN);
    expect(peer.session.tasks.size).toBe(0);
  });

  it('ABORT TASK of a write waiting for its Data-Out completes at once; the write never answers', async () => {
    const w = world();
    const peer = await w.open(SOLICITED);
    const itt = peer.send(write10(0, 8), { write: 4096 });
    await peer.nextR2t(itt, 0);
    expect((await peer.tmf(TmfFunction.ABORT_TASK, { refItt: itt, refCmdSN: peer.cmdSN - 1 })).bhs[2]).toBe(TmfResponse.COMPLETE);
    expect(peer.session.tasks.size).toBe(0);
    expect(w.ctx.writeBudget.inUse).toBe(0);
    // Data the initiator still sends for it is dropped; no status ever comes.
    peer.dataOut(itt, { ttt: peer.r2ts(itt)[0]!.bhs.readUInt32BE(20), dataSN: 0, offset: 0, data: Buffer.alloc(4096), final: true });
    expect((await peer.command(testUnitReady())).bhs[3]).toBe(ScsiStatus.GOOD);
    expect(peer.conn.sent.filter((p) => p.opcode === Op.SCSI_RSP && p.bhs.readUInt32BE(16) === itt)).toEqual([]);
  });

  it('LOGICAL UNIT RESET from one session drops another session’s waiting write through the core', async () => {
    const w = world();
    const a = await w.open();
    const b = await w.open(SOLICITED);
    const held = b.send(write10(0, 8), { write: 4096 });
    await b.nextR2t(held, 0);
    expect(b.session.tasks.size).toBe(1);
    expect((await a.tmf(TmfFunction.LOGICAL_UNIT_RESET)).bhs[2]).toBe(TmfResponse.COMPLETE);
    expect(b.session.tasks.size).toBe(0);
    expect(w.ctx.writeBudget.inUse).toBe(0);
    expect(b.conn.sentOf(Op.SCSI_RSP).filter((p) => p.bhs.readUInt32BE(16) === held)).toEqual([]);
    // Every nexus is told of the reset.
    const ua = await b.command(testUnitReady());
    expect(senseOf(ua).sense).toMatchObject({ key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x03 });
  });

  it('a write whose Data-Out does not come within dataOutTimeout ends with INITIATOR RESPONSE TIMEOUT', async () => {
    const w = world();
    const peer = await w.open(SOLICITED);
    peer.conn.clock = 10_000;
    const itt = peer.send(write10(0, 8), { write: 4096 });
    await peer.nextR2t(itt, 0);
    peer.session.onTick(10_999);
    expect(peer.session.tasks.size).toBe(1);
    peer.session.onTick(11_000);
    const rsp = await peer.status(itt);
    expect(rsp.bhs[3]).toBe(ScsiStatus.CHECK_CONDITION);
    expect(senseOf(rsp)).toEqual({ format: 0x70, sense: { key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x06 } });
    expect(w.ctx.writeBudget.inUse).toBe(0);
  });

  it('a write that waits dataOutTimeout for room in the write budget ends TASK SET FULL (BUSY alone) and leaves the queue', async () => {
    const w = world();
    const peer = await w.open(SOLICITED);
    const hog = w.ctx.writeBudget.reserve(1 << 24, () => undefined, {}); // all of it, held elsewhere
    expect(hog.granted).toBe(true);
    peer.conn.clock = 10_000;
    const itt = peer.send(write10(0, 8), { write: 4096 });
    expect(w.ctx.writeBudget.waiting).toBe(1);
    expect(peer.r2ts(itt)).toEqual([]);
    peer.session.onTick(10_999);
    expect(peer.session.tasks.size).toBe(1);
    peer.session.onTick(11_000);
    const rsp = await peer.status(itt);
    expect(rsp.bhs[3]).toBe(ScsiStatus.BUSY); // TASK SET FULL, and nothing else of this session runs
    expect(w.ctx.writeBudget.waiting).toBe(0);
    expect(peer.session.tasks.size).toBe(0);
    hog.release();
    expect(w.ctx.writeBudget.inUse).toBe(0);
  });

  it('session-level sense follows the LU’s D_SENSE: a Data-Out sequence error after MODE SELECT is descriptor format', async () => {
    const w = world();
    const peer = await w.open(SOLICITED);
    const fixed = await peer.command(modeSelect6(D_SENSE_ON.length), { write: D_SENSE_ON });
    expect(fixed.bhs[3]).toBe(ScsiStatus.GOOD);
    const itt = peer.send(write10(0, 8), { write: 4096 });
    const r2t = (await peer.nextR2t(itt, 0))!;
    // DataSN 1 where 0 is due: a sequence error ERL 0 cannot recover.
    peer.dataOut(itt, { ttt: r2t.bhs.readUInt32BE(20), dataSN: 1, offset: 0, data: Buffer.alloc(4096), final: true });
    const rsp = await peer.status(itt);
    expect(rsp.bhs[3]).toBe(ScsiStatus.CHECK_CONDITION);
    expect(senseOf(rsp)).toEqual({ format: 0x72, sense: { key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x00 } });
  });

  it('a write failed while it waits for its CmdSN turn keeps its CHECK CONDITION when its turn comes', async () => {
    const w = world();
    const peer = await w.open({ initialR2T: false, immediateData: false, firstBurstLength: 8192 });
    // CmdSN 3 arrives before 2: it waits; its unsolicited Data-Out starts at the wrong offset.
    const gap = peer.cmdSN++;
    const itt = peer.send(write10(0, 16), { write: 8192, final: false });
    peer.dataOut(itt, { ttt: RESERVED_TAG, dataSN: 0, offset: 512, data: Buffer.alloc(512), final: false });
    // The gap fills (a NOP-Out with CmdSN 2), then the initiator ends its unsolicited burst.
    peer.conn.receive(P.nopOut({ immediate: false, itt: 900, ttt: RESERVED_TAG, cmdSN: gap, expStatSN: 0, dataLength: 0 }));
    peer.dataOut(itt, { ttt: RESERVED_TAG, dataSN: 1, offset: 1024, data: Buffer.alloc(512), final: true });
    const rsp = await peer.status(itt);
    expect(rsp.bhs[3]).toBe(ScsiStatus.CHECK_CONDITION);
    expect(senseOf(rsp).sense).toEqual({ key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x00 });
    expect(peer.conn.sentOf(Op.SCSI_RSP).filter((p) => p.bhs.readUInt32BE(16) === itt)).toHaveLength(1);
    expect(peer.session.tasks.size).toBe(0);
    expect(w.ctx.writeBudget.inUse).toBe(0);
  });

  it('closing the session aborts its tasks and leaves the core’s nexus table', async () => {
    const w = world();
    const a = await w.open();
    const b = await w.open(SOLICITED);
    const held = b.send(write10(0, 8), { write: 4096 });
    await b.nextR2t(held, 0);
    await b.session.close('test');
    expect(b.conn.closedWith).toBe('test');
    expect(w.sessions).toEqual([a.session]);
    expect(w.ctx.writeBudget.inUse).toBe(0);
    // A reset after it has gone reaches only the live session.
    expect((await a.tmf(TmfFunction.TARGET_WARM_RESET)).bhs[2]).toBe(TmfResponse.COMPLETE);
  });
});
