/**
 * No secret reaches the log: `scatter serve` (the built CLI, at debug level) with CHAP secrets for
 * a target (one-way and mutual), an ACL and discovery, and an admin token; logins that succeed and
 * fail on each, admin API calls with the right and a wrong token that change and mistype secrets,
 * SIGHUP reloads with a new and an invalid secret. Everything the process wrote is then searched
 * for every secret, in JSON and in pretty format.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminClient } from '../helpers/admin-client.js';
import { cliSuite, freePort, scratchDir, startCli, type CliProc } from '../helpers/cli-proc.js';
import { TestInitiator } from '../helpers/initiator.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:secrets';
const ACL_INITIATOR = 'iqn.2026-11.io.scatter.test:acl';
/** The test initiator's own name: it logs in with the target's CHAP. */
const INITIATOR = 'iqn.2026-11.io.scatter.test:initiator';
const S = {
  target: 'target-secret-Qx81vZ',
  mutual: 'mutual-secret-Hk27pW',
  acl: 'acl-secret-Lm44tY',
  discovery: 'discovery-secret-Rb09sD',
  wrong: 'wrong-secret-Gt55nK',
  adminToken: 'admin-token-Vf3Jq8mZ2xW7pL0cN6yB',
  wrongToken: 'wrong-token-Pu6Tz1kR9eS4hA5dM8',
  viaApi: 'api-secret-Yc70wE',
  tooShortViaApi: 'Jn3Wq',
  viaReload: 'reload-secret-Zs18fU',
  tooShortViaReload: 'Ux9Ko',
};

function configText(dir: string, port: number, adminPort: number, targetSecret: string): string {
  return [
    'logLevel: debug',
    `stateDir: ${dir}/state`,
    `admin: { port: ${adminPort}, tokenFile: ${dir}/admin-token }`,
    'iscsi:',
    `  portals: [ { host: 127.0.0.1, port: ${port} } ]`,
    '  nopInInterval: 0',
    '  authThrottle: { failureDelayMs: 0, maxFailureDelayMs: 0, lockoutAfterFailures: 0 }',
    `discoveryAuth: { method: chap, user: disc, secret: ${S.discovery} }`,
    'targets:',
    `  - iqn: ${IQN}`,
    `    auth: { method: chap, user: alice, secret: ${targetSecret}, mutualUser: tgt, mutualSecret: ${S.mutual} }`,
    '    acls:',
    `      - { initiator: ${ACL_INITIATOR}, auth: { method: chap, user: bob, secret: ${S.acl} } }`,
    `      - { initiator: ${INITIATOR} }`,
    '    luns: [ { lun: 0, backstore: { type: null, size: 8MiB } } ]',
    '',
  ].join('\n');
}

/** A login's status; the connection closed after. */
async function login(port: number, opts: Parameters<TestInitiator['login']>[0]): Promise<[number, number] | 'target failed mutual CHAP'> {
  const i = await TestInitiator.connect(port);
  try {
    return (await i.login(opts)).status;
  } catch (err) {
    if (err instanceof Error && err.message === 'target failed mutual CHAP') return err.message;
    throw err;
  } finally {
    i.close();
  }
}

/** Lines with this event so far, parsed from JSON or matched in pretty output. */
function seen(p: CliProc, event: string, pretty: boolean): number {
  return pretty
    ? p.stdout.split('\n').filter((l) => l.includes(` ${event}: `)).length
    : p.stdout.split('\n').filter((l) => l.includes(`"event":"${event}"`)).length;
}

let dir: string | undefined;
let proc: CliProc | undefined;

