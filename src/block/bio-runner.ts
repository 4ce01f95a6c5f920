import type { Backstore } from './backstore.js';
import { bounceIn, bounceOut, prepareBio } from './bounce.js';
import type { CancelSignal } from './cancel.js';
import { BlockError } from './device.js';
import type { PlannedBio, SgMapPlan } from './map-sg.js';
import type { Mempool } from './mempool.js';
import { Semaphore } from './semaphore.js';
import { recordBiosPerRequest, type BlockStats } from './stats.js';

export type Direction = 'read' | 'write';

const NO_PAGES: Buffer[] = [];

export interface BioRunnerOptions {
  /** Bios in flight at once (QueueLimits.maxInflightBios). */
  readonly maxInflightBios: number;
  /** How long one bio may wait for bounce pages before the request fails with POOL_EXHAUSTED. */
  readonly poolWaitMs: number;
}

/**
 * Submits the bios of one mapped request to the backstore (DESIGN.md §3, forward progress): the
 * pages of one bio at a time, in order, and only after every earlier bio of the request has been
 * submitted, so while it waits for pages all the pages it holds are in flight and will come back.
 * Pages are taken before an in-flight slot, never the other way round, so no request sits on a
 * slot while waiting for memory.
 */
export class BioRunner {
  private readonly slots: Semaphore;

  constructor(
    private readonly backstore: Backstore,
    private readonly pool: Mempool,
    private readonly stats: BlockStats,
    private readonly opts: BioRunnerOptions,
  ) {
    this.slots = new Semaphore(opts.maxInflightBios);
  }

  /** `n` pool pages, at once if free, else waiting up to poolWaitMs (POOL_EXHAUSTED after). */
  allocPages(n: number, signal?: CancelSignal): Promise<Buffer[]> {
    const now = this.pool.tryAlloc(n);
    if (now) return Promise.resolve(now);
    this.stats.poolWaits++;
    return this.pool.alloc(n, { timeoutMs: this.opts.poolWaitMs, ...(signal ? { signal } : {}) });
  }

  /** Submit the plan's bios in order; on failure stop submitting, let the in-flight ones settle, reject with the first error. */
  run(plan: SgMapPlan, dir: Direction, durable: boolean, signal?: CancelSignal): Promise<void> {
    const only = plan.bios.length === 1 ? plan.bios[0]! : undefined;
    if (only && only.bouncePages === 0 && !signal?.aborted && this.slots.tryAcquire()) {
      // Most requests: one bio straight from the caller's memory, a slot free, nothing to order or wait for.
      recordBiosPerRequest(this.stats, 1);
      return this.submit(only, NO_PAGES, dir, durable);
    }
    return this.runPlan(plan, dir, durable, signal);
  }

  /** Several bios, bounce pages, a slot to wait for, or an aborted request: in order, as DESIGN.md §3 asks. */
  private async runPlan(plan: SgMapPlan, dir: Direction, durable: boolean, signal?: CancelSignal): Promise<void> {
    const inFlight: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown): void => {
      failure ??= { error };
    };

    for (const planned of plan.bios) {
      if (failure) break;
      if (signal?.aborted) {
        fail(new BlockError('ABORTED', 'request aborted'));
        break;
      }
      let pages: Buffer[] = [];
      if (planned.bouncePages > 0) {
        // Every earlier bio of this request is in flight or done: waiting here holds nothing back.
        try {
          pages = await this.allocPages(planned.bouncePages, signal);
        } catch (err) {
          fail(err);
          break;
        }
      }
      if (!this.slots.tryAcquire()) await this.slots.acquire();
      if (failure) {
        this.slots.release();
        if (pages.length > 0) this.pool.free(pages);
        break;
      }
      inFlight.push(this.submit(planned, pages, dir, durable).catch(fail));
    }

    await Promise.all(inFlight);
    recordBiosPerRequest(this.stats, inFlight.length);
    if (failure) throw failure.error;
  }

  /** One bio: bounce in, I/O, bounce out; its slot and pages are given back however it ends. */
  private submit(planned: PlannedBio, pages: Buffer[], dir: Direction, durable: boolean): Promise<void> {
    const s = this.stats;
    s.inflightBios++;
    if (s.inflightBios > s.inflightHighWater) s.inflightHighWater = s.inflightBios;
    let io: Promise<void>;
    try {
      const prepared = prepareBio(planned, pages, this.pool.pageSize);
      if (dir === 'write') {
        bounceIn(prepared);
        io = this.backstore.writev(prepared.bio, durable);
      } else {
        io = this.backstore.readv(prepared.bio).then(() => {
          bounceOut(prepared);
        });
      }
    } catch (err) {
      io = Promise.reject(err as Error);
    }
    // Chained, not awaited (every bio passes here); the slot and pages go back however it ends.
    return io.then(
      () => {
        this.settle(pages);
        s.bios++;
        s.bouncedBytes += planned.bounceBytes;
        s.directBytes += planned.length - planned.bounceBytes;
      },
      (err: unknown) => {
        this.settle(pages);
        throw err;
      },
    );
  }

  private settle(pages: Buffer[]): void {
    this.stats.inflightBios--;
    this.slots.release();
    if (pages.length > 0) this.pool.free(pages);
  }
}
