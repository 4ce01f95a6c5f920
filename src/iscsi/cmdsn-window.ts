import { snAdd, snLess, snLessOrEqual } from './serial.js';

/**
 * The session's command window (RFC 7143 §4.2.2.1): non-immediate commands are
 * delivered strictly in CmdSN order, whatever order they arrive in; those
 * outside [ExpCmdSN, MaxCmdSN] are dropped. The window can be narrowed when the
 * target is short of resources (TASK SET FULL), which is the main throttle.
 *
 * MaxCmdSN never goes backwards: an initiator only ever raises its copy (RFC 7143
 * §4.2.2.1 ignores a smaller one) and may already have sent commands up to the
 * highest value it saw. Narrowing therefore holds MaxCmdSN where it is while
 * ExpCmdSN catches up, instead of dropping commands sent in good faith.
 */
export class CmdSnWindow {
  private expected: number;
  private readonly waiting = new Map<number, () => void>();
  private size: number;
  /** The highest MaxCmdSN handed out so far (see the class comment). */
  private advertised: number;
  /**
   * Commands delivered (ExpCmdSN moved past them) that have not ended yet. They still count against
   * the window, so the window bounds the commands a session has in the target, not only those in
   * transit: MaxCmdSN moves on as commands end, not as they arrive.
   */
  outstanding = 0;

  constructor(
    initialCmdSN: number,
    private readonly maxSize: number,
  ) {
    this.expected = initialCmdSN >>> 0;
    this.size = maxSize;
    this.advertised = snAdd(this.expected, maxSize - 1);
  }

  get expCmdSN(): number {
    return this.expected;
  }

  /** MaxCmdSN = ExpCmdSN + (window - outstanding) - 1, but never below a value already advertised. */
  get maxCmdSN(): number {
    const wanted = snAdd(this.expected, Math.max(0, this.size - this.outstanding) - 1);
    if (snLess(this.advertised, wanted)) this.advertised = wanted;
    return this.advertised;
  }

  get windowSize(): number {
    return this.size;
  }

  /**
   * Shrink (on resource shortage) or regrow the window, within [1, max]. A smaller window
   * takes effect as ExpCmdSN advances: MaxCmdSN stops moving until it is reached.
   */
  resize(size: number): void {
    this.size = Math.max(1, Math.min(this.maxSize, Math.floor(size)));
  }

  get maxWindowSize(): number {
    return this.maxSize;
  }

  /** Number of commands received ahead of a gap. */
  get queued(): number {
    return this.waiting.size;
  }

  /**
   * Offer a command. Immediate commands run at once and do not advance ExpCmdSN.
   * Returns false if the CmdSN is outside the window (the PDU must be ignored).
   */
  submit(cmdSN: number, immediate: boolean, deliver: () => void): boolean {
    cmdSN >>>= 0;
    if (immediate) {
      deliver();
      return true;
    }
    if (snLess(cmdSN, this.expected) || !snLessOrEqual(cmdSN, this.maxCmdSN) || this.waiting.has(cmdSN)) return false;
    this.waiting.set(cmdSN, deliver);
    this.drain();
    return true;
  }

  /** True if `cmdSN` is inside the window but has not arrived yet. */
  isPending(cmdSN: number): boolean {
    cmdSN >>>= 0;
    return snLessOrEqual(this.expected, cmdSN) && snLessOrEqual(cmdSN, this.maxCmdSN) && !this.waiting.has(cmdSN);
  }

  private drain(): void {
    for (let next = this.waiting.get(this.expected); next; next = this.waiting.get(this.expected)) {
      this.waiting.delete(this.expected);
      this.expected = snAdd(this.expected, 1);
      next();
    }
  }

  /** Drop everything that waits (session teardown). */
  clear(): void {
    this.waiting.clear();
  }
}
