/**
 * Scenario 8 (issue 14): dm-multipath over two cluster nodes under a live filesystem. A private
 * etcd, two `scatter serve` processes (nodes a and b, port groups 1 and 2) over one backing file;
 * the guest logs in to both through two virtual portals (10.0.2.100 -> a, 10.0.2.101 -> b),
 * multipathd (prio alua, tur, group_by_prio, failback immediate) makes one device with two path
 * groups (a's active, b's ghost), ext4 on it takes a stream of numbered, fsynced files. The host
 * kill -9s node a under that load: I/O must resume through b within 5 s with no I/O error in the
 * filesystem. Node a is started again and must rejoin as standby (ghost path). Then a planned
 * drain (POST /v1/cluster/drain on b, to a) under the load must stall it less than 2 s. After the
 * load: fsck clean, every acknowledged file intact.
 *
 * Backing file: `direct: true` (O_DIRECT, as a real deployment opens its shared block device), so
 * neither node serves from its page cache; both run on this host, where the page cache would be
 * shared anyway. writeCache stays on (the guest's fsync sends SYNCHRONIZE CACHE): a kill -9 loses
 * nothing the kernel already has, and nothing is acknowledged before it reaches the kernel.
 *
 * Initiator timing (measured): the stall is the session
 * recovery timeout (fast_io_fail_tmo, 3 s) plus ~0.5 s. With 2 s, dm switches while node b is
 * still Transitioning (grace), and the kernel's scsi_dh_alua re-reads the port groups only every
 * 2 s in that state: 4.5 s. With multipathd's async checkers (no force_sync) a path failed on
 * the Standby/Transitioning node is reinstated two checker ticks later: 5.2-6.7 s.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { missingEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { waitUntil } from '../helpers/wait.js';
import { INITIATOR_IQN, LUN_BYTES, TARGET_IQN, pattern, theVm, timings, troubleLines } from './harness.js';
import { TargetProcess } from './target-proc.js';
import { runVm, type VmResult } from './vm/run-vm.js';

const missing = missingEtcd();

/** Failover requirement (issue 14): I/O resumes on the other node within 5 s. */
const FAILOVER_MAX_S = 5;
/** A planned drain stalls the load less than 2 s. */
const DRAIN_MAX_S = 2;

/**
 * dmesg lines (of those the harness counts as trouble) that are the expected face of a path
 * failover and of an ALUA state change, and nothing else: node a's session losing its connection
 * and timing out its recovery while a is down; the SCSI layer failing commands on a path device
 * (never on the dm device: the filesystem must see no error, checked in the guest) that dm then
 * sends down the other path; a path answering NOT READY (the sense must be the standby or
 * transitioning one, checked separately from the kernel log).
 */
function tolerated(p: Paths): RegExp[] {
  const dev = `(${p.a}|${p.b})`;
  const n = p.sessionA.replace(/^session/, '');
  return [
    new RegExp(`\\]\\s+connection${n}:0: detected conn error \\(10(11|20)\\)$`),
    new RegExp(`\\]\\s+session${n}: session recovery timed out after \\d+ secs$`),
    new RegExp(`\\] I/O error, dev ${dev}, sector \\d+ op 0x[0-9a-f]+:\\([A-Z_]+\\) flags 0x[0-9a-f]+ phys_seg \\d+ prio class \\d+$`),
    new RegExp(`\\] sd \\d+:0:0:0: \\[${dev}\\] tag#\\d+ FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=\\d+s$`),
    new RegExp(`\\] sd \\d+:0:0:0: \\[${dev}\\] tag#\\d+ Sense Key : Not Ready \\[current\\]\\s*$`),
  ];
}

interface Paths {
  a: string;
  b: string;
  sessionA: string;
  sessionB: string;
}

/** The ALUA sense the kernel may show for a path: LOGICAL UNIT NOT ACCESSIBLE, standby (04h/0Bh) or transitioning (04h/0Ah). */
const ALUA_SENSE = /Add\. Sense: Logical unit not accessible, (target port in standby state|asymmetric access state transition)$/;

