/**
 * The fuzzer's assertions can fail: each is shown failing against a scripted fake target
 * (a few lines of TCP that answer as told), and the crash watch against a real Scatter that
 * is killed in the middle of a run.
 */
import net from 'node:net';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli-proc.js';
import { CaseContext } from './case.js';
import { command } from './generators/command.js';
import { login, randomNegotiation } from './login.js';
import { checkTargetPdu } from './pdu-check.js';
import { runFuzz } from './harness.js';
import { Rng } from './rng.js';
import { FuzzSession } from './session.js';
import { NO_TAG, Opcode, WireReader, bhs, nopOutBhs, opOf, pduBytes, textData, type RxPdu } from './wire.js';

type Behaviour = 'twice' | 'never' | 'oversized' | 'once';

/** Answers logins with success and SCSI Commands as `behaviour` says; nothing else. */
function fakeTarget(behaviour: Behaviour): Promise<{ port: number; close(): void }> {
  let statSN = 100;
  const server = net.createServer((sock) => {
    const reader = new WireReader(
      () => ({ header: false, data: false }),
      (p: RxPdu) => {
        const itt = p.bhs.readUInt32BE(16);
        const cmdSN = p.bhs.readUInt32BE(24);
        // MaxCmdSN (bytes 32-35) a window ahead.
        const tail = Buffer.alloc(16);
        tail.writeUInt32BE(cmdSN + 31, 0);
        if (opOf(p.bhs) === Opcode.LOGIN_REQ) {
          const data = textData([['HeaderDigest', 'None'], ['DataDigest', 'None'], ['MaxRecvDataSegmentLength', '8192']]);
          const b1 = 0x80 | (p.bhs[1]! & 0x0f);
          const head = bhs({ opcode: Opcode.LOGIN_RSP, b1, lun: Buffer.from(p.bhs.subarray(8, 16)), itt, w24: statSN++, w28: cmdSN, dataLength: data.length, tail });
          if ((b1 & 3) === 3) head.writeUInt16BE(1, 14);
          sock.write(pduBytes(head, undefined, data, { header: false, data: false }));
          return;
        }
        if (opOf(p.bhs) !== Opcode.SCSI_CMD || behaviour === 'never') return;
        const rsp = (): Buffer => bhs({ opcode: Opcode.SCSI_RSP, b1: 0x80, itt, w24: statSN++, w28: cmdSN + 1, tail });
        if (behaviour === 'oversized') {
          const data = Buffer.alloc(9000, 1);
          const din = bhs({ opcode: Opcode.DATA_IN, b1: 0x81, itt, w20: NO_TAG, w24: statSN++, w28: cmdSN + 1, dataLength: data.length, tail });
          sock.write(pduBytes(din, undefined, data, { header: false, data: false }));
          return;
        }
        sock.write(rsp());
        if (behaviour === 'twice') sock.write(rsp());
      },
    );
    sock.on('data', (c: Buffer) => reader.push(c));
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() })),
  );
}

async function oneCommand(behaviour: Behaviour, answerMs = 300): Promise<CaseContext> {
  const fake = await fakeTarget(behaviour);
  const ctx = new CaseContext(1, 0, 'self-check');
  const s = await FuzzSession.connect(fake.port, ctx, answerMs);
  try {
    const neg = { ...randomNegotiation(new Rng(1)), maxRecv: 8192 };
    expect(await login(s, { sessionType: 'Normal', targetName: 'iqn.2026-11.io.scatter:fake', initiatorName: 'iqn.2026-11.io.scatter:self-check', neg })).toBe(true);
    const since = s.mark();
    // A READ(10) of one block for 'oversized' (Data-In is its answer), TEST UNIT READY otherwise.
    const read = behaviour === 'oversized';
    const cdb = read ? Buffer.from([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]) : Buffer.alloc(6);
    const t = await command(s, { lun: 0, cdb, edtl: read ? 512 : 0, read, write: false, immediate: true });
    if (behaviour === 'twice') await s.waitPdu(() => ctx.failures.some((f) => f.kind === 'double-status'), 2000, since);
    else if (behaviour !== 'never') await s.waitPdu((p) => p.bhs.readUInt32BE(16) === t!.itt, 2000, since);
    await s.settle();
  } finally {
    s.close();
    fake.close();
  }
  return ctx;
}

describe('the fuzzer\'s assertions fail when they should', () => {
  it('(b) two responses for one task', async () => {
    const ctx = await oneCommand('twice');
    expect(ctx.failures.map((f) => f.kind), JSON.stringify(ctx.failures)).toContain('double-status');
    const once = await oneCommand('once');
    expect(once.failures, once.trace.text()).toEqual([]);
  });

  it('(f) a command never answered is a hang, reported after answerMs', async () => {
    const ctx = await oneCommand('never');
    expect(ctx.failures.map((f) => f.kind)).toContain('hang');
  });

  it('(c) a data segment longer than the initiator declared', async () => {
    const ctx = await oneCommand('oversized');
    expect(ctx.failures.some((f) => f.kind === 'segment-length' && /9000 > initiator MaxRecvDataSegmentLength 8192/.test(f.message))).toBe(true);
  });

  it('(c) PDU checks: flags, tags, padding and digests', () => {
    const ok = (head: Buffer, data = Buffer.alloc(0)) => checkTargetPdu({ bhs: head, ahs: Buffer.alloc(0), data, problems: [] }, { maxRecv: 8192, phase: 'ffp' });
    expect(ok(bhs({ opcode: Opcode.SCSI_RSP, b1: 0x80, itt: 5 }))).toEqual([]);
    expect(ok(bhs({ opcode: Opcode.DATA_IN, b1: 0x01, itt: 5, w20: NO_TAG }))).toContain('Data-In with S but not F');
    expect(ok(bhs({ opcode: Opcode.REJECT, b1: 0x80, b2: 4, itt: 5, dataLength: 48 }), Buffer.alloc(48))).toContain('Reject with an ITT');
    expect(ok(bhs({ opcode: Opcode.TEXT_RSP, b1: 0xc0, itt: 5, w20: NO_TAG }))).toContain('Text Response with both F and C');
    // The reader checks padding and digests itself.
    const got: RxPdu[] = [];
    const reader = new WireReader(() => ({ header: true, data: true }), (p) => got.push(p));
    const head = nopOutBhs({ immediate: true, itt: 1, ttt: NO_TAG, cmdSN: 1, expStatSN: 1, dataLength: 5 });
    head[0] = Opcode.NOP_IN;
    reader.push(pduBytes(head, undefined, Buffer.from('hello'), { header: true, data: true }, { badDataDigest: true, dirtyPadding: true }));
    expect(got[0]!.problems).toEqual(expect.arrayContaining(['bad data digest', expect.stringMatching(/non-zero padding/)]));
  });
});

describe('the crash watch (a)', () => {
  let killed = false;
  afterEach(() => {
    killed = false;
  });
  it.skipIf(!existsSync(CLI))('a target that dies in the middle of a run is reported, and the run ends', async () => {
    const report = await runFuzz({
      seed: 11,
      cases: 12,
      concurrency: 1,
      answerMs: 1000,
      bystanderMs: 10_000,
      generators: ['nop-out'],
      afterCase: (index, target) => {
        if (index === 2 && !killed) {
          killed = true;
          target.child.kill('SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(report.global.some((f) => f.kind === 'crash' && /signal SIGKILL/.test(f.message))).toBe(true);
    expect(report.casesRun).toBeLessThan(12);
  }, 120_000);
});
