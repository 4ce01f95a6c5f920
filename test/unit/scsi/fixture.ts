import { Cancellation, type CancelSignal } from '../../../src/block/cancel.js';
/** Shared set-up for the SCSI core unit tests: a core over in-memory LUs and a tiny "initiator". */
import type { BlockDevice } from '../../../src/block/device.js';
import { SgVector } from '../../../src/block/sg.js';
import type { Nexus, PrepareResult, ScsiCommand, ScsiResponse, TaskAttribute } from '../../../src/scsi/command.js';
import { LogicalUnit, type LogicalUnitConfig } from '../../../src/scsi/logical-unit.js';
import { deriveNaaId } from '../../../src/scsi/naa.js';
import { parseSense, type SenseData } from '../../../src/scsi/sense.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';

export const TARGET = 'iqn.2026-01.io.scatter:unit';

export function makeNexus(id = 1, relativeTargetPortId = 1): Nexus {
  return {
    id,
    initiatorPort: `iqn.2026-01.io.example:host${id},i,0x00023d00000${id}`,
    targetPort: `${TARGET},t,0x0001`,
    relativeTargetPortId,
  };
}

export function makeLu(device: BlockDevice, over: Partial<LogicalUnitConfig> = {}): LogicalUnit {
  const lun = over.lun ?? 0;
  return new LogicalUnit({
    lun,
    device,
    readOnly: false,
    writeCacheEnabled: true,
    serial: `SCT${lun.toString().padStart(5, '0')}`,
    naaId: deriveNaaId(TARGET, lun),
    targetName: TARGET,
    ...over,
  });
}

export interface SendOptions {
  lun?: number;
  nexus?: Nexus;
  attr?: TaskAttribute;
  tag?: number;
  /** Expected data-in length (EDTL for reads); default large enough for anything. */
  edtlIn?: number;
  /** Expected data-out length; default = data length. */
  edtlOut?: number;
  data?: Buffer;
  signal?: CancelSignal;
}

export interface Sent {
  cmd: ScsiCommand;
  prepared: PrepareResult;
  response: Promise<ScsiResponse>;
}

let nextTag = 1;

export function makeCommand(cdb: Buffer | number[], o: SendOptions = {}): ScsiCommand {
  const bytes = Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb);
  // iSCSI carries CDBs in a 16-byte field: pad like the transport does.
  const padded = Buffer.alloc(Math.max(16, bytes.length));
  bytes.copy(padded);
  return {
    nexus: o.nexus ?? makeNexus(),
    lun: o.lun ?? 0,
    cdb: padded,
    tag: o.tag ?? nextTag++,
    attr: o.attr ?? 'simple',
    expectedDataInLength: o.edtlIn ?? 1 << 24,
    expectedDataOutLength: o.edtlOut ?? o.data?.length ?? 0,
    signal: o.signal ?? new Cancellation().signal,
  };
}

/** prepare() then, when asked to, execute() with the data: what a transport does. */
export function send(core: ScsiTargetCore, cdb: Buffer | number[], o: SendOptions = {}): Sent {
  const cmd = makeCommand(cdb, o);
  const prepared = core.prepare(cmd);
  if (prepared.kind === 'respond') return { cmd, prepared, response: Promise.resolve(prepared.response) };
  const data = o.data && prepared.dataOutLength > 0 ? new SgVector([o.data.subarray(0, prepared.dataOutLength)]) : undefined;
  return { cmd, prepared, response: core.execute(cmd, data) };
}

export async function run(core: ScsiTargetCore, cdb: Buffer | number[], o: SendOptions = {}): Promise<ScsiResponse> {
  return send(core, cdb, o).response;
}

export function sense(r: ScsiResponse): SenseData | undefined {
  return r.sense ? parseSense(r.sense) : undefined;
}

export function dataOf(r: ScsiResponse): Buffer {
  return r.dataIn ? r.dataIn.toBuffer() : Buffer.alloc(0);
}

export interface Setup {
  core: ScsiTargetCore;
  dev: MemDevice;
  lu: LogicalUnit;
  nexus: Nexus;
}

/** One LU 0 over a MemDevice of `blocks` blocks; the nexus's power-on unit attention is already consumed. */
export async function setup(blocks = 2048, over: Partial<LogicalUnitConfig> = {}, blockSize = 512): Promise<Setup> {
  const dev = new MemDevice(blocks, blockSize);
  const lu = makeLu(dev, over);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
  const nexus = makeNexus();
  core.addNexus(nexus);
  await run(core, [0x00, 0, 0, 0, 0, 0], { nexus });
  return { core, dev, lu, nexus };
}

/** A promise with its resolve handle, to hold I/O in flight. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Let pending promise continuations run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

// ---- CDB builders ----

export function cdb10(opcode: number, lba: number, blocks: number, byte1 = 0): Buffer {
  const c = Buffer.alloc(10);
  c[0] = opcode;
  c[1] = byte1;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
}

export function cdb12(opcode: number, lba: number, blocks: number, byte1 = 0): Buffer {
  const c = Buffer.alloc(12);
  c[0] = opcode;
  c[1] = byte1;
  c.writeUInt32BE(lba, 2);
  c.writeUInt32BE(blocks, 6);
  return c;
}

export function cdb16(opcode: number, lba: bigint | number, blocks: number, byte1 = 0): Buffer {
  const c = Buffer.alloc(16);
  c[0] = opcode;
  c[1] = byte1;
  c.writeBigUInt64BE(BigInt.asUintN(64, BigInt(lba)), 2);
  c.writeUInt32BE(blocks, 10);
  return c;
}

export function cdb6(opcode: number, lba: number, blocks: number): Buffer {
  return Buffer.from([opcode, (lba >> 16) & 0x1f, (lba >> 8) & 0xff, lba & 0xff, blocks & 0xff, 0]);
}
