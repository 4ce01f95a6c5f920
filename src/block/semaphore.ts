/** A counting semaphore with FIFO hand-off; bounds bios in flight per queue. */
export class Semaphore {
  private readonly waiters: Array<() => void> = [];

  constructor(private free: number) {
    if (!Number.isSafeInteger(free) || free < 1) throw new RangeError(`Semaphore: bad size ${free}`);
  }

  tryAcquire(): boolean {
    if (this.free === 0 || this.waiters.length > 0) return false;
    this.free--;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Hand the slot straight to the next waiter, if any, so nobody can jump the queue. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}
