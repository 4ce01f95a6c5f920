/**
 * Issue 9, item 24: Wireshark's iSCSI dissector finds no malformed PDU among those the target
 * sends. tshark captures the test target's port on `lo` while libiscsi (iscsi-ls, iscsi-inq
 * with and without digests, an iscsi-test-cu subset), qemu-img (a round trip, plain and with
 * header digests) and the test initiator (a SendTargets answer split over PDUs with the C
 * bit, Rejects) talk to it; then every target-sent frame Wireshark flags `_ws.malformed` is
 * a failure, unless it is a correct PDU that Wireshark 4.0 mis-dissects, told apart by opcode
 * and condition in helpers/wireshark-known.ts: a Text Response continued mid-key (C bit), and
 * an INQUIRY answer cut at its allocation length (a SCSI-layer dissector error). Wireshark 4.0
 * dissects the Rejects here (which echo the rejected header as their data) without complaint,
 * so they have no exception.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestInitiator } from '../helpers/initiator.js';
import { startCapture, frameDetail, framePayload, frames, type DissectedFrame } from '../helpers/tshark.js';
import { isInquiryCutAtAllocationLength, isTextSplitMidKey } from '../helpers/wireshark-known.js';
import { expectClean, runTestCu } from '../helpers/libiscsi-cu.js';
import { missingTools, run } from '../helpers/tools.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const CHAP_IQN = 'iqn.2026-11.io.scatter:capture-chap';
const USER = 'capture-user';
const SECRET = 'capture-secret-1234';
const IMAGE_BYTES = 16 * 1024 * 1024;
/** Enough target names that a SendTargets=All answer needs several 512-byte PDUs. */
const EXTRA_TARGETS = 12;

const missing = missingTools(['tshark', 'iscsi-ls', 'iscsi-inq', 'iscsi-test-cu', 'qemu-img']);

describe.skipIf(missing.length > 0)('Wireshark finds no malformed iSCSI PDU from the target (issue 9, item 24)', () => {
  /** TEST_IQN only: iscsi-ls logs in to every target it discovers. */
  let t: TestTarget;
  /** A CHAP target and many long target names (a SendTargets answer over several PDUs). */
  let u: TestTarget;
  let pcap: string;
  let ports: number[];
  let flagged: DissectedFrame[] = [];
  let targetFrames: DissectedFrame[] = [];

  beforeAll(async () => {
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: IMAGE_BYTES } },
        { lun: 1, backstore: { type: 'null', size: '64MiB' } },
      ];
    });
    u = await startTestTarget((raw) => {
      const targets: unknown[] = [{ iqn: CHAP_IQN, auth: { method: 'chap', user: USER, secret: SECRET }, luns: [{ lun: 0, backstore: { type: 'null', size: '16MiB' } }] }];
      for (let i = 0; i < EXTRA_TARGETS; i++) targets.push({ iqn: `iqn.2026-11.io.scatter:capture-a-rather-long-target-name-for-split-text-${i}`, luns: [] });
      raw.targets = targets;
    });
    ports = [t.port, u.port];
    pcap = join(t.dir, 'capture.pcapng');
    const cap = await startCapture(ports, pcap);
    try {
      await traffic(t, u);
    } finally {
      await cap.stop();
    }
    // SCATTER_CAPTURE_KEEP=<file>: keep a copy of the capture to look at in Wireshark.
    if (process.env.SCATTER_CAPTURE_KEEP) copyFileSync(pcap, process.env.SCATTER_CAPTURE_KEEP);
    const fromTarget = ports.map((p) => `tcp.srcport==${p}`).join(' || ');
    targetFrames = await frames(pcap, ports, `iscsi && (${fromTarget})`);
    flagged = await frames(pcap, ports, `iscsi && _ws.malformed && (${fromTarget})`);
  }, 600_000);
  afterAll(async () => {
    await t?.stop();
    await u?.stop();
  });

  it('the capture holds the target\'s side of the conversation (every kind of PDU this test provokes)', () => {
    const seen = new Set(targetFrames.flatMap((f) => f.opcodes));
    // Login, Text, SCSI Response, Data-In, R2T, NOP-In, Logout, Reject: otherwise the check below proves nothing.
    for (const op of [0x23, 0x24, 0x21, 0x25, 0x31, 0x20, 0x26, 0x3f]) expect(seen, `opcode 0x${op.toString(16)} in ${[...seen].map((o) => o.toString(16))}`).toContain(op);
  });

  it('no target-sent frame is malformed to Wireshark, apart from the known correct cases', async () => {
    const unexplained: string[] = [];
    for (const f of flagged) {
      const detail = await frameDetail(pcap, ports, f.frame);
      const frame = { frame: f.frame, detail, payload: await framePayload(pcap, f.frame) };
      if (isTextSplitMidKey(frame) || (await isInquiryCutAtAllocationLength(frame, pcap, ports))) continue;
      unexplained.push(`frame ${f.frame} opcodes ${f.opcodes.map((o) => `0x${o.toString(16)}`).join(',')}: ${f.expert.join(' / ')}\n${detail.slice(-3000)}`);
    }
    expect(unexplained, unexplained.join('\n\n')).toEqual([]);
  });
});

