/** Sending SCSI Commands: the raw builder every generator uses, and an honest command with its data. */
import type { Rng } from '../rng.js';
import type { FuzzSession, SendOptions, TaskModel } from '../session.js';
import { NO_TAG, dataOutBhs, extendedCdbAhs, scsiCommandBhs } from '../wire.js';
import { payloadFor, type CdbChoice } from './cdb.js';

export interface CommandSpec extends Omit<SendOptions, 'data'> {
  lun: number | Buffer;
  cdb: Buffer;
  edtl: number;
  read: boolean;
  write: boolean;
  final?: boolean;
  immediate?: boolean;
  attr?: number;
  itt?: number;
  cmdSN?: number;
  reservedBits?: number;
  immediateData?: Buffer;
}

/** One SCSI Command PDU (an AHS for a CDB over 16 bytes unless the spec brings its own). */
export async function command(s: FuzzSession, c: CommandSpec): Promise<TaskModel | undefined> {
  const immediate = c.immediate ?? false;
  const cmdSN = c.cmdSN ?? (await s.nextCmdSN(immediate));
  const itt = c.itt ?? s.allocItt();
  const ahs = c.ahs ?? (c.cdb.length > 16 ? extendedCdbAhs(c.cdb) : undefined);
  const head = scsiCommandBhs({
    immediate,
    final: c.final ?? true,
    read: c.read,
    write: c.write,
    attr: c.attr ?? 1,
    lun: c.lun,
    itt,
    edtl: c.edtl,
    cmdSN,
    expStatSN: s.expStatSN,
    cdb: c.cdb,
    dataLength: c.immediateData?.length ?? 0,
    reservedBits: c.reservedBits,
  });
  if (ahs) head[4] = ahs.length / 4;
  s.send(head, { ...c, ahs, data: c.immediateData });
  return itt === NO_TAG ? undefined : s.tasks.get(itt);
}

/**
 * What an honest initiator sends for `cdb`: R/W from the CDB, EDTL = the CDB's length
 * (or `edtl`), immediate data and unsolicited Data-Out as negotiated; R2Ts are answered
 * by the session.
 */
export async function honestCommand(
  s: FuzzSession,
  r: Rng,
  choice: CdbChoice,
  o: { lun: number; immediate?: boolean; attr?: number; edtl?: number; note?: string } = { lun: 0 },
): Promise<TaskModel | undefined> {
  const write = choice.dataOut > 0;
  const read = choice.dataIn > 0 && !write;
  const edtl = o.edtl ?? (write ? choice.dataOut : read ? choice.dataIn : 0);
  const p = s.params;
  const unsolicitedLimit = write && !p.initialR2T ? Math.min(p.firstBurst, edtl) : 0;
  const immLimit = write && p.immediateData ? Math.min(p.firstBurst, edtl, s.targetMaxRecv) : 0;
  const imm = immLimit > 0 ? r.edgy(0, immLimit, [immLimit]) : 0;
  const data = write ? payloadFor(choice, edtl, 0x40 + (s.cmdSN & 0x3f)) : undefined;
  const unsolicited = unsolicitedLimit > imm && r.bool(0.8);
  const t = await command(s, {
    lun: o.lun,
    cdb: choice.cdb,
    edtl,
    read,
    write,
    final: !unsolicited,
    immediate: o.immediate,
    attr: o.attr,
    immediateData: imm > 0 ? data!.subarray(0, imm) : undefined,
    note: o.note ?? choice.name,
  });
  if (t && choice.payload) t.payload = data;
  if (t && unsolicited) {
    // Unsolicited Data-Out up to FirstBurstLength (sometimes less: F early is allowed here).
    const end = r.bool(0.8) ? unsolicitedLimit : r.int(imm + 1, unsolicitedLimit);
    let dataSN = 0;
    let at = imm;
    const chunk = Math.max(1, s.targetMaxRecv);
    do {
      const n = Math.min(chunk, end - at);
      const head = dataOutBhs({ final: at + n >= end, lun: 0, itt: t.itt, ttt: NO_TAG, expStatSN: s.expStatSN, dataSN: dataSN++, offset: at, dataLength: n });
      t.lunField.copy(head, 8);
      s.send(head, { data: data!.subarray(at, at + n) });
      at += n;
    } while (at < end);
  }
  return t;
}
