/**
 * The built `scatter` admin subcommands as real processes against a recording HTTP server on
 * 127.0.0.1: the exact request each one sends, what it prints, and how it exits.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLI, startCli } from '../helpers/cli-proc.js';
import { FakeAdminApi, problem } from '../helpers/fake-admin-api.js';

const IQN = 'iqn.2026-11.io.scatter:t1';
const EIQN = encodeURIComponent(IQN); // iqn.2026-11.io.scatter%3At1
const INIT = 'iqn.1993-08.org.debian:01:host1';
const TOKEN = 'tok-3f9a1c0b7e5d4a2c9b8e';
const change = (steps: string[], extra: Record<string, unknown> = {}) => ({ revision: 8, changed: true, steps, needsRestart: [], warnings: [], ...extra });

const TARGET = {
  iqn: IQN,
  alias: 'web',
  auth: { method: 'chap', user: 'alice', algorithms: [7, 5], secretSet: true, mutualSecretSet: false },
  allowAnyInitiator: false,
  luns: [
    { lun: 0, backstore: 'disk1' },
    { lun: 1, backstore: { type: 'null', size: 512 * 2 ** 20 }, readOnly: true },
  ],
  acls: [{ initiator: INIT, luns: [{ lun: 0 }, { lun: 1, as: 2, readOnly: true }] }],
};
const BACKSTORES = [
  { name: 'disk1', type: 'file', path: '/srv/disk1.img', size: 10 * 2 ** 30, usedBy: { target: IQN, lun: 0 } },
  { name: 'spare', type: 'file', path: '/srv/spare.img', size: 1.5 * 2 ** 30 + 512 } // no exact unit: shown rounded,
];
// As GET /v1/sessions answers them (src/admin/routes/sessions.ts), trimmed to what the CLI reads.
const SESSIONS = [
  {
    id: 3, tsih: 3, isid: '023d00000001', initiatorName: INIT, initiatorAlias: null, sourceAddress: '10.0.0.5', sourcePort: 51000, target: IQN,
    sessionType: 'Normal', connections: [{ cid: 0 }], params: {}, counters: { commands: 10, readBytes: 4 * 2 ** 20, writtenBytes: 0 }, ageSeconds: 125,
  },
  {
    id: 4, tsih: 4, isid: '023d00000002', initiatorName: INIT, initiatorAlias: null, sourceAddress: '10.0.0.5', sourcePort: 51001, target: null,
    sessionType: 'Discovery', connections: [], params: {}, counters: {}, ageSeconds: 5,
  },
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('scatter admin subcommands (the built CLI against a recording HTTP server)', () => {
  let api: FakeAdminApi;
  let dir: string;
  let tokenFile: string;

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
  });
  beforeEach(async () => {
    api = await new FakeAdminApi().start();
    dir = mkdtempSync(join(tmpdir(), 'scatter-cli-admin-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
  });
  afterEach(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The CLI in `cwd` (a temp dir with no config unless a test writes one), with only the env given. */
  async function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string; connect?: boolean } = {}): Promise<Run> {
    const connect = opts.connect === false ? [] : ['--url', api.url, '--token-file', tokenFile];
    const p = startCli([...connect, ...args], { env: { PATH: process.env.PATH ?? '', HOME: dir, ...opts.env }, cwd: opts.cwd ?? dir });
    const code = await p.exited;
    // Whatever the command, the token never shows up in what it prints.
    expect(p.stdout + p.stderr).not.toContain(TOKEN);
    return { code, stdout: p.stdout, stderr: p.stderr };
  }

  const only = () => {
    expect(api.requests).toHaveLength(1);
    return api.requests[0]!;
  };

  describe('the requests sent', () => {
    it('target create: PUT create-only with the bearer token, "created" and the change steps', async () => {
      api.on('PUT', `/v1/targets/${EIQN}`, { status: 201, etag: '"8"', body: { resource: { ...TARGET, luns: [], acls: [] }, change: change(['add target ' + IQN]) } });
      const r = await cli(['target', 'create', IQN, '--alias', 'web']);
      expect(r.code).toBe(0);
      const req = only();
      expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(req.headers['if-none-match']).toBe('*');
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.body).toEqual({ alias: 'web' });
      expect(r.stdout).toBe(`created target ${IQN}\n  add target ${IQN}\n  revision 8\n`);
    });

    it('lun add with a named backstore: PUT .../luns/0 with exactly {"lun":0,"backstore":"disk1"}', async () => {
      api.on('PUT', `/v1/targets/${EIQN}/luns/0`, { status: 201, body: { resource: { lun: 0, backstore: 'disk1' }, change: change(['add LUN 0']) } });
      const r = await cli(['lun', 'add', IQN, '0', '--backstore', 'disk1']);
      expect(r.code).toBe(0);
      expect(only()).toMatchObject({ method: 'PUT', url: `/v1/targets/${EIQN}/luns/0`, body: { lun: 0, backstore: 'disk1' } });
      expect(JSON.stringify(only().body)).toBe('{"lun":0,"backstore":"disk1"}');
    });

    it('lun add with an inline file backstore passes the size through as typed', async () => {
      api.on('PUT', `/v1/targets/${EIQN}/luns/3`, { status: 201, body: { resource: {}, change: change([]) } });
      const r = await cli(['lun', 'add', IQN, '3', '--file', '/srv/x.img', '--size', '10G', '--thin', '--no-write-cache', '--read-only']);
      expect(r.code).toBe(0);
      expect(only().body).toEqual({ lun: 3, backstore: { type: 'file', path: '/srv/x.img', size: '10G', writeCache: false, thin: true }, readOnly: true });
    });

    it('lun resize of an inline backstore: GET the LUN, then a merge PATCH of the LUN with If-Match', async () => {
      api.on('GET', `/v1/targets/${EIQN}/luns/1`, { status: 200, etag: '"7"', body: TARGET.luns[1] });
      api.on('PATCH', `/v1/targets/${EIQN}/luns/1`, { status: 200, body: { resource: {}, change: change(['grow LUN 1 to 20GiB']) } });
      const r = await cli(['lun', 'resize', IQN, '1', '20G', '--if-match', '7']);
      expect(r.code).toBe(0);
      const patch = api.requests[1]!;
      expect(patch.method).toBe('PATCH');
      expect(patch.headers['content-type']).toBe('application/merge-patch+json');
      expect(patch.headers['if-match']).toBe('"7"');
      expect(patch.body).toEqual({ backstore: { size: '20G' } });
      expect(r.stdout).toContain('updated LUN 1');
    });

    it('lun resize of a named backstore PATCHes the backstore', async () => {
      api.on('GET', `/v1/targets/${EIQN}/luns/0`, { status: 200, body: TARGET.luns[0] });
      api.on('PATCH', '/v1/backstores/disk1', { status: 200, body: { resource: BACKSTORES[0], change: change(['grow disk1']) } });
      const r = await cli(['lun', 'resize', IQN, '0', '20G']);
      expect(r.code).toBe(0);
      expect(api.requests.map((q) => `${q.method} ${q.url}`)).toEqual([`GET /v1/targets/${EIQN}/luns/0`, 'PATCH /v1/backstores/disk1']);
      expect(api.requests[1]!.body).toEqual({ size: '20G' });
      expect(api.requests[1]!.headers['if-match']).toBeUndefined();
    });

    it('backstore create / delete --force; target delete --force; lun remove; session kill', async () => {
      api.on('PUT', '/v1/backstores/disk2', { status: 201, body: { resource: {}, change: change([]) } });
      api.on('DELETE', '/v1/backstores/disk2?force=true', { status: 204 });
      api.on('DELETE', `/v1/targets/${EIQN}?force=true`, { status: 204 });
      api.on('DELETE', `/v1/targets/${EIQN}/luns/2`, { status: 204 });
      api.on('DELETE', '/v1/sessions/3', { status: 204 });
      expect((await cli(['backstore', 'create', 'disk2', '--null', '--size', '512M', '--block-size', '4096'])).code).toBe(0);
      expect(api.requests[0]!.body).toEqual({ name: 'disk2', type: 'null', size: '512M', blockSize: 4096 });
      expect(api.requests[0]!.headers['if-none-match']).toBe('*');
      const del = await cli(['backstore', 'delete', 'disk2', '--force']);
      expect([del.code, del.stdout]).toEqual([0, 'deleted backstore disk2\n']);
      expect((await cli(['target', 'delete', IQN, '--force'])).code).toBe(0);
      expect((await cli(['lun', 'remove', IQN, '2', '--if-match', '"9"'])).code).toBe(0);
      expect(api.requests[3]!.headers['if-match']).toBe('"9"');
      const kill = await cli(['--json', 'session', 'kill', '3']);
      expect([kill.code, kill.stdout]).toEqual([0, '']);
      expect(api.requests.map((q) => `${q.method} ${q.url}`)).toEqual([
        'PUT /v1/backstores/disk2',
        'DELETE /v1/backstores/disk2?force=true',
        `DELETE /v1/targets/${EIQN}?force=true`,
        `DELETE /v1/targets/${EIQN}/luns/2`,
        'DELETE /v1/sessions/3',
      ]);
    });

    it('acl add maps LUNs (as another number, read-only); acl remove', async () => {
      api.on('PUT', `/v1/targets/${EIQN}/acls/${encodeURIComponent(INIT)}`, { status: 201, body: { resource: {}, change: change([]) } });
      api.on('DELETE', `/v1/targets/${EIQN}/acls/${encodeURIComponent(INIT)}`, { status: 204 });
      expect((await cli(['acl', 'add', IQN, INIT, '--map', '0', '--map', '1:2:ro'])).code).toBe(0);
      expect(api.requests[0]!.body).toEqual({ initiator: INIT, luns: [{ lun: 0 }, { lun: 1, as: 2, readOnly: true }] });
      expect((await cli(['acl', 'remove', IQN, INIT])).code).toBe(0);
    });

    it('chap set: secret from a file, mutual from the environment, a merge patch that replaces the whole auth; never printed', async () => {
      const secretFile = join(dir, 'secret');
      writeFileSync(secretFile, 'initiator-secret-12\n');
      api.on('PATCH', `/v1/targets/${EIQN}`, { status: 200, body: { resource: { ...TARGET, auth: { method: 'chap', user: 'alice', secretSet: true } }, change: change(['target auth']) } });
      const r = await cli(['--json', 'chap', 'set', IQN, '--user', 'alice', '--secret-file', secretFile, '--mutual-user', 'tgt', '--algorithms', 'sha256,5'], {
        env: { SCATTER_CHAP_MUTUAL_SECRET: 'target-secret-345' },
      });
      expect(r.code).toBe(0);
      expect(only().headers['content-type']).toBe('application/merge-patch+json');
      expect(only().body).toEqual({ auth: { method: 'chap', user: 'alice', secret: 'initiator-secret-12', mutualUser: 'tgt', mutualSecret: 'target-secret-345', algorithms: [7, 5] } });
      expect(JSON.parse(r.stdout)).toMatchObject({ change: { changed: true } });
      expect(r.stdout + r.stderr).not.toMatch(/initiator-secret-12|target-secret-345/);
    });

    it("chap set --initiator targets the ACL; unset mutual CHAP is removed with null; chap clear; --discovery", async () => {
      const acl = `/v1/targets/${EIQN}/acls/${encodeURIComponent(INIT)}`;
      api.on('PATCH', acl, { status: 200, body: { resource: {}, change: change([]) } });
      api.on('PATCH', `/v1/targets/${EIQN}`, { status: 200, body: { resource: {}, change: change([]) } });
      api.on('PUT', '/v1/discovery-auth', { status: 200, body: { resource: {}, change: change([]) } });
      expect((await cli(['chap', 'set', IQN, '--initiator', INIT, '--user', 'bob'], { env: { SCATTER_CHAP_SECRET: 'bob-secret-000' } })).code).toBe(0);
      expect(api.requests[0]!.url).toBe(acl);
      expect(api.requests[0]!.body).toEqual({ auth: { method: 'chap', user: 'bob', secret: 'bob-secret-000', mutualUser: null, mutualSecret: null, algorithms: null } });
      expect((await cli(['chap', 'clear', IQN, '--initiator', INIT])).code).toBe(0);
      expect(api.requests[1]!.body).toEqual({ auth: null });
      expect((await cli(['chap', 'clear', IQN])).code).toBe(0);
      expect(api.requests[2]!.body).toEqual({ auth: { method: 'none', user: null, secret: null, mutualUser: null, mutualSecret: null, algorithms: null } });
      expect((await cli(['chap', 'set', '--discovery', '--user', 'd', '--secret', 'discovery-secret'])).code).toBe(0);
      expect(api.requests[3]).toMatchObject({ method: 'PUT', url: '/v1/discovery-auth', body: { method: 'chap', user: 'd', secret: 'discovery-secret' } });
    });

    it('portal add / remove: IPv6 in brackets, URL-encoded; port 3260 by default', async () => {
      api.on('PUT', '/v1/portals/%5B%3A%3A1%5D%3A3260', { status: 201, body: { resource: { host: '::1', port: 3260 }, change: change([]) } });
      api.on('DELETE', '/v1/portals/0.0.0.0%3A3261', { status: 204 });
      expect((await cli(['portal', 'add', '[::1]'])).code).toBe(0);
      expect(api.requests[0]!.body).toEqual({ host: '::1', port: 3260 });
      expect((await cli(['portal', 'remove', '0.0.0.0:3261'])).code).toBe(0);
    });

    it('config apply FILE --dry-run sends the YAML file as JSON to PUT /v1/config?dryRun=true', async () => {
      const file = join(dir, 'new.yaml');
      writeFileSync(file, 'logLevel: debug\ntargets:\n  - iqn: iqn.2026-11.io.scatter:a\n    luns: []\n');
      api.on('PUT', '/v1/config?dryRun=true', { status: 200, body: { change: change(['add target iqn.2026-11.io.scatter:a'], { dryRun: true }) } });
      const r = await cli(['config', 'apply', file, '--dry-run']);
      expect(r.code).toBe(0);
      expect(only().body).toEqual({ logLevel: 'debug', targets: [{ iqn: 'iqn.2026-11.io.scatter:a', luns: [] }] });
      expect(r.stdout).toBe('dry run, nothing applied: the plan\n  would add target iqn.2026-11.io.scatter:a\n');
    });
  });

  describe('what it prints', () => {
    beforeEach(() => {
      api.on('GET', '/v1/targets', { status: 200, body: [TARGET] });
      api.on('GET', `/v1/targets/${EIQN}`, { status: 200, etag: '"8"', body: TARGET });
      api.on('GET', '/v1/backstores', { status: 200, body: BACKSTORES });
      api.on('GET', '/v1/portals', { status: 200, body: [{ host: '0.0.0.0', port: 3260 }, { host: '::1', port: 3260 }] });
      api.on('GET', '/v1/sessions', { status: 200, body: { sessions: SESSIONS } });
    });

    it('target list: a table by default, the API data with --json and -o yaml', async () => {
      const t = await cli(['target', 'list']);
      expect(t.code).toBe(0);
      expect(t.stdout).toBe(
        'IQN                        ALIAS  AUTH             INITIATORS  LUNS  ACLS\n' +
          'iqn.2026-11.io.scatter:t1  web    chap user=alice  acl         2     1\n',
      );
      const j = await cli(['target', 'list', '--json']);
      expect(JSON.parse(j.stdout)).toEqual([TARGET]);
      const y = await cli(['-o', 'yaml', 'target', 'list']);
      expect(parse(y.stdout)).toEqual([TARGET]);
    });

    it('backstore list shows sizes as 10G / 1.5G and who uses each', async () => {
      const r = await cli(['backstore', 'list']);
      expect(r.stdout).toBe(
        'NAME   TYPE  SIZE  PATH            USED BY\n' +
          `disk1  file  10G   /srv/disk1.img  ${IQN} LUN 0\n` +
          'spare  file  1.5G  /srv/spare.img  -\n',
      );
    });

    it('target show: fields, LUNs with sizes (512M), ACLs with mapped LUNs', async () => {
      const r = await cli(['target', 'show', IQN]);
      expect(r.stdout).toBe(
        [
          `iqn:        ${IQN}`,
          'alias:      web',
          'auth:       chap user=alice',
          'initiators: ACL only',
          'etag:       "8"',
          '',
          'LUNs:',
          '  LUN  BACKSTORE  TYPE  SIZE  PATH  MODE',
          '  0    disk1      -     -     -     rw',
          '  1    (inline)   null  512M  -     ro',
          '',
          'ACLs:',
          '  INITIATOR                        AUTH    MAPPED LUNS',
          `  ${INIT}  target  0, 1->2 (ro)`,
          '',
        ].join('\n'),
      );
    });

    it('ls: the whole tree like targetcli ls', async () => {
      const r = await cli(['ls']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        [
          'o- targets [1]',
          `| o- ${IQN} [web, auth chap user=alice, ACL only, 1 session]`,
          '|   o- luns [2]',
          '|   | o- lun0 [disk1 (file /srv/disk1.img), 10G]',
          '|   | o- lun1 [(inline) (null), 512M, ro]',
          '|   o- acls [1]',
          `|     o- ${INIT} [auth target, luns 0, 1->2 (ro)]`,
          'o- backstores [2]',
          `| o- disk1 [file /srv/disk1.img, 10G, used by ${IQN} lun0]`,
          '| o- spare [file /srv/spare.img, 1.5G, unused]',
          'o- portals [2]',
          '| o- 0.0.0.0:3260',
          '| o- [::1]:3260',
          'o- sessions [2]',
          '',
        ].join('\n'),
      );
      const j = await cli(['ls', '--json']);
      expect(JSON.parse(j.stdout)).toEqual({ targets: [TARGET], backstores: BACKSTORES, portals: [{ host: '0.0.0.0', port: 3260 }, { host: '::1', port: 3260 }], sessions: SESSIONS });
    });

    it('session list (filtered by target), logins --failures, config backups', async () => {
      const s = await cli(['session', 'list', '--target', IQN]);
      expect(s.stdout).toBe(
        'TSIH  INITIATOR                        ADDRESS   TARGET                     TYPE    CONNS  AGE   READ  WRITTEN\n' +
          `3     ${INIT}  10.0.0.5  ${IQN}  Normal  1      2m5s  4M    0B\n`,
      );
      // The server filters (?outcome=failure); the fake answers what it would.
      api.on('GET', '/v1/logins?outcome=failure', {
        status: 200,
        body: { logins: [{ at: '2026-11-20T10:01:00Z', initiatorName: INIT, sourceAddress: '10.0.0.9', target: IQN, outcome: 'failure', reason: 'chap_wrong_secret', detail: 'bad response' }] },
      });
      const l = await cli(['logins', '--failures']);
      expect(l.stdout).toBe(
        'TIME                  INITIATOR                        ADDRESS   TARGET                     OUTCOME  REASON\n' +
          `2026-11-20T10:01:00Z  ${INIT}  10.0.0.9  ${IQN}  failure  chap_wrong_secret: bad response\n`,
      );
      api.on('GET', '/v1/config/backups', { status: 200, body: [{ name: 'scatter.yaml.7', time: '2026-11-20T10:00:00Z', size: 4096 }] });
      const b = await cli(['config', 'backups']);
      expect(b.stdout).toBe('NAME            TIME                  SIZE\nscatter.yaml.7  2026-11-20T10:00:00Z  4K\n');
    });
  });

  describe('errors and exit codes', () => {
    const validation = problem(400, 'validation', 'Invalid request', 'the body does not validate', {
      errors: [{ path: 'backstore.size', rule: 'multiple-of-block-size', message: 'must be a multiple of blockSize (512)' }],
    });
    it.each([
      [problem(404, 'not-found', 'Not Found', `no target ${IQN}`), 3],
      [problem(409, 'conflict', 'Conflict', 'target has 2 sessions; use --force'), 4],
      [problem(409, 'refused', 'Refused', 'shrinking LUN 0 from 10GiB to 5GiB would lose data'), 4],
      [problem(412, 'precondition-failed', 'Precondition Failed', 'revision is 9, not 7'), 5],
      [problem(401, 'unauthorized', 'Unauthorized'), 6],
      [problem(403, 'forbidden', 'Forbidden'), 6],
      [problem(429, 'rate-limited', 'Too Many Requests'), 6],
      [problem(500, 'internal', 'Internal Server Error', 'boom'), 1],
      [validation, 1],
      [problem(500, 'apply-failed', 'Apply failed', 'binding 10.0.0.1:3260 failed; undone', { step: 'add portal 10.0.0.1:3260' }), 1],
    ])('%j exits %i and prints the problem on stderr', async (answer, code) => {
      api.on('DELETE', `/v1/targets/${EIQN}`, answer);
      const r = await cli(['target', 'delete', IQN]);
      expect(r.code).toBe(code);
      expect(r.stdout).toBe('');
      const p = answer.body as { title: string; status: number; detail?: string; step?: string };
      expect(r.stderr).toContain(`scatter: ${p.title} (HTTP ${p.status})\n`);
      if (p.detail) expect(r.stderr).toContain(`  ${p.detail}\n`);
      if (p.step) expect(r.stderr).toContain(`  failed step: ${p.step}\n`);
    });

    it('validation errors list each entry as path: message (rule)', async () => {
      api.on('PUT', `/v1/targets/${EIQN}/luns/0`, validation);
      const r = await cli(['lun', 'add', IQN, '0', '--null', '--size', '1000']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('scatter: Invalid request (HTTP 400)\n  the body does not validate\n  backstore.size: must be a multiple of blockSize (512) (multiple-of-block-size)\n');
    });

    it('a connection that fails exits 1 with the URL named', async () => {
      const url = api.url;
      await api.stop();
      api = await new FakeAdminApi().start(); // afterEach stops this one
      const r = await cli(['target', 'list', '--url', url], { connect: false });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`scatter: cannot reach the admin API at ${url}: ECONNREFUSED\n`);
    });

    it('usage errors exit 2 with the usage text and send nothing', async () => {
      const missing = await cli(['lun', 'add', IQN]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("error: missing required argument 'lun'");
      expect(missing.stderr).toContain('Usage: scatter lun add [options] <iqn> <lun>');
      const badSize = await cli(['lun', 'resize', IQN, '0', '10GB']);
      expect(badSize.code).toBe(2);
      expect(badSize.stderr).toContain('ambiguous unit GB');
      const noSecret = await cli(['chap', 'set', IQN, '--user', 'u']);
      expect(noSecret.code).toBe(2);
      expect(noSecret.stderr).toContain('no secret: give --secret-file FILE or set SCATTER_CHAP_SECRET');
      const twoKinds = await cli(['lun', 'add', IQN, '0', '--backstore', 'a', '--null', '--size', '1G']);
      expect(twoKinds.code).toBe(2);
      const unknown = await cli(['frobnicate']);
      expect(unknown.code).toBe(2);
      expect((await cli(['portal', 'add', '1.2.3.4:99999'])).code).toBe(2);
      expect(api.requests).toEqual([]);
      const bare = await cli([], { connect: false });
      expect(bare.code).toBe(2);
      expect(bare.stdout).toContain('Exit status:');
      const help = await cli(['--help'], { connect: false });
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/3 +not found \(404\)/);
    });
  });

  describe('finding the API and the token', () => {
    beforeEach(() => {
      api.on('GET', '/v1/portals', { status: 200, body: [{ host: '0.0.0.0', port: 3260 }] });
    });

    it('with no flags: URL from config/scatter.yaml admin.port, token from <relative stateDir>/admin-token', async () => {
      mkdirSync(join(dir, 'config'));
      mkdirSync(join(dir, 'var/state'), { recursive: true });
      writeFileSync(join(dir, 'config/scatter.yaml'), `stateDir: ./var/state\nadmin: { host: 0.0.0.0, port: ${api.port} }\n`);
      writeFileSync(join(dir, 'var/state/admin-token'), `${TOKEN}\n`);
      const r = await cli(['portal', 'list'], { connect: false });
      expect(r.code).toBe(0);
      expect(only().headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(r.stdout).toBe('HOST     PORT\n0.0.0.0  3260\n');
    });

    it('admin.tokenFile in a --config file overrides stateDir; SCATTER_CONFIG works the same', async () => {
      const cfg = join(dir, 'elsewhere.yaml');
      mkdirSync(join(dir, 'secrets'));
      writeFileSync(join(dir, 'secrets/tok'), `${TOKEN}\n`);
      writeFileSync(cfg, `stateDir: ./nowhere\nadmin: { port: ${api.port}, tokenFile: ./secrets/tok }\n`);
      expect((await cli(['--config', cfg, 'portal', 'list'], { connect: false })).code).toBe(0);
      expect((await cli(['portal', 'list'], { connect: false, env: { SCATTER_CONFIG: cfg } })).code).toBe(0);
      expect(api.requests.map((q) => q.headers.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
      const missing = await cli(['portal', 'list'], { connect: false, env: { SCATTER_CONFIG: join(dir, 'absent.yaml') } });
      expect(missing.code).toBe(2);
    });

    it('no token anywhere: no Authorization header, and the 401 says where it looked', async () => {
      api.on('GET', '/v1/targets', problem(401, 'unauthorized', 'Unauthorized', 'a bearer token is required'));
      const r = await cli(['target', 'list', '--url', api.url], { connect: false });
      expect(r.code).toBe(6);
      expect(only().headers.authorization).toBeUndefined();
      expect(r.stderr).toContain(`no admin token found (looked for ${join(dir, 'data/state/admin-token')})`);
    });

    it('a refused token is not printed, even with --json', async () => {
      api.on('GET', '/v1/targets', problem(401, 'unauthorized', 'Unauthorized', 'the token is not valid'));
      const r = await cli(['--json', 'target', 'list']); // cli() asserts the token is absent from stdout and stderr
      expect(r.code).toBe(6);
      expect(r.stderr).toContain(`the token from ${tokenFile} was refused`);
    });

    it('precedence: --url over SCATTER_URL over the config file; --token over SCATTER_TOKEN over token files', async () => {
      const other = await new FakeAdminApi().start();
      try {
        other.on('GET', '/v1/portals', { status: 200, body: [] });
        mkdirSync(join(dir, 'config'));
        writeFileSync(join(dir, 'config/scatter.yaml'), `admin: { port: ${other.port}, tokenFile: ${tokenFile} }\n`);
        // SCATTER_URL beats the config file; SCATTER_TOKEN beats the token file.
        await cli(['portal', 'list'], { connect: false, env: { SCATTER_URL: api.url, SCATTER_TOKEN: 'env-token' } });
        expect(only().headers.authorization).toBe('Bearer env-token');
        expect(other.requests).toEqual([]);
        // --url and --token beat both.
        await cli(['portal', 'list', '--url', other.url, '--token', 'flag-token'], { connect: false, env: { SCATTER_URL: api.url, SCATTER_TOKEN: 'env-token' } });
        expect(other.requests.map((q) => q.headers.authorization)).toEqual(['Bearer flag-token']);
        // SCATTER_TOKEN_FILE beats the config file's token file.
        const f = join(dir, 'tf');
        writeFileSync(f, 'file-token\n');
        await cli(['portal', 'list'], { connect: false, env: { SCATTER_TOKEN_FILE: f } });
        expect(other.requests.map((q) => q.headers.authorization)).toEqual(['Bearer flag-token', 'Bearer file-token']);
      } finally {
        await other.stop();
      }
    });
  });
});
