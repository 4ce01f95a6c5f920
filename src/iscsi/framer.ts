import { SgVector } from '../block/sg.js';
import { crc32cOf, readDigest } from './digest.js';
import { BHS_LENGTH, Op } from './opcodes.js';
import { dataSegmentLength, opcodeOf, totalAhsLength, type InPdu } from './pdu.js';

export interface FramerSettings {
  headerDigest: boolean;
  dataDigest: boolean;
  /** Largest data segment we accept (our MaxRecvDataSegmentLength; 8192 during login). */
  maxDataSegmentLength: number;
}

export type FramerFault =
  /** The stream cannot be trusted any further: the connection must close. */
  | { kind: 'headerDigest'; bhs: Buffer }
  | { kind: 'dataSegmentTooLong'; bhs: Buffer; length: number; max: number }
  /** Recoverable: the PDU was dropped, a Reject (data digest error) is due. */
  | { kind: 'dataDigest'; bhs: Buffer };

/** Memory a PDU's payload is received into instead of the receive buffers (see PduFramer.readTarget). */
export interface PayloadLanding {
  /** Consecutive views, together exactly the payload's length. */
  readonly segments: readonly Buffer[];
  /** The framer no longer writes into the segments (the payload is complete, or framing stopped). */
  done(): void;
}

export interface FramerSink {
  onPdu(pdu: InPdu): void;
  onFault(fault: FramerFault): void;
  /** Where the payload of a large Data-Out or write command should land, if somewhere of its own (data-landing.ts). */
  landing?(bhs: Buffer, length: number): PayloadLanding | undefined;
}

/** Payloads at least this long are read into their landing in place (two reads per PDU are worth it then); shorter ones are copied there. */
const LANDING_MIN_SEGMENT = 16 * 1024;

/** No AHS (the usual case): one shared empty view rather than a new one per PDU. */
const EMPTY = Buffer.alloc(0);

const enum Stage {
  Bhs,
  AhsAndDigest,
  Data,
  Dead,
}

/**
 * Frames arbitrary socket chunks into PDUs. Data segments come out as views of the
 * received chunks (no copy). A write's payload may instead land in memory its command owns: what
 * the receive buffers hold of it is copied there, and for a large one `readTarget` tells the
 * socket to read the rest in place. Headers are always copied (48 bytes), so that, while no data
 * segment went out as a view, the receive buffer can be read into again (recycle) rather than
 * left to the garbage collector.
 */
export class PduFramer {
  private chunks: Buffer[] = [];
  private head = 0; // read position inside chunks[0]
  private available = 0;
  private stage = Stage.Bhs;
  private bhs: Buffer = EMPTY;
  private ahs: Buffer = EMPTY;
  private dataLength = 0;
  private framed = 0;
  /** The current payload's landing, and how much of it is filled (segment index, bytes in it, total). */
  private land: PayloadLanding | undefined;
  private landSeg = 0;
  private landSegFill = 0;
  private landFill = 0;
  /** The last PDU's payload landed: read the next header alone, so its payload is not read into a receive buffer first. */
  private headerOnly = false;
  private headerBuf: Buffer | undefined;
  /** A data segment went out as a view of a receive chunk since the last recycle(). */
  private viewsOut = false;

  constructor(
    private settings: FramerSettings,
    private readonly sink: FramerSink,
  ) {}

  update(settings: Partial<FramerSettings>): void {
    this.settings = { ...this.settings, ...settings };
  }

  get current(): Readonly<FramerSettings> {
    return this.settings;
  }

  /** Bytes buffered but not yet framed (for memory accounting). */
  get buffered(): number {
    return this.available;
  }

  /** PDUs delivered or dropped (digest errors) so far: a stalled sender shows no progress here. */
  get pdusFramed(): number {
    return this.framed;
  }

  /** A PDU has begun to arrive and is not complete yet. */
  get midPdu(): boolean {
    return this.stage !== Stage.Dead && (this.stage !== Stage.Bhs || this.available > 0);
  }

