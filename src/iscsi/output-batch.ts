import type { Writable } from 'node:stream';

/** Pieces at least this long go to the socket as they are; shorter ones are copied together. */
export const COPY_BELOW_BYTES = 16 * 1024;

/**
 * The PDUs one connection sends in one event-loop turn. Each socket.write costs a write request,
 * a buffered entry and a callback in Node's stream machinery, more than copying a few KiB; so
 * headers and small data segments are gathered into one buffer, and only large data views go
 * to the socket as they are (never copied). The senders' callbacks run once the socket has taken
 * the whole batch.
 */
export class OutputBatch {
  pieces: Buffer[] = [];
  private callbacks: (() => void)[] = [];
  /** Bytes queued and not yet handed to the socket. */
  bytes = 0;

  /** Queue one PDU's pieces; returns their bytes. */
  add(pieces: readonly Buffer[], onSent: (() => void) | undefined): number {
    let n = 0;
    for (const p of pieces) {
      this.pieces.push(p);
      n += p.length;
    }
    this.bytes += n;
    if (onSent) this.callbacks.push(onSent);
    return n;
  }

  /** Write the batch (one writev when corked); false when the socket asks us to slow down. */
  writeTo(socket: Writable): boolean {
    const pieces = this.pieces;
    const callbacks = this.callbacks;
    this.pieces = [];
    this.callbacks = [];
    this.bytes = 0;
    const done = callbacks.length === 0 ? undefined : (): void => runAll(callbacks);
    const chunks = coalesce(pieces);
    if (chunks.length === 1) return socket.write(chunks[0]!, done);
    socket.cork();
    let ok = true;
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) ok = socket.write(chunks[i]!) && ok;
    ok = socket.write(chunks[last]!, done) && ok;
    socket.uncork();
    return ok;
  }
}

function runAll(callbacks: readonly (() => void)[]): void {
  for (const cb of callbacks) cb();
}

/** Runs of small pieces copied into one buffer each; large pieces kept as they are. */
export function coalesce(pieces: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < pieces.length) {
    if (pieces[i]!.length >= COPY_BELOW_BYTES) {
      out.push(pieces[i++]!);
      continue;
    }
    let j = i;
    let total = 0;
    while (j < pieces.length && pieces[j]!.length < COPY_BELOW_BYTES) total += pieces[j++]!.length;
    if (j - i === 1) {
      out.push(pieces[i]!);
    } else {
      const joined = Buffer.allocUnsafe(total);
      let at = 0;
      for (let k = i; k < j; k++) at += pieces[k]!.copy(joined, at);
      out.push(joined);
    }
    i = j;
  }
  return out;
}
