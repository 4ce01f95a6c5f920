import { blockFailure } from '../block-failure.js';
import { checkControlByte, readLba64, truncateToAllocation } from '../cdb.js';
import type { LuCommandHandler } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { goodData, type Outcome } from '../outcome.js';
import { Opcode, ServiceAction } from '../opcode.js';
import { Sense } from '../sense-reasons.js';

const { SERVICE_ACTION_IN_16 } = Opcode;
const SA_GET_LBA_STATUS = ServiceAction.GET_LBA_STATUS;
const MAPPED = 0x0;
const DEALLOCATED = 0x1;
/** Descriptors per answer: enough for any initiator's buffer, bounded so one command stays cheap. */
const MAX_DESCRIPTORS = 64;

export interface LbaStatus {
  readonly lba: number;
  readonly blocks: number;
  readonly mapped: boolean;
}

/**
 * The provisioning runs from `lba` on, in whole blocks: a block only partly backed by data counts
 * as mapped. A non-thin LU is mapped everywhere.
 */
export async function lbaStatus(lu: LogicalUnit, lba: number, maxDescriptors: number): Promise<LbaStatus[]> {
  const bs = lu.blockSize;
  const out: LbaStatus[] = [];
  const query = lu.thin ? lu.device.allocationRun?.bind(lu.device) : undefined;
  let cur = lba;
  while (cur < lu.numBlocks && out.length < maxDescriptors) {
    const run = query ? await query(cur * bs) : { mapped: true, end: lu.device.size };
    let end = run.mapped ? Math.ceil(run.end / bs) : Math.floor(run.end / bs);
    let mapped = run.mapped;
    if (end <= cur) {
      mapped = true;
      end = cur + 1;
    }
    end = Math.min(end, lu.numBlocks, cur + 0xffffffff);
    const last = out.at(-1);
    if (last && last.mapped === mapped) out[out.length - 1] = { ...last, blocks: last.blocks + (end - cur) };
    else out.push({ lba: cur, blocks: end - cur, mapped });
    cur = end;
  }
  return out;
}

export function lbaStatusData(descriptors: readonly LbaStatus[]): Buffer {
  const b = Buffer.alloc(8 + 16 * descriptors.length);
  b.writeUInt32BE(b.length - 4, 0); // PARAMETER DATA LENGTH: the bytes after this field
  descriptors.forEach((d, i) => {
    const at = 8 + 16 * i;
    b.writeBigUInt64BE(BigInt(d.lba), at);
    b.writeUInt32BE(Math.min(d.blocks, 0xffffffff), at + 8);
    b[at + 12] = d.mapped ? MAPPED : DEALLOCATED;
  });
  return b;
}

/** GET LBA STATUS (SBC-4), from the backing file's real allocation (SEEK_DATA / SEEK_HOLE). */
export const getLbaStatus: LuCommandHandler = {
  name: 'GET LBA STATUS',
  opcode: SERVICE_ACTION_IN_16,
  serviceAction: SA_GET_LBA_STATUS,
  cdbLength: 16,
  usage: [SERVICE_ACTION_IN_16, SA_GET_LBA_STATUS, ...new Array<number>(12).fill(0xff), 0x00, 0x00],
  cls: 'other',
  parse({ cdb, lu }) {
    const control = checkControlByte(cdb, 16);
    if (control) return control;
    const lba = readLba64(cdb, 2);
    if (lba >= lu.numBlocks) return Sense.lbaOutOfRange;
    const allocation = cdb.readUInt32BE(10);
    const wanted = Math.max(1, Math.min(MAX_DESCRIPTORS, Math.floor((allocation - 8) / 16)));
    return {
      dataOutLength: 0,
      run: async (): Promise<Outcome> => {
        try {
          return goodData(truncateToAllocation(lbaStatusData(await lbaStatus(lu, lba, wanted)), allocation));
        } catch (err) {
          return blockFailure(err, 'read', lba);
        }
      },
    };
  },
};