  push(chunk: Buffer): void {
    if (this.stage === Stage.Dead || chunk.length === 0) return;
    const target = this.landingTarget();
    if (target && chunk.buffer === target.buffer && chunk.byteOffset === target.byteOffset && chunk.length <= target.length) {
      this.landed(chunk.length); // read in place: nothing to copy
    } else {
      this.chunks.push(chunk);
      this.available += chunk.length;
    }
    this.headerBuf = undefined; // read (or not used): the next read decides afresh
    this.drain();
  }

  /**
   * Where the socket should read next instead of a receive buffer: while a payload is landing and
   * nothing of it is buffered, exactly the rest of the current landing segment (so that no byte of
   * the next PDU lands there); right after a landed payload, a buffer for the next header alone
   * (so that, if that PDU lands too, none of its payload has to be copied there).
   */
  readTarget(): Buffer | undefined {
    const target = this.landingTarget();
    if (target) return target;
    const bytes = this.headerReadBytes();
    if (bytes === 0) return undefined;
    if (this.headerBuf?.length !== bytes) this.headerBuf = Buffer.allocUnsafe(bytes);
    return this.headerBuf;
  }

  /**
   * The socket's receive buffer `slab` is nearly full: if nothing handed out since the last call
   * can point into it (no data segment went out as a view; headers are copies), move what is
   * buffered to its start and return how many bytes that is, so the socket reads on after them.
   * Undefined when the buffer must be left to its views (the socket takes a fresh one).
   */
  recycle(slab: Buffer): number | undefined {
    const clean = !this.viewsOut;
    this.viewsOut = false; // from here on it tracks the buffer the socket reads into next
    // The buffered bytes are the last ones read, at the slab's end: a quarter of it never overlaps them.
    if (!clean || this.stage === Stage.Dead || this.available > slab.length / 4) return undefined;
    let at = 0;
    for (const [k, c] of this.chunks.entries()) at += c.copy(slab, at, k === 0 ? this.head : 0);
    this.chunks = at > 0 ? [slab.subarray(0, at)] : [];
    this.head = 0;
    return at;
  }

  /** After a landed payload: the bytes up to the end of the next header (its trailer still due, then a BHS); else 0. */
  private headerReadBytes(): number {
    const header = BHS_LENGTH + (this.settings.headerDigest ? 4 : 0);
    if (this.stage === Stage.Data && this.land && this.landFill >= this.dataLength && this.dataLength >= LANDING_MIN_SEGMENT) {
      const due = this.trailerLength() - this.available;
      return due > 0 ? due + header : 0;
    }
    return this.headerOnly && this.stage === Stage.Bhs && this.available === 0 ? header : 0;
  }

  /** Padding and data digest after the current payload. */
  private trailerLength(): number {
    const padded = (this.dataLength + 3) & ~3;
    return padded - this.dataLength + (this.dataLength > 0 && this.settings.dataDigest ? 4 : 0);
  }

  private landingTarget(): Buffer | undefined {
    const land = this.land;
    if (!land || this.stage === Stage.Dead || this.available > 0 || this.landFill >= this.dataLength || this.dataLength < LANDING_MIN_SEGMENT) {
      return undefined;
    }
    return land.segments[this.landSeg]!.subarray(this.landSegFill);
  }

  private landed(n: number): void {
    this.landFill += n;
    this.landSegFill += n;
    if (this.landSegFill === this.land!.segments[this.landSeg]!.length) {
      this.landSeg++;
      this.landSegFill = 0;
    }
  }

  /** Copy buffered payload bytes into the landing; true once it is full. */
  private fillLanding(): boolean {
    const land = this.land!;
    while (this.landFill < this.dataLength && this.available > 0) {
      const dest = land.segments[this.landSeg]!;
      const c = this.chunks[0]!;
      const n = Math.min(c.length - this.head, dest.length - this.landSegFill, this.dataLength - this.landFill);
      c.copy(dest, this.landSegFill, this.head, this.head + n);
      this.advance(n);
      this.landed(n);
    }
    return this.landFill === this.dataLength;
  }

  /** The landing's payload, and the landing let go of. */
  private takeLanded(): SgVector {
    const land = this.land!;
    this.land = undefined;
    land.done();
    return new SgVector(land.segments);
  }

