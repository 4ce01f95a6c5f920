/**
 * Assertion (d): an honest initiator on a target of its own keeps doing verified I/O while the
 * fuzzer runs. Each write must be GOOD and read back identically, each command must complete
 * within `boundMs`, and at the end its whole region must hold exactly what was acknowledged.
 * The pause between operations only shapes the load (2 cores are shared), it synchronises nothing.
 */
import { TestInitiator } from '../helpers/initiator.js';
import { read10, senseCodes, write10 } from '../helpers/cdb.js';
import type { Rng } from './rng.js';

const BLOCK = 512;

export class Bystander {
  readonly failures: string[] = [];
  ops = 0;
  maxLatencyMs = 0;
  private init: TestInitiator | undefined;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** What the region must hold: every byte the target acknowledged. */
  private readonly shadow: Buffer;
  /** Blocks of a WRITE that got no GOOD: their content is not known (either version may be there). */
  private readonly unknown: Uint8Array;

  constructor(
    private readonly port: number,
    private readonly iqn: string,
    readonly index: number,
    private readonly firstLba: number,
    private readonly blocks: number,
    private readonly rng: Rng,
    readonly boundMs: number,
    private readonly pauseMs = 10,
  ) {
    // The LU starts as a new sparse file: zeros.
    this.shadow = Buffer.alloc(blocks * BLOCK);
    this.unknown = new Uint8Array(blocks);
  }

  /** The fuzz cases running now (set by the harness), named in failures. */
  concurrent: () => string[] = () => [];

  private fail(msg: string): void {
    const others = this.concurrent();
    if (this.failures.length < 20) this.failures.push(`bystander ${this.index}: ${msg}${others.length ? ` (while ${others.join(', ')} ran)` : ''}`);
  }

  private async connect(): Promise<TestInitiator> {
    const i = await TestInitiator.connect(this.port);
    const r = await i.login({
      targetName: this.iqn,
      initiatorName: `iqn.2026-11.io.scatter.fuzz:bystander-${this.index}`,
      isid: Buffer.from([0x80, 0xb7, 0, 0, 0, this.index]),
    });
    if (r.status[0] !== 0) throw new Error(`login refused ${r.status.join('/')}`);
    this.freshNexus = true;
    return i;
  }

  /** A new I_T nexus gets one POWER ON / RESET unit attention (SAM-5); nothing else is expected here. */
  private freshNexus = false;

  private async command(i: TestInitiator, what: string, o: Parameters<TestInitiator['command']>[0]): Promise<Awaited<ReturnType<TestInitiator['command']>>> {
    let res = await this.timed(what, () => i.command(o));
    const sense = senseCodes(res.sense);
    if (res.status === 2 && sense?.[0] === 6 && sense[1] === 0x29 && this.freshNexus) {
      this.freshNexus = false;
      res = await this.timed(what, () => i.command(o));
    }
    this.freshNexus = false;
    return res;
  }

  /** A command bounded by `boundMs` (the initiator's own timeout is the same 10 s). */
  private async timed<T>(what: string, run: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await run();
    } finally {
      const ms = Date.now() - t0;
      this.maxLatencyMs = Math.max(this.maxLatencyMs, ms);
      if (ms > this.boundMs) this.fail(`${what} took ${ms} ms (bound ${this.boundMs} ms)`);
    }
  }

  async start(): Promise<void> {
    this.init = await this.connect();
    this.running = true;
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        this.init ??= await this.connect();
        await this.oneRound(this.init);
      } catch (err) {
        this.fail(`${(err as Error).message}`);
        this.init?.close();
        this.init = undefined;
      }
      if (this.running) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  private async oneRound(i: TestInitiator): Promise<void> {
    const n = this.rng.int(1, 256);
    const at = this.rng.int(0, this.blocks - n);
    const data = this.rng.bytes(n * BLOCK);
    this.unknown.fill(1, at, at + n);
    const w = await this.command(i, `WRITE(10) of ${n} blocks`, { cdb: write10(this.firstLba + at, n), write: data });
    if (w.status !== 0) {
      this.fail(`WRITE(10) lba ${this.firstLba + at} x${n}: status 0x${w.status.toString(16)} sense ${w.sense?.toString('hex') ?? '-'}`);
      return;
    }
    data.copy(this.shadow, at * BLOCK);
    this.unknown.fill(0, at, at + n);
    const rd = await this.command(i, `READ(10) of ${n} blocks`, { cdb: read10(this.firstLba + at, n), read: n * BLOCK });
    if (rd.status !== 0) this.fail(`READ(10) lba ${this.firstLba + at} x${n}: status 0x${rd.status.toString(16)}`);
    else if (!rd.data.equals(data)) this.fail(`READ(10) lba ${this.firstLba + at} x${n} returned other data than the acknowledged WRITE`);
    this.ops += 2;
  }

  /** Stop the loop and read the whole region back against what was acknowledged. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
    try {
      const i = this.init ?? (await this.connect());
      const step = 128;
      for (let b = 0; b < this.blocks; b += step) {
        const n = Math.min(step, this.blocks - b);
        const rd = await this.command(i, 'final READ(10)', { cdb: read10(this.firstLba + b, n), read: n * BLOCK });
        if (rd.status !== 0) {
          this.fail(`final READ(10) of blocks ${this.firstLba + b}..: status 0x${rd.status.toString(16)}`);
          break;
        }
        const bad = Array.from({ length: n }, (_, k) => b + k).find(
          (blk) => this.unknown[blk] === 0 && !rd.data.subarray((blk - b) * BLOCK, (blk - b + 1) * BLOCK).equals(this.shadow.subarray(blk * BLOCK, (blk + 1) * BLOCK)),
        );
        if (bad !== undefined) {
          this.fail(`final read-back: block ${this.firstLba + bad} differs from what its acknowledged WRITE stored`);
          break;
        }
      }
      await i.logout().catch(() => undefined);
      i.close();
    } catch (err) {
      this.fail(`final verification: ${(err as Error).message}`);
    }
  }
}
