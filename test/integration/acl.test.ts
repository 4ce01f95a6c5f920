/**
 * Per-target ACLs over real sockets: who may log in (0202 otherwise), the CHAP an ACL sets, what
 * SendTargets shows, LUN masking and mapping (REPORT LUNS, data landing in the mapped LU's file,
 * read-only mappings), and live changes (REPORTED LUNS DATA HAS CHANGED, revoked access ending the
 * session), seen by libiscsi's tools and the test initiator.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { TargetAccess } from '../../src/iscsi/target-access.js';
import { targetAccessFromConfig } from '../../src/runtime/target-access.js';
import { inquiry, read10, reportLuns, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { startTestTarget, type TestTarget } from '../helpers/target.js';
import { missingTools, run } from '../helpers/tools.js';

const GUARDED = 'iqn.2026-11.io.scatter:guarded';
const OPEN = 'iqn.2026-11.io.scatter:open';
/** Logs in without CHAP; sees LU 1 as LUN 0 and LU 0 read-only as LUN 3. */
const MAPPED = 'iqn.2026-11.io.example:mapped';
/** Its ACL's own CHAP, every LUN. */
const OWN_CHAP = 'iqn.2026-11.io.example:own-chap';
/** Its ACL's mutual CHAP. */
const MUTUAL = 'iqn.2026-11.io.example:mutual';
/** No auth in its ACL: the target's CHAP. */
const INHERITS = 'iqn.2026-11.io.example:inherits';
/** Used by the live-change tests (their ACL is changed and removed). */
const CHANGING = 'iqn.2026-11.io.example:changing';
const STRANGER = 'iqn.2026-11.io.example:stranger';

const TARGET_USER = 'target-user';
const TARGET_SECRET = 'target-secret-1234';
const ACL_USER = 'acl-user';
const ACL_SECRET = 'acl-secret-56789';
const MUTUAL_USER = 'guarded-target';
const MUTUAL_SECRET = 'guarded-mutual-secret';

const MAPPED_ACL = { initiator: MAPPED, auth: { method: 'none' }, luns: [{ lun: 1, as: 0 }, { lun: 0, as: 3, readOnly: true }] };
const OWN_CHAP_ACL = { initiator: OWN_CHAP, auth: { method: 'chap', user: ACL_USER, secret: ACL_SECRET } };
const MUTUAL_ACL = {
  initiator: MUTUAL,
  auth: { method: 'chap', user: ACL_USER, secret: ACL_SECRET, mutualUser: MUTUAL_USER, mutualSecret: MUTUAL_SECRET },
};
const INHERITS_ACL = { initiator: INHERITS };
const changingAcl = (luns: { lun: number; as?: number }[]) => ({ initiator: CHANGING, auth: { method: 'none' }, luns });

const missing = missingTools(['iscsi-ls', 'iscsi-inq']);

let t: TestTarget;

function guardedTarget(dir: string, acls: object[]): Record<string, unknown> {
  return {
    iqn: GUARDED,
    auth: { method: 'chap', user: TARGET_USER, secret: TARGET_SECRET },
    luns: [
      { lun: 0, backstore: { type: 'file', path: join(dir, 'g0.img'), size: '8MiB' } },
      { lun: 1, backstore: { type: 'file', path: join(dir, 'g1.img'), size: '8MiB' } },
      { lun: 2, backstore: { type: 'null', size: '8MiB' } },
    ],
    acls,
  };
}

/** The access a config with these ACLs gives the guarded target (validated as the file would be). */
function accessWith(acls: object[]): TargetAccess {
  const config = validateConfig({ targets: [guardedTarget(t.dir, acls)] }, 'test');
  return targetAccessFromConfig(config.targets[0]!);
}

const BASE_ACLS = [MAPPED_ACL, OWN_CHAP_ACL, MUTUAL_ACL, INHERITS_ACL];

beforeAll(async () => {
  t = await startTestTarget((raw, dir) => {
    raw.targets = [
      guardedTarget(dir, [...BASE_ACLS, changingAcl([{ lun: 0 }])]),
      { iqn: OPEN, luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }] },
    ];
    // Wrong secrets are part of these tests: keep the brute-force brake short (it is tested elsewhere).
    (raw.iscsi as Record<string, unknown>).authThrottle = { failureDelayMs: 0, maxFailureDelayMs: 0, lockoutAfterFailures: 0 };
  });
});
afterAll(() => t?.stop());