interface ClusterLu {
  owner: string | null;
  phase: string;
  accessState: string;
}

async function luState(t: TargetProcess): Promise<ClusterLu | undefined> {
  const r = await t.admin('GET', '/v1/cluster');
  if (r.status !== 200) return undefined;
  return (r.json?.lus as ClusterLu[] | undefined)?.[0];
}

describe.skipIf(missing.length > 0)('dm-multipath over two Scatter cluster nodes in a VM', () => {
  let etcd: TestEtcd | undefined;
  let shared: string | undefined;
  const nodes: TargetProcess[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.dispose();
    await etcd?.stop();
    etcd = undefined;
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  it('kill -9 of the owner: I/O resumes through the other node within 5 s; the node rejoins as standby; a drain stalls < 2 s', { timeout: 600_000 }, async () => {
    const vm = theVm();
    const e = (etcd = await startEtcd());
    const dir = (shared = mkdtempSync(join(tmpdir(), 'scatter-e2e-shared-')));
    const name = `e2e${randomBytes(3).toString('hex')}`;
    const config = (nodeId: string, portGroup: number) => (): Record<string, unknown> => ({
      iscsi: { nopInInterval: 5, nopInTimeout: 5 },
      memory: { poolPages: 64, pageSize: 65536 },
      targets: [{ iqn: TARGET_IQN, luns: [{ lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: LUN_BYTES, direct: true } }] }],
      cluster: { name, nodeId, portGroup, etcd: { endpoints: [e.endpoint] }, leaseTtlSeconds: 2, graceMs: 500, nonOwnerState: 'standby' },
    });
    const a = new TargetProcess(config('a', 1), { admin: true });
    const b = new TargetProcess(config('b', 2), { admin: true });
    nodes.push(a, b);
    await a.start();
    await waitUntil(async () => (await luState(a))?.accessState === 'active/optimized', 'node a owns LUN 0 (Active/Optimized)', { timeoutMs: 20_000, pollMs: 100 });
    await b.start();
    await waitUntil(
      async () => {
        const s = await luState(b);
        return s?.owner === 'a' && s.accessState === 'standby';
      },
      'node b sees a as owner and is Standby',
      { timeoutMs: 20_000, pollMs: 100 },
    );

    const problems: string[] = [];
    const host: Record<string, number | string> = {};
    let killed: Promise<void> | undefined;
    let rejoined: Promise<void> | undefined;
    let drained: Promise<void> | undefined;
    const track = (what: string, p: Promise<void>): Promise<void> => p.catch((err: unknown) => void problems.push(`${what}: ${String(err)}`));
    const r: VmResult = await runVm(vm, {
      scenario: 'multipath',
      env: {
        IQN: TARGET_IQN,
        INITIATOR: INITIATOR_IQN,
        LUN_BYTES,
        TARGET_PORT: a.port,
        PORTAL_A: '10.0.2.100:3260',
        PORTAL_B: '10.0.2.101:3260',
        // How long a dead session holds its commands before dm-multipath gets them back: open-iscsi's
        // replacement_timeout, which multipathd sets from fast_io_fail_tmo (its default would be 5 s).
        // Just above the takeover time (lease TTL 2 s + grace 0.5 s, measured 2.5-2.9 s): dm then
        // switches to a path that is already Active/Optimized. Shorter, the switch lands on a
        // Standby path, dm fails it too, and I/O waits for multipathd's checker to reinstate it.
        REPLACEMENT_TIMEOUT: process.env.E2E_MP_FAST_IO_FAIL_TMO ?? 3,
        FAST_IO_FAIL_TMO: process.env.E2E_MP_FAST_IO_FAIL_TMO ?? 3,
        // Bounded queue_if_no_path (30 checker intervals of 1 s), so a failover that never comes fails the test.
        NO_PATH_RETRY: 30,
      },
      pattern: pattern(4),
      portFile: a.portFile,
      relayPidDir: a.relayPidDir,
      extraPortals: [{ address: '10.0.2.101:3260', portFile: b.portFile, relayPidDir: b.relayPidDir }],
      timeoutMs: 540_000,
      onLine: (line) => {
        if (process.env.E2E_VERBOSE) console.log(line);
        if (line.startsWith('E2E-STEP load-1 ')) {
          killed = track(
            'kill -9 of node a',
            (async () => {
              const at = performance.now();
              await a.kill();
              await waitUntil(async () => (await luState(b))?.accessState === 'active/optimized', 'node b is Active/Optimized after the kill', {
                timeoutMs: 20_000,
                pollMs: 50,
              });
              host.takeover_ms = Math.round(performance.now() - at);
            })(),
          );
        } else if (line.startsWith('E2E-STEP failed-over ')) {
          rejoined = track(
            'restart of node a',
            (async () => {
              await killed;
              await a.start();
              await waitUntil(
                async () => {
                  const s = await luState(a);
                  if (s) host.rejoin_state = `${s.phase}/${s.accessState}/owner=${s.owner}`;
                  return s?.owner === 'b' && s.accessState === 'standby';
                },
                () => `node a rejoined as standby (last: ${host.rejoin_state})`,
                { timeoutMs: 30_000, pollMs: 100 },
              );
            })(),
          );
        } else if (line.startsWith('E2E-STEP load-2 ')) {
          drained = track(
            'drain to node a',
            (async () => {
              await rejoined;
              const at = performance.now();
              const res = await b.admin('POST', '/v1/cluster/drain', { target: TARGET_IQN, lun: 0, to: 'a' });
              host.drain_http_ms = Math.round(performance.now() - at);
              if (res.status !== 200) throw new Error(`drain answered ${res.status}: ${res.text}`);
              host.drain_reported_ms = Number(res.json?.ms);
            })(),
          );
        }
      },
    });
    await killed;
    await rejoined;
    await drained;
    console.log(`multipath: ${timings(r)} ${Object.entries(host).map(([k, v]) => `host_${k}=${v}`).join(' ')}`);

    const detail = (): string =>
      `${r.status}: ${r.message}\n--- console (tail)\n${r.console.slice(-12000)}\n--- node a log (tail)\n${a.rawLog.slice(-40).join('\n')}\n--- node b log (tail)\n${b.rawLog.slice(-40).join('\n')}`;
    expect(r.status, detail()).toBe('pass');
    expect(problems, detail()).toEqual([]);
    const stall = Number(r.metrics.get('failover_stall_s'));
    const drainStall = Number(r.metrics.get('drain_stall_s'));
    expect(stall, detail()).toBeLessThan(FAILOVER_MAX_S);
    expect(drainStall, detail()).toBeLessThan(DRAIN_MAX_S);
    expect(Number(r.metrics.get('initial_prio_a'))).toBeGreaterThanOrEqual(50);
    expect(host.rejoin_state).toBe('follower/standby/owner=b');
    const m = /node a path (\w+) \S+ (session\d+), node b path (\w+) \S+ (session\d+)/.exec(r.console);
    expect(m, detail()).not.toBeNull();
    const paths: Paths = { a: m![1]!, sessionA: m![2]!, b: m![3]!, sessionB: m![4]! };
    expect(troubleLines(r.dmesg, tolerated(paths)), detail()).toEqual([]);
    // Every additional sense the kernel printed for a path is the ALUA standby or transitioning one.
    const senses = r.console.split('\n').filter((l) => l.startsWith('E2E-LOG kmsg: ') && l.includes('Add. Sense:'));
    expect(senses.filter((l) => !ALUA_SENSE.test(l.trimEnd())), detail()).toEqual([]);
    console.log(`multipath: path sense seen: ${senses.length === 0 ? 'none' : senses.map((l) => l.replace(/^.*Add\. Sense: /, '')).join('; ')}`);
    expect([...a.errors(), ...b.errors()], detail()).toEqual([]);
    // Node b took over because a's lease ran out (no drain, no revoke), and handed back through the drain.
    expect(b.log.some((l) => /drain/i.test(String(l.msg)) || /ownership moved/i.test(String(l.msg))), detail()).toBe(true);
  });
});
