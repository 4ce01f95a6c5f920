import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestInitiator } from '../helpers/initiator.js';
import { encodeTextPairs } from '../../src/iscsi/text.js';
import { loginRequest } from '../helpers/initiator-pdus.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw) => {
    const targets = raw.targets as Record<string, unknown>[];
    for (let i = 0; i < 40; i++) {
      // Enough targets that a SendTargets answer exceeds one 512-byte PDU.
      targets.push({ iqn: `iqn.2026-11.io.scatter:extra-target-with-a-long-name-${i}`, luns: [] });
    }
  });
});
afterAll(() => t.stop());

async function rawLogin(i: TestInitiator, pairs: [string, string][], f: { versionMin?: number; versionMax?: number } = {}) {
  const data = encodeTextPairs(pairs);
  const itt = i.allocItt();
  const p = await i.request(itt, () =>
    i.send(
      loginRequest({ transit: true, csg: 1, nsg: 3, isid: i.isid, tsih: 0, itt, cid: 0, cmdSN: 1, expStatSN: 0, dataLength: data.length, ...f }),
      data,
    ),
  );
  return [p.bhs[36]!, p.bhs[37]!];
}

describe('login', () => {
  it('logs in to a normal session and answers the operational keys', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({
      targetName: TEST_IQN,
      keys: [
        ['MaxRecvDataSegmentLength', '65536'],
        ['ImmediateData', 'Yes'],
        ['InitialR2T', 'No'],
        ['MaxBurstLength', '16776192'],
        ['FirstBurstLength', '262144'],
        ['ErrorRecoveryLevel', '0'],
        ['MaxConnections', '1'],
        ['X-com.example.Unknown', 'foo'],
      ],
    });
    expect(r.status).toEqual([0, 0]);
    expect(r.tsih).toBeGreaterThan(0);
    expect(r.keys.get('TargetPortalGroupTag')).toBe('1');
    expect(r.keys.get('ErrorRecoveryLevel')).toBe('0');
    expect(r.keys.get('MaxConnections')).toBe('1');
    expect(r.keys.get('X-com.example.Unknown')).toBe('NotUnderstood');
    expect(Number(r.keys.get('MaxBurstLength'))).toBe(t.config.iscsi.maxBurstLength);
    expect(Number(r.keys.get('MaxRecvDataSegmentLength'))).toBe(t.config.iscsi.maxRecvDataSegmentLength);
    expect(await i.logout()).toBe(0);
    await i.waitClosed();
  });

  it('accepts login text continued over several PDUs (C bit)', async () => {
    const i = await TestInitiator.connect(t.port);
    const text = encodeTextPairs([
      ['InitiatorName', 'iqn.2026-11.io.scatter.test:split'],
      ['SessionType', 'Normal'],
      ['TargetName', TEST_IQN],
      ['AuthMethod', 'None'],
    ]);
    const cut = 20; // inside the InitiatorName value
    const itt = i.allocItt();
    const send = (part: Buffer, cont: boolean, transit: boolean) =>
      i.request(itt, () =>
        i.send(
          loginRequest({ transit, cont, csg: 0, nsg: 1, isid: i.isid, tsih: 0, itt, cid: 0, cmdSN: 1, expStatSN: 0, dataLength: part.length }),
          part,
        ),
      );
    const first = await send(text.subarray(0, cut), true, false);
    expect([first.bhs[36], first.bhs[37]]).toEqual([0, 0]);
    expect(first.data.length).toBe(0); // "go on"
    const second = await send(text.subarray(cut), false, true);
    expect([second.bhs[36], second.bhs[37]]).toEqual([0, 0]);
    expect(second.bhs[1]! & 0x80).toBe(0x80); // transit to the operational stage
    expect(second.data.toBuffer().toString()).toContain('AuthMethod=None');
    i.close();
  });

  it('refuses an unknown target with "target not found"', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: 'iqn.2026-11.io.scatter:nope' });
    expect(r.status).toEqual([0x02, 0x03]);
    await i.waitClosed();
  });

  it('refuses a first login without InitiatorName with "missing parameter"', async () => {
    const i = await TestInitiator.connect(t.port);
    expect(await rawLogin(i, [['TargetName', TEST_IQN]])).toEqual([0x02, 0x07]);
    await i.waitClosed();
  });

  it('refuses an unsupported version', async () => {
    const i = await TestInitiator.connect(t.port);
    const status = await rawLogin(i, [['InitiatorName', 'iqn.2026-11.x:y'], ['TargetName', TEST_IQN]], { versionMin: 2, versionMax: 3 });
    expect(status).toEqual([0x02, 0x05]);
    await i.waitClosed();
  });

  it('refuses an out-of-range key value with Reject and keeps going', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: TEST_IQN, keys: [['MaxBurstLength', '100']] });
    expect(r.status).toEqual([0, 0]);
    expect(r.keys.get('MaxBurstLength')).toBe('Reject');
    i.close();
  });

  it('answers SendTargets=All in a discovery session, continued over several Text PDUs', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ sessionType: 'Discovery', keys: [['MaxRecvDataSegmentLength', '512']] });
    expect(r.status).toEqual([0, 0]);
    const { pairs, pdus } = await i.text([['SendTargets', 'All']]);
    expect(pdus).toBeGreaterThan(1);
    const names = pairs.filter(([k]) => k === 'TargetName').map(([, v]) => v);
    expect(names).toContain(TEST_IQN);
    expect(names).toHaveLength(41);
    const addr = pairs.find(([k]) => k === 'TargetAddress')![1];
    expect(addr).toBe(`127.0.0.1:${t.port},1`);
    expect(await i.logout()).toBe(0);
  });

  it('answers SendTargets for one named target', async () => {
    const i = await TestInitiator.connect(t.port);
    await i.login({ sessionType: 'Discovery' });
    const { pairs } = await i.text([['SendTargets', TEST_IQN]]);
    expect(pairs).toEqual([
      ['TargetName', TEST_IQN],
      ['TargetAddress', `127.0.0.1:${t.port},1`],
    ]);
    i.close();
  });

  it('rejects SCSI commands in a discovery session', async () => {
    const i = await TestInitiator.connect(t.port);
    await i.login({ sessionType: 'Discovery' });
    const reject = i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x3f);
    void i.command({ cdb: Buffer.alloc(6), read: 0 }).catch(() => undefined);
    const p = await reject;
    expect(p.bhs[2]).toBe(0x04);
    i.close();
  });
});