async function loginAs(initiatorName: string, opts: Parameters<TestInitiator['login']>[0] = {}) {
  const i = await TestInitiator.connect(t.port);
  const r = await i.login({ targetName: GUARDED, initiatorName, ...opts });
  return { i, r };
}

function lunsOf(data: Buffer): number[] {
  const out: number[] = [];
  for (let k = 8; k + 8 <= 8 + data.readUInt32BE(0); k += 8) out.push(data.readUInt16BE(k) & 0x3fff);
  return out;
}

describe('login by ACL', () => {
  it('an initiator not in the ACL is refused with 0202 (authorization failure), counted as not_in_acl', async () => {
    const before = t.scatter.iscsi.loginFailures.get('not_in_acl');
    const { i, r } = await loginAs(STRANGER);
    expect(r.status).toEqual([0x02, 0x02]);
    await i.waitClosed();
    // Case does not help: names compare case-folded, and the stranger stays a stranger.
    const again = await loginAs(STRANGER.toUpperCase());
    expect(again.r.status).toEqual([0x02, 0x02]);
    expect(t.scatter.iscsi.loginFailures.get('not_in_acl')).toBe(before + 2);
    // The open target next to it takes the stranger.
    const o = await TestInitiator.connect(t.port);
    expect((await o.login({ targetName: OPEN, initiatorName: STRANGER })).status).toEqual([0, 0]);
    await o.logout();
  });

  it('an initiator whose ACL sets no auth logs in with the target CHAP, not without it', async () => {
    const bare = await loginAs(INHERITS);
    expect(bare.r.status).toEqual([0x02, 0x01]);
    const { i, r } = await loginAs(INHERITS, { chap: { user: TARGET_USER, secret: TARGET_SECRET } });
    expect(r.status).toEqual([0, 0]);
    await i.logout();
  });

  it("an ACL's CHAP replaces the target's: its secret logs in, the target's secret is refused (0201)", async () => {
    const ok = await loginAs(OWN_CHAP, { chap: { user: ACL_USER, secret: ACL_SECRET } });
    expect(ok.r.status).toEqual([0, 0]);
    await ok.i.logout();
    const wrong = await loginAs(OWN_CHAP, { chap: { user: TARGET_USER, secret: TARGET_SECRET } });
    expect(wrong.r.status).toEqual([0x02, 0x01]);
    // auth: none in an ACL: that initiator needs no CHAP even though the target asks it of others.
    const none = await loginAs(MAPPED);
    expect(none.r.status).toEqual([0, 0]);
    await none.i.logout();
  });

  it("mutual CHAP from an ACL: the target proves the ACL's mutual secret", async () => {
    const { i, r } = await loginAs(MUTUAL, {
      chap: { user: ACL_USER, secret: ACL_SECRET, algorithms: [7], mutual: { user: MUTUAL_USER, secret: MUTUAL_SECRET } },
    });
    expect(r.status).toEqual([0, 0]);
    await i.logout();
  });
});