describe('secrets never reach the log', () => {
  cliSuite();

  for (const format of ['json', 'pretty'] as const) {
    it(`${format}: CHAP logins, admin API and reloads, every secret searched for`, async () => {
      const pretty = format === 'pretty';
      dir = scratchDir('scatter-log-secrets-');
      mkdirSync(join(dir, 'state'));
      writeFileSync(join(dir, 'admin-token'), `${S.adminToken}\n`, { mode: 0o600 });
      const [port, adminPort] = [await freePort(), await freePort()];
      const cfg = join(dir, 'scatter.yaml');
      writeFileSync(cfg, configText(dir, port, adminPort, S.target));
      proc = startCli(['serve', '--config', cfg, ...(pretty ? ['--log-format', 'pretty'] : [])]);
      const p = proc;
      await waitUntil(
        () => {
          if (p.child.exitCode !== null) throw new Error(`scatter exited: ${p.stderr}`);
          return p.stdout.includes('scatter is serving');
        },
        '"scatter is serving"',
      );

      const alice = { user: 'alice', secret: S.target, mutual: { user: 'tgt', secret: S.mutual } };
      expect(await login(port, { targetName: IQN, chap: alice })).toEqual([0, 0]);
      expect(await login(port, { targetName: IQN, chap: { ...alice, secret: S.wrong } })).toEqual([2, 1]);
      expect(await login(port, { targetName: IQN, chap: { ...alice, mutual: { user: 'tgt', secret: S.wrong } } })).toBe('target failed mutual CHAP');
      expect(await login(port, { targetName: IQN, initiatorName: ACL_INITIATOR, chap: { user: 'bob', secret: S.acl } })).toEqual([0, 0]);
      expect(await login(port, { targetName: IQN, initiatorName: ACL_INITIATOR, chap: { user: 'bob', secret: S.target } })).toEqual([2, 1]);
      expect(await login(port, { sessionType: 'Discovery', chap: { user: 'disc', secret: S.discovery } })).toEqual([0, 0]);
      expect(await login(port, { sessionType: 'Discovery', chap: { user: 'disc', secret: S.wrong } })).toEqual([2, 1]);

      const admin = new AdminClient(`http://127.0.0.1:${adminPort}`, S.adminToken);
      const json = { 'content-type': 'application/json' };
      const patch = (secret: string) => JSON.stringify({ auth: { method: 'chap', user: 'alice', secret, mutualUser: 'tgt', mutualSecret: S.mutual } });
      expect((await admin.get('/v1/targets', { token: S.wrongToken })).status).toBe(401);
      expect((await admin.request('PATCH', `/v1/targets/${IQN}`, { body: patch(S.tooShortViaApi), headers: json })).status).toBe(400);
      expect((await admin.request('PATCH', `/v1/targets/${IQN}`, { body: patch(S.viaApi), headers: json })).status).toBe(200);
      expect(await login(port, { targetName: IQN, chap: { ...alice, secret: S.viaApi } })).toEqual([0, 0]);
      // The secret did reach Scatter: the change was written to its config file.
      expect(readFileSync(cfg, 'utf8')).toContain(S.viaApi);

      writeFileSync(cfg, configText(dir, port, adminPort, S.viaReload));
      p.child.kill('SIGHUP');
      await waitUntil(() => seen(p, 'config_reload', pretty) === 1, () => `the first reload logged:\n${p.stdout.slice(-3000)}`);
      writeFileSync(cfg, configText(dir, port, adminPort, S.tooShortViaReload));
      p.child.kill('SIGHUP');
      await waitUntil(() => seen(p, 'config_reload', pretty) === 2, () => `the invalid reload logged:\n${p.stdout.slice(-3000)}`);
      expect(await login(port, { targetName: IQN, chap: { ...alice, secret: S.viaReload } })).toEqual([0, 0]);

      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      // The run logged what it did: the scan below looked at real lines.
      expect(seen(p, 'login', pretty)).toBe(5);
      expect(seen(p, 'login_failed', pretty)).toBe(3);
      expect(seen(p, 'config_applied', pretty)).toBe(2);
      const lines = p.stdout.split('\n').filter((l) => l !== '');
      expect(lines.filter((l) => l.startsWith('{')).length).toBe(pretty ? 0 : lines.length);
      const written = p.stdout + p.stderr;
      for (const [name, secret] of Object.entries(S)) expect(written.includes(secret), `${name} (${secret}) in the log`).toBe(false);
      // Nor was one caught by the logger's redaction net: nothing even tried to log one.
      expect(written).not.toContain('[redacted]');
    });
  }
});
