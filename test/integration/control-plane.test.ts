/**
 * The control plane over a real running target: targets and portals added and removed live, seen
 * by real initiators (libiscsi tools and the test initiator); a change that fails anywhere is
 * undone whole; a change that cannot be written is undone too.
 */
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { toFileForm } from '../../src/config/file-form.js';
import { ApplyError } from '../../src/control/apply.js';
import { PersistError } from '../../src/control/control-plane.js';
import { Op } from '../../src/iscsi/opcodes.js';
import { freePort } from '../helpers/cli-proc.js';
import { TestInitiator } from '../helpers/initiator.js';
import { startTestTarget, TEST_IQN, type TestTarget } from '../helpers/target.js';
import { missingTools, run } from '../helpers/tools.js';

const NEW_IQN = 'iqn.2026-11.io.scatter:added';
let t: TestTarget | undefined;

afterEach(async () => {
  await t?.stop();
  t = undefined;
});

beforeAll(() => {
  const missing = missingTools(['iscsi-ls', 'iscsi-readcapacity16']);
  if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')}`);
});

/** `edit` works on the file form of the desired config (what the API edits); returns the validated result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test edits the raw file form freely
type Raw = Record<string, any>;

function edited(desired: Config, edit: (raw: Raw) => void): Config {
  const raw = structuredClone(toFileForm(desired)) as Raw;
  edit(raw);
  return validateConfig(raw, 'test');
}

async function discovered(port: number): Promise<string> {
  const r = await run('iscsi-ls', [`iscsi://127.0.0.1:${port}`]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe('control plane: live targets and portals', () => {
  it('a target added live is discovered and serves its LUN; removed, its session is asked to log out and it is gone', async () => {
    t = await startTestTarget();
    const { control } = t.scatter;
    const result = await control.change((d) =>
      edited(d, (raw) => raw.targets.push({ iqn: NEW_IQN, luns: [{ lun: 0, backstore: { type: 'null', size: '32MiB' } }] })),
    );
    expect(result).toMatchObject({ changed: true, steps: [`add target ${NEW_IQN} with 1 LUN(s)`], needsRestart: [] });
    expect(await discovered(t.port)).toContain(NEW_IQN);
    const cap = await run('iscsi-readcapacity16', [`iscsi://127.0.0.1:${t.port}/${NEW_IQN}/0`]);
    expect(cap.stdout).toMatch(/Total size:\s*33554432/);

    const ini = await TestInitiator.connect(t.port);
    expect((await ini.login({ targetName: NEW_IQN })).status).toEqual([0, 0]);
    const logoutAsked = ini.waitFor((p) => p.bhs[0]! === Op.ASYNC_MSG && p.bhs[36] === 1);
    const removal = control.change((d) => edited(d, (raw) => (raw.targets = raw.targets.filter((x: { iqn: string }) => x.iqn !== NEW_IQN))));
    await logoutAsked;
    await ini.waitClosed();
    expect((await removal).steps).toEqual([`remove target ${NEW_IQN} (its sessions are logged out)`]);
    expect(await discovered(t.port)).not.toContain(NEW_IQN);
    const again = await TestInitiator.connect(t.port);
    expect((await again.login({ targetName: NEW_IQN })).status).toEqual([2, 3]); // target not found
    again.close();
  });

  it('a portal added live accepts logins; removed, it refuses connections', async () => {
    t = await startTestTarget();
    const port = await freePort();
    await t.scatter.control.change((d) => edited(d, (raw) => raw.iscsi.portals.push({ host: '127.0.0.1', port })));
    expect(await discovered(port)).toContain(TEST_IQN);
    await t.scatter.control.change((d) => edited(d, (raw) => (raw.iscsi.portals = raw.iscsi.portals.filter((p: { port: number }) => p.port !== port))));
    await expect(TestInitiator.connect(port)).rejects.toThrow(/ECONNREFUSED/);
    expect(await discovered(t.port)).toContain(TEST_IQN);
  });

  it('a portal that cannot be bound fails the change: nothing of it is applied, the revision stays', async () => {
    t = await startTestTarget();
    const { control } = t.scatter;
    const before = control.revision;
    // Another program holds this address.
    const squatter = createServer();
    const port = await new Promise<number>((resolve) => squatter.listen(0, '127.0.0.1', () => resolve((squatter.address() as AddressInfo).port)));
    const failure = await control
      .change((d) =>
        edited(d, (raw) => {
          raw.targets.push({ iqn: NEW_IQN, luns: [{ lun: 0, backstore: { type: 'null', size: '1MiB' } }] });
          raw.iscsi.portals.push({ host: '127.0.0.1', port });
        }),
      )
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplyError);
    squatter.close();
    expect((failure as ApplyError).step).toBe(`serve portal 127.0.0.1:${port}`);
    expect((failure as ApplyError).reason).toMatch(/EADDRINUSE/);
    expect(control.revision).toBe(before);
    expect(await discovered(t.port)).not.toContain(NEW_IQN);
  });

  it('a backing file that cannot be created fails the change and leaves the running target as it was', async () => {
    t = await startTestTarget();
    const { control } = t.scatter;
    const failure = await control
      .change((d) =>
        edited(d, (raw) => {
          raw.targets.push({ iqn: NEW_IQN, luns: [{ lun: 0, backstore: { type: 'null', size: '1MiB' } }] });
          raw.targets[0].luns.push({ lun: 2, backstore: { type: 'file', path: join(t!.dir, 'lun0.img', 'not-a-directory.img'), size: '1MiB' } });
        }),
      )
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplyError);
    expect((failure as ApplyError).step).toBe(`add ${TEST_IQN} LUN 2 (file)`);
    expect(await discovered(t.port)).not.toContain(NEW_IQN);
    expect(t.scatter.lunRegistry.get(TEST_IQN, 2)).toBeUndefined();
  });

  it('a change that cannot be persisted is undone', async () => {
    t = await startTestTarget();
    const { control } = t.scatter;
    // Swap in a persistence that fails (what a full disk or a read-only /etc does).
    Object.assign(control, {
      opts: { ...(control as unknown as { opts: object }).opts, persistence: { reread: () => Promise.reject(new Error('x')), commit: () => Promise.reject(new Error('ENOSPC: no space left on device')) } },
    });
    const failure = await control
      .change((d) => edited(d, (raw) => raw.targets.push({ iqn: NEW_IQN, luns: [{ lun: 0, backstore: { type: 'null', size: '1MiB' } }] })))
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(PersistError);
    expect(String(failure)).toContain('ENOSPC');
    expect(await discovered(t.port)).not.toContain(NEW_IQN);
  });
});
