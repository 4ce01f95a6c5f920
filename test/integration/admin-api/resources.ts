/**
 * The config resources of the admin API over real HTTP against a running target, with real
 * initiators (libiscsi tools) checking that what the API says happened did happen.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AdminClient, type AdminResponse } from '../../helpers/admin-client.js';
import { freePort } from '../../helpers/cli-proc.js';
import { capturingLogger, startTestTarget, TEST_IQN, type TestTarget } from '../../helpers/target.js';
import { run } from '../../helpers/tools.js';
import { TestInitiator } from '../../helpers/initiator.js';
import { Op } from '../../../src/iscsi/opcodes.js';

const NEW = 'iqn.2026-11.io.scatter:api-made';
const SECRET = 'api-test-secret-0123';
const enc = encodeURIComponent;

function send(admin: AdminClient, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminResponse> {
  return admin.request(method, path, {
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
  });
}

async function capacity(port: number, iqn: string, lun: number): Promise<number> {
  const r = await run('iscsi-readcapacity16', [`iscsi://127.0.0.1:${port}/${iqn}/${lun}`]);
  expect(r.code, r.stderr).toBe(0);
  return Number(/Total size:\s*(\d+)/.exec(r.stdout)?.[1]);
}

describe('admin API resources', () => {
  let t: TestTarget;
  let admin: AdminClient;
  const logs = capturingLogger();
  beforeAll(async () => {
    t = await startTestTarget(undefined, { log: logs.log });
    admin = AdminClient.of(t);
  });
  afterAll(() => t.stop());

  it('targets: create (201), converge (200, unchanged), read with ETag, patch, stale If-Match 412, create-only 412, delete', async () => {
    const body = { alias: 'made-by-api', auth: { method: 'chap', user: 'api-user', secret: SECRET } };
    const created = await send(admin, 'PUT', `/v1/targets/${enc(NEW)}`, body);
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({
      resource: { iqn: NEW, alias: 'made-by-api', auth: { method: 'chap', user: 'api-user', secretSet: true }, allowAnyInitiator: true, luns: [] },
      change: { changed: true, steps: [`add target ${NEW} with 0 LUN(s)`] },
    });
    const again = await send(admin, 'PUT', `/v1/targets/${enc(NEW)}`, body);
    expect(again.status).toBe(200);
    expect(again.json!.change).toMatchObject({ changed: false, steps: [] });
    expect((await run('iscsi-ls', [`iscsi://127.0.0.1:${t.port}`])).stdout).toContain(NEW);
    const list = await admin.get('/v1/targets');
    expect((list.json as unknown as { iqn: string }[]).map((x) => x.iqn)).toEqual([TEST_IQN, NEW]);

    const read = await admin.get(`/v1/targets/${enc(NEW)}`);
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(read.headers.get('etag')).toBe(created.headers.get('etag'));
    const patched = await send(admin, 'PATCH', `/v1/targets/${enc(NEW)}`, { alias: 'renamed' }, { 'if-match': etag });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json!.resource).toMatchObject({ alias: 'renamed', auth: { user: 'api-user' } });
    expect(patched.json!.change).toMatchObject({ steps: [`change target ${NEW}: alias`] });

    const stale = await send(admin, 'PATCH', `/v1/targets/${enc(NEW)}`, { alias: 'lost' }, { 'if-match': etag });
    expect(stale.status).toBe(412);
    expect(stale.json).toMatchObject({ type: 'https://scatter.dev/problems/precondition-failed' });
    const createOnly = await send(admin, 'PUT', `/v1/targets/${enc(NEW)}`, body, { 'if-none-match': '*' });
    expect(createOnly.status).toBe(412);
    const renamed = await send(admin, 'PUT', `/v1/targets/${enc(NEW)}`, { ...body, iqn: 'iqn.2026-11.io.scatter:other' });
    expect(renamed.status).toBe(409);

    expect((await admin.delete(`/v1/targets/${enc(NEW)}`)).status).toBe(204);
    expect((await admin.get(`/v1/targets/${enc(NEW)}`)).status).toBe(404);
    expect((await admin.delete(`/v1/targets/${enc(NEW)}`)).status).toBe(404);
    expect((await send(admin, 'PATCH', `/v1/targets/${enc(NEW)}`, { alias: 'x' })).status).toBe(404);
  });

  it('a target with a session is not deleted (409) unless force=true, which logs the session out first', async () => {
    expect((await send(admin, 'PUT', `/v1/targets/${enc(NEW)}`, {})).status).toBe(201);
    const ini = await TestInitiator.connect(t.port);
    expect((await ini.login({ targetName: NEW })).status).toEqual([0, 0]);
    const busy = await admin.delete(`/v1/targets/${enc(NEW)}`);
    expect(busy.status).toBe(409);
    expect(busy.json!.detail).toContain('1 session(s)');
    const logoutAsked = ini.waitFor((p) => p.bhs[0] === Op.ASYNC_MSG && p.bhs[36] === 1);
    const forced = admin.delete(`/v1/targets/${enc(NEW)}?force=true`);
    await logoutAsked;
    await ini.logout(); // the initiator does as asked
    expect((await forced).status).toBe(204);
    expect((await admin.get(`/v1/targets/${enc(NEW)}`)).status).toBe(404);
  });

  it('a bad body is a 400 naming the field and the rule; a bad result of a patch names the config field', async () => {
    const bad = await send(admin, 'PUT', `/v1/targets/${enc(NEW)}`, { auth: { method: 'chap', user: 'u', secret: 'short' } });
    expect(bad.status).toBe(400);
    expect(bad.json!.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'body.auth.secret', message: expect.stringContaining('at least 12 bytes') })]));
    const badLun = await send(admin, 'PUT', `/v1/targets/${enc(TEST_IQN)}/luns/5`, { backstore: 'no-such-backstore' });
    expect(badLun.status).toBe(400);
    expect(JSON.stringify(badLun.json!.errors)).toContain('no backstore named no-such-backstore');
  });

  it('LUNs: add a null LUN live, grow it by PATCH (the initiator sees the new capacity), a shrink is refused', async () => {
    const put = await send(admin, 'PUT', `/v1/targets/${enc(TEST_IQN)}/luns/7`, { backstore: { type: 'null', size: '16MiB' } });
    expect(put.status, put.text).toBe(201);
    expect(await capacity(t.port, TEST_IQN, 7)).toBe(16 * 1024 ** 2);
    const grown = await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}/luns/7`, { backstore: { size: '32MiB' } }, { 'content-type': 'application/merge-patch+json' });
    expect(grown.status, grown.text).toBe(200);
    expect(grown.json!.change).toMatchObject({ steps: [`grow ${TEST_IQN} LUN 7 to ${32 * 1024 ** 2} bytes`] });
    expect(await capacity(t.port, TEST_IQN, 7)).toBe(32 * 1024 ** 2);
    const shrink = await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}/luns/7`, { backstore: { size: '8MiB' } });
    expect(shrink.status).toBe(409);
    expect(shrink.json).toMatchObject({ type: 'https://scatter.dev/problems/refused' });
    expect(await capacity(t.port, TEST_IQN, 7)).toBe(32 * 1024 ** 2);
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}/luns`)).json).toEqual(expect.arrayContaining([expect.objectContaining({ lun: 7 })]));
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}/luns/7`)).json).toMatchObject({ lun: 7, backstore: { type: 'null', size: 32 * 1024 ** 2 } });
    expect((await admin.delete(`/v1/targets/${enc(TEST_IQN)}/luns/7`)).status).toBe(204);
    expect((await run('iscsi-readcapacity16', [`iscsi://127.0.0.1:${t.port}/${TEST_IQN}/7`])).code).not.toBe(0);
  });

  it('backstores: create, serve as a LUN, immutable type 409, delete while used 409, force removes the LUN too', async () => {
    const path = join(t.dir, 'api-disk.img');
    const b = await send(admin, 'PUT', '/v1/backstores/api-disk', { type: 'file', path, size: '8MiB' });
    expect(b.status, b.text).toBe(201);
    expect((await admin.get('/v1/backstores')).json).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'api-disk' })]));
    expect((await send(admin, 'PUT', `/v1/targets/${enc(TEST_IQN)}/luns/9`, { backstore: 'api-disk' })).status).toBe(201);
    expect(await capacity(t.port, TEST_IQN, 9)).toBe(8 * 1024 ** 2);
    expect((await admin.get('/v1/backstores/api-disk')).json).toMatchObject({ usedBy: { target: TEST_IQN, lun: 9 } });
    const grown = await send(admin, 'PATCH', '/v1/backstores/api-disk', { size: '12MiB' });
    expect(grown.status, grown.text).toBe(200);
    expect(await capacity(t.port, TEST_IQN, 9)).toBe(12 * 1024 ** 2);
    const retype = await send(admin, 'PUT', '/v1/backstores/api-disk', { type: 'null', size: '12MiB' });
    expect(retype.status).toBe(409);
    expect(retype.json!.detail).toContain('type cannot change');
    expect((await admin.delete('/v1/backstores/api-disk')).status).toBe(409);
    expect((await admin.delete('/v1/backstores/api-disk?force=true')).status).toBe(204);
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}/luns/9`)).status).toBe(404);
    expect(readFileSync(path).length).toBe(12 * 1024 ** 2); // the data stays on disk
  });

  it('ACLs: the first one ends allowAnyInitiator; the secret is write-only; removing it restores nothing by itself', async () => {
    const ini = 'iqn.2026-11.io.scatter.test:api-acl';
    const put = await send(admin, 'PUT', `/v1/targets/${enc(TEST_IQN)}/acls/${enc(ini)}`, {
      auth: { method: 'chap', user: 'acl-user', secret: SECRET },
      luns: [{ lun: 1, as: 0, readOnly: true }],
    });
    expect(put.status, put.text).toBe(201);
    expect(put.json!.resource).toMatchObject({ initiator: ini, auth: { method: 'chap', secretSet: true }, luns: [{ lun: 1, as: 0, readOnly: true }] });
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}`)).json).toMatchObject({ allowAnyInitiator: false });
    // A stranger is refused now (the target is in ACL mode).
    const stranger = await run('iscsi-inq', ['-i', 'iqn.2026-11.io.scatter.test:stranger', `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`]);
    expect(stranger.code).not.toBe(0);
    const patched = await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}/acls/${enc(ini)}`, { luns: null });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json!.resource).not.toHaveProperty('luns');
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}/acls`)).json).toHaveLength(1);
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}/acls/${enc(ini)}`)).status).toBe(200);
    expect((await admin.delete(`/v1/targets/${enc(TEST_IQN)}/acls/${enc(ini)}`)).status).toBe(204);
    expect((await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { allowAnyInitiator: true })).status).toBe(200);
    expect((await run('iscsi-inq', [`iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`])).code).toBe(0);
  });

  it('portals: one added live accepts discovery, removed it refuses connections; the last portal cannot go', async () => {
    const port = await freePort();
    const id = enc(`127.0.0.1:${port}`);
    expect((await send(admin, 'PUT', `/v1/portals/${id}`)).status).toBe(201);
    expect((await run('iscsi-ls', [`iscsi://127.0.0.1:${port}`])).stdout).toContain(TEST_IQN);
    expect((await admin.get('/v1/portals')).json).toEqual(expect.arrayContaining([{ host: '127.0.0.1', port }]));
    expect((await admin.delete(`/v1/portals/${id}`)).status).toBe(204);
    expect((await run('iscsi-ls', [`iscsi://127.0.0.1:${port}`])).code).not.toBe(0);
    const last = await admin.delete(`/v1/portals/${enc(`127.0.0.1:${t.port}`)}`);
    expect(last.status).toBe(409);
    expect((await admin.delete(`/v1/portals/not-a-portal`)).status).toBe(400);
  });

  it('discovery auth and iSCSI parameters: set live, restart-only keys reported as such', async () => {
    const set = await send(admin, 'PUT', '/v1/discovery-auth', { method: 'chap', user: 'disc', secret: SECRET });
    expect(set.status, set.text).toBe(200);
    expect(set.json!.resource).toMatchObject({ method: 'chap', user: 'disc', secretSet: true, mutualSecretSet: false });
    expect(set.text).not.toContain(SECRET);
    expect((await run('iscsi-ls', [`iscsi://127.0.0.1:${t.port}`])).code).not.toBe(0); // discovery now needs CHAP
    expect((await send(admin, 'PUT', '/v1/discovery-auth', { method: 'none' })).status).toBe(200);
    expect((await admin.get('/v1/discovery-auth')).json).toEqual({ method: 'none' });
    const patched = await send(admin, 'PATCH', '/v1/iscsi', { maxBurstLength: '512KiB', firstBurstLength: '64KiB', maxCmdWindow: 64 });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json!.change).toMatchObject({ needsRestart: ['iscsi.maxCmdWindow changed'] });
    expect((await admin.get('/v1/iscsi')).json).toMatchObject({ maxBurstLength: 512 * 1024, maxCmdWindow: 64 });
    expect((await admin.get('/v1/config')).json).toMatchObject({ pendingRestart: ['iscsi.maxCmdWindow changed'] });
  });

  it('the whole config: read redacted, replaced with a dry run (nothing applied), then for real; secrets never in an answer or a log line', async () => {
    await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { auth: { method: 'chap', user: 'whole', secret: SECRET } });
    const got = await admin.get('/v1/config');
    expect(got.status).toBe(200);
    expect(got.text).not.toContain(SECRET);
    const config = got.json!.config as { targets: { iqn: string; auth: Record<string, unknown> }[] };
    expect(config.targets[0]!.auth).toMatchObject({ method: 'chap', user: 'whole', secretSet: true });
    // Send back the config with a new target, the secret given again (write-only).
    const next = structuredClone(config) as Record<string, unknown> & typeof config;
    next.targets[0]!.auth = { method: 'chap', user: 'whole', secret: SECRET };
    next.targets.push({ iqn: NEW, auth: { method: 'none' } } as (typeof config.targets)[number]);
    const dry = await send(admin, 'PUT', '/v1/config?dryRun=true', next, { 'if-match': got.headers.get('etag')! });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.json!.change).toMatchObject({ dryRun: true, steps: [`add target ${NEW} with 0 LUN(s)`] });
    expect((await admin.get(`/v1/targets/${enc(NEW)}`)).status).toBe(404);
    const real = await send(admin, 'PUT', '/v1/config', next, { 'if-match': got.headers.get('etag')! });
    expect(real.status, real.text).toBe(200);
    expect((await admin.get(`/v1/targets/${enc(NEW)}`)).status).toBe(200);
    const stale = await send(admin, 'PUT', '/v1/config', next, { 'if-match': got.headers.get('etag')! });
    expect(stale.status).toBe(412);
    const invalid = await send(admin, 'PUT', '/v1/config', { targets: [{ iqn: 'not an iqn' }] });
    expect(invalid.status).toBe(400);
    expect(JSON.stringify(invalid.json!.errors)).toContain('body.targets[0].iqn');
    expect((await admin.get('/v1/config/backups')).json).toEqual([]); // started without a file
    expect(JSON.stringify(logs.lines)).not.toContain(SECRET);
    await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { auth: { method: 'none' } });
  });

  it('every resource: PUT twice is 201 then 200 with nothing changed; a missing one is 404 to GET, PATCH and DELETE', async () => {
    const ini = 'iqn.2026-11.io.scatter.test:converge';
    const port = await freePort();
    const resources: [string, unknown][] = [
      ['/v1/backstores/converge-null', { type: 'null', size: '4MiB' }],
      [`/v1/targets/${enc(TEST_IQN)}/luns/11`, { backstore: 'converge-null' }],
      [`/v1/targets/${enc(TEST_IQN)}/acls/${enc(ini)}`, { luns: [{ lun: 11 }] }],
      [`/v1/portals/${enc(`127.0.0.1:${port}`)}`, undefined],
    ];
    for (const [path, body] of resources) {
      const first = await send(admin, 'PUT', path, body);
      expect(first.status, `${path}: ${first.text}`).toBe(201);
      const second = await send(admin, 'PUT', path, body);
      expect(second.status, path).toBe(200);
      expect(second.json!.change, path).toMatchObject({ changed: false, steps: [] });
      expect(second.headers.get('etag'), path).toBe(first.headers.get('etag'));
    }
    for (const [path] of [...resources].reverse()) expect((await admin.delete(path)).status, path).toBe(204);
    await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { allowAnyInitiator: true });
    for (const [path] of resources) {
      expect((await admin.get(path)).status, path).toBe(404);
      expect((await admin.delete(path)).status, path).toBe(404);
      if (!path.startsWith('/v1/portals')) expect((await send(admin, 'PATCH', path, {})).status, path).toBe(404);
    }
  });

  it('two clients racing PATCH with the same If-Match: exactly one wins, the other gets 412', async () => {
    const etag = (await admin.get(`/v1/targets/${enc(TEST_IQN)}`)).headers.get('etag')!;
    const [a, b] = await Promise.all([
      send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { alias: 'client-a' }, { 'if-match': etag }),
      send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { alias: 'client-b' }, { 'if-match': etag }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const winner = a.status === 200 ? 'client-a' : 'client-b';
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}`)).json).toMatchObject({ alias: winner });
  });
});

describe('admin API changes persisted to the config file', () => {
  let t: TestTarget;
  let file: string;
  beforeAll(async () => {
    let raw: Record<string, unknown> = {};
    t = await startTestTarget(
      (r, dir) => {
        raw = r;
        file = join(dir, 'scatter.yaml');
      },
      {
        start: {
          get configPath() {
            writeFileSync(file, `# operator's comment, kept\n${stringify(raw)}`);
            return file;
          },
        },
      },
    );
  });
  afterAll(() => t.stop());

  it('a change is written to the file (comments kept) with a backup beside it', async () => {
    const admin = AdminClient.of(t);
    expect((await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { alias: 'persisted' })).status).toBe(200);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain("# operator's comment, kept");
    expect(text).toContain('alias: persisted');
    const backups = await admin.get('/v1/config/backups');
    expect(backups.json).toHaveLength(1);
  });

  it('an edit made on disk is not overwritten: the API answers 409 config-file-changed until the file is reloaded', async () => {
    const admin = AdminClient.of(t);
    writeFileSync(file, readFileSync(file, 'utf8').replace('alias: persisted', 'alias: edited-by-hand'));
    const refused = await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { alias: 'from-the-api' });
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ type: 'https://scatter.dev/problems/config-file-changed' });
    expect(readFileSync(file, 'utf8')).toContain('alias: edited-by-hand');
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}`)).json).toMatchObject({ alias: 'persisted' });
    await t.scatter.reload(); // what SIGHUP does
    expect((await admin.get(`/v1/targets/${enc(TEST_IQN)}`)).json).toMatchObject({ alias: 'edited-by-hand' });
    expect((await send(admin, 'PATCH', `/v1/targets/${enc(TEST_IQN)}`, { alias: 'from-the-api' })).status).toBe(200);
    expect(readFileSync(file, 'utf8')).toContain('alias: from-the-api');
  });
});
