import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingTools, run } from '../helpers/tools.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const MUTUAL = 'iqn.2026-11.io.scatter:interop-mutual';
const USER = 'interop-user';
const SECRET = 'interop-secret-123';
const TUSER = 'interop-target';
const TSECRET = 'interop-target-secret-9';

const missing = missingTools(['iscsi-ls', 'iscsi-inq', 'iscsi-readcapacity16']);

describe.skipIf(missing.length > 0)('libiscsi tools', () => {
  let t: TestTarget;
  /** A second Scatter holding only the CHAP target: iscsi-ls logs in to every target it discovers. */
  let c: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget();
    c = await startTestTarget((raw) => {
      raw.targets = [
        {
          iqn: MUTUAL,
          auth: { method: 'chap', user: USER, secret: SECRET, mutualUser: TUSER, mutualSecret: TSECRET },
          luns: [{ lun: 0, backstore: { type: 'null', size: '64MiB' } }],
        },
      ];
    });
  });
  afterAll(async () => {
    await t?.stop();
    await c?.stop();
  });

  it('iscsi-ls -s discovers the target and its LUNs', async () => {
    const r = await run('iscsi-ls', ['-s', `iscsi://127.0.0.1:${t.port}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Target:${TEST_IQN} Portal:127.0.0.1:${t.port},1`);
    expect(r.stdout).toMatch(/Lun:0\s+Type:DIRECT_ACCESS \(Size:63M\)/);
    expect(r.stdout).toMatch(/Lun:1\s+Type:DIRECT_ACCESS/);
  });

  it('iscsi-inq answers the standard INQUIRY and the VPD pages', async () => {
    const url = `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`;
    const std = await run('iscsi-inq', [url]);
    expect(std.code, std.stderr).toBe(0);
    expect(std.stdout).toMatch(/Peripheral Device Type:\s*0x00|DIRECT_ACCESS/i);
    expect(std.stdout).toMatch(/Vendor:\s*SCATTER/);
    for (const page of ['0x80', '0x83', '0xb0', '0xb1']) {
      const r = await run('iscsi-inq', ['-e', '1', '-c', String(parseInt(page, 16)), url]);
      expect(r.code, `page ${page}: ${r.stderr}`).toBe(0);
    }
    const ids = await run('iscsi-inq', ['-e', '1', '-c', '131', url]);
    expect(ids.stdout).toMatch(/Designator Type:\(3\) NAA/);
  });

  it('iscsi-readcapacity16 reports the LUN geometry', async () => {
    const r = await run('iscsi-readcapacity16', [`iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/LOGICAL BLOCK LENGTH IN BYTES:512/);
    expect(r.stdout).toMatch(/Total size:\s*67108864/);
  });

  it('mutual CHAP with header and data digests through libiscsi URL arguments', async () => {
    const url =
      `iscsi://${USER}%${SECRET}@127.0.0.1:${c.port}/${MUTUAL}/0` +
      `?target_user=${TUSER}&target_password=${TSECRET}&header_digest=crc32c`;
    const r = await run('iscsi-inq', [url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SCATTER/);
  });

  it('a wrong target secret makes libiscsi refuse the login', async () => {
    const url = `iscsi://${USER}%${SECRET}@127.0.0.1:${c.port}/${MUTUAL}/0?target_user=${TUSER}&target_password=wrong-target-secret`;
    const r = await run('iscsi-inq', [url]);
    expect(r.code).not.toBe(0);
  });

  it('a wrong initiator secret is refused by the target', async () => {
    const url = `iscsi://${USER}%not-the-secret-000@127.0.0.1:${c.port}/${MUTUAL}/0?target_user=${TUSER}&target_password=${TSECRET}`;
    const r = await run('iscsi-inq', [url]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/auth|login/i);
  });
});
