/**
 * Connection admission under a flood of idle connections (issue #9, item 10): strangers that
 * connect from many addresses and never send a Login Request are held to the pre-login budget
 * (oldest idle dropped for each newcomer); meanwhile a real initiator (libiscsi's iscsi-inq) and
 * our test initiator log in every time, and an existing session reconnects. Only when every slot
 * holds a logged-in session is a newcomer refused.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testUnitReady } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { missingTools, run } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';

const missing = missingTools(['iscsi-inq']);
const PRE_LOGIN = 32;
const PER_ADDRESS = 4;
const MAX_CONNECTIONS = 48;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw) => {
    raw.iscsi = {
      ...(raw.iscsi as object),
      maxConnections: MAX_CONNECTIONS,
      maxPreLoginConnections: PRE_LOGIN,
      maxPreLoginPerAddress: PER_ADDRESS,
    };
  });
});
afterAll(() => t?.stop());

/**
 * Idle strangers: `perAddress` connections from each of `addresses` loopback addresses that never
 * send a byte, each reconnecting as soon as the target drops it, until stop().
 */
function flood(addresses: string[], perAddress: number): { stop(): Promise<void>; opened(): number } {
  let stopped = false;
  let opened = 0;
  const live = new Set<net.Socket>();
  const open = (localAddress: string): void => {
    if (stopped) return;
    const s = net.connect({ port: t.port, host: '127.0.0.1', localAddress });
    opened++;
    live.add(s);
    s.on('error', () => undefined);
    s.on('close', () => {
      live.delete(s);
      // Pace the churn a little so the test machine keeps a core for the initiators under test.
      if (!stopped) setTimeout(() => open(localAddress), 2);
    });
  };
  for (const a of addresses) for (let k = 0; k < perAddress; k++) open(a);
  return {
    opened: () => opened,
    async stop() {
      stopped = true;
      for (const s of live) s.destroy();
      await waitUntil(() => live.size === 0, 'the flood has stopped');
    },
  };
}

const loopback = (n: number): string[] => Array.from({ length: n }, (_, k) => `127.0.${1 + Math.floor(k / 200)}.${2 + (k % 200)}`);

describe.skipIf(missing.length > 0)('admission under a flood of idle connections', () => {
  it('a real initiator logs in every time while 400 idle strangers churn; the pre-login budget holds', async () => {
    const strangers = flood(loopback(50), 8); // 400 at a time from 50 addresses
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, t.scatter.iscsi.admission.preLoginCount)), 1);
    try {
      await waitUntil(() => t.scatter.iscsi.admission.evicted > 100, 'the flood fills the pre-login budget');
      const url = `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`;
      for (let k = 0; k < 10; k++) {
        const r = await run('iscsi-inq', [url], 30_000);
        expect(r.code, `iscsi-inq run ${k}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(/Vendor:\s*SCATTER/);
      }
      // Also from an address that has idle strangers of its own, and reconnecting a live session.
      for (let k = 0; k < 10; k++) {
        const i = await connectFrom('127.0.1.2');
        i.isid = Buffer.from([0x80, 0, 0, 0, 9, k]);
        expect((await i.login({ targetName: TEST_IQN })).status).toEqual([0, 0]);
        const again = await connectFrom('127.0.1.2');
        again.isid = i.isid;
        expect((await again.login({ targetName: TEST_IQN, tsih: i.tsih })).status).toEqual([0, 0]);
        await again.command({ cdb: testUnitReady() });
        again.close();
        i.close();
      }
      expect(strangers.opened()).toBeGreaterThan(1000);
    } finally {
      clearInterval(sampler);
      await strangers.stop();
    }
    expect(peak).toBeLessThanOrEqual(PRE_LOGIN);
  });

  it('refuses a newcomer only when every connection slot holds a logged-in session', async () => {
    const sessions: TestInitiator[] = [];
    try {
      await waitUntil(() => t.scatter.iscsi.admission.total === 0, 'earlier connections are gone');
      for (let k = 0; k < MAX_CONNECTIONS; k++) {
        const i = await TestInitiator.connect(t.port);
        i.isid = Buffer.from([0x80, 0, 0, 1, 0, k]);
        expect((await i.login({ targetName: TEST_IQN })).status).toEqual([0, 0]);
        sessions.push(i);
      }
      const refused = await TestInitiator.connect(t.port);
      await refused.waitClosed();
      // One session leaves: the next newcomer gets in.
      expect(await sessions.pop()!.logout()).toBe(0);
      await waitUntil(() => t.scatter.iscsi.admission.total < MAX_CONNECTIONS, 'the slot is free');
      const next = await TestInitiator.connect(t.port);
      expect((await next.login({ targetName: TEST_IQN })).status).toEqual([0, 0]);
      sessions.push(next);
    } finally {
      for (const s of sessions) s.close();
    }
  });
});

function connectFrom(localAddress: string): Promise<TestInitiator> {
  return TestInitiator.connectFrom(t.port, localAddress);
}