/** The interop traffic the capture is made of. */
async function traffic(t: TestTarget, u: TestTarget): Promise<void> {
  const base = `iscsi://127.0.0.1:${t.port}`;
  const lun0 = `${base}/${TEST_IQN}/0`;
  // libiscsi: discovery, INQUIRY with and without digests, CHAP.
  for (const args of [['-s', base], ['-s', `${base}?header_digest=crc32c`]]) {
    const r = await run('iscsi-ls', args);
    expect(r.code, r.stderr).toBe(0);
  }
  for (const url of [lun0, `${lun0}?header_digest=crc32c`, `iscsi://${USER}%${SECRET}@127.0.0.1:${u.port}/${CHAP_IQN}/0?header_digest=crc32c`]) {
    const r = await run('iscsi-inq', [url]);
    expect(r.code, `${url}: ${r.stderr}`).toBe(0);
  }
  // A libiscsi conformance subset: reads, writes (R2Ts), residuals, CmdSN and DataSN errors.
  expectClean(await runTestCu('ALL.Read10,ALL.Write10,ALL.iSCSIResiduals,ALL.iSCSIdatasn,ALL.iSCSIcmdsn', [lun0]), { minRan: 5 });
  // qemu-img: a round trip, plain and with header digests.
  const source = join(t.dir, 'source.raw');
  const back = join(t.dir, 'back.raw');
  const original = randomBytes(IMAGE_BYTES);
  writeFileSync(source, original);
  const into = await run('qemu-img', ['convert', '-f', 'raw', '-n', source, '-O', 'raw', lun0], 120_000);
  expect(into.code, into.stderr).toBe(0);
  const opts = `driver=iscsi,transport=tcp,portal=127.0.0.1:${t.port},target=${TEST_IQN},lun=0,header-digest=crc32c`;
  const out = await run('qemu-img', ['convert', '--image-opts', opts, '-O', 'raw', back], 120_000);
  expect(out.code, out.stderr).toBe(0);
  expect(readFileSync(back).equals(original)).toBe(true);
  // The test initiator: a SendTargets=All answer split over 512-byte PDUs (C bit), NOP, Rejects, logout.
  const d = await TestInitiator.connect(u.port);
  expect((await d.login({ sessionType: 'Discovery', keys: [['MaxRecvDataSegmentLength', '512']] })).status).toEqual([0, 0]);
  const st = await d.text([['SendTargets', 'All']]);
  expect(st.pdus).toBeGreaterThan(1);
  await d.logout();
  d.close();
  const i = await TestInitiator.connect(t.port);
  expect((await i.login({ targetName: TEST_IQN, headerDigest: true, dataDigest: true })).status).toEqual([0, 0]);
  await i.nop(Buffer.from('ping'));
  for (const opcode of [0x10, 0x1c]) {
    // A SNACK (not at ErrorRecoveryLevel 0) and a reserved opcode: each answered with a Reject echoing its header.
    const bhs = Buffer.alloc(48);
    bhs[0] = opcode;
    bhs[1] = 0x80;
    bhs.writeUInt32BE(0x1234, 16);
    const rejected = i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x3f);
    i.send(bhs);
    await rejected;
  }
  await i.logout();
  i.close();
}
