import net from 'node:net';

/** Receive buffers are slices of slabs this big; once less than MIN_READ is left, the slab is recycled or a fresh one taken. */
const SLAB_BYTES = 128 * 1024;
const MIN_READ = 32 * 1024;

/** Receive slabs taken fresh and slabs read into again, process-wide (tests and benchmarks read them). */
const slabs = { allocated: 0, recycled: 0 };
export function receiveSlabStats(): Readonly<typeof slabs> {
  return { ...slabs };
}

export interface ReadSink {
  /** Bytes read: a view of a slab nobody writes again until the sink agrees (recycle), or of its read target. */
  onChunk(chunk: Buffer): void;
  /** Memory the next read should fill instead of a receive buffer (a landing payload), if any. */
  readTarget(): Buffer | undefined;
  /**
   * The slab is nearly full: may it be read into again? If nothing the sink handed on points into
   * it, the sink moves what it still buffers to the slab's start and returns that length; else undefined.
   */
  recycle?(slab: Buffer): number | undefined;
}

interface StreamHandle {
  readStart(): number;
  readStop(): number;
  /** Node's own flag: a new Socket starts reading only when it is false. */
  reading: boolean;
}

/**
 * The accepted `socket`, re-made so that every read goes into memory we choose: net.Socket's
 * `onread` with a buffer function, which Node offers only to sockets it is asked to construct, not
 * to those a server accepts. So the accepted socket's handle (the kernel socket) moves into a new
 * Socket, and the old one, which never read a byte, is destroyed without closing it. Returns
 * undefined, and leaves `socket` as it was, where there is no handle to move (then the caller
 * reads through 'data' events as usual).
 */
export function withOwnedReads(socket: net.Socket, sink: ReadSink): net.Socket | undefined {
  const holder = socket as unknown as { _handle?: Partial<StreamHandle> | null };
  const handle = holder._handle;
  if (!handle || typeof handle.readStart !== 'function' || typeof handle.readStop !== 'function') return undefined;
  if (socket.bytesRead > 0 || socket.readableLength > 0) return undefined;
  // The new socket starts reading itself (and only if the handle does not claim to read already).
  handle.readStop();
  handle.reading = false;
  holder._handle = null;
  socket.destroy();

  let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  slabs.allocated++;
  let used = 0;
  let given: Buffer | undefined;
  const nextBuffer = (): Buffer => {
    const target = sink.readTarget();
    if (target) return target;
    if (SLAB_BYTES - used < MIN_READ) {
      // A slab read into again costs nothing; a fresh one is external memory only a GC gives back.
      const kept = sink.recycle?.(slab);
      if (kept === undefined) {
        slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        slabs.allocated++;
      } else {
        slabs.recycled++;
      }
      used = kept ?? 0;
    }
    given = slab.subarray(used);
    return given;
  };
  const onread = {
    buffer: nextBuffer,
    callback: (n: number, buf: Uint8Array): void => {
      // A receive buffer's bytes are the sink's now: the next read goes after them.
      if (buf === given) used += n;
      sink.onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
    },
  };
  // `handle` is not in @types/node's constructor options; Node takes it (child_process and cluster use it).
  return new net.Socket({ handle, readable: true, writable: true, onread } as net.SocketConstructorOpts);
}