describe.skipIf(missing.length > 0)('libiscsi tools and ACLs', () => {
  const url = (lun: number) => `iscsi://127.0.0.1:${t.port}/${GUARDED}/${lun}`;

  it('iscsi-inq logs in with an initiator name in the ACL and is refused with one that is not', async () => {
    const ok = await run('iscsi-inq', ['-i', MAPPED, url(0)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/SCATTER/);
    const refused = await run('iscsi-inq', ['-i', STRANGER, url(0)]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/login/i);
  });

  it("iscsi-inq with the ACL's CHAP secret logs in; with the target's secret it is refused", async () => {
    const ok = await run('iscsi-inq', ['-i', OWN_CHAP, `iscsi://${ACL_USER}%${ACL_SECRET}@127.0.0.1:${t.port}/${GUARDED}/0`]);
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = await run('iscsi-inq', ['-i', OWN_CHAP, `iscsi://${TARGET_USER}%${TARGET_SECRET}@127.0.0.1:${t.port}/${GUARDED}/0`]);
    expect(wrong.code).not.toBe(0);
  });

  it('iscsi-ls discovery lists a guarded target only to initiators its ACL admits', async () => {
    const stranger = await run('iscsi-ls', ['-i', STRANGER, `iscsi://127.0.0.1:${t.port}`]);
    expect(stranger.code, stranger.stderr).toBe(0);
    expect(stranger.stdout).toContain(`Target:${OPEN}`);
    expect(stranger.stdout).not.toContain(GUARDED);
    const admitted = await run('iscsi-ls', ['-i', MAPPED, `iscsi://127.0.0.1:${t.port}`]);
    expect(admitted.code, admitted.stderr).toBe(0);
    expect(admitted.stdout).toContain(`Target:${GUARDED}`);
    expect(admitted.stdout).toContain(`Target:${OPEN}`);
  });

  it('iscsi-ls -s shows an initiator only its mapped LUNs, under its own numbers', async () => {
    const r = await run('iscsi-ls', ['-s', '-i', MAPPED, `iscsi://127.0.0.1:${t.port}`]);
    expect(r.code, r.stderr).toBe(0);
    const guarded = r.stdout.slice(r.stdout.indexOf(`Target:${GUARDED}`));
    const section = guarded.slice(0, guarded.indexOf('Target:', 1) > 0 ? guarded.indexOf('Target:', 1) : undefined);
    expect([...section.matchAll(/Lun:(\d+)/g)].map((m) => Number(m[1]))).toEqual([0, 3]);
  });
});

describe('LUN masking and mapping', () => {
  it('REPORT LUNS shows the mapped numbers; writes land in the mapped LU; unmapped LUNs are not supported', async () => {
    const { i, r } = await loginAs(MAPPED);
    expect(r.status).toEqual([0, 0]);
    expect(lunsOf((await i.command({ cdb: reportLuns(), read: 4096 })).data)).toEqual([0, 3]);
    // Clear the power-on unit attentions.
    for (const lun of [0, 3]) await i.command({ lun, cdb: testUnitReady() });
    const pattern = Buffer.alloc(512, 0xc3);
    expect((await i.command({ lun: 0, cdb: write10(5, 1), write: pattern })).status).toBe(0);
    expect((await i.command({ lun: 0, cdb: read10(5, 1), read: 512 })).data).toEqual(pattern);
    // LUN 0 of this initiator is LU 1: g1.img holds the block, g0.img does not.
    expect(readFileSync(join(t.dir, 'g1.img')).subarray(5 * 512, 6 * 512)).toEqual(pattern);
    expect(readFileSync(join(t.dir, 'g0.img')).subarray(5 * 512, 6 * 512).every((b) => b === 0)).toBe(true);
    // LU 2 exists in the target, but not for this initiator.
    const masked = await i.command({ lun: 2, cdb: testUnitReady() });
    expect(masked.status).toBe(2);
    expect(senseCodes(masked.sense)).toEqual([0x05, 0x25, 0x00]);
    expect((await i.command({ lun: 2, cdb: inquiry(36), read: 36 })).data[0]! >> 5).toBe(3);
    await i.logout();
  });

  it('a write through a read-only mapping is refused with DATA PROTECT, WRITE PROTECTED; reads work', async () => {
    const { i } = await loginAs(MAPPED);
    await i.command({ lun: 3, cdb: testUnitReady() });
    const w = await i.command({ lun: 3, cdb: write10(0, 1), write: Buffer.alloc(512, 0xee) });
    expect(w.status).toBe(2);
    expect(senseCodes(w.sense)).toEqual([0x07, 0x27, 0x00]);
    expect(readFileSync(join(t.dir, 'g0.img')).subarray(0, 512).every((b) => b === 0)).toBe(true);
    expect((await i.command({ lun: 3, cdb: read10(0, 1), read: 512 })).status).toBe(0);
    await i.logout();
  });
});

describe('live ACL changes (IscsiServer.setTargetAccess)', () => {
  it('a changed LUN map raises REPORTED LUNS DATA HAS CHANGED on the session and applies the new map', async () => {
    await t.scatter.iscsi.setTargetAccess(GUARDED, accessWith([...BASE_ACLS, changingAcl([{ lun: 0 }])]));
    const { i, r } = await loginAs(CHANGING);
    expect(r.status).toEqual([0, 0]);
    await i.command({ lun: 0, cdb: testUnitReady() });
    expect((await i.command({ lun: 0, cdb: testUnitReady() })).status).toBe(0);
    const result = await t.scatter.iscsi.setTargetAccess(GUARDED, accessWith([...BASE_ACLS, changingAcl([{ lun: 0 }, { lun: 2, as: 9 }])]));
    expect(result).toEqual({ updated: 1, ended: 0 });
    const ua = await i.command({ lun: 0, cdb: testUnitReady() });
    expect(ua.status).toBe(2);
    expect(senseCodes(ua.sense)).toEqual([0x06, 0x3f, 0x0e]);
    expect((await i.command({ lun: 0, cdb: testUnitReady() })).status).toBe(0);
    expect(lunsOf((await i.command({ cdb: reportLuns(), read: 4096 })).data)).toEqual([0, 9]);
    await i.logout();
  });

  it('removing the ACL asks the initiator to log out (Async Message event 1) and closes the session after the grace', async () => {
    await t.scatter.iscsi.setTargetAccess(GUARDED, accessWith([...BASE_ACLS, changingAcl([{ lun: 0 }])]));
    const { i, r } = await loginAs(CHANGING);
    expect(r.status).toEqual([0, 0]);
    const logoutRequest = i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x32 && p.bhs[36] === 1);
    const change = t.scatter.iscsi.setTargetAccess(GUARDED, accessWith(BASE_ACLS), 200);
    await logoutRequest;
    // The test initiator does not log out: the target closes the session once the grace is over.
    await i.waitClosed(5000);
    expect(await change).toEqual({ updated: 0, ended: 1 });
    expect(t.scatter.iscsi.sessions.all().some((s) => s.outcome.initiatorName === CHANGING)).toBe(false);
    // And it can no longer log in.
    expect((await loginAs(CHANGING)).r.status).toEqual([0x02, 0x02]);
  });

  it('an initiator that logs out when asked is gone before the grace ends; other sessions stay', async () => {
    await t.scatter.iscsi.setTargetAccess(GUARDED, accessWith([...BASE_ACLS, changingAcl([{ lun: 0 }])]));
    const leaving = await loginAs(CHANGING);
    const staying = await loginAs(MAPPED);
    const logoutRequest = leaving.i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x32 && p.bhs[36] === 1);
    const started = performance.now();
    // ACL mode stays on; CHANGING's ACL is gone. A long grace: the change completes when the initiator leaves.
    const change = t.scatter.iscsi.setTargetAccess(GUARDED, accessWith(BASE_ACLS), 60_000);
    await logoutRequest;
    expect(await leaving.i.logout()).toBe(0);
    expect(await change).toEqual({ updated: 1, ended: 1 });
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(t.scatter.iscsi.sessions.all().some((s) => s.outcome.initiatorName === CHANGING)).toBe(false);
    // The admitted session saw no change to its LUNs: no unit attention beyond its power-on one.
    await staying.i.command({ lun: 0, cdb: testUnitReady() });
    expect((await staying.i.command({ lun: 0, cdb: testUnitReady() })).status).toBe(0);
    await staying.i.logout();
  });

  it("a per-ACL CHAP change applies to the next login; open access lets the stranger in", async () => {
    const newSecret = 'acl-secret-rotated-1';
    await t.scatter.iscsi.setTargetAccess(GUARDED, accessWith([MAPPED_ACL, { ...OWN_CHAP_ACL, auth: { method: 'chap', user: ACL_USER, secret: newSecret } }]));
    expect((await loginAs(OWN_CHAP, { chap: { user: ACL_USER, secret: ACL_SECRET } })).r.status).toEqual([0x02, 0x01]);
    const ok = await loginAs(OWN_CHAP, { chap: { user: ACL_USER, secret: newSecret } });
    expect(ok.r.status).toEqual([0, 0]);
    await ok.i.logout();
    await t.scatter.iscsi.setTargetAccess(GUARDED, { allowAnyInitiator: true, acls: [] });
    const s = await loginAs(STRANGER, { chap: { user: TARGET_USER, secret: TARGET_SECRET } });
    expect(s.r.status).toEqual([0, 0]);
    expect(lunsOf((await s.i.command({ cdb: reportLuns(), read: 4096 })).data)).toEqual([0, 1, 2]);
    await s.i.logout();
    await t.scatter.iscsi.setTargetAccess(GUARDED, accessWith(BASE_ACLS));
  });
});