  private drain(): void {
    for (;;) {
      switch (this.stage) {
        case Stage.Bhs: {
          if (this.available < BHS_LENGTH) return;
          this.bhs = this.takeCopy(BHS_LENGTH);
          this.stage = Stage.AhsAndDigest;
          break;
        }
        case Stage.AhsAndDigest: {
          const ahsLen = totalAhsLength(this.bhs);
          const need = ahsLen + (this.settings.headerDigest ? 4 : 0);
          if (this.available < need) return;
          this.ahs = ahsLen > 0 ? this.takeCopy(ahsLen) : EMPTY;
          if (this.settings.headerDigest) {
            const got = readDigest(this.takeContiguous(4));
            if (got !== crc32cOf([this.bhs, this.ahs])) return this.die({ kind: 'headerDigest', bhs: this.bhs });
          }
          this.dataLength = dataSegmentLength(this.bhs);
          if (this.dataLength > this.settings.maxDataSegmentLength) {
            return this.die({
              kind: 'dataSegmentTooLong',
              bhs: this.bhs,
              length: this.dataLength,
              max: this.settings.maxDataSegmentLength,
            });
          }
          this.stage = Stage.Data;
          this.offerLanding();
          break;
        }
        case Stage.Data: {
          const padded = (this.dataLength + 3) & ~3;
          const trailer = this.trailerLength();
          if (this.land) {
            if (!this.fillLanding() || this.available < trailer) return;
          } else if (this.available < this.dataLength + trailer) {
            return;
          }
          this.headerOnly = this.land !== undefined && this.dataLength >= LANDING_MIN_SEGMENT;
          const data = this.land ? this.takeLanded() : this.takeViews(this.dataLength);
          const pad = padded > this.dataLength ? this.takeContiguous(padded - this.dataLength) : undefined;
          const bhs = this.bhs;
          const ahs = this.ahs;
          if (this.dataLength > 0 && this.settings.dataDigest) {
            const got = readDigest(this.takeContiguous(4));
            const parts = pad ? [...data.segments, pad] : data.segments;
            if (got !== crc32cOf(parts)) {
              this.stage = Stage.Bhs;
              this.framed++;
              this.sink.onFault({ kind: 'dataDigest', bhs });
              break;
            }
          }
          this.stage = Stage.Bhs;
          this.framed++;
          this.sink.onPdu({ bhs, ahs, data });
          if ((this.stage as Stage) === Stage.Dead) return;
          break;
        }
        default:
          return;
      }
    }
  }

  /** A landing for the payload just announced, when it is a write's and the sink has one. */
  private offerLanding(): void {
    if (this.dataLength === 0 || !this.sink.landing) return;
    const op = opcodeOf(this.bhs);
    if (op !== Op.DATA_OUT && op !== Op.SCSI_CMD) return;
    const land = this.sink.landing(this.bhs, this.dataLength);
    if (!land) return;
    this.land = land;
    this.landSeg = 0;
    this.landSegFill = 0;
    this.landFill = 0;
  }

  /**
   * Stop framing for good (after a fatal fault or when the connection closes). A landing being
   * read into stays held: the socket may still read into it until it is closed (dispose).
   */
  stop(): void {
    this.stage = Stage.Dead;
    this.chunks = [];
    this.available = 0;
  }

  /** The socket is closed: nothing can be read into a landing any more, so let go of it. */
  dispose(): void {
    this.stop();
    const land = this.land;
    this.land = undefined;
    land?.done();
  }

  private die(fault: FramerFault): void {
    this.stop();
    this.sink.onFault(fault);
  }

  /** n bytes as a Buffer of their own (headers: they outlive the receive buffer's next use). */
  private takeCopy(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.head, n - filled);
      c.copy(out, filled, this.head, this.head + take);
      filled += take;
      this.advance(take);
    }
    return out;
  }

  /** n bytes as one Buffer, used only before the next push: a view when they sit in one chunk, else a (small) copy. */
  private takeContiguous(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) {
      const view = first.subarray(this.head, this.head + n);
      this.advance(n);
      return view;
    }
    return this.takeCopy(n);
  }

  private takeViews(n: number): SgVector {
    const sg = new SgVector();
    if (n > 0) this.viewsOut = true;
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.head, left);
      sg.append(c.subarray(this.head, this.head + take));
      left -= take;
      this.advance(take);
    }
    return sg;
  }

  private advance(n: number): void {
    this.head += n;
    this.available -= n;
    if (this.head === this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}
